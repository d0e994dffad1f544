/**
 * An {@linkcode EventJournal} in process memory, for tests and demos.
 *
 * @module
 */

import {
  type EventJournal,
  JournalConflictError,
  JournalError,
  type LoadOptions,
  type PersistedEvent,
  type Snapshot,
} from "./journal.ts";
import {
  findConflict,
  loadBounds,
  validateDeleteTo,
  validateEntityId,
  validatePersist,
  validateSnapshot,
  validateTruncateFrom,
} from "./_validation.ts";

/**
 * A journal kept in memory with the same semantics as the durable ones: contiguous numbering,
 * {@linkcode JournalConflictError} on a duplicate or a gap (nothing of that call is kept),
 * inclusive paged loads, one latest snapshot per entity. Event and state values are kept as
 * given, not copied: do not mutate them after persisting. Nothing survives the process.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InMemoryJournal } from "@casty/casty/persistence";
 * await using journal = new InMemoryJournal();
 * const now = Date.now();
 * await journal.persist("acc-1", [
 *   { sequenceNr: 1, event: { type: "deposited", amount: 100 }, timestamp: now },
 *   { sequenceNr: 2, event: { type: "withdrawn", amount: 30 }, timestamp: now },
 * ]);
 * const page = await journal.load("acc-1", 2);
 * assert.ok(page.length === 1 && page[0].sequenceNr === 2);
 * ```
 */
export class InMemoryJournal implements EventJournal {
  // Index i holds sequence number i + 1: numbering is contiguous from 1 by construction.
  // Deleted events leave holes below #deletedTo, which loads skip.
  #events = new Map<string, (PersistedEvent | undefined)[]>();
  #deletedTo = new Map<string, number>();
  #snapshots = new Map<string, Snapshot>();
  #closed = false;

