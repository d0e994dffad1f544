// What a cluster client's tell costs on the client: one node process (bench/_client_bench_node.ts),
// the client in this process. Each round sends N tells to 60 entities (yielding every 5 000, as
// bench/client_bench.ts does), waits until the node counted them all, and reports the client
// process's CPU time per tell (process.cpuUsage: user + system, including the transport's writes),
// the node process's CPU time per tell (everything it did during the round: decode, region,
// entity) and the wall-clock rate. The node is the same in every round, so rounds compare client code.
// Each round is followed by a raw round (bench/_client_raw_rate.ts: the same number of JSON
// frames to one peer process that only decodes them), so "client / raw" compares one receiving
// process with one receiving process, in alternation.
//
//   deno run -A bench/client_tell_cpu.ts      (or: bun bench/client_tell_cpu.ts)
//   BENCH_TELLS=100000 BENCH_ROUNDS=5 (the defaults)
import process from "node:process";
import { fileURLToPath } from "node:url";
import { ClusterClient, entityShard, ShardEnvelope } from "../mod.ts";
import { runScript } from "../tests/_helpers/process.ts";
import { rawTellRate } from "./_client_raw_rate.ts";

const TELLS = Number(process.env.BENCH_TELLS ?? 100_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const nodeScript = fileURLToPath(new URL("./_client_bench_node.ts", import.meta.url));

const proc = runScript(nodeScript, [], {}, { stdin: "pipe" });
let tags = 0;
/** What the node counted, and its CPU time so far (µs). */
const stats = async (): Promise<{ n: number; cpu: number }> => {
  const tag = `t${++tags}`;
  proc.child.stdin!.write(JSON.stringify({ op: "total", tag }) + "\n");
  return JSON.parse(await proc.waitForLine((l) => l.includes(`"tag":"${tag}"`), 60_000));
};
const total = async (): Promise<number> => (await stats()).n;
try {
  const port = JSON.parse(await proc.waitForLine((l) => l.includes('"ready"'), 60_000)).port;
  await using client = await ClusterClient.connect({
    contactPoints: [`127.0.0.1:${port}`],
    systemName: "cbench",
    logLevel: "error",
  });
  type Msg = { type: "inc" } | { type: "get"; replyTo: never };
  const ref = client.entityRef<Msg>("bench", { numShards: 30 });
  const ids = Array.from({ length: 60 }, (_, i) => `e${i}`);
  for (const id of ids) ref.tell(new ShardEnvelope(id, { type: "inc" }));
  while (
    ids.some((id) =>
      client.getClusterState().allocations.bench?.[entityShard(id, 30)] === undefined
    )
  ) await new Promise((r) => setTimeout(r, 20));
  let expected = ids.length;
  while (await total() < expected) await new Promise((r) => setTimeout(r, 20));
  const cpus: number[] = [];
  const nodeCpus: number[] = [];
  const rates: number[] = [];
  const ratios: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const node0 = (await stats()).cpu;
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < TELLS; i++) {
      ref.tell(new ShardEnvelope(ids[i % ids.length], { type: "inc" }));
      if (i % 5000 === 4999) await new Promise((r) => setTimeout(r, 0));
    }
    const c1 = process.cpuUsage(c0);
    expected += TELLS;
    while (await total() < expected) await new Promise((r) => setTimeout(r, 5));
    const wall = performance.now() - t0;
    const cpu = (c1.user + c1.system) / TELLS;
    cpus.push(cpu);
    // The node's CPU per tell over the round (the count polls included: a few per round).
    const nodeCpu = ((await stats()).cpu - node0) / TELLS;
    nodeCpus.push(nodeCpu);
    rates.push(TELLS / (wall / 1000));
    const raw = await rawTellRate(TELLS);
    ratios.push(TELLS / (wall / 1000) / raw);
    console.log(
      `round ${round + 1}: client CPU ${cpu.toFixed(2)} µs/tell (send loop), node CPU ${
        nodeCpu.toFixed(2)
      } µs/tell, ${Math.round(TELLS / (wall / 1000))} tells/s end to end; raw ${
        Math.round(raw)
      } frames/s; client / raw ${(100 * ratios[round]).toFixed(0)} %`,
    );
  }
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  console.log(
    `median: client CPU ${med(cpus).toFixed(2)} µs/tell, node CPU ${
      med(nodeCpus).toFixed(2)
    } µs/tell, ${Math.round(med(rates))} tells/s, client / raw ${(100 * med(ratios)).toFixed(0)} %`,
  );
} finally {
  await proc.kill("SIGKILL");
}
