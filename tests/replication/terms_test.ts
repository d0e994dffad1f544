import { afterEach, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ReplicateEvents, type ReplicateEventsAck } from "../../src/sharding/mod.ts";
import { ReplicaClaim } from "../../src/replication/replication.ts";
import { loadTermRecord, type TermHistory } from "../../src/replication/terms.ts";
import { testCluster } from "../../src/testing/mod.ts";
import { type ActorRef, Behaviors, type ClusteredActorSystem } from "../../mod.ts";
import { SqliteJournal } from "../../src/persistence/mod.ts";
import { account, deposit, ev, idsIn, placement, type Reply, spawnAccounts } from "./_fixtures.ts";

const STORE = "/_cluster/_replication-accounts";
const replication = { replicas: 1, minAcks: 1, ackTimeout: 1000 };

/** The accounts region on `node`, writing to `journal`, and the node's replica store. */
function accountsOn(
  node: ClusteredActorSystem,
  journal: SqliteJournal,
): (make: (r: ActorRef<ReplicateEventsAck>) => unknown) => Promise<ReplicateEventsAck> {
  node.spawn(
    Behaviors.sharded(account("n0", journal), { numShards: 10, replication }),
    "accounts",
  );
  const store = node.lookup(STORE)! as ActorRef<unknown>;
  assert.ok(store !== undefined);
  return (make: (r: ActorRef<ReplicateEventsAck>) => unknown) =>
    node.ask<unknown, ReplicateEventsAck>(store, make);
}

