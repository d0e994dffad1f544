// Shared by the sharding benches: one quiet cluster node on 127.0.0.1, up and alone.
import {
  type ActorRef,
  Behaviors,
  ClusteredActorSystem,
  entityShard,
  ShardEnvelope,
} from "../mod.ts";

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
  // Every shard allocated first, through entities of its own (one per shard), so that the 1000
  // entities are then spawned one after another in id order, as the plain actors were: the
  // rounds tell their receivers round-robin in that order, and objects laid out in the order
  // they are read get the CPU's prefetching. (Spawned while their shards were still being
  // allocated, the entities came out shard by shard; on Deno, telling them then cost as much
  // more than telling the plain actors as telling the plain actors in a shuffled order does.)
  const warm = new Map<number, ShardEnvelope<TellMsg>>();
  for (let i = 0; warm.size < 100; i++) {
    const id = `warm-${i}`;
    if (!warm.has(entityShard(id, 100))) warm.set(entityShard(id, 100), new ShardEnvelope(id, msg));
  }
  const warmEnvelopes = [...warm.values()];
  const within = (p: Promise<void>, ms: number) =>
    Promise.race([
      p.then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), ms)),
    ]);
  for (let k = 0; !await within(run(100, (i) => region.tell(warmEnvelopes[i])), 2000); k++) {
    if (k === 10) throw new Error("the bench node's shards were not allocated within 20 s");
  }
  if (!await within(run(envelopes.length, (i) => region.tell(envelopes[i])), 10_000)) {
    throw new Error("the bench's entities did not start within 10 s");
  }
  return { node, region, plain, envelopes, msg, run };
}
