import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ActorRef, Behaviors, type ShardEnvelope } from "../../mod.ts";
import type { ReplicationConfig } from "../../src/sharding/mod.ts";
import { InMemoryJournal } from "../../src/persistence/mod.ts";
import { type TestCluster, testCluster } from "../../src/testing/mod.ts";
import { account, type Cmd, deposit, idsIn, placement } from "./_fixtures.ts";

/** Entity ids whose primary (in node `via`'s table) is each of `primaries`, one per primary. */
async function entitiesOn(
  cluster: TestCluster,
  via: number,
  regionOf: (i: number) => Parameters<typeof deposit>[2],
  primaries: number[],
): Promise<Map<number, string>> {
  const found = new Map<number, string>();
  for (let k = 0; k < 60 && found.size < primaries.length; k++) {
    const id = `e${k}`;
    const r = await cluster.run(deposit(cluster, via, regionOf(via), id, `${id}-first`));
    assert.equal(r?.ok, true, `first deposit to ${id}: ${JSON.stringify(r)}`);
    const p = (await placement(cluster, via, id))!;
    if (primaries.includes(p.primary) && !found.has(p.primary)) found.set(p.primary, id);
  }
  assert.equal(found.size, primaries.length, "an entity on every hosting node");
  return found;
}

/** Spawns "accounts" on the nodes `hosting` only; one journal per node of the cluster. */
function spawnOn(
  cluster: TestCluster,
  hosting: number[],
  replication: ReplicationConfig,
): { journals: InMemoryJournal[]; regions: ActorRef<ShardEnvelope<Cmd>>[] } {
  const journals = cluster.nodes.map(() => new InMemoryJournal());
  const regions = hosting.map((i) =>
    cluster.nodes[i].spawn(
      Behaviors.sharded(account(`n${i}`, journals[i]), { numShards: 10, replication }),
      "accounts",
    )
  );
  return { journals, regions };
}

describe("replication: replicas only on nodes that host the type", () => {
  it("never places a replica on a node that did not spawn the type; one that spawns it later joins the placement", async () => {
    await using cluster = await testCluster(3, { seed: 31 });
    const journals = cluster.nodes.map(() => new InMemoryJournal());
    const spawn = (i: number) =>
      cluster.nodes[i].spawn(
        Behaviors.sharded(account(`n${i}`, journals[i]), {
          numShards: 10,
          replication: { replicas: 1, minAcks: 1, ackTimeout: 1000 },
        }),
        "accounts",
      );
    // Node 2 (the highest address: the old ring put it after node 1) does not host accounts.
    const regions = [spawn(0), spawn(1)];
    const entities = await entitiesOn(cluster, 0, (i) => regions[i], [0, 1]);
    for (const [primary, id] of entities) {
      for (let k = 0; k < 3; k++) {
        const r = await cluster.run(deposit(cluster, 0, regions[0], id, `${id}-${k}`));
        assert.equal(r?.ok, true, `deposit to ${id} (primary n${primary}): ${JSON.stringify(r)}`);
      }
      const other = 1 - primary;
      for (const via of [0, 1]) {
        assert.deepEqual(await placement(cluster, via, id), { primary, replicas: [other] });
      }
      const ids = [`${id}-first`, `${id}-0`, `${id}-1`, `${id}-2`];
      assert.deepEqual(await idsIn(journals[primary], id), ids);
      assert.deepEqual(await idsIn(journals[other], id), ids);
      assert.deepEqual(await idsIn(journals[2], id), []);
    }
    // Node 2 spawns the type: the next table names it as a host, and the primary on node 1
    // (node 2 comes next after it in address order) now ships to node 2.
    spawn(2);
    const onOne = entities.get(1)!;
    await cluster.run(
      (async () => {
        while ((await placement(cluster, 1, onOne))?.replicas[0] !== 2) await cluster.advance(50);
      })(),
      { timeout: 10_000 },
    );
    assert.deepEqual(await placement(cluster, 0, onOne), { primary: 1, replicas: [2] });
    const r = await cluster.run(deposit(cluster, 0, regions[0], onOne, `${onOne}-late`));
    assert.equal(r?.ok, true);
    // Node 2's store was filled by catch-up from the primary's journal: the whole log.
    assert.deepEqual(await idsIn(journals[2], onOne), await idsIn(journals[1], onOne));
    assert.equal((await idsIn(journals[2], onOne)).length, 5);
  });

  it("promotes among the hosts only: a node without the type does not hold the failover back", async () => {
    await using cluster = await testCluster(4, { seed: 35, downing: { stableAfter: 2000 } });
    const { journals, regions } = spawnOn(cluster, [0, 1, 2], {
      replicas: 1,
      minAcks: 1,
      ackTimeout: 1000,
    });
    // Node 3 never spawns the type: it has no store, and would never answer a promoter.
    const entities = await entitiesOn(cluster, 0, (i) => regions[i], [1, 2]);
    const victim = 1;
    const id = entities.get(victim)!;
    const acked = [`${id}-first`];
    for (let k = 0; k < 3; k++) {
      const r = await cluster.run(deposit(cluster, 0, regions[0], id, `${id}-${k}`));
      assert.equal(r?.ok, true);
      acked.push(`${id}-${k}`);
    }
    await cluster.run(cluster.kill(victim));
    const killedAt = cluster.clock.now();
    let servedAt = -1;
    for (let k = 0; servedAt < 0; k++) {
      assert.ok(cluster.clock.now() - killedAt < 30_000, "served again after the kill");
      const r = await cluster.run(deposit(cluster, 0, regions[0], id, `${id}-after${k}`, 2000));
      if (r?.ok) {
        acked.push(`${id}-after${k}`);
        servedAt = cluster.clock.now();
        assert.notEqual(r.node, `n${victim}`);
      }
    }
    // Detection, downing and one promotion round: no round waits for node 3.
    assert.ok(servedAt - killedAt < 15_000, `served ${servedAt - killedAt} ms after the kill`);
    const p = (await placement(cluster, 0, id))!;
    assert.deepEqual(await idsIn(journals[p.primary], id), acked);
  });

  it("with replicas 2 and minAcks 2 on 4 nodes of which 3 host the type, every write reaches both other hosts", async () => {
    await using cluster = await testCluster(4, { seed: 33 });
    const { journals, regions } = spawnOn(cluster, [0, 1, 2], {
      replicas: 2,
      minAcks: 2,
      ackTimeout: 1000,
    });
    // Before: the primaries on nodes 1 and 2 would have picked node 3 and failed every write.
    const entities = await entitiesOn(cluster, 0, (i) => regions[i], [0, 1, 2]);
    for (const [primary, id] of entities) {
      const r = await cluster.run(deposit(cluster, 2, regions[2], id, `${id}-x`));
      assert.equal(r?.ok, true, `deposit to ${id} (primary n${primary}): ${JSON.stringify(r)}`);
      const p = (await placement(cluster, 2, id))!;
      assert.equal(p.primary, primary);
      assert.deepEqual(p.replicas.toSorted(), [0, 1, 2].filter((i) => i !== primary));
      for (const j of journals.slice(0, 3)) {
        assert.deepEqual(await idsIn(j, id), [`${id}-first`, `${id}-x`]);
      }
      assert.deepEqual(await idsIn(journals[3], id), []);
    }
  });
});
