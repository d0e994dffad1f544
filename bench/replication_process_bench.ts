// Replicated event-sourced commands per second and commit latency on 3 real processes, against
// the same entity unreplicated in the same run: this process is node 0 (the writer, keeping
// `CONCURRENCY` asks in flight over `ENTITIES` entities), two peer processes
// (bench/_replication_peer.ts) are nodes 1 and 2; every node has its own journal (in memory, or
// SQLite files in a temporary directory with --sqlite). Cases: unreplicated, replicas 2 with
// minAcks 0, 1 and 2 (bench/_replication_fixture.ts). Besides commands/s and latency it reports the
// CPU time of the three processes per command (Linux: /proc/PID/stat of the peers), which the
// load of a shared machine moves much less than the rate.
//
//   deno run -A bench/replication_process_bench.ts [commands per case, default 20000] [--sqlite]
//   bun bench/replication_process_bench.ts ...
//   CASES=0,2 ... runs only those cases (0 unreplicated, 1-3 minAcks 0-2)
//   ROUNDS=2 ... runs the cases twice, in turn (the first round warms up every path)
import process from "node:process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type ActorRef,
  Behaviors,
  ClusteredActorSystem,
  ShardEnvelope,
  SqliteJournal,
} from "../mod.ts";
import { type EventJournal, InMemoryJournal } from "../src/persistence/mod.ts";
import { account, CASES, CONCURRENCY, ENTITIES, measure, row } from "./_replication_fixture.ts";
import { Peer } from "./_peer.ts";

const N = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 20_000);
const sqlite = process.argv.includes("--sqlite");
const only = process.env.CASES?.split(",").map(Number);
const ROUNDS = Number(process.env.ROUNDS ?? 1);
const dir = mkdtempSync(join(tmpdir(), "casty-replication-bench-"));
const journalAt = (name: string): EventJournal =>
  sqlite ? new SqliteJournal({ path: join(dir, name) }) : new InMemoryJournal();

const node = await ClusteredActorSystem.start({
  name: "bench",
  host: "127.0.0.1",
  port: 0,
  logLevel: "error",
});
const journal = journalAt("n0.db");
const regions = CASES.map(([, replication], i) =>
  node.spawn(Behaviors.sharded(account(journal), { numShards: 30, replication }), `case${i}`)
);
const peerScript = new URL("./_replication_peer.ts", import.meta.url).pathname;
const peers = [1, 2].map((i) =>
  new Peer(peerScript, [
    `${node.selfAddress.port}`,
    ...(sqlite ? ["--sqlite", join(dir, `n${i}.db`)] : []),
  ])
);
const pids = (await Promise.all(peers.map((p) => p.waitFor((e) => e.event === "ready"))))
  .map((e) => (e as { pid?: number }).pid);
// CPU milliseconds of the three processes so far (undefined where /proc is missing).
const TICK_MS = 10; // USER_HZ is 100 on Linux
const cpuMs = (): number | undefined => {
  const self = process.cpuUsage();
  let total = (self.user + self.system) / 1000;
  for (const pid of pids) {
    const stat = `/proc/${pid}/stat`;
    if (pid === undefined || !existsSync(stat)) return undefined;
    // Fields after the ")" that ends the command name: utime and stime are the 12th and 13th.
    const fields = readFileSync(stat, "utf8").split(")").pop()!.trim().split(" ");
    total += (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  }
  return total;
};
await node.waitFor(3, { timeout: 30_000 });

type Cmd = { amount: number; replyTo: ActorRef<number | string> };
const rows: string[] = [];
const runs = Array.from({ length: ROUNDS }, (_, r) => [...CASES.entries()].map(([i]) => [r, i]))
  .flat().filter(([, i]) => only === undefined || only.includes(i));
const allocated = new Set<number>();
for (const [round, i] of runs) {
  const label = `${CASES[i][0]}${ROUNDS > 1 ? ` (round ${round + 1})` : ""}`;
  const one = (k: number): Promise<number> => {
    const t0 = performance.now();
    return node.ask<ShardEnvelope<Cmd>, number | string>(
      regions[i] as ActorRef<ShardEnvelope<Cmd>>,
      // Entity ids per case: the cases share each node's journal.
      (replyTo) => new ShardEnvelope(`c${i}-e${k % ENTITIES}`, { amount: 1, replyTo }),
      { timeout: 30_000 },
    ).then((r) => {
      if (typeof r === "string") throw new Error(r);
      return performance.now() - t0;
    });
  };
  if (!allocated.has(i)) {
    allocated.add(i);
    await Promise.all(Array.from({ length: ENTITIES }, (_, k) => one(k))); // allocate, promote
  }
  const cpu0 = cpuMs();
  const result = await measure(N, one);
  const cpu1 = cpuMs();
  const perCommand = cpu0 === undefined || cpu1 === undefined
    ? "n/a"
    : `${Math.round((cpu1 - cpu0) * 1000 / N)} µs`;
  rows.push(row(label, result, perCommand));
  console.log(rows[rows.length - 1]);
}
console.log(
  `\n3 processes, ${sqlite ? "SQLite" : "in-memory"} journals, ${N} commands per case, ` +
    `${CONCURRENCY} in flight over ${ENTITIES} entities from node 0\n` +
    "| case | commands/s | p50 | p99 | CPU per command (3 processes) |\n|---|---|---|---|---|\n" +
    rows.join("\n"),
);
await Promise.all(peers.map((p) => p.stop()));
await node.shutdown();
rmSync(dir, { recursive: true, force: true });
process.exit(0);
