import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Behaviors, type ClusteredActorSystem } from "../../mod.ts";
import { type TestCluster, testCluster } from "../../src/testing/mod.ts";
import { account, type AccountMsg, type Region, startTraffic, type Traffic } from "./_fixtures.ts";

/** Shards per node index (0..n-1), from `node`'s cluster state. */
async function shardCounts(node: ClusteredActorSystem, n: number): Promise<number[]> {
  const state = await node.getClusterState();
  const owners = Object.values(state.allocations.accounts ?? {}).map((a) => a.primary.port);
  return Array.from({ length: n }, (_, i) => owners.filter((p) => p === 25520 + i).length);
}

/** Advances until every entity answered a balance query, checking the invariants each step. */
async function settleAll(
  cluster: TestCluster,
  traffic: Traffic,
  via: Region,
  node: ClusteredActorSystem,
) {
  await cluster.until(() => {
    assert.equal(traffic.ledger.duplicate, undefined);
    return traffic.accounted() === traffic.sent.size;
  }, { timeout: 30_000 });
  for (const id of traffic.entities) {
    await cluster.run(
      node.entityAsk<AccountMsg, number>(via, id, (replyTo) => ({ type: "getBalance", replyTo }), {
        timeout: 5000,
      }),
    );
  }
}

describe("sharding on a simulated cluster: placement and rebalancing", () => {
  it("spreads entities over 3 nodes, least-shard-first", async () => {
    await using cluster = await testCluster(3, { seed: 3 });
    const { ledger, regions, traffic } = await startTraffic(cluster, 60, 60);
    await settleAll(cluster, traffic, regions[0], cluster.nodes[0]);
    assert.deepEqual(traffic.problems(true), []);
    assert.equal(traffic.dead.size, 0);
    const counts = await shardCounts(cluster.nodes[1], 3);
    assert.ok(counts.every((c) => c > 0), `every node hosts shards: ${counts}`);
    assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `balanced: ${counts}`);
    const hosts = new Set([...ledger.alive.values()].flatMap((s) => [...s]));
    assert.deepEqual([...hosts].sort(), ["n0", "n1", "n2"]);
  });

  it("gives a joining node its share, a few shards at a time, with no message lost", async () => {
    await using cluster = await testCluster(2, { seed: 5 });
    const { ledger, regions, traffic } = await startTraffic(cluster, 40, 80);
    await settleAll(cluster, traffic, regions[0], cluster.nodes[0]);
    const before = await shardCounts(cluster.nodes[0], 2);
    const joined = await cluster.start(2);
    traffic.watch(joined);
    regions.push(
      joined.spawn(Behaviors.sharded(account(ledger, "n2"), { numShards: 30 }), "accounts"),
    );
    // Traffic flows while the new node joins and shards move to it.
    for (let step = 0; step < 300; step++) {
      traffic.send(`s${step % 3}`, regions[step % 3]);
      await cluster.advance(10);
      assert.equal(ledger.duplicate, undefined, ledger.duplicate);
    }
    await cluster.until(() => [...ledger.alive.values()].some((s) => s.has("n2")), {
      timeout: 30_000,
    });
    await settleAll(cluster, traffic, regions[2], joined);
    assert.deepEqual(traffic.problems(true), []);
    assert.equal(traffic.dead.size, 0, "no dead letters in a graceful join");
    assert.ok(before[0] > 0 && before[1] > 0, `2 nodes host shards: ${before}`);
    const counts = await shardCounts(joined, 3);
    assert.ok(counts[2] > 0, `the new node hosts shards: ${counts}`);
    assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `balanced after join: ${counts}`);
  });

  it("hands a leaving node's shards over before it exits, with no message lost", async () => {
    await using cluster = await testCluster(3, { seed: 9 });
    const { ledger, regions, traffic } = await startTraffic(cluster, 40, 80);
    await settleAll(cluster, traffic, regions[0], cluster.nodes[0]);
    assert.ok([...ledger.alive.values()].some((s) => s.has("n2")));
    const leaving = cluster.nodes[2].leave();
    let done = false;
    void leaving.then(() => done = true);
    let announced = false;
    for (let step = 0; !done && step < 2000; step++) {
      traffic.send(`s${step % 2}`, regions[step % 2]);
      await cluster.advance(10);
      assert.equal(ledger.duplicate, undefined, ledger.duplicate);
      const seen = cluster.nodes[0].members.find((m) => m.address.port === 25522)?.status;
      if (!announced && seen !== "up") {
        // By the time the cluster sees it leaving, it hosts nothing and owns no shard.
        announced = true;
        assert.ok(![...ledger.alive.values()].some((s) => s.has("n2")), "n2 handed over");
        assert.equal((await shardCounts(cluster.nodes[0], 3))[2], 0);
      }
    }
    assert.ok(announced);
    await cluster.run(leaving);
    assert.ok(![...ledger.alive.values()].some((s) => s.has("n2")), "no entity left on n2");
    await settleAll(cluster, traffic, regions[0], cluster.nodes[0]);
    assert.deepEqual(traffic.problems(true), []);
    assert.equal(traffic.dead.size, 0, "no dead letters in a graceful leave");
  });
});
