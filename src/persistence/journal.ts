/**
 * The event journal port: where event-sourced actors keep their events and snapshots.
 *
 * @module
 */

import { CastyError, type CastyErrorOptions } from "../actor/errors.ts";

/**
 * One event of an entity's log, numbered from 1 without gaps.
 *
 * @typeParam E The event type.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { PersistedEvent } from "@casty/casty/persistence";
 * const event: PersistedEvent<{ type: "deposited"; amount: number }> = {
 *   sequenceNr: 1,
 *   event: { type: "deposited", amount: 100 },
 *   timestamp: Date.now(),
 * };
 * assert.equal(event.sequenceNr, 1);
 * ```
 */
export interface PersistedEvent<E = unknown> {
  /** Position in the entity's log: 1 for the first event, then +1 each. */
  readonly sequenceNr: number;
  /** The event itself. */
  readonly event: E;
  /** Wall-clock milliseconds since the epoch when the event was produced. */
  readonly timestamp: number;
}

/**
 * An entity's state as of a sequence number, so recovery can skip the events before it.
 *
 * @typeParam S The state type.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Snapshot } from "@casty/casty/persistence";
 * const snapshot: Snapshot<{ balance: number }> = {
 *   sequenceNr: 100,
 *   state: { balance: 4200 },
 *   timestamp: Date.now(),
 * };
 * assert.equal(snapshot.state.balance, 4200);
 * ```
 */
export interface Snapshot<S = unknown> {
  /** The sequence number of the last event folded into {@linkcode Snapshot.state}. */
  readonly sequenceNr: number;
  /** The state after that event. */
  readonly state: S;
  /** Wall-clock milliseconds since the epoch when the snapshot was taken. */
  readonly timestamp: number;
}

/** Options of {@linkcode EventJournal.load}. */
export interface LoadOptions {
  /**
   * The last sequence number to return, inclusive.
   *
   * @default {Number.MAX_SAFE_INTEGER}
   */
  readonly toSequenceNr?: number;
  /**
   * The most events to return, so that recovery can page through a long log instead of holding
   * it in memory at once.
   *
   * @default {Infinity}
   */
  readonly max?: number;
}

/**
 * Durable, append-only storage of each entity's events plus its latest snapshot.
 *
 * Four methods are all a store must implement: `persist`, `load`, `saveSnapshot` and
 * `loadSnapshot`. The rest is optional: `highestSequenceNr`, the paging options of `load` and
 * `close` have fallbacks built on the four ({@linkcode highestSequenceNrOf},
 * {@linkcode loadEvents}, {@linkcode closeJournal}), which is what casty itself calls.
 *
 * `persist` is atomic per call and enforces the log's numbering: the first event of a call must
 * be the entity's highest sequence number + 1 and each following one +1 again. Anything else
 * (a number that already exists, or a gap) rejects with {@linkcode JournalConflictError} and
 * writes nothing, so two writers for one entity can never both succeed.
 *
 * @example A journal written to the four methods
 * ```ts
 * import assert from "node:assert/strict";
 * import {
 *   type EventJournal,
 *   highestSequenceNrOf,
 *   JournalConflictError,
 *   type PersistedEvent,
 *   type Snapshot,
 * } from "@casty/casty/persistence";
 * const logs = new Map<string, PersistedEvent[]>();
 * const snapshots = new Map<string, Snapshot>();
 * const journal: EventJournal = {
 *   persist: async (id, events) => {
 *     const log = logs.get(id) ?? [];
 *     events.forEach((e, i) => {
 *       if (e.sequenceNr !== log.length + 1 + i) {
 *         throw new JournalConflictError(id, e.sequenceNr, log.length + 1 + i);
 *       }
 *     });
 *     logs.set(id, [...log, ...events]);
 *   },
 *   load: async (id, from = 1) => (logs.get(id) ?? []).filter((e) => e.sequenceNr >= from),
 *   saveSnapshot: async (id, snapshot) => void snapshots.set(id, snapshot),
 *   loadSnapshot: async (id) => snapshots.get(id),
 * };
 * await journal.persist("acc-1", [{ sequenceNr: 1, event: "opened", timestamp: Date.now() }]);
 * assert.equal(await highestSequenceNrOf(journal, "acc-1"), 1);
 * ```
 */
