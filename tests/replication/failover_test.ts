import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ReplicateEvents, type ReplicateEventsAck } from "../../src/sharding/mod.ts";
import { ReplicaClaim } from "../../src/replication/replication.ts";
import { testCluster } from "../../src/testing/mod.ts";
import { Behaviors } from "../../mod.ts";
import { InMemoryJournal } from "../../src/persistence/mod.ts";
import {
  account,
  type Cmd,
  deposit,
  idsIn,
  placement,
  spawnAccounts,
  type State,
} from "./_fixtures.ts";

const STORE = "/_cluster/_replication-accounts";

describe("replication: failover and fencing", () => {
  it("promotes the replica when the primary's node is killed: every acknowledged deposit survives once", async () => {
    await using cluster = await testCluster(3, { seed: 21, downing: { stableAfter: 2000 } });
    const { journals, regions } = spawnAccounts(cluster, {
      replicas: 1,
      minAcks: 1,
      ackTimeout: 1000,
    });
    assert.equal((await cluster.run(deposit(cluster, 0, regions[0], "acc", "c0")))?.ok, true);
    const p = (await placement(cluster, 0, "acc"))!;
    const writer = [0, 1, 2].find((i) => i !== p.primary)!;
    const acked = ["c0"];
    const pending: Promise<void>[] = [];
    for (let k = 1; k <= 150; k++) {
      if (k === 20) await cluster.run(cluster.kill(p.primary));
      const id = `c${k}`;
      pending.push(
        deposit(cluster, writer, regions[writer], "acc", id, 20_000).then((r) => {
          if (r?.ok) acked.push(id);
        }),
      );
      await cluster.advance(100);
    }
    await cluster.run(Promise.all(pending), { timeout: 60_000 });
    const state = await cluster.run(
      cluster.nodes[writer].entityAsk<Cmd, State>(
        regions[writer],
        "acc",
        (replyTo) => ({ type: "get", replyTo }),
      ),
    );
    assert.notEqual(state.node, `n${p.primary}`);
    assert.equal(new Set(state.ids).size, state.ids.length, "no deposit twice");
    for (const id of acked) assert.ok(state.ids.includes(id), `acknowledged ${id} survives`);
    assert.ok(acked.length > 40, `${acked.length} acknowledged`);
    assert.ok(acked.includes("c150"), "served again after the failover");
    // The new primary recovered from its own journal, which now holds the whole log.
    assert.deepEqual(await idsIn(journals[Number(state.node.slice(1))], "acc"), state.ids);
  });

  it("fences a deposed primary: a store refuses its term, and the primary fails the write and stops", async () => {
    await using cluster = await testCluster(2, { seed: 23 });
    const { regions } = spawnAccounts(cluster, { replicas: 1, minAcks: 1, ackTimeout: 1000 });
    assert.equal((await cluster.run(deposit(cluster, 0, regions[0], "eve", "c0")))?.ok, true);
    const p = (await placement(cluster, 0, "eve"))!;
    const replicaStore = cluster.nodes[p.replicas[0]].lookup(STORE)!;
    assert.ok(replicaStore !== undefined);
    const node = cluster.nodes[p.replicas[0]];
    // Someone else claims term 50 at the replica (as a newer primary would).
    const claim = await cluster.run(
      node.ask<unknown, ReplicateEventsAck>(replicaStore, (r) => new ReplicaClaim("eve", 50, r)),
    );
    assert.deepEqual([claim.ok, claim.term, claim.highestSequenceNr], [true, 50, 1]);
    // A late replication under an older term is refused, and nothing is written.
    const late = await cluster.run(
      node.ask<unknown, ReplicateEventsAck>(
        replicaStore,
        (r) =>
          new ReplicateEvents("eve", 49, [{
            sequenceNr: 2,
            event: { id: "x", amount: 1 },
            timestamp: 0,
          }], r),
      ),
    );
    assert.deepEqual([late.ok, late.term, late.highestSequenceNr], [false, 50, 1]);
    // The old primary learns it was deposed on its next write: the caller is told, the entity stops.
    const r = await cluster.run(deposit(cluster, p.primary, regions[p.primary], "eve", "c1"));
    assert.deepEqual(r, { ok: false, code: "QUORUM_NOT_REACHED", node: `n${p.primary}` });
    // Its next incarnation promotes itself under a term above 50 and is accepted again.
    const again = await cluster.run(deposit(cluster, p.primary, regions[p.primary], "eve", "c2"));
    assert.equal(again?.ok, true);
    const after = await cluster.run(
      node.ask<unknown, ReplicateEventsAck>(replicaStore, (r) => new ReplicaClaim("eve", 0, r)),
    );
    assert.ok(after.term > 50, `term ${after.term}`);
    assert.equal(after.highestSequenceNr, 3, "the replica caught up by sequence range");
  });

  it("fills a new replica from the primary after the old one is lost, restoring the replica count", async () => {
    await using cluster = await testCluster(2, { seed: 29, downing: { stableAfter: 2000 } });
    const journals = [new InMemoryJournal(), new InMemoryJournal(), new InMemoryJournal()];
    const replication = { replicas: 1, minAcks: 1, ackTimeout: 1000 };
    const { regions } = spawnAccounts(cluster, replication, journals.slice(0, 2));
    for (let k = 0; k < 5; k++) {
      assert.equal((await cluster.run(deposit(cluster, 0, regions[0], "fay", `c${k}`)))?.ok, true);
    }
    const p = (await placement(cluster, 0, "fay"))!;
    assert.equal(p.primary, 0, "node 0 hosts fay (seed 29)");
    await cluster.run(cluster.kill(1));
    await cluster.until(() => cluster.isConverged(1), { timeout: 60_000 });
    // Alone, the primary cannot confirm a write.
    const alone = await cluster.run(deposit(cluster, 0, regions[0], "fay", "c5"));
    assert.equal(alone?.ok, false);
    const fresh = await cluster.run(cluster.start(2));
    await cluster.until(() => cluster.isConverged(2), { timeout: 60_000 });
    fresh.spawn(
      Behaviors.sharded(account("n2", journals[2]), { numShards: 10, replication }),
      "accounts",
    );
    // Node 2 is a replica once the allocation table names it as a host of "accounts".
    for (let t = 0; (await placement(cluster, 0, "fay"))?.replicas[0] !== 2; t += 50) {
      assert.ok(t < 10_000, "node 2 never became the replica");
      await cluster.advance(50);
    }
    const r = await cluster.run(deposit(cluster, 0, regions[0], "fay", "c6"));
    assert.deepEqual(r, { ok: true, seq: 7, node: "n0" });
    assert.deepEqual((await placement(cluster, 0, "fay"))?.replicas, [2]);
    // The new replica got the whole log by sequence range, the unconfirmed c5 included.
    assert.deepEqual(await idsIn(journals[2], "fay"), ["c0", "c1", "c2", "c3", "c4", "c5", "c6"]);
  });

  it("catches up a replica that missed writes while its link was cut, once another acknowledged them", async () => {
    await using cluster = await testCluster(3, { seed: 31 });
    const { journals, regions } = spawnAccounts(cluster, {
      replicas: 2,
      minAcks: 1,
      ackTimeout: 1000,
    });
    assert.equal((await cluster.run(deposit(cluster, 0, regions[0], "gus", "c0")))?.ok, true);
    const p = (await placement(cluster, 0, "gus"))!;
    const [near, far] = p.replicas;
    // A short cut (well under failure detection): the far replica misses c1..c3.
    cluster.partition([p.primary], [far]);
    for (let k = 1; k <= 3; k++) {
      const r = await cluster.run(deposit(cluster, p.primary, regions[p.primary], "gus", `c${k}`));
      assert.equal(r?.ok, true, "the near replica acknowledges");
    }
    assert.deepEqual(await idsIn(journals[far], "gus"), ["c0"]);
    cluster.heal();
    await cluster.advance(200);
    assert.equal(
      (await cluster.run(deposit(cluster, p.primary, regions[p.primary], "gus", "c4")))?.ok,
      true,
    );
    await cluster.advance(200);
    const all = ["c0", "c1", "c2", "c3", "c4"];
    assert.deepEqual(await idsIn(journals[near], "gus"), all);
    assert.deepEqual(await idsIn(journals[far], "gus"), all, "the far replica caught up by range");
  });
});
