// Shared by the sharding benches: one quiet cluster node on 127.0.0.1, up and alone.
import { type ActorRef, Behaviors, ClusteredActorSystem, ShardEnvelope } from "../mod.ts";

/** Starts a one-node cluster (errors only in the log) and waits until it is up. */
export async function startBenchNode(): Promise<ClusteredActorSystem> {
  const node = await ClusteredActorSystem.start({
    name: "bench",
    host: "127.0.0.1",
    port: 0,
    logLevel: "error",
  });
  await node.waitFor(1, { timeout: 10_000 });
  return node;
}

/** A message of the tell benches. */
export type TellMsg = { readonly n: number };

/** 1000 live entities of a sharded type and 1000 plain actors on one node, warmed up. */
export interface TellFixture {
  readonly node: ClusteredActorSystem;
  readonly region: ActorRef<ShardEnvelope<TellMsg>>;
  readonly plain: readonly ActorRef<TellMsg>[];
  readonly envelopes: readonly ShardEnvelope<TellMsg>[];
  readonly msg: TellMsg;
  /** Calls `send(i)` for i in [0, count) and resolves once `count` messages were handled. */
  run(count: number, send: (i: number) => void): Promise<void>;
}

/** Builds the {@linkcode TellFixture}: every entity exists and every shard is allocated here. */
export async function tellFixture(): Promise<TellFixture> {
  const node = await startBenchNode();
  const ids = Array.from({ length: 1000 }, (_, i) => `user-${i}`);
  const msg: TellMsg = { n: 1 };
  let remaining = 0;
  let finished: () => void = () => {};
  const handler = () =>
    Behaviors.receive<TellMsg>(() => {
      if (--remaining === 0) finished();
    });
  const region = node.spawn(
    Behaviors.sharded((_id: string) => handler(), { numShards: 100 }),
    "e",
  );
  const plain = ids.map((_, i) => node.spawn(handler(), `p${i}`));
  const envelopes = ids.map((id) => new ShardEnvelope(id, msg));
  const run = (count: number, send: (i: number) => void): Promise<void> => {
    remaining = count;
    const done = new Promise<void>((resolve) => (finished = resolve));
    for (let i = 0; i < count; i++) send(i);
    return done;
  };
  for (;;) {
    const ok = await Promise.race([
      run(envelopes.length, (i) => region.tell(envelopes[i])).then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), 2000)),
    ]);
    if (ok) break;
  }
  return { node, region, plain, envelopes, msg, run };
}
