// Issue 12: a log that diverged from the newest copy (events of a deposed primary that were
// never acknowledged) is dropped and replaced, by a promoter and by a replica, and the result
// survives a restart on SQLite; a promoter that finds no copy as long as a log an earlier
// promoter adopted refuses loudly instead of starting from a shorter one.
import { afterEach, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ActorRef, Behaviors, DeadLetter } from "../../mod.ts";
import { entityShard, type ShardEnvelope } from "../../src/sharding/mod.ts";
import { SqliteJournal } from "../../src/persistence/mod.ts";
import {
  loadTermRecord,
  saveTermRecord,
  type TermHistory,
  type TermRecord,
} from "../../src/replication/terms.ts";
import { type TestCluster, testCluster } from "../../src/testing/mod.ts";
import { account, type Cmd, deposit, ev, idsIn, placement } from "./_fixtures.ts";

const replication = { replicas: 1, minAcks: 1, ackTimeout: 1000 };

/** Two nodes, each with its own SQLite journal at `paths[i]`, running the accounts. */
function accounts(
  cluster: TestCluster,
  paths: readonly string[],
): { journals: SqliteJournal[]; regions: ActorRef<ShardEnvelope<Cmd>>[] } {
  const journals = paths.map((path) => new SqliteJournal({ path }));
  const regions = cluster.nodes.map((node, i) =>
    node.spawn(
      Behaviors.sharded(account(`n${i}`, journals[i]), { numShards: 10, replication }),
      "accounts",
    )
  );
  return { journals, regions };
}

/** An entity of the same shard as `entity` (its first message allocates that shard). */
function sibling(entity: string): string {
  for (let k = 0;; k++) {
    if (entityShard(`s${k}`, 10) === entityShard(entity, 10)) return `s${k}`;
  }
}

/** One node's copy of an entity: its events (deposit ids) and its durable term record. */
type Copy = { ids: string[]; record: TermRecord };

async function write(journal: SqliteJournal, entity: string, copy: Copy): Promise<void> {
  await journal.persist(entity, copy.ids.map((id, i) => ev(i + 1, id)));
  await saveTermRecord(journal, entity, copy.record, 0);
}

const rec = (term: number, history: TermHistory, floor = 0): TermRecord => ({
  term,
  history,
  floor,
});

