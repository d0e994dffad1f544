// Replicated event-sourced commands against unreplicated ones, in the same run: three nodes in
// this process on real TCP sockets (127.0.0.1), each with its own in-memory journal; each
// iteration sends 2000 commands from node 1, 400 in flight over 200 entities.
//
//   deno bench -A bench/replication_bench.ts
// (bench/replication_throughput.ts prints commands/s and p50/p99 per case instead.)
import { type ActorRef, Behaviors, ClusteredActorSystem, ShardEnvelope } from "../mod.ts";
import { InMemoryJournal } from "../src/persistence/mod.ts";
import type { ReplicationConfig } from "../src/sharding/mod.ts";

type Cmd = { amount: number; replyTo: ActorRef<number | string> };
const COMMANDS = 2000;
const ENTITIES = 200;
const CONCURRENCY = 400;

const account = (journal: InMemoryJournal) => (entityId: string) =>
  Behaviors.eventSourced<Cmd, number, number>({
    entityId,
    journal,
    initialState: 0,
    onEvent: (s, e) => s + e,
    onCommand: (_ctx, _s, cmd) =>
      Behaviors.persisted([cmd.amount], {
        reply: (s: number) => cmd.replyTo.tell(s),
        onFailure: (err) => cmd.replyTo.tell(err.message),
      }),
  });

const nodes: ClusteredActorSystem[] = [
  await ClusteredActorSystem.start({ name: "bench", host: "127.0.0.1", port: 0 }),
];
for (let i = 1; i < 3; i++) {
  nodes.push(
    await ClusteredActorSystem.start({
      name: "bench",
      host: "127.0.0.1",
      port: 0,
      seedNodes: [nodes[0].selfAddress],
    }),
  );
}
await nodes[0].waitFor(3, { timeout: 30_000 });
const journals = nodes.map(() => new InMemoryJournal());
let types = 0;

/** Spawns a sharded type on every node; returns a function sending one round of commands. */
async function fixture(replication?: ReplicationConfig): Promise<() => Promise<void>> {
  const name = `t${types++}`;
  const regions = nodes.map((n, i) =>
    n.spawn(Behaviors.sharded(account(journals[i]), { numShards: 30, replication }), name)
  );
  const one = (k: number): Promise<void> =>
    nodes[1].ask<ShardEnvelope<Cmd>, number | string>(
      regions[1],
      (replyTo) => new ShardEnvelope(`e${k % ENTITIES}`, { amount: 1, replyTo }),
      { timeout: 30_000 },
    ).then((r) => {
      if (typeof r === "string") throw new Error(r);
    });
  const round = async () => {
    let next = 0;
    const lane = async () => {
      while (next < COMMANDS) await one(next++);
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  };
  await Promise.all(Array.from({ length: ENTITIES }, (_, k) => one(k))); // allocate, promote
  return round;
}

const cases: [string, ReplicationConfig | undefined][] = [
  ["unreplicated", undefined],
  ["replicas 2, minAcks 0", { replicas: 2, minAcks: 0 }],
  ["replicas 2, minAcks 1", { replicas: 2, minAcks: 1 }],
  ["replicas 2, minAcks 2", { replicas: 2, minAcks: 2 }],
];
for (const [label, replication] of cases) {
  const round = await fixture(replication);
  Deno.bench({
    name: `${label}: ${COMMANDS} commands`,
    group: "event-sourced commands across 3 nodes",
    baseline: replication === undefined,
    n: 10,
    warmup: 2,
    fn: round,
  });
}
globalThis.addEventListener("unload", () => {
  for (const n of nodes) void n.shutdown();
});