export interface EventJournal {
  /**
   * Appends events to an entity's log, atomically. Resolves once they are durable.
   *
   * @param entityId The entity.
   * @param events Contiguous events starting at the entity's highest sequence number + 1.
   * @throws {JournalConflictError} when a sequence number already exists or leaves a gap.
   * @throws {JournalError} when the journal is closed or the write fails.
   */
  persist(entityId: string, events: readonly PersistedEvent[]): Promise<void>;
  /**
   * Reads an entity's events in order. Honouring `options` is optional: callers go through
   * {@linkcode loadEvents}, which trims what a store returns beyond them.
   *
   * @param entityId The entity.
   * @param fromSequenceNr The first sequence number to return, inclusive.
   * @default fromSequenceNr 1
   * @param options An inclusive upper bound and a page size.
   */
  load(
    entityId: string,
    fromSequenceNr?: number,
    options?: LoadOptions,
  ): Promise<PersistedEvent[]>;
  /**
   * The highest persisted sequence number of an entity, or 0 when it has no events. Optional;
   * {@linkcode highestSequenceNrOf} falls back to reading the log.
   */
  highestSequenceNr?(entityId: string): Promise<number>;
  /**
   * Stores a snapshot as the entity's latest; an older snapshot (lower sequence number) than
   * the stored one is ignored.
   */
  saveSnapshot(entityId: string, snapshot: Snapshot): Promise<void>;
  /** The entity's latest snapshot, if any. */
  loadSnapshot(entityId: string): Promise<Snapshot | undefined>;
  /** Finishes pending writes and releases the storage; later calls reject. Optional. */
  close?(): Promise<void>;
  /**
   * Frees an entity's events with sequence numbers up to `toSequenceNr` (inclusive), except
   * that the entity's latest event is always kept, so its sequence never goes back
   * (`highestSequenceNr` and the next `persist` are unchanged). Later loads start after the
   * deleted range; snapshots are not touched, so the caller makes sure that a snapshot or the
   * remaining events rebuild the state (as in Akka's `deleteMessages`). Optional:
   * {@linkcode deleteEventsOf} reports whether a journal has it. casty calls it when a
   * distributed structure is destroyed, up to the event that resets the structure.
   */
  deleteEvents?(entityId: string, toSequenceNr: number): Promise<void>;
  /**
   * Removes an entity's events from `fromSequenceNr` on (inclusive), after the writes queued
   * before the call: its highest sequence number becomes `fromSequenceNr - 1` (when it was
   * higher) and the next `persist` starts right after it. Snapshots are not touched. The one
   * exception to an append-only log: casty's replication calls it only to drop a replicated
   * entity's divergent suffix, events that were never acknowledged and that the newest copy of
   * the log replaces (see the README's "Replication"). Callers never truncate into a range freed
   * by `deleteEvents`. Optional: without it a diverged replicated log is refused, loudly.
   */
  truncateEvents?(entityId: string, fromSequenceNr: number): Promise<void>;
}

const FALLBACK_PAGE = 1000;

/**
 * An entity's highest persisted sequence number through any journal: its own
 * `highestSequenceNr` when it has one, otherwise by paging through the log with `load`.
 *
 * @param journal The journal.
 * @param entityId The entity.
 * @returns The highest sequence number, 0 when the entity has no events.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { highestSequenceNrOf, InMemoryJournal } from "@casty/casty/persistence";
 * const journal = new InMemoryJournal();
 * await journal.persist("e", [{ sequenceNr: 1, event: 1, timestamp: 0 }]);
 * assert.equal(await highestSequenceNrOf(journal, "e"), 1);
 * assert.equal(await highestSequenceNrOf(journal, "nobody"), 0);
 * ```
 */
export async function highestSequenceNrOf(
  journal: EventJournal,
  entityId: string,
): Promise<number> {
  if (typeof journal.highestSequenceNr === "function") {
    return await journal.highestSequenceNr(entityId);
  }
  let highest = 0;
  for (;;) {
    const page = await loadEvents(journal, entityId, highest + 1, { max: FALLBACK_PAGE });
    if (page.length === 0) return highest;
    highest = page[page.length - 1].sequenceNr;
  }
}

/**
 * Reads events through any journal, honouring `toSequenceNr` and `max` even when the journal
 * itself ignores them (it then returns more, and the extra is dropped).
 *
 * @param journal The journal.
 * @param entityId The entity.
 * @param fromSequenceNr The first sequence number, inclusive.
 * @default fromSequenceNr 1
 * @param options An inclusive upper bound and a page size.
 * @returns At most `max` events numbered `fromSequenceNr..toSequenceNr`, in order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InMemoryJournal, loadEvents } from "@casty/casty/persistence";
 * const journal = new InMemoryJournal();
 * await journal.persist("e", [1, 2, 3].map((n) => ({ sequenceNr: n, event: n, timestamp: 0 })));
 * const page = await loadEvents(journal, "e", 2, { max: 1 });
 * assert.deepEqual(page.map((e) => e.event), [2]);
 * ```
 */