  /**
   * Appends events atomically; see {@linkcode EventJournal.persist}.
   *
   * @param entityId The entity.
   * @param events Events numbered from the entity's highest sequence number + 1.
   * @returns A promise that resolves once stored.
   * @throws {JournalConflictError} on a duplicate or non-contiguous sequence number.
   * @throws {JournalError} after {@linkcode InMemoryJournal.close}.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { InMemoryJournal, JournalConflictError } from "@casty/casty/persistence";
   * const journal = new InMemoryJournal();
   * const event = { sequenceNr: 1, event: "x", timestamp: 0 };
   * await journal.persist("e", [event]);
   * await journal.persist("e", [event]).catch((err) => {
   *   assert.ok(err instanceof JournalConflictError);
   * });
   * ```
   */
  persist(entityId: string, events: readonly PersistedEvent[]): Promise<void> {
    try {
      this.#checkOpen(`persist events for "${entityId}"`);
      validatePersist(entityId, events);
      if (events.length === 0) return Promise.resolve();
      // Checked and applied synchronously, so calls take effect in call order.
      const log = this.#events.get(entityId) ?? [];
      const conflict = findConflict(events, log.length);
      if (conflict) throw new JournalConflictError(entityId, conflict[0], conflict[1]);
      for (const e of events) {
        log.push({ sequenceNr: e.sequenceNr, event: e.event, timestamp: e.timestamp });
      }
      this.#events.set(entityId, log);
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Reads events in order; see {@linkcode EventJournal.load}.
   *
   * @param entityId The entity.
   * @param fromSequenceNr First sequence number, inclusive.
   * @default fromSequenceNr 1
   * @param options `toSequenceNr` (inclusive) and `max` (page size).
   * @returns The events, possibly none.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { InMemoryJournal } from "@casty/casty/persistence";
   * const journal = new InMemoryJournal();
   * await journal.persist("e", [1, 2, 3].map((n) => ({ sequenceNr: n, event: n, timestamp: 0 })));
   * const page = await journal.load("e", 1, { max: 2 });
   * assert.equal(page.map((e) => e.event).join(), "1,2");
   * ```
   */
  load(
    entityId: string,
    fromSequenceNr: number = 1,
    options: LoadOptions = {},
  ): Promise<PersistedEvent[]> {
    try {
      this.#checkOpen(`load events for "${entityId}"`);
      const [from, to, max] = loadBounds(entityId, fromSequenceNr, options);
      const log = this.#events.get(entityId);
      if (!log || from > to) return Promise.resolve([]);
      const first = Math.max(from, (this.#deletedTo.get(entityId) ?? 0) + 1);
      const end = Math.min(log.length, to, first - 1 + max);
      return Promise.resolve(log.slice(first - 1, end) as PersistedEvent[]);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * The entity's highest sequence number, 0 when it has no events.
   *
   * @param entityId The entity.
   * @returns The highest sequence number.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { InMemoryJournal } from "@casty/casty/persistence";
   * assert.equal((await new InMemoryJournal().highestSequenceNr("nobody")), 0);
   * ```
   */
  highestSequenceNr(entityId: string): Promise<number> {
    try {
      this.#checkOpen(`read the highest sequence number of "${entityId}"`);
      validateEntityId(entityId);
      return Promise.resolve(this.#events.get(entityId)?.length ?? 0);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Keeps the snapshot as the entity's latest unless a newer one is stored.
   *
   * @param entityId The entity.
   * @param snapshot The snapshot.
   * @returns A promise that resolves once stored.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { InMemoryJournal } from "@casty/casty/persistence";
   * const journal = new InMemoryJournal();
   * await journal.saveSnapshot("e", { sequenceNr: 10, state: { n: 1 }, timestamp: 0 });
   * assert.ok((await journal.loadSnapshot("e"))?.sequenceNr === 10);
   * ```
   */
  saveSnapshot(entityId: string, snapshot: Snapshot): Promise<void> {
    try {
      this.#checkOpen(`save snapshot for "${entityId}"`);
      validateSnapshot(entityId, snapshot);
      const current = this.#snapshots.get(entityId);
      if (current === undefined || snapshot.sequenceNr >= current.sequenceNr) {
        const { sequenceNr, state, timestamp } = snapshot;
        this.#snapshots.set(entityId, { sequenceNr, state, timestamp });
      }
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * The entity's latest snapshot.
   *
   * @param entityId The entity.
   * @returns The snapshot, or `undefined` when none was saved.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { InMemoryJournal } from "@casty/casty/persistence";
   * assert.equal((await new InMemoryJournal().loadSnapshot("e")), undefined);
   * ```
   */
  loadSnapshot(entityId: string): Promise<Snapshot | undefined> {
    try {
      this.#checkOpen(`load snapshot for "${entityId}"`);
      validateEntityId(entityId);
      return Promise.resolve(this.#snapshots.get(entityId));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Frees the entity's events up to `toSequenceNr` (never its latest one); see
   * {@linkcode EventJournal.deleteEvents}.
   *
   * @param entityId The entity.
   * @param toSequenceNr The last sequence number to free, inclusive.
   * @returns A promise that resolves once freed.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { InMemoryJournal } from "@casty/casty/persistence";
   * const journal = new InMemoryJournal();
   * await journal.persist("e", [1, 2].map((n) => ({ sequenceNr: n, event: n, timestamp: 0 })));
   * await journal.deleteEvents("e", 5); // the latest event stays
   * assert.deepEqual((await journal.load("e")).map((e) => e.event), [2]);
   * assert.equal(await journal.highestSequenceNr("e"), 2);
   * ```
   */
  deleteEvents(entityId: string, toSequenceNr: number): Promise<void> {
    try {
      this.#checkOpen(`delete events of "${entityId}"`);
      validateEntityId(entityId);
      validateDeleteTo(entityId, toSequenceNr);
      const log = this.#events.get(entityId);
      const to = Math.min(toSequenceNr, (log?.length ?? 0) - 1);
      const done = this.#deletedTo.get(entityId) ?? 0;
      if (log && to > done) {
        log.fill(undefined, done, to);
        this.#deletedTo.set(entityId, to);
      }
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Removes the entity's events from `fromSequenceNr` on; see
   * {@linkcode EventJournal.truncateEvents}.
   *
   * @param entityId The entity.
   * @param fromSequenceNr The first sequence number to remove, inclusive.
   * @returns A promise that resolves once removed.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { InMemoryJournal } from "@casty/casty/persistence";
   * const journal = new InMemoryJournal();
   * await journal.persist("e", [1, 2, 3].map((n) => ({ sequenceNr: n, event: n, timestamp: 0 })));
   * await journal.truncateEvents("e", 2);
   * assert.equal(await journal.highestSequenceNr("e"), 1);
   * await journal.persist("e", [{ sequenceNr: 2, event: "two", timestamp: 0 }]);
   * assert.deepEqual((await journal.load("e")).map((e) => e.event), [1, "two"]);
   * ```
   */
  truncateEvents(entityId: string, fromSequenceNr: number): Promise<void> {
    try {
      this.#checkOpen(`truncate events of "${entityId}"`);
      validateEntityId(entityId);
      validateTruncateFrom(entityId, fromSequenceNr);
      const log = this.#events.get(entityId);
      if (log && log.length >= fromSequenceNr) log.length = fromSequenceNr - 1;
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Drops all data; later calls reject with a {@linkcode JournalError}. Idempotent.
   *
   * @returns A resolved promise.
   *
   * @example
   * ```ts
   * import { InMemoryJournal } from "@casty/casty/persistence";
   * const journal = new InMemoryJournal();
   * await journal.close();
   * await journal.close();
   * ```
   */
  close(): Promise<void> {
    this.#closed = true;
    this.#events.clear();
    this.#deletedTo.clear();
    this.#snapshots.clear();
    return Promise.resolve();
  }

  /** Same as {@linkcode InMemoryJournal.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #checkOpen(action: string): void {
    if (this.#closed) {
      throw new JournalError("JOURNAL_CLOSED", `Cannot ${action}: the journal is closed`);
    }
  }
}
