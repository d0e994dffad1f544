// The behavior every EventJournal must have, run against each implementation.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  type EventJournal,
  JournalConflictError,
  JournalError,
  type PersistedEvent,
} from "../../src/persistence/journal.ts";

/** Builds events numbered `from..to` whose payload records their number. */
export function events(from: number, to: number, timestamp = 1_700_000_000_000): PersistedEvent[] {
  const out: PersistedEvent[] = [];
  for (let n = from; n <= to; n++) {
    out.push({ sequenceNr: n, event: { type: "deposited", amount: n, note: `#${n}` }, timestamp });
  }
  return out;
}

async function rejectsConflict(
  promise: Promise<void>,
  entityId: string,
  sequenceNr: number,
  expected: number,
): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof JournalConflictError, `expected JournalConflictError, got ${err}`);
    assert.equal(err.code, "JOURNAL_CONFLICT");
    assert.equal(err.name, "JournalConflictError");
    assert.equal(err.entityId, entityId);
    assert.equal(err.sequenceNr, sequenceNr);
    assert.equal(err.expectedSequenceNr, expected);
    return true;
  });
}

/**
 * Registers the shared contract tests.
 *
 * @param name Implementation name for the describe block.
 * @param open Opens a fresh, empty journal.
 */
export function journalContract(name: string, open: () => Required<EventJournal>): void {
  describe(`${name} (EventJournal contract)`, () => {
    it("loads persisted events in order with their values", async () => {
      await using j = disposable(open());
      const batch = events(1, 5);
      await j.persist("acc-1", batch.slice(0, 2));
      await j.persist("acc-1", batch.slice(2));
      assert.deepEqual(await j.load("acc-1"), batch);
      assert.deepEqual(await j.load("nobody"), []);
    });

    it("loads inclusively from a sequence number up to toSequenceNr", async () => {
      await using j = disposable(open());
      await j.persist("e", events(1, 10));
      const seqs = async (from?: number, opts?: { toSequenceNr?: number; max?: number }) =>
        (await j.load("e", from, opts)).map((e) => e.sequenceNr);
      assert.deepEqual(await seqs(8), [8, 9, 10]);
      assert.deepEqual(await seqs(0), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      assert.deepEqual(await seqs(3, { toSequenceNr: 5 }), [3, 4, 5]);
      assert.deepEqual(await seqs(10), [10]);
      assert.deepEqual(await seqs(11), []);
      assert.deepEqual(await seqs(6, { toSequenceNr: 5 }), []);
      assert.deepEqual(await seqs(4, { toSequenceNr: 9, max: 2 }), [4, 5]);
    });

    it("pages through a long log with max", async () => {
      await using j = disposable(open());
      await j.persist("e", events(1, 25));
      const seen: number[] = [];
      let from = 1;
      for (let pages = 0; pages < 100; pages++) {
        const page = await j.load("e", from, { max: 7 });
        assert.ok(page.length <= 7);
        if (page.length === 0) break;
        seen.push(...page.map((e) => e.sequenceNr));
        from = page[page.length - 1].sequenceNr + 1;
      }
      assert.deepEqual(seen, Array.from({ length: 25 }, (_, i) => i + 1));
    });

    it("rejects invalid load bounds", async () => {
      await using j = disposable(open());
      await assert.rejects(j.load("e", 1, { max: 0 }), RangeError);
      await assert.rejects(j.load("e", 1.5), RangeError);
    });

    it("reports the highest sequence number per entity", async () => {
      await using j = disposable(open());
      assert.equal(await j.highestSequenceNr("a"), 0);
      await j.persist("a", events(1, 3));
      await j.persist("b", events(1, 1));
      assert.equal(await j.highestSequenceNr("a"), 3);
      assert.equal(await j.highestSequenceNr("b"), 1);
    });

    it("keeps the latest snapshot and ignores older ones", async () => {
      await using j = disposable(open());
      assert.equal(await j.loadSnapshot("a"), undefined);
      await j.saveSnapshot("a", { sequenceNr: 10, state: { balance: 10 }, timestamp: 1 });
      await j.saveSnapshot("a", { sequenceNr: 20, state: { balance: 20 }, timestamp: 2 });
      assert.deepEqual(await j.loadSnapshot("a"), {
        sequenceNr: 20,
        state: { balance: 20 },
        timestamp: 2,
      });
      await j.saveSnapshot("a", { sequenceNr: 15, state: { balance: 15 }, timestamp: 3 });
      assert.equal((await j.loadSnapshot("a"))?.sequenceNr, 20);
      await j.saveSnapshot("a", { sequenceNr: 20, state: { balance: 21 }, timestamp: 4 });
      assert.deepEqual((await j.loadSnapshot("a"))?.state, { balance: 21 });
      assert.equal(await j.loadSnapshot("b"), undefined);
    });

    it("rejects a sequence number that already exists and writes nothing of that call", async () => {
      await using j = disposable(open());
      await j.persist("acc-1", events(1, 4));
      const dup = j.persist("acc-1", events(4, 6));
      await rejectsConflict(dup, "acc-1", 4, 5);
      await assert.rejects(
        j.persist("acc-1", events(2, 2)),
        { message: 'Cannot persist events for "acc-1": sequence number 2 already exists' },
      );
      assert.equal(await j.highestSequenceNr("acc-1"), 4);
      assert.deepEqual(await j.load("acc-1"), events(1, 4));
    });

    it("rejects a gap before or inside a call and writes nothing of that call", async () => {
      await using j = disposable(open());
      await rejectsConflict(j.persist("e", events(2, 3)), "e", 2, 1);
      await j.persist("e", events(1, 1));
      await rejectsConflict(j.persist("e", events(3, 3)), "e", 3, 2);
      const withHole = [...events(2, 2), ...events(4, 4)];
      await rejectsConflict(j.persist("e", withHole), "e", 4, 3);
      assert.equal(await j.highestSequenceNr("e"), 1);
      await j.persist("e", events(2, 3));
      assert.equal(await j.highestSequenceNr("e"), 3);
    });

    it("lets exactly one of two concurrent writers of the same number succeed", async () => {
      await using j = disposable(open());
      const results = await Promise.allSettled([
        j.persist("race", events(1, 2)),
        j.persist("race", events(1, 1)),
      ]);
      assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
      const rejected = results.filter((r) => r.status === "rejected");
      assert.equal(rejected.length, 1);
      assert.ok((rejected[0] as PromiseRejectedResult).reason instanceof JournalConflictError);
      assert.equal(await j.highestSequenceNr("race"), 2);
      assert.deepEqual(await j.load("race"), events(1, 2));
    });

    it("commits the other calls of a tick when one of them conflicts", async () => {
      await using j = disposable(open());
      const ids = Array.from({ length: 50 }, (_, i) => `entity-${i}`);
      const calls = ids.map((id) => j.persist(id, events(1, 3)));
      calls.push(j.persist("entity-7", events(1, 1)));
      const results = await Promise.allSettled(calls);
      assert.equal(results.filter((r) => r.status === "rejected").length, 1);
      assert.equal(results[50].status, "rejected");
      for (const id of ids) assert.equal(await j.highestSequenceNr(id), 3);
    });

    it("accepts an empty batch and validates sequence numbers", async () => {
      await using j = disposable(open());
      await j.persist("e", []);
      assert.equal(await j.highestSequenceNr("e"), 0);
      await assert.rejects(j.persist("e", [{ sequenceNr: 0, event: 1, timestamp: 0 }]), RangeError);
      await assert.rejects(
        j.persist("e", [{ sequenceNr: 1.5, event: 1, timestamp: 0 }]),
        RangeError,
      );
      await assert.rejects(
        j.persist("e", [{ sequenceNr: 1, event: 1, timestamp: NaN }]),
        TypeError,
      );
      await assert.rejects(
        j.saveSnapshot("e", { sequenceNr: -1, state: 1, timestamp: 0 }),
        RangeError,
      );
    });

    it("deleteEvents frees events up to a number, never the latest, and the log goes on", async () => {
      await using j = disposable(open());
      await j.persist("e", events(1, 6));
      await j.persist("other", events(1, 3));
      await j.saveSnapshot("e", { sequenceNr: 2, state: { at: 2 }, timestamp: 0 });
      const seqs = async (id: string, from?: number) =>
        (await j.load(id, from)).map((e) => e.sequenceNr);
      await j.deleteEvents("e", 4);
      assert.deepEqual(await seqs("e"), [5, 6]);
      assert.deepEqual(await seqs("e", 2), [5, 6]);
      assert.deepEqual(await seqs("other"), [1, 2, 3], "other entities untouched");
      assert.equal(await j.highestSequenceNr("e"), 6);
      assert.equal((await j.loadSnapshot("e"))?.sequenceNr, 2, "snapshots untouched");
      // Past the end: everything but the latest event goes, and numbering continues from it.
      await j.deleteEvents("e", 100);
      assert.deepEqual(await seqs("e"), [6]);
      assert.equal(await j.highestSequenceNr("e"), 6);
      await rejectsConflict(j.persist("e", events(1, 1)), "e", 1, 7);
      await j.persist("e", events(7, 8));
      assert.deepEqual(await seqs("e"), [6, 7, 8]);
      await j.deleteEvents("e", 3); // already gone: nothing changes
      await j.deleteEvents("nobody", 5);
      assert.deepEqual(await seqs("e"), [6, 7, 8]);
      await assert.rejects(j.deleteEvents("e", -1), RangeError);
      await assert.rejects(j.deleteEvents("e", 1.5), RangeError);
    });

    it("truncateEvents removes a suffix, and the log goes on from the new end", async () => {
      await using j = disposable(open());
      await j.persist("e", events(1, 6));
      await j.persist("other", events(1, 3));
      await j.saveSnapshot("e", { sequenceNr: 2, state: { at: 2 }, timestamp: 0 });
      const seqs = async (id: string) => (await j.load(id)).map((e) => e.sequenceNr);
      await j.truncateEvents("e", 4);
      assert.deepEqual(await seqs("e"), [1, 2, 3]);
      assert.equal(await j.highestSequenceNr("e"), 3);
      assert.deepEqual(await seqs("other"), [1, 2, 3], "other entities untouched");
      assert.equal((await j.loadSnapshot("e"))?.sequenceNr, 2, "snapshots untouched");
      // The removed numbers are written again, with other events.
      await rejectsConflict(j.persist("e", events(5, 5)), "e", 5, 4);
      await j.persist("e", [{ sequenceNr: 4, event: "new 4", timestamp: 0 }]);
      assert.deepEqual((await j.load("e", 4)).map((e) => e.event), ["new 4"]);
      // A write queued right before the truncation is removed by it; one right after follows it.
      const before = j.persist("e", events(5, 6));
      const cut = j.truncateEvents("e", 5);
      await before;
      await cut;
      assert.equal(await j.highestSequenceNr("e"), 4);
      await j.persist("e", events(5, 5));
      assert.equal(await j.highestSequenceNr("e"), 5);
      await j.truncateEvents("e", 100); // past the end: nothing changes
      await j.truncateEvents("nobody", 1);
      assert.deepEqual(await seqs("e"), [1, 2, 3, 4, 5]);
      await j.truncateEvents("e", 1);
      assert.deepEqual(await seqs("e"), []);
      assert.equal(await j.highestSequenceNr("e"), 0);
      await assert.rejects(j.truncateEvents("e", 0), RangeError);
      await assert.rejects(j.truncateEvents("e", 1.5), RangeError);
    });

    it("rejects every call after close", async () => {
      const j = open();
      await j.close();
      await j.close();
      await assert.rejects(j.persist("e", events(1, 1)), (err: unknown) => {
        assert.ok(err instanceof JournalError);
        assert.equal(err.code, "JOURNAL_CLOSED");
        assert.match(err.message, /^Cannot persist events for "e": .*closed$/);
        return true;
      });
      await assert.rejects(j.load("e"), JournalError);
      await assert.rejects(j.highestSequenceNr("e"), JournalError);
      await assert.rejects(j.loadSnapshot("e"), JournalError);
      await assert.rejects(
        j.saveSnapshot("e", { sequenceNr: 1, state: 1, timestamp: 0 }),
        JournalError,
      );
      await assert.rejects(j.deleteEvents("e", 1), JournalError);
      await assert.rejects(j.truncateEvents("e", 1), JournalError);
    });
  });
}

/** Wraps a journal so `await using` closes it. */
export function disposable<J extends Required<EventJournal>>(journal: J): J & AsyncDisposable {
  return Object.assign(journal, { [Symbol.asyncDispose]: () => journal.close() });
}