describe("replication: terms are durable and a diverged log is replaced, never taken for a copy", () => {
  let dir = "";
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "casty-terms-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("a node restarted with its SQLite journal still refuses writes under an older term", async () => {
    await using cluster = await testCluster(1, { seed: 41 });
    const path = join(dir, "n0.db");
    let journal = new SqliteJournal({ path });
    let ask = accountsOn(cluster.nodes[0], journal);
    const claim = await cluster.run(ask((r) => new ReplicaClaim("zoe", 50, r)));
    assert.deepEqual([claim.ok, claim.term], [true, 50]);
    await cluster.run(cluster.restart(0));
    await journal.close();
    journal = new SqliteJournal({ path });
    try {
      ask = accountsOn(cluster.nodes[0], journal);
      // A deposed primary's late replication under term 49 reaches the restarted node.
      const late = await cluster.run(
        ask((r) => new ReplicateEvents("zoe", 49, [ev(1, "x")], r, [[49, 1]])),
      );
      assert.deepEqual([late.ok, late.term], [false, 50], "term 50 survived the restart");
      assert.deepEqual(await idsIn(journal, "zoe"), [], "nothing written");
      const state = await cluster.run(ask((r) => new ReplicaClaim("zoe", 0, r)));
      assert.equal(state.term, 50);
    } finally {
      await cluster.run(cluster.kill(0));
      await journal.close();
    }
  });

  it("a replica whose log holds an event the primary's log does not drops it and takes the primary's, also after a restart", async () => {
    await using cluster = await testCluster(1, { seed: 43 });
    const path = join(dir, "n0.db");
    let journal = new SqliteJournal({ path });
    let ask = accountsOn(cluster.nodes[0], journal);
    // Term 1 wrote e1 and e2 here (e2 was never acknowledged: its primary was then deposed).
    const first = await cluster.run(
      ask((r) => new ReplicateEvents("ida", 1, [ev(1, "e1"), ev(2, "e2")], r, [[1, 1]])),
    );
    assert.deepEqual([first.ok, first.highestSequenceNr], [true, 2]);
    await cluster.run(cluster.restart(0));
    await journal.close();
    journal = new SqliteJournal({ path });
    try {
      ask = accountsOn(cluster.nodes[0], journal);
      // The term-2 primary kept e1 and wrote e2' and e3' at 2 and 3: e2 goes (the logs agree
      // up to 1 only), e2' and e3' take its place.
      const newer: TermHistory = [[1, 1], [2, 2]];
      const taken = await cluster.run(
        ask((r) => new ReplicateEvents("ida", 2, [ev(2, "e2'"), ev(3, "e3'")], r, newer)),
      );
      assert.deepEqual([taken.ok, taken.highestSequenceNr], [true, 3]);
      assert.deepEqual(await idsIn(journal, "ida"), ["e1", "e2'", "e3'"]);
      // The deposed term-1 primary cannot do the same: its term is older, nothing changes.
      const late = await cluster.run(
        ask((r) => new ReplicateEvents("ida", 1, [ev(2, "late")], r, [[0, 1], [1, 2]])),
      );
      assert.deepEqual([late.ok, late.term], [false, 2]);
      assert.deepEqual(await idsIn(journal, "ida"), ["e1", "e2'", "e3'"]);
    } finally {
      await cluster.run(cluster.kill(0));
      await journal.close();
    }
    // Kept on disk, with a history that describes it.
    journal = new SqliteJournal({ path });
    try {
      assert.deepEqual(await idsIn(journal, "ida"), ["e1", "e2'", "e3'"]);
      const record = await loadTermRecord(journal, "ida");
      assert.deepEqual([record.term, record.history], [2, [[1, 1], [2, 2]]]);
    } finally {
      await journal.close();
    }
  });

  it("a deposed primary whose journal kept unacknowledged events drops them when promoted again, and takes the newer log", async () => {
    // The membership must outlive the partition below (this test is about terms, not downing):
    // a 2-node split would otherwise down one side before the heal.
    await using cluster = await testCluster(2, { seed: 23, downing: { stableAfter: 600_000 } });
    const { journals, regions } = spawnAccounts(cluster, replication);
    assert.equal((await cluster.run(deposit(cluster, 0, regions[0], "kim", "c0")))?.ok, true);
    const p = (await placement(cluster, 0, "kim"))!;
    const q = p.replicas[0];
    const store = cluster.nodes[q].lookup(STORE)! as ActorRef<unknown>;
    const askQ = (make: (r: ActorRef<ReplicateEventsAck>) => unknown) =>
      cluster.nodes[q].ask<unknown, ReplicateEventsAck>(store, make);
    // Cut off from its replica, the primary's c1 is not acknowledged but stays in its journal.
    cluster.partition([p.primary], [q]);
    const c1 = await cluster.run(deposit(cluster, p.primary, regions[p.primary], "kim", "c1"));
    assert.equal(c1?.ok, false);
    cluster.heal();
    // Meanwhile a newer primary (term 50) wrote c1' at 2 on q, as a promoted replica would.
    const t = (await cluster.run(askQ((r) => new ReplicaClaim("kim", 0, r)))).term;
    const claimed = await cluster.run(
      askQ((r) => new ReplicaClaim("kim", 50, r, [[t, 1], [50, 2]])),
    );
    assert.equal(claimed.ok, true);
    await journals[q].persist("kim", [ev(2, "c1'")]);
    // The old primary reaches q's store again (its dial backoff may outlast the heal) before
    // the writes below: they are about what q answers, not about the link coming back.
    const qStore = cluster.nodes[p.primary].remoting.refFor<unknown>(
      `casty://test@127.0.0.1:${cluster.nodes[q].selfAddress.port}${STORE}`,
    );
    let reached = false;
    for (let i = 0; i < 30 && !reached; i++) {
      reached = await cluster.run(
        cluster.nodes[p.primary].ask<unknown, ReplicateEventsAck>(
          qStore,
          (r) => new ReplicaClaim("kim", 0, r),
          { timeout: 1000 },
        ).then(() => true, () => false),
      );
    }
    assert.ok(reached, "the old primary reaches q again after the heal");
    // The old primary learns on a write that it was deposed (its entity stops); its next
    // incarnation finds its own log [c0, c1, c2] diverged from q's [c0, c1'] (newer term) after
    // 1: c1 and c2 were never acknowledged, so they go, and it takes q's log and goes on.
    const write = (id: string) =>
      cluster.run(deposit(cluster, p.primary, regions[p.primary], "kim", id, 3000), {
        timeout: 30_000,
      });
    assert.notEqual((await write("c2"))?.ok, true, "the deposed primary's write fails");
    let served: Reply | undefined;
    let k = 3;
    for (; k <= 8 && served?.ok !== true; k++) served = await write(`c${k}`);
    assert.equal(served?.ok, true, "served again after its new promotion");
    const log = await idsIn(journals[p.primary], "kim");
    assert.deepEqual(log, ["c0", "c1'", `c${k - 1}`], "q's log, then the new write");
    assert.equal(served?.ok && served.seq, 3);
    for (let i = 0; i < 50 && (await idsIn(journals[q], "kim")).length < 3; i++) {
      await cluster.advance(100);
    }
    assert.deepEqual(await idsIn(journals[q], "kim"), log, "q acknowledged it: same log");
  });
});