export async function loadEvents(
  journal: EventJournal,
  entityId: string,
  fromSequenceNr: number = 1,
  options: LoadOptions = {},
): Promise<PersistedEvent[]> {
  const to = options.toSequenceNr ?? Number.MAX_SAFE_INTEGER;
  const max = options.max ?? Infinity;
  const events = await journal.load(entityId, fromSequenceNr, options);
  let keep = 0;
  while (
    keep < events.length && keep < max && events[keep].sequenceNr <= to &&
    events[keep].sequenceNr >= fromSequenceNr
  ) keep++;
  if (keep === events.length) return events;
  // A store that ignores the options may also return events before `fromSequenceNr`.
  return events.filter((e) => e.sequenceNr >= fromSequenceNr && e.sequenceNr <= to).slice(
    0,
    max,
  );
}

/**
 * Frees an entity's events up to `toSequenceNr` when the journal can
 * ({@linkcode EventJournal.deleteEvents}); the entity's latest event always stays.
 *
 * @param journal The journal.
 * @param entityId The entity.
 * @param toSequenceNr The last sequence number to free, inclusive.
 * @returns `true` once freed, `false` when the journal has no `deleteEvents` (nothing freed).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { deleteEventsOf, InMemoryJournal, loadEvents } from "@casty/casty/persistence";
 * const journal = new InMemoryJournal();
 * await journal.persist("e", [1, 2, 3].map((n) => ({ sequenceNr: n, event: n, timestamp: 0 })));
 * assert.equal(await deleteEventsOf(journal, "e", 2), true);
 * assert.deepEqual((await loadEvents(journal, "e")).map((e) => e.sequenceNr), [3]);
 * ```
 */
export async function deleteEventsOf(
  journal: EventJournal,
  entityId: string,
  toSequenceNr: number,
): Promise<boolean> {
  if (typeof journal.deleteEvents !== "function") return false;
  await journal.deleteEvents(entityId, toSequenceNr);
  return true;
}

/**
 * Closes any journal: calls its `close` when it has one.
 *
 * @param journal The journal.
 * @returns A promise that resolves once the journal is closed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { closeJournal, InMemoryJournal } from "@casty/casty/persistence";
 * const journal = new InMemoryJournal();
 * await closeJournal(journal);
 * await assert.rejects(journal.load("e"), { code: "JOURNAL_CLOSED" });
 * ```
 */
export async function closeJournal(journal: EventJournal): Promise<void> {
  if (typeof journal.close === "function") await journal.close();
}

/** Codes of {@linkcode JournalError}. */
export type JournalErrorCode = "JOURNAL_OPEN" | "JOURNAL_CLOSED" | "JOURNAL_WRITE" | "JOURNAL_READ";

/**
 * A journal could not be opened, is closed, or failed to read or write.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { JournalError } from "@casty/casty/persistence";
 * const err = new JournalError("JOURNAL_CLOSED", 'Cannot persist events for "a": journal is closed');
 * assert.ok(err.code === "JOURNAL_CLOSED" && err.name === "JournalError");
 * ```
 */
export class JournalError extends CastyError {
  /** The stable code of the failure. */
  declare readonly code: JournalErrorCode;
  /**
   * Creates a JournalError.
   *
   * @param code What failed.
   * @param message Human-readable message.
   * @param options Optional cause.
   */
  constructor(code: JournalErrorCode, message: string, options?: CastyErrorOptions) {
    super(code, message, options);
    this.name = "JournalError";
  }
}

/**
 * A persist call did not continue the entity's log: the sequence number already exists
 * (another writer got there first) or leaves a gap. Nothing of that call was written.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { JournalConflictError } from "@casty/casty/persistence";
 * const err = new JournalConflictError("acc-1", 5, 6);
 * assert.equal(
 *   err.message,
 *   'Cannot persist events for "acc-1": sequence number 5 already exists',
 * );
 * assert.equal(err.code, "JOURNAL_CONFLICT");
 * ```
 */
export class JournalConflictError extends CastyError {
  /** The entity. */
  readonly entityId: string;
  /** The offending sequence number. */
  readonly sequenceNr: number;
  /** The sequence number the log expected there. */
  readonly expectedSequenceNr: number;
  /**
   * Creates a JournalConflictError.
   *
   * @param entityId The entity.
   * @param sequenceNr The offending sequence number.
   * @param expectedSequenceNr The number that would have continued the log.
   */
  constructor(entityId: string, sequenceNr: number, expectedSequenceNr: number) {
    super(
      "JOURNAL_CONFLICT",
      sequenceNr < expectedSequenceNr
        ? `Cannot persist events for "${entityId}": sequence number ${sequenceNr} already exists`
        : `Cannot persist events for "${entityId}": sequence number ${sequenceNr} leaves a gap (expected ${expectedSequenceNr})`,
    );
    this.name = "JournalConflictError";
    this.entityId = entityId;
    this.sequenceNr = sequenceNr;
    this.expectedSequenceNr = expectedSequenceNr;
  }
}
