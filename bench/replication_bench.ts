// Replicated event-sourced commands against unreplicated ones, in the same run: three nodes in
// this process on real TCP sockets (127.0.0.1), each with its own in-memory journal; each
// iteration sends 2000 commands from node 1, 400 in flight over 200 entities.
//
//   deno bench -A bench/replication_bench.ts
// (bench/replication_throughput.ts prints commands/s and p50/p99 per case instead.)
import { accountType, CASES, CONCURRENCY, startNodes } from "./_replication_fixture.ts";

const COMMANDS = 2000;
const nodes = await startNodes();

/** Spawns a sharded type on every node; returns a function sending one round of commands. */
async function fixture(
  replication: Parameters<typeof accountType>[1],
): Promise<() => Promise<void>> {
  const one = await accountType(nodes, replication);
  return async () => {
    let next = 0;
    const lane = async () => {
      while (next < COMMANDS) await one(next++);
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  };
}

for (const [label, replication] of CASES) {
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
