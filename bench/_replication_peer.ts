// A peer node of bench/replication_process_bench.ts in its own process: joins the seed, spawns the
// account type of every replication case (same names as the bench's node), prints
// {"event":"ready","port":P,"pid":PID} (the bench reads its CPU time from /proc/PID/stat) and
// exits when its stdin closes.
//   _replication_peer.ts <seed port> [--sqlite <path>]
import process from "node:process";
import { Behaviors, ClusteredActorSystem, SqliteJournal } from "../mod.ts";
import { type EventJournal, InMemoryJournal } from "../src/persistence/mod.ts";
import { account, CASES } from "./_replication_fixture.ts";

const seed = Number(process.argv[2]);
const sqlite = process.argv[3] === "--sqlite" ? process.argv[4] : undefined;
const journal: EventJournal = sqlite ? new SqliteJournal({ path: sqlite }) : new InMemoryJournal();
const node = await ClusteredActorSystem.start({
  name: "bench",
  host: "127.0.0.1",
  port: 0,
  seedNodes: [`127.0.0.1:${seed}`],
  logLevel: "error",
});
CASES.forEach(([, replication], i) =>
  node.spawn(Behaviors.sharded(account(journal), { numShards: 30, replication }), `case${i}`)
);
console.log(JSON.stringify({ event: "ready", port: node.selfAddress.port, pid: process.pid }));
process.stdin.on("data", () => {});
process.stdin.on("end", async () => {
  await node.shutdown();
  process.exit(0);
});
