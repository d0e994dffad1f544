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
 * `persist` is atomic per call and enforces the log's numbering: the first event of a call must
 * be the entity's highest sequence number + 1 and each following one +1 again. Anything else
 * (a number that already exists, or a gap) rejects with {@linkcode JournalConflictError} and
 * writes nothing, so two writers for one entity can never both succeed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type EventJournal, InMemoryJournal } from "@casty/casty/persistence";
 * const journal: EventJournal = new InMemoryJournal();
 * await journal.persist("acc-1", [{ sequenceNr: 1, event: "opened", timestamp: Date.now() }]);
 * assert.equal((await journal.highestSequenceNr("acc-1")), 1);
 * await journal.close();
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
   * Reads an entity's events in order.
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
  /** The highest persisted sequence number of an entity, or 0 when it has no events. */
  highestSequenceNr(entityId: string): Promise<number>;
  /**
   * Stores a snapshot as the entity's latest; an older snapshot (lower sequence number) than
   * the stored one is ignored.
   */
  saveSnapshot(entityId: string, snapshot: Snapshot): Promise<void>;
  /** The entity's latest snapshot, if any. */
  loadSnapshot(entityId: string): Promise<Snapshot | undefined>;
  /** Finishes pending writes and releases the storage; later calls reject. */
  close(): Promise<void>;
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
