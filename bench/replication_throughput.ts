// Replicated event-sourced commands per second and commit latency with minAcks 0, 1 and 2 (two
// replicas), against unreplicated event-sourced commands in the same run: three nodes in this
// process on real TCP sockets (127.0.0.1), each with its own in-memory journal; a writer on node 1
// keeps `CONCURRENCY` asks in flight over `ENTITIES` entities.
//
//   deno run -A bench/replication_throughput.ts [commands per case, default 20000]
//   CASES=0,2 deno run -A ... runs only those cases (0 unreplicated, 1-3 minAcks 0-2)
import process from "node:process";
import { accountType, CASES, measure, row, startNodes } from "./_replication_fixture.ts";

const N = Number(process.argv[2] ?? 20_000);
const nodes = await startNodes();
const only = process.env.CASES?.split(",").map(Number);
const rows: string[] = [];
for (const [label, replication] of CASES.filter((_, i) => only === undefined || only.includes(i))) {
  const one = await accountType(nodes, replication);
  const cpu0 = process.cpuUsage();
  const r = await measure(N, one);
  const cpu = process.cpuUsage(cpu0);
  rows.push(row(label, r, `${Math.round((cpu.user + cpu.system) / N)} µs`));
  console.log(rows[rows.length - 1]);
}
console.log(
  "| case | commands/s | p50 | p99 | CPU per command (3 nodes) |\n|---|---|---|---|---|\n" +
    rows.join("\n"),
);
for (const n of nodes.reverse()) await n.shutdown();
process.exit(0);
