/**
 * A bank node of `examples/demo.ts` (started as a child process; not an example on its own).
 * Usage: `_demo_node.ts <dir> <name> <port> [--short] [--seed host:port]...`; the secret comes
 * from `CASTY_CLUSTER_SECRET`. Joins the demo cluster with the role "bank", keeps its own SQLite
 * journal `<dir>/<name>.db`, hosts the replicated accounts and the distributed structures
 * (their journal `<dir>/structures.db` is shared by every process). Prints
 * `{"event":"ready","port":P}`; exits when its stdin closes (the demo ended or died).
 *
 * @module
 */
import process from "node:process";
import { join } from "node:path";
import { Behaviors, ClusteredActorSystem, SqliteJournal } from "../mod.ts";
import {
  account,
  ACCOUNTS,
  BANK_ROLE,
  clusterTuning,
  emit,
  NUM_SHARDS,
  REPLICATION,
  SYSTEM,
} from "./_demo_shared.ts";

const [dir, name, port] = process.argv.slice(2);
const short = process.argv.includes("--short");
const seeds = process.argv.flatMap((a, i) => process.argv[i - 1] === "--seed" ? [a] : []);

const journal = new SqliteJournal({ path: join(dir, `${name}.db`), synchronous: "normal" });
const structures = new SqliteJournal({ path: join(dir, "structures.db"), synchronous: "normal" });
const node = await ClusteredActorSystem.start({
  name: SYSTEM,
  host: "127.0.0.1",
  port: Number(port),
  seedNodes: seeds,
  roles: [BANK_ROLE],
  logLevel: "error",
  ...clusterTuning(short),
});
const self = node.selfAddress.port;
node.distributed({ journal: structures });
node.spawn(
  Behaviors.sharded((id) => account(id, journal, self), {
    numShards: NUM_SHARDS,
    role: BANK_ROLE,
    replication: REPLICATION,
  }),
  ACCOUNTS,
);
emit({ event: "ready", port: self });

let leaving = false;
const exit = async () => {
  if (leaving) return;
  leaving = true;
  await node.shutdown().catch(() => {});
  await journal.close();
  await structures.close();
  process.exit(0);
};
process.stdin.on("close", exit);
process.stdin.on("end", exit);
process.stdin.resume();
process.on("SIGTERM", exit);
