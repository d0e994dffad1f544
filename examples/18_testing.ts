/**
 * Testing your own cluster code both ways, with `@casty/casty/testing`: the sharded,
 * event-sourced account of `_18_account.ts` survives the loss of the node that hosts it
 *
 * 1. on `testCluster` (3 nodes in this process, simulated clock, in-memory network): fast and
 *    repeatable, the same seed gives the same run;
 * 2. on real processes (`startNodeProcess`, 3 node processes on loopback TCP sharing a SQLite
 *    journal, plus this process as a node that only routes), killed with `SIGKILL`.
 *
 * Run: `deno run -A examples/18_testing.ts` or `bun examples/18_testing.ts`
 *
 * @module
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ClusteredActorSystem, InMemoryJournal } from "../mod.ts";
// In your project: import { freePort, startNodeProcess, testCluster } from "@casty/casty/testing";
import { freePort, type NodeProcess, startNodeProcess, testCluster } from "../src/testing/mod.ts";
import { type AccountMsg, accounts, type Balance, quickFailover } from "./_18_account.ts";

// 1. Simulated: nothing moves unless the test moves the clock.
{
  await using cluster = await testCluster(3, { seed: 7, roles: ["bank"] });
  const regions = cluster.nodes.map((n) =>
    n.spawn(accounts(cluster.journal, n.selfAddress.port), "accounts")
  );
  const deposit = (i: number, amount: number) =>
    cluster.run(
      cluster.nodes[i].entityAsk<AccountMsg, Balance>(
        regions[i],
        "alice",
        (replyTo) => ({ type: "deposit", amount, replyTo }),
      ),
    );
  const before = await deposit(0, 100);
  console.log(`simulated: alice has ${before.balance}`);
  const owner = cluster.nodes.findIndex((n) => n.selfAddress.port === before.node);
  await cluster.kill(owner); // like SIGKILL
  const other = owner === 0 ? 1 : 0;
  await cluster.until(() => cluster.isConverged(2), { timeout: 60_000 });
  const after = await deposit(other, 1);
  assert.notEqual(after.node, before.node);
  console.log(`simulated: after killing its node, alice has ${after.balance} on another node`);
}

// 2. Real processes: a SIGKILL is a real crash; the journal is a real SQLite file.
{
  const dir = mkdtempSync(join(tmpdir(), "casty-18-"));
  const journalPath = join(dir, "bank.db");
  const nodeModule = new URL("./_18_node.ts", import.meta.url);
  const processes: NodeProcess[] = [];
  try {
    // Three bank nodes, started at once on ports picked beforehand; the first is the seed.
    const ports = [await freePort(), await freePort(), await freePort()];
    const seed = `127.0.0.1:${ports[0]}`;
    processes.push(
      ...await Promise.all(
        ports.map((port) => startNodeProcess(nodeModule, { args: [journalPath, `${port}`, seed] })),
      ),
    );
    // This process joins as a node without the "bank" role: it routes, never hosts.
    await using client = await ClusteredActorSystem.start({
      name: "bank",
      host: "127.0.0.1",
      port: 0,
      seedNodes: [seed],
      logLevel: "error",
      ...quickFailover,
    });
    const region = client.spawn(accounts(new InMemoryJournal(), 0), "accounts");
    await client.waitFor(4, { timeout: 20_000 });
    console.log("processes: 3 bank nodes and this one up");
    const deposit = (amount: number) =>
      client.entityAsk<AccountMsg, Balance>(
        region,
        "alice",
        (replyTo) => ({ type: "deposit", amount, replyTo }),
        { timeout: 2000 },
      );
    const before = await deposit(100);
    console.log(`processes: alice has ${before.balance}`);
    const owner = processes.find((p) => p.ready.port === before.node)!;
    await owner.kill(); // SIGKILL
    // Until the cluster has downed the dead node and moved the shard, asks time out: retry.
    let after: Balance | undefined;
    const deadline = Date.now() + 20_000;
    while (after === undefined) {
      after = await deposit(1).catch((err) => {
        if (Date.now() > deadline) throw err;
        return undefined;
      });
    }
    assert.notEqual(after.node, before.node);
    console.log(`processes: after kill -9 of its node, alice has ${after.balance} on another node`);
  } finally {
    await Promise.all(processes.map((p) => p.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}
