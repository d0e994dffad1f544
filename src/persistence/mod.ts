/**
 * Event sourcing storage: the {@linkcode EventJournal} port, an {@linkcode InMemoryJournal} for
 * tests, a durable {@linkcode SqliteJournal} with group commit, and snapshot policies.
 *
 * A journal keeps each entity's events numbered 1, 2, 3… without gaps and rejects any write that
 * would break that numbering with a {@linkcode JournalConflictError}, so two writers for the same
 * entity can never both succeed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SnapshotEvery, SqliteJournal } from "@casty/casty/persistence";
 *
 * await using journal = new SqliteJournal({ path: ":memory:" });
 * const policy = new SnapshotEvery(2);
 * let balance = 0;
 * for (const [i, amount] of [100, -30].entries()) {
 *   const sequenceNr = i + 1;
 *   await journal.persist("acc-1", [{ sequenceNr, event: { amount }, timestamp: Date.now() }]);
 *   balance += amount;
 *   if (policy.shouldSnapshot(sequenceNr, sequenceNr)) {
 *     await journal.saveSnapshot("acc-1", { sequenceNr, state: { balance }, timestamp: Date.now() });
 *   }
 * }
 * const snapshot = await journal.loadSnapshot("acc-1");
 * assert.ok(snapshot?.sequenceNr === 2);
 * ```
 *
 * @module
 */

export {
  closeJournal,
  deleteEventsOf,
  type EventJournal,
  highestSequenceNrOf,
  JournalConflictError,
  JournalError,
  type JournalErrorCode,
  loadEvents,
  type LoadOptions,
  type PersistedEvent,
  type Snapshot,
} from "./journal.ts";
export { InMemoryJournal } from "./in_memory_journal.ts";
export type { DurableJournalOptions, DurableJournalStats } from "./journal_support.ts";
export { Behaviors, type CastyBehaviors } from "./behaviors.ts";
export {
  SqliteJournal,
  type SqliteJournalOptions,
  type SqliteJournalStats,
} from "./sqlite_journal.ts";
export { SnapshotEvery, type SnapshotPolicy } from "./snapshot.ts";
export {
  type AfterPersist,
  type CommandResult,
  eventSourced,
  type EventSourcedHooks,
  eventSourcedHooks,
  type EventSourcedOptions,
} from "./event_sourced.ts";