describe("replication: a diverged log is replaced by the newest copy (issue 12)", () => {
  let dir = "";
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "casty-repl5-divergence-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /**
   * Puts `primary` and `replica` (the copies of "x" on the node that will be its primary and on
   * the other) in the journals, writes one deposit, checks both logs, then restarts the whole
   * cluster on the same files and writes again.
   */
  async function scenario(
    seed: number,
    primary: Copy,
    replica: Copy,
    expected: string[],
  ): Promise<void> {
    const paths = [join(dir, `n0-${seed}.db`), join(dir, `n1-${seed}.db`)];
    {
      await using cluster = await testCluster(2, { seed, downing: { stableAfter: 600_000 } });
      const { journals, regions } = accounts(cluster, paths);
      try {
        // The shard of "x" is allocated by a first message to a sibling: then its placement is
        // known, and "x" itself was never touched.
        const s = sibling("x");
        assert.equal((await cluster.run(deposit(cluster, 0, regions[0], s, "s1")))?.ok, true);
        const p = (await placement(cluster, 0, s))!;
        const r = p.replicas[0];
        await write(journals[p.primary], "x", primary);
        await write(journals[r], "x", replica);
        const reply = await cluster.run(deposit(cluster, r, regions[r], "x", "d1", 5000));
        assert.deepEqual(reply, { ok: true, seq: expected.length + 1, node: `n${p.primary}` });
        const log = [...expected, "d1"];
        assert.deepEqual(await idsIn(journals[p.primary], "x"), log, "the primary's log");
        // The replica acknowledged the deposit, so it holds the log (bounded wait, no sleep).
        for (let i = 0; i < 50 && (await idsIn(journals[r], "x")).length < log.length; i++) {
          await cluster.advance(100);
        }
        assert.deepEqual(await idsIn(journals[r], "x"), log, "the replica's log");
      } finally {
        await cluster.run(Promise.all(cluster.nodes.map((_, i) => cluster.kill(i))));
        for (const j of journals) await j.close();
      }
    }
    // A restart on the same files keeps the result: the logs, and histories that agree with
    // them (the next promotion finds no divergence and goes on from there).
    await using cluster = await testCluster(2, { seed: seed + 1 });
    const { journals, regions } = accounts(cluster, paths);
    try {
      for (const j of journals) {
        assert.deepEqual(await idsIn(j, "x"), [...expected, "d1"], "kept by the restart");
      }
      const records = await Promise.all(journals.map((j) => loadTermRecord(j, "x")));
      assert.ok(records.every((t) => t.term > Math.max(primary.record.term, replica.record.term)));
      const reply = await cluster.run(deposit(cluster, 0, regions[0], "x", "d2", 5000));
      assert.equal(reply?.ok, true, JSON.stringify(reply));
      assert.equal(reply?.ok && reply.seq, expected.length + 2);
    } finally {
      await cluster.run(Promise.all(cluster.nodes.map((_, i) => cluster.kill(i))));
      for (const j of journals) await j.close();
    }
  }

  it("a promoter drops its unacknowledged event that the newest copy replaced, and takes that copy", async () => {
    // Term 1 wrote e1, e2 and e3 on the primary's node; e3 was never acknowledged (its replica
    // had taken term 2 and refused it). Term 2, on the other node, wrote e3' at 3.
    await scenario(
      61,
      { ids: ["e1", "e2", "e3"], record: rec(2, [[1, 1]]) },
      { ids: ["e1", "e2", "e3'"], record: rec(2, [[1, 1], [2, 3]], 2) },
      ["e1", "e2", "e3'"],
    );
  });

  it("the state of seed 10: the newest copy's history names a newer term for the same events", async () => {
    // The promoter holds 35 events of term 1 plus an unacknowledged 36th; the other node holds
    // the same 35, recorded (by the race that issue 12 found) as written under term 2.
    const ids = Array.from({ length: 35 }, (_, i) => `c${i + 1}`);
    await scenario(
      63,
      { ids: [...ids, "c36"], record: rec(2, [[1, 1]]) },
      { ids, record: rec(2, [[2, 1]]) },
      ids,
    );
  });

  it("a replica drops its unacknowledged event and takes the primary's", async () => {
    // The replica's node kept e3 of term 1 (never acknowledged); the primary's node holds the
    // newer log with e3' of term 2.
    await scenario(
      65,
      { ids: ["e1", "e2", "e3'"], record: rec(2, [[1, 1], [2, 3]], 2) },
      { ids: ["e1", "e2", "e3"], record: rec(1, [[1, 1]]) },
      ["e1", "e2", "e3'"],
    );
  });

  it("a promoter that finds no copy as long as an adopted log refuses loudly and writes nothing", async () => {
    // An earlier promoter adopted a log of 45 events (recorded on both nodes); the nodes that
    // held those events were lost: the copies here are empty.
    await using cluster = await testCluster(2, { seed: 67, downing: { stableAfter: 600_000 } });
    const paths = [join(dir, "n0-lost.db"), join(dir, "n1-lost.db")];
    const { journals, regions } = accounts(cluster, paths);
    try {
      const s = sibling("x");
      assert.equal((await cluster.run(deposit(cluster, 0, regions[0], s, "s1")))?.ok, true);
      const p = (await placement(cluster, 0, s))!;
      for (const j of journals) await saveTermRecord(j, "x", rec(3, [[3, 46]], 45), 0);
      const dead: DeadLetter[] = [];
      cluster.nodes[p.primary].eventStream.subscribe(DeadLetter, (d) => dead.push(d));
      const reply = await cluster.run(deposit(cluster, 0, regions[0], "x", "d1", 2000));
      assert.equal(reply, undefined, "no reply: the command was not served");
      const named = dead.find((d) => d.detail?.includes('entity "x"'));
      assert.ok(named, `a DeadLetter names the entity: ${dead.map((d) => d.detail).join(" | ")}`);
      assert.match(named.detail!, /no copy holds the 45 events .*\(the newest copy holds 0\)/);
      for (const j of journals) assert.deepEqual(await idsIn(j, "x"), [], "nothing written");
    } finally {
      await cluster.run(Promise.all(cluster.nodes.map((_, i) => cluster.kill(i))));
      for (const j of journals) await j.close();
    }
  });
});
