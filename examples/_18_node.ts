/**
 * One bank node in its own process, for `18_testing.ts`: hosts accounts (role "bank") on a
 * SQLite journal shared with the other node processes.
 * Usage: `_18_node.ts <journal path> <port> [seed host:port]...`
 *
 * @module
 */
import process from "node:process";
import { ClusteredActorSystem, SqliteJournal } from "../mod.ts";
// In your project: import { onStopRequest, reportReady } from "@casty/casty/testing";
import { onStopRequest, reportReady } from "../src/testing/mod.ts";
import { accounts, quickFailover } from "./_18_account.ts";

const [journalPath, port, ...seeds] = process.argv.slice(2);
const node = await ClusteredActorSystem.start({
  name: "bank",
  host: "127.0.0.1",
  port: Number(port),
  seedNodes: seeds,
  roles: ["bank"],
  logLevel: "error",
  ...quickFailover,
});
const journal = new SqliteJournal({ path: journalPath });
node.spawn(accounts(journal, node.selfAddress.port), "accounts");
onStopRequest(async () => {
  await node.leave();
  await journal.close();
});
reportReady({ port: node.selfAddress.port });
