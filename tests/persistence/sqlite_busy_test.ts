// The SQLite journal never blocks the event loop waiting for another connection's lock: it
// retries from timers, bounded by busyTimeout, then fails clearly.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { JournalError } from "../../src/persistence/journal.ts";
import { SqliteJournal } from "../../src/persistence/sqlite_journal.ts";
import { DatabaseSync } from "../../src/persistence/_sqlite.ts";
import { events } from "./_journal_contract.ts";

const dir = mkdtempSync(join(tmpdir(), "casty-sqlite-busy-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const freshPath = (): string => join(dir, `journal-${++files}.db`);

/** Counts timer callbacks, to prove the event loop kept running. */
function ticker(): { readonly count: () => number; stop(): void } {
  let n = 0;
  const timer = setInterval(() => n++, 5);
  return { count: () => n, stop: () => clearInterval(timer) };
}

/** Another connection that takes the write lock, as another process would. */
function lockHolder(path: string): { release(): void } {
  const db = new DatabaseSync(path);
  db.exec("BEGIN IMMEDIATE");
  return {
    release() {
      db.exec("COMMIT");
      db.close();
    },
  };
}

describe("SqliteJournal with a locked database", () => {
  it("waits for the lock without blocking timers, then commits", async () => {
    const path = freshPath();
    await using journal = new SqliteJournal({ path });
    await journal.persist("e", events(1, 1));
    const lock = lockHolder(path);
    const ticks = ticker();
    try {
      const started = performance.now();
      // The lock is released by a timer on this same event loop: a journal that slept inside
      // SQLite (busy_timeout) would hold the loop and never see it released.
      setTimeout(() => lock.release(), 300);
      const pending = [journal.persist("e", events(2, 3)), journal.persist("f", events(1, 1))];
      await Promise.all(pending);
      const waited = performance.now() - started;
      assert.ok(waited >= 250, `committed after ${waited} ms, while the lock was held`);
      assert.ok(ticks.count() >= 20, `only ${ticks.count()} timer ticks while waiting`);
    } finally {
      ticks.stop();
    }
    assert.equal(await journal.highestSequenceNr("e"), 3);
    assert.equal(journal.stats.transactions, 2, "the waiting calls went in one transaction");
  });

  it("fails clearly after busyTimeout and writes nothing, then works once the lock is gone", async () => {
    const path = freshPath();
    await using journal = new SqliteJournal({ path, busyTimeout: 200 });
    await journal.persist("e", events(1, 1));
    const lock = lockHolder(path);
    const ticks = ticker();
    const started = performance.now();
    try {
      await assert.rejects(journal.persist("e", events(2, 2)), (err: unknown) => {
        assert.ok(err instanceof JournalError);
        assert.equal(err.code, "JOURNAL_WRITE");
        assert.equal(
          err.message,
          `Cannot persist events for "e" in journal "${path}": database is locked by another connection (waited 200 ms)`,
        );
        return true;
      });
      const waited = performance.now() - started;
      assert.ok(waited >= 190 && waited < 2000, `failed after ${waited} ms`);
      assert.ok(ticks.count() >= 10, `only ${ticks.count()} timer ticks while waiting`);
    } finally {
      ticks.stop();
      lock.release();
    }
    assert.equal(await journal.highestSequenceNr("e"), 1);
    await journal.persist("e", events(2, 2));
    assert.equal(await journal.highestSequenceNr("e"), 2);
  });

  it("opens a new file whose lock another connection holds, and commits once it is free", async () => {
    const path = freshPath();
    const lock = lockHolder(path);
    const ticks = ticker();
    let journal: SqliteJournal | undefined;
    try {
      journal = new SqliteJournal({ path });
      setTimeout(() => lock.release(), 200);
      await journal.persist("e", events(1, 2));
      assert.deepEqual((await journal.load("e")).map((e) => e.sequenceNr), [1, 2]);
      assert.ok(ticks.count() >= 10, `only ${ticks.count()} timer ticks while waiting`);
    } finally {
      ticks.stop();
      await journal?.close();
    }
  });

  it("refuses calls with JOURNAL_OPEN when the file stays locked through busyTimeout", async () => {
    const path = freshPath();
    const lock = lockHolder(path);
    try {
      const journal = new SqliteJournal({ path, busyTimeout: 100 });
      await assert.rejects(journal.persist("e", events(1, 1)), (err: unknown) => {
        assert.ok(err instanceof JournalError);
        assert.equal(err.code, "JOURNAL_OPEN");
        assert.match(err.message, /^Cannot open journal ".*": database is locked/);
        return true;
      });
      await assert.rejects(journal.load("e"), { code: "JOURNAL_OPEN" });
      await journal.close();
    } finally {
      lock.release();
    }
  });
});
