// Replicated event-sourced commands per second and commit latency with minAcks 0, 1 and 2 (two
// replicas), against unreplicated event-sourced commands in the same run: three nodes in this
// process on real TCP sockets (127.0.0.1), each with its own in-memory journal; a writer on node 1
// keeps `CONCURRENCY` asks in flight over `ENTITIES` entities.
//
//   deno run -A bench/replication_throughput.ts [commands per case, default 20000]
//   CASES=0,2 deno run -A ... runs only those cases (0 unreplicated, 1-3 minAcks 0-2)
import process from "node:process";
import { type ActorRef, Behaviors, ClusteredActorSystem, ShardEnvelope } from "../mod.ts";
import { InMemoryJournal } from "../src/persistence/mod.ts";
import type { ReplicationConfig } from "../src/sharding/mod.ts";

type Cmd = { amount: number; replyTo: ActorRef<number | string> };
const N = Number(process.argv[2] ?? 20_000);
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

const nodes: ClusteredActorSystem[] = [];
nodes.push(await ClusteredActorSystem.start({ name: "bench", host: "127.0.0.1", port: 0 }));
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

const cases: [string, ReplicationConfig | undefined][] = [
  ["unreplicated", undefined],
  ["replicas 2, minAcks 0", { replicas: 2, minAcks: 0 }],
  ["replicas 2, minAcks 1", { replicas: 2, minAcks: 1 }],
  ["replicas 2, minAcks 2", { replicas: 2, minAcks: 2 }],
];
const only = process.env.CASES?.split(",").map(Number);
const rows: string[] = [];
for (const [label, replication] of cases.filter((_, i) => only === undefined || only.includes(i))) {
  const name = `t${rows.length}`;
  const regions = nodes.map((n, i) =>
    n.spawn(Behaviors.sharded(account(journals[i]), { numShards: 30, replication }), name)
  );
  const writer = nodes[1];
  const one = (k: number): Promise<number> => {
    const t0 = performance.now();
    return writer.ask<ShardEnvelope<Cmd>, number | string>(
      regions[1],
      (replyTo) => new ShardEnvelope(`e${k % ENTITIES}`, { amount: 1, replyTo }),
      { timeout: 30_000 },
    ).then((r) => {
      if (typeof r === "string") throw new Error(r);
      return performance.now() - t0;
    });
  };
  // Warm up: every entity allocated and promoted.
  await Promise.all(Array.from({ length: ENTITIES }, (_, k) => one(k)));
  const latencies: number[] = [];
  const start = performance.now();
  const cpu0 = process.cpuUsage();
  let next = 0;
  const lane = async () => {
    while (next < N) latencies.push(await one(next++));
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  const secs = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const cpuPerCommand = (cpu.user + cpu.system) / N;
  latencies.sort((a, b) => a - b);
  const q = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  rows.push(
    `| ${label} | ${Math.round(N / secs).toLocaleString("en")}/s | ${q(0.5).toFixed(1)} ms | ${
      q(0.99).toFixed(1)
    } ms | ${Math.round(cpuPerCommand)} µs |`,
  );
  console.log(rows[rows.length - 1]);
}
console.log(
  "| case | commands/s | p50 | p99 | CPU per command (3 nodes) |\n|---|---|---|---|---|\n" +
    rows.join("\n"),
);
for (const n of nodes.reverse()) await n.shutdown();
process.exit(0);
