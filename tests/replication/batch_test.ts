import { afterEach, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ReplicaBatch,
  type ReplicaBatchAck,
  ReplicaClaim,
} from "../../src/replication/replication.ts";
import { historyKey, parseHistoryKey } from "../../src/replication/terms.ts";
import type { ReplicateEventsAck } from "../../src/sharding/mod.ts";
import { type TestCluster, testCluster } from "../../src/testing/mod.ts";
import { type ActorRef, Behaviors } from "../../mod.ts";
import { SqliteJournal } from "../../src/persistence/mod.ts";
import { account, idsIn } from "./_fixtures.ts";

const STORE = "/_cluster/_replication-accounts";
const replication = { replicas: 1, minAcks: 1, ackTimeout: 1000 };

/** One item of a batch as it travels: id, term, history key, first seq, timestamp, events. */
const item = (id: string, term: number, key: string, first: number, ...names: string[]) => [
  id,
  term,
  key,
  first,
  0,
  names.map((n) => ({ id: n, amount: 1 })),
];

/**
 * Runs `body` against the replica store of a one-node test cluster whose accounts write to a
 * SQLite journal in `dir`; stops the node and closes the journal afterwards.
 */
async function withStore(
  seed: number,
  dir: string,
  body: (
    cluster: TestCluster,
    store: ActorRef<unknown>,
    journal: SqliteJournal,
  ) => Promise<void>,
): Promise<void> {
  await using cluster = await testCluster(1, { seed });
  const journal = new SqliteJournal({ path: join(dir, "n0.db") });
  try {
    const node = cluster.nodes[0];
    node.spawn(
      Behaviors.sharded(account("n0", journal), { numShards: 10, replication }),
      "accounts",
    );
    await body(cluster, node.lookup(STORE)! as ActorRef<unknown>, journal);
  } finally {
    await cluster.run(cluster.kill(0));
    await journal.close();
  }
}

describe("replication: a replica store answers a batch of many entities at once", () => {
  let dir = "";
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "casty-batch-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("writes each entity's items with one persist, in one transaction, and acks three numbers per item", () =>
    withStore(61, dir, async (cluster, store, journal) => {
      const node = cluster.nodes[0];
      const claim = (id: string) =>
        cluster.run(
          node.ask<unknown, ReplicateEventsAck>(store, (r) => new ReplicaClaim(id, 3, r)),
        );
      assert.equal((await claim("a")).ok, true);
      assert.equal((await claim("b")).ok, true);
      const batch = (batchId: number, items: unknown[][]) =>
        cluster.run(
          node.ask<unknown, ReplicaBatchAck>(
            store,
            (r) => new ReplicaBatch(batchId, items.flat(), r),
          ),
        );
      // The first items under term 3 record its history (one by one); the second batch is the
      // steady state: two items of "a" and one of "b".
      const first = await batch(1, [item("a", 3, "3:1", 1, "a1"), item("b", 3, "3:1", 1, "b1")]);
      assert.deepEqual(first.acks, [1, 3, 1, 1, 3, 1]);
      const before = journal.stats;
      const second = await batch(2, [
        item("a", 3, "3:1", 2, "a2"),
        item("b", 3, "3:1", 2, "b2", "b3"),
        item("a", 3, "3:1", 3, "a3"),
      ]);
      assert.deepEqual(second.acks, [1, 3, 2, 1, 3, 3, 1, 3, 3]);
      const after = journal.stats;
      assert.equal(after.persistCalls - before.persistCalls, 2, "one persist per entity");
      assert.equal(after.transactions - before.transactions, 1, "one transaction per batch");
      assert.deepEqual(await idsIn(journal, "a"), ["a1", "a2", "a3"]);
      assert.deepEqual(await idsIn(journal, "b"), ["b1", "b2", "b3"]);

      // A gap, an older term and a resent (already held) item, in one batch: each answered.
      const mixed = await batch(3, [
        item("a", 3, "3:1", 6, "a6"), // gap: "a" holds 1-3
        item("b", 2, "2:1", 4, "b4"), // term 2 < 3: refused with the store's term
        item("a", 3, "3:1", 2, "a2", "a3"), // held already: ok at 3
      ]);
      assert.deepEqual(mixed.acks, [0, 3, 3, 0, 3, 3, 1, 3, 3]);
      assert.deepEqual(await idsIn(journal, "a"), ["a1", "a2", "a3"]);
      assert.deepEqual(await idsIn(journal, "b"), ["b1", "b2", "b3"]);
    }));

  it("answers nothing to a malformed batch and writes nothing", () =>
    withStore(62, dir, async (cluster, store, journal) => {
      const node = cluster.nodes[0];
      await cluster.run(
        node.ask<unknown, ReplicateEventsAck>(store, (r) => new ReplicaClaim("c", 1, r)),
      );
      const malformed = [
        ["c", 1, "1:1", 1, 0], // five slots
        ["c", "1", "1:1", 1, 0, [{ id: "c1", amount: 1 }]], // term not a number
        ["c", 1, [[1, 1]], 1, 0, [{ id: "c1", amount: 1 }]], // history not a key
        ["c", 1, "1:1", 1.5, 0, [{ id: "c1", amount: 1 }]], // first not an integer
        ["c", 1, "1:1", 1, [0, 0], [{ id: "c1", amount: 1 }]], // timestamps do not match
      ];
      for (const [i, items] of malformed.entries()) {
        await assert.rejects(
          cluster.run(
            node.ask<unknown, ReplicaBatchAck>(store, (r) => new ReplicaBatch(i, items, r), {
              timeout: 200,
            }),
          ),
          { name: "AskTimeoutError" },
        );
      }
      // A history key that does not parse is refused for the item alone.
      const bad = await cluster.run(
        node.ask<unknown, ReplicaBatchAck>(
          store,
          (r) => new ReplicaBatch(9, item("c", 1, "1-1", 1, "c1"), r),
        ),
      );
      assert.deepEqual(bad.acks, [0, 1, 0]);
      assert.deepEqual(await idsIn(journal, "c"), []);
    }));
});

describe("historyKey()", () => {
  it("round-trips a term history as text, and refuses a malformed key", () => {
    const history = [[1, 1], [3, 10]] as const;
    assert.equal(historyKey(history), "1:1,3:10");
    assert.deepEqual(parseHistoryKey("1:1,3:10"), history);
    assert.deepEqual(parseHistoryKey(""), []);
    assert.equal(historyKey([]), "");
    for (const bad of ["1", "1:", "a:1", "1:1,", "1:1;2:2", "-1:1"]) {
      assert.equal(parseHistoryKey(bad), undefined, bad);
    }
  });
});
