// Cluster timings with real node processes on loopback and the library's DEFAULT tuning
// (gossip 1000 ms, heartbeat 500 ms, availability check 2000 ms, phi threshold 8,
// keep-majority stable-after 5000 ms):
//   - formation of 10 processes: from starting the first process until every node sees 10 up
//     members and the same leader (includes runtime start-up of each process);
//   - kill -9 of one node → UnreachableMember on every survivor, and → MemberRemoved.
//
//   deno run -A bench/cluster_bench.ts        bun bench/cluster_bench.ts
import { startNode, stopAll, waitForViews } from "../tests/_helpers/cluster_harness.ts";
import type { NodeProcess } from "../tests/_helpers/cluster_harness.ts";

const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
const runtime = g.Deno ? `Deno ${g.Deno.version.deno}` : `Bun ${g.Bun?.version}`;
const N = 10;
const RUNS = Number(globalThis.process?.argv?.[2] ?? 3);

const sameUp = (ports: number[]) => (v: { up?: number[]; leader?: number | null }) =>
  JSON.stringify(v.up) === JSON.stringify([...ports].sort((a, b) => a - b)) &&
  v.leader === Math.min(...ports);

for (let run = 1; run <= RUNS; run++) {
  const nodes: NodeProcess[] = [];
  try {
    const t0 = performance.now();
    const first = await startNode(0);
    nodes.push(first);
    nodes.push(
      ...await Promise.all(
        Array.from({ length: N - 1 }, () => startNode(0, { seeds: [first.port] })),
      ),
    );
    const tStarted = performance.now();
    const ports = nodes.map((n) => n.port);
    await waitForViews(nodes, sameUp(ports), 60_000, `${N} up`);
    const tFormed = performance.now();
    const victim = nodes[N - 1];
    const survivors = nodes.slice(0, N - 1);
    const killedAt = performance.now();
    await victim.kill("SIGKILL");
    const detected = await Promise.all(survivors.map(async (n) => {
      await n.waitFor((e) => e.event === "UnreachableMember" && e.port === victim.port, 30_000);
      return performance.now() - killedAt;
    }));
    const removed = await Promise.all(survivors.map(async (n) => {
      await n.waitFor((e) => e.event === "MemberRemoved" && e.port === victim.port, 60_000);
      return performance.now() - killedAt;
    }));
    console.log(
      `${runtime} run ${run}: formation of ${N} processes ${(tFormed - t0).toFixed(0)} ms ` +
        `(processes ready after ${(tStarted - t0).toFixed(0)} ms, cluster formed ${
          (tFormed - tStarted).toFixed(0)
        } ms later); kill -9 → UnreachableMember on all ${N - 1} survivors: max ${
          Math.max(...detected).toFixed(0)
        } ms (min ${Math.min(...detected).toFixed(0)}); → MemberRemoved on all: max ${
          Math.max(...removed).toFixed(0)
        } ms`,
    );
  } finally {
    await stopAll(nodes);
  }
}
