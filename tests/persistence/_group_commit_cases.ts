// Group-commit behavior shared by the durable journals (SqliteJournal, PostgresJournal): what
// their counters must show when calls of one tick share a transaction.

import { it } from "node:test";
import assert from "node:assert/strict";
import type { EventJournal } from "../../src/persistence/journal.ts";
import type { DurableJournalStats } from "../../src/persistence/journal_support.ts";
import { disposable, events } from "./_journal_contract.ts";

/** A journal with group commit and counters. */
export type GroupCommitJournal = Required<EventJournal> & { readonly stats: DurableJournalStats };

/**
 * Registers the shared group-commit cases inside the caller's `describe`.
 *
 * @param open Opens a fresh, empty journal.
 */
export function groupCommitCases(open: () => GroupCommitJournal): void {
  it("rolls back only the conflicting calls of a batch and counts them", async () => {
    await using journal = disposable(open());
    await journal.persist("hot", events(1, 1));
    const results = await Promise.allSettled([
      journal.persist("a", events(1, 3)),
      journal.persist("hot", events(1, 3)),
      journal.persist("b", events(1, 1)),
      journal.persist("hot", events(2, 3)),
      journal.persist("hot", events(3, 3)),
    ]);
    assert.deepEqual(results.map((r) => r.status), [
      "fulfilled",
      "rejected",
      "fulfilled",
      "fulfilled",
      "rejected",
    ]);
    assert.equal(journal.stats.conflicts, 2);
    assert.equal(journal.stats.transactions, 2);
    assert.deepEqual((await journal.load("hot")).map((e) => e.sequenceNr), [1, 2, 3]);
  });

  it("commits each call alone when the caller awaits each one", async () => {
    await using journal = disposable(open());
    for (let n = 1; n <= 5; n++) await journal.persist("e", events(n, n));
    assert.equal(journal.stats.transactions, 5);
    assert.equal(journal.stats.eventsWritten, 5);
  });
}
