/**
 * A durable {@linkcode EventJournal} in one SQLite file, with group commit.
 *
 * @module
 */

import { clearImmediate, setImmediate } from "node:timers";
import type { ActorRef } from "../actor/actor_ref.ts";
import { SerializationError } from "../serialization/errors.ts";
import { type Serializer, TaggedJsonSerializer } from "../serialization/serialization.ts";
import {
  type EventJournal,
  JournalConflictError,
  JournalError,
  type LoadOptions,
  type PersistedEvent,
  type Snapshot,
} from "./journal.ts";
import {
  type DatabaseSync,
  isBusyError,
  isConstraintError,
  openDatabase,
  type StatementSync,
} from "./_sqlite.ts";
import {
  decodeStored,
  type DurableJournalOptions,
  type DurableJournalStats,
  encodeEvents,
  encodeState,
  errorText,
  findConflict,
  loadBounds,
  type QueuedCall,
  validateDeleteTo,
  validateEntityId,
  validatePersist,
  validateSnapshot,
  validateTruncateFrom,
  zeroStats,
} from "./journal_support.ts";

/** The schema version this code writes and reads, kept in `PRAGMA user_version`. */
const SCHEMA_VERSION = 1;

// A rowid table, not WITHOUT ROWID: rows are appended in commit order to the end of the table
// b-tree and only the small primary-key index takes random inserts, so a commit holding events
// of 1,000 entities dirties few pages. Measured about 2x the write throughput of a table
// clustered by (entity_id, sequence_nr); the cost is that one entity's events are not
// contiguous on disk when many entities interleave.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS casty_events (
  entity_id TEXT NOT NULL,
  sequence_nr INTEGER NOT NULL,
  timestamp INTEGER NOT NULL,
  event BLOB NOT NULL,
  PRIMARY KEY (entity_id, sequence_nr)
);
CREATE TABLE IF NOT EXISTS casty_snapshots (
  entity_id TEXT NOT NULL PRIMARY KEY,
  sequence_nr INTEGER NOT NULL,
  timestamp INTEGER NOT NULL,
  state BLOB NOT NULL
);
PRAGMA user_version = ${SCHEMA_VERSION};
`;

// Larger pages mean fewer pages per commit and fewer checkpoints; it only applies to a new file.
const PAGE_SIZE = 16_384;

const MAX_CACHED_ENTITIES = 100_000;

/** Options of {@linkcode SqliteJournal}. */
export interface SqliteJournalOptions extends DurableJournalOptions {
  /** The database file (created if missing), or `":memory:"`. */
  path: string;
  /**
   * SQLite's `synchronous` setting. `"full"` fsyncs the write-ahead log at every commit, so an
   * acknowledged write survives a power loss; `"normal"` survives a process crash but may lose
   * the last commits on power loss, and is faster.
   *
   * @default {"full"}
   */
  synchronous?: "full" | "normal";
  /**
   * How long a call waits for another connection (or process) holding the database lock, in
   * milliseconds, before it fails with a {@linkcode JournalError}. The journal never sleeps on
   * the event loop for it: SQLite's own busy timeout is 0, and a locked database is retried
   * from timers with a growing delay (1 ms up to 50 ms) while the process keeps serving.
   *
   * @default {5000}
   */
  busyTimeout?: number;
}

/** Counters of a {@linkcode SqliteJournal}, for monitoring and tests. */
export type SqliteJournalStats = DurableJournalStats;

type Pending = QueuedCall<readonly Uint8Array[]>;

interface Statements {
  readonly begin: StatementSync;
  readonly commit: StatementSync;
  readonly rollback: StatementSync;
  readonly savepoint: StatementSync;
  readonly release: StatementSync;
  readonly rollbackTo: StatementSync;
  readonly highest: StatementSync;
  readonly insert: StatementSync;
  readonly deleteEvents: StatementSync;
  readonly truncateEvents: StatementSync;
  readonly load: StatementSync;
  readonly saveSnapshot: StatementSync;
  readonly loadSnapshot: StatementSync;
}

/**
 * A durable journal on `node:sqlite` (Deno and Bun): one file in WAL mode, one row per event
 * keyed by `(entity_id, sequence_nr)`, the latest snapshot per entity, and the schema version
 * in `PRAGMA user_version`.
 *
 * **Group commit.** `persist` and `saveSnapshot` calls made in the same tick, from any number
 * of entities, are queued and written in one transaction (one fsync). Each call is atomic on
 * its own inside it (a savepoint for calls of several events, statement atomicity for a single
 * event), so a conflict rolls back and rejects only that call while the rest of the batch
 * commits. A call resolves only after its transaction committed.
 *
 * Events and states are encoded with the serializer at call time (later mutation of the values
 * does not change what is stored). Writes run synchronously on the calling thread once per
 * batch; reads run synchronously when called. Several processes may share a file: SQLite's
 * locking keeps them consistent and the numbering check still holds across them. When another
 * connection holds the lock, calls wait for it asynchronously (see
 * {@linkcode SqliteJournalOptions.busyTimeout}), never blocking the event loop.
 *
 * `node:sqlite` is loaded by the first `new SqliteJournal(…)`, so importing `@casty/casty`
 * for local actors never loads it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SqliteJournal } from "@casty/casty/persistence";
 * const dir = await Deno.makeTempDir();
 * {
 *   await using journal = new SqliteJournal({ path: `${dir}/journal.db` });
 *   await journal.persist("acc-1", [
 *     { sequenceNr: 1, event: { type: "opened", at: new Date(0) }, timestamp: Date.now() },
 *   ]);
 * }
 * await using reopened = new SqliteJournal({ path: `${dir}/journal.db` });
 * const [first] = await reopened.load("acc-1");
 * assert.ok((first.event as { at: Date }).at instanceof Date);
 * ```
 */
export class SqliteJournal implements EventJournal {
  #path: string;
  #name: string;
  #db!: DatabaseSync;
  #sql!: Statements;
  #synchronous: "full" | "normal";
  #busyTimeout: number;
  // Set while the file could not be set up yet because another connection held the lock.
  #opening: Promise<void> | undefined;
  #openFailure: JournalError | undefined;
  #busySince: number | undefined;
  #busyDelay = 1;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #drainWaiters: (() => void)[] = [];
  #serializer: Serializer;
  #resolveRef: ((uri: string) => ActorRef<unknown>) | undefined;
  #queue: Pending[] = [];
  // Highest committed sequence number per entity, so most persists skip a read.
  #highestCache = new Map<string, number>();
  #scheduled: ReturnType<typeof setImmediate> | undefined;
  #closed = false;
  #stats = zeroStats();

  /**
   * Opens (or creates) the journal file.
   *
   * @param options The file path and settings.
   * @throws {JournalError} with code `JOURNAL_OPEN` when the file cannot be opened, is not a
   * SQLite database, or has a schema version newer than this code supports.
   */
  constructor(options: SqliteJournalOptions) {
    const { path, synchronous = "full", busyTimeout = 5000 } = options;
    if (typeof path !== "string" || path === "") {
      throw new TypeError("Cannot open journal: path must be a non-empty string");
    }
    if (synchronous !== "full" && synchronous !== "normal") {
      throw new TypeError(`Cannot open journal "${path}": synchronous must be "full" or "normal"`);
    }
    if (!Number.isSafeInteger(busyTimeout) || busyTimeout < 0) {
      throw new RangeError(`Cannot open journal "${path}": busyTimeout must be an integer >= 0`);
    }
    this.#path = path;
    this.#name = `journal "${path}"`;
    this.#synchronous = synchronous;
    this.#busyTimeout = busyTimeout;
    this.#serializer = options.serializer ?? new TaggedJsonSerializer();
    this.#resolveRef = options.resolveRef;
    let db: DatabaseSync | undefined;
    try {
      db = openDatabase(path);
      // Never wait for a lock inside SQLite: that sleeps on the event loop. Busy is retried
      // from timers instead (#whenFree, #waitForLock).
      db.exec("PRAGMA busy_timeout = 0");
      db.exec(`PRAGMA page_size = ${PAGE_SIZE}`);
      this.#db = db;
      this.#setUp();
    } catch (err) {
      if (db !== undefined && isBusyError(err)) {
        this.#opening = this.#whenFree(() => this.#setUp(), "open journal").then(
          () => {
            this.#opening = undefined;
            this.#flush();
          },
          (failure) => {
            // Every later call rejects with this error (#checkOpen); the queued ones now.
            this.#openFailure = this.#openError(failure);
            this.#opening = undefined;
            this.#closeQuietly();
            for (const op of this.#queue.splice(0)) op.reject(this.#openFailure);
            this.#drained();
          },
        );
      } else {
        if (db !== undefined) {
          try {
            db.close();
          } catch {
            // Already failing; the open error is the one to report.
          }
        }
        throw this.#openError(err);
      }
    }
  }

  // Switches to WAL, creates or checks the schema, prepares the statements. Throws SQLite's
  // busy error, untouched, when another connection holds the lock.
  #setUp(): void {
    const db = this.#db;
    // The first statement that reads the file: a non-database fails here.
    db.exec("PRAGMA journal_mode = WAL");
    db.exec(`PRAGMA synchronous = ${this.#synchronous.toUpperCase()}`);
    // Statement journals (savepoints) in memory rather than in temporary files.
    db.exec("PRAGMA temp_store = MEMORY");
    db.exec("BEGIN IMMEDIATE");
    try {
      const version = Number(db.prepare("PRAGMA user_version").get()?.user_version ?? 0);
      if (version > SCHEMA_VERSION) {
        throw new JournalError(
          "JOURNAL_OPEN",
          `Cannot open journal "${this.#path}": schema version ${version} is newer than the supported version ${SCHEMA_VERSION}`,
        );
      }
      if (version < SCHEMA_VERSION) db.exec(SCHEMA);
      db.exec("COMMIT");
    } catch (err) {
      db.exec("ROLLBACK");
      throw err;
    }
    this.#sql = prepareStatements(db);
  }

  #openError(err: unknown): JournalError {
    if (err instanceof JournalError) return err;
    return new JournalError(
      "JOURNAL_OPEN",
      `Cannot open journal "${this.#path}": ${errorText(err)}`,
      { cause: err },
    );
  }

  #closeQuietly(): void {
    try {
      this.#db.close();
    } catch {
      // Closing after a failure: nothing more to report.
    }
  }

  /** The database file path. */
  get path(): string {
    return this.#path;
  }

  /**
   * Read-only counters: transactions committed, calls and events written, conflicts.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { SqliteJournal } from "@casty/casty/persistence";
   * await using journal = new SqliteJournal({ path: ":memory:" });
   * await Promise.all(["a", "b", "c"].map((id) =>
   *   journal.persist(id, [{ sequenceNr: 1, event: id, timestamp: 0 }])
   * ));
   * assert.ok(journal.stats.transactions === 1 && journal.stats.persistCalls === 3);
   * ```
   */
  get stats(): SqliteJournalStats {
    return { ...this.#stats };
  }

  /**
   * Appends events atomically and durably; see {@linkcode EventJournal.persist}. Calls made in
   * the same tick share one transaction.
   *
   * @param entityId The entity.
   * @param events Events numbered from the entity's highest sequence number + 1.
   * @returns A promise that resolves once the events are committed.
   * @throws {JournalConflictError} on a duplicate or non-contiguous sequence number.
   * @throws {SerializationError} when an event cannot be serialized.
   * @throws {JournalError} when the journal is closed (`JOURNAL_CLOSED`) or the write fails
   * (`JOURNAL_WRITE`).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { SqliteJournal } from "@casty/casty/persistence";
   * await using journal = new SqliteJournal({ path: ":memory:" });
   * await journal.persist("acc-1", [{ sequenceNr: 1, event: { amount: 10n }, timestamp: 0 }]);
   * assert.equal((await journal.highestSequenceNr("acc-1")), 1);
   * ```
   */
  persist(entityId: string, events: readonly PersistedEvent[]): Promise<void> {
    try {
      this.#checkOpen(`persist events for "${entityId}"`);
      validatePersist(entityId, events);
    } catch (err) {
      return Promise.reject(err);
    }
    if (events.length === 0) return Promise.resolve();
    let rows: Uint8Array[];
    try {
      rows = encodeEvents(this.#serializer, entityId, events);
    } catch (err) {
      return Promise.reject(err);
    }
    const copy = events.map(({ sequenceNr, timestamp }) => ({
      sequenceNr,
      timestamp,
      event: null,
    }));
    return this.#enqueue((resolve, reject) => ({ entityId, events: copy, rows, resolve, reject }));
  }

  /**
   * Reads events in order, deserializing them; see {@linkcode EventJournal.load}. Use `max` to
   * page through long logs.
   *
   * @param entityId The entity.
   * @param fromSequenceNr First sequence number, inclusive.
   * @default fromSequenceNr 1
   * @param options `toSequenceNr` (inclusive) and `max` (page size).
   * @returns The events, possibly none.
   * @throws {SerializationError} when a stored event cannot be decoded.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { SqliteJournal } from "@casty/casty/persistence";
   * await using journal = new SqliteJournal({ path: ":memory:" });
   * await journal.persist("e", [1, 2, 3].map((n) => ({ sequenceNr: n, event: n, timestamp: 0 })));
   * const page = await journal.load("e", 2, { max: 1 });
   * assert.ok(page.length === 1 && page[0].event === 2);
   * ```
   */
  load(
    entityId: string,
    fromSequenceNr: number = 1,
    options: LoadOptions = {},
  ): Promise<PersistedEvent[]> {
    const action = `load events for "${entityId}"`;
    return this.#read(action, () => {
      const [from, to, max] = loadBounds(entityId, fromSequenceNr, options);
      if (from > to) return [];
      const rows = this.#sql.load.all(entityId, from, to, max === Infinity ? -1 : max);
      const out: PersistedEvent[] = new Array(rows.length);
      for (let i = 0; i < rows.length; i++) {
        const row = rows[i];
        const sequenceNr = row.sequence_nr as number;
        out[i] = {
          sequenceNr,
          event: this.#decode(row.event as Uint8Array, `event ${sequenceNr} of "${entityId}"`),
          timestamp: row.timestamp as number,
        };
      }
      return out;
    });
  }

  /**
   * The entity's highest committed sequence number, 0 when it has no events.
   *
   * @param entityId The entity.
   * @returns The highest sequence number.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { SqliteJournal } from "@casty/casty/persistence";
   * await using journal = new SqliteJournal({ path: ":memory:" });
   * assert.equal((await journal.highestSequenceNr("nobody")), 0);
   * ```
   */
  highestSequenceNr(entityId: string): Promise<number> {
    return this.#read(`read the highest sequence number of "${entityId}"`, () => {
      validateEntityId(entityId);
      return this.#highest(entityId);
    });
  }

  /**
   * Stores the snapshot as the entity's latest, in the next group commit; a snapshot older than
   * the stored one is ignored.
   *
   * @param entityId The entity.
   * @param snapshot The snapshot; its state goes through the serializer.
   * @returns A promise that resolves once committed.
   * @throws {SerializationError} when the state cannot be serialized.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { SqliteJournal } from "@casty/casty/persistence";
   * await using journal = new SqliteJournal({ path: ":memory:" });
   * await journal.saveSnapshot("e", { sequenceNr: 5, state: new Map([["a", 1]]), timestamp: 0 });
   * const snapshot = await journal.loadSnapshot("e");
   * assert.ok(snapshot?.state instanceof Map);
   * ```
   */
  saveSnapshot(entityId: string, snapshot: Snapshot): Promise<void> {
    let state: Uint8Array;
    try {
      this.#checkOpen(`save snapshot for "${entityId}"`);
      validateSnapshot(entityId, snapshot);
      state = encodeState(this.#serializer, entityId, snapshot.state);
    } catch (err) {
      return Promise.reject(err);
    }
    const { sequenceNr, timestamp } = snapshot;
    return this.#enqueue((resolve, reject) => ({
      entityId,
      snapshot: { sequenceNr, timestamp, state: null },
      state,
      resolve,
      reject,
    }));
  }

  /**
   * The entity's latest committed snapshot.
   *
   * @param entityId The entity.
   * @returns The snapshot, or `undefined` when none was saved.
   * @throws {SerializationError} when the stored state cannot be decoded.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { SqliteJournal } from "@casty/casty/persistence";
   * await using journal = new SqliteJournal({ path: ":memory:" });
   * assert.equal((await journal.loadSnapshot("e")), undefined);
   * ```
   */
  loadSnapshot(entityId: string): Promise<Snapshot | undefined> {
    return this.#read(`load snapshot for "${entityId}"`, () => {
      validateEntityId(entityId);
      const row = this.#sql.loadSnapshot.get(entityId);
      if (row === undefined) return undefined;
      return {
        sequenceNr: row.sequence_nr as number,
        state: this.#decode(row.state as Uint8Array, `snapshot of "${entityId}"`),
        timestamp: row.timestamp as number,
      };
    });
  }

  /**
   * Frees the entity's events up to `toSequenceNr`, never its latest one (so the sequence goes
   * on), in the next group commit, after the calls made before it; see
   * {@linkcode EventJournal.deleteEvents}. Snapshots are not touched.
   *
   * @param entityId The entity.
   * @param toSequenceNr The last sequence number to free, inclusive.
   * @returns A promise that resolves once committed.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { SqliteJournal } from "@casty/casty/persistence";
   * await using journal = new SqliteJournal({ path: ":memory:" });
   * await journal.persist("e", [1, 2, 3].map((n) => ({ sequenceNr: n, event: n, timestamp: 0 })));
   * await journal.deleteEvents("e", 2);
   * assert.deepEqual((await journal.load("e")).map((e) => e.event), [3]);
   * await journal.persist("e", [{ sequenceNr: 4, event: 4, timestamp: 0 }]); // goes on
   * ```
   */
  deleteEvents(entityId: string, toSequenceNr: number): Promise<void> {
    try {
      this.#checkOpen(`delete events of "${entityId}"`);
      validateEntityId(entityId);
      validateDeleteTo(entityId, toSequenceNr);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#enqueue((resolve, reject) => ({
      entityId,
      deleteTo: toSequenceNr,
      resolve,
      reject,
    }));
  }

  /**
   * Removes the entity's events from `fromSequenceNr` on, in the next group commit, after the
   * calls made before it; see {@linkcode EventJournal.truncateEvents}. Snapshots are not
   * touched.
   *
   * @param entityId The entity.
   * @param fromSequenceNr The first sequence number to remove, inclusive.
   * @returns A promise that resolves once committed.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { SqliteJournal } from "@casty/casty/persistence";
   * await using journal = new SqliteJournal({ path: ":memory:" });
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
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#enqueue((resolve, reject) => ({
      entityId,
      truncateFrom: fromSequenceNr,
      resolve,
      reject,
    }));
  }

  /**
   * Commits the writes still queued, then closes the file. Later calls reject with a
   * {@linkcode JournalError} (`JOURNAL_CLOSED`). Idempotent.
   *
   * @returns A promise that resolves once the file is closed.
   *
   * @example
   * ```ts
   * import { SqliteJournal } from "@casty/casty/persistence";
   * const journal = new SqliteJournal({ path: ":memory:" });
   * const pending = journal.persist("e", [{ sequenceNr: 1, event: 1, timestamp: 0 }]);
   * await journal.close();
   * await pending; // committed before the file closed
   * ```
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#scheduled !== undefined) {
      clearImmediate(this.#scheduled);
      this.#scheduled = undefined;
    }
    if (this.#opening !== undefined) {
      await this.#opening;
    }
    if (this.#openFailure !== undefined) return; // never opened: the file is already released
    if (this.#retryTimer === undefined) this.#flush();
    if (this.#queue.length > 0) {
      await new Promise<void>((resolve) => this.#drainWaiters.push(resolve));
    }
    try {
      this.#db.close();
    } catch (err) {
      throw new JournalError(
        "JOURNAL_WRITE",
        `Cannot close journal "${this.#path}": ${String(err)}`,
        { cause: err },
      );
    }
  }

  /** Same as {@linkcode SqliteJournal.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #enqueue(make: (resolve: () => void, reject: (err: unknown) => void) => Pending): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push(make(resolve, reject));
      // Waiting for the lock or for the file to be set up: that retry takes this call along.
      if (this.#retryTimer !== undefined || this.#opening !== undefined) return;
      // setImmediate rather than a microtask: it gathers every call of the current macrotask,
      // including those made from promise continuations, into one transaction.
      this.#scheduled ??= setImmediate(() => {
        this.#scheduled = undefined;
        this.#flush();
      });
    });
  }

  #flush(): void {
    if (this.#queue.length === 0 || this.#opening !== undefined) return;
    const sql = this.#sql;
    try {
      sql.begin.run();
    } catch (err) {
      if (isBusyError(err) && this.#waitForLock()) return;
      const waited = isBusyError(err)
        ? `${errorText(err)} by another connection (waited ${this.#busyTimeout} ms)`
        : errorText(err);
      this.#failAll(this.#queue.splice(0), waited, err);
      return;
    }
    this.#busySince = undefined;
    this.#busyDelay = 1;
    const batch = this.#queue;
    this.#queue = [];
    const outcomes: (Error | undefined)[] = new Array(batch.length);
    const batchHighest = new Map<string, number>();
    let failure: unknown;
    try {
      for (let i = 0; i < batch.length; i++) outcomes[i] = this.#apply(batch[i], batchHighest);
      sql.commit.run();
      const cache = this.#highestCache;
      // A crude bound on memory: forgetting only costs one indexed read per entity.
      if (cache.size + batchHighest.size > MAX_CACHED_ENTITIES) cache.clear();
      for (const [entityId, highest] of batchHighest) cache.set(entityId, highest);
    } catch (err) {
      failure = err;
      try {
        sql.rollback.run();
      } catch {
        // SQLite may already have rolled back (I/O error, disk full): nothing left to undo.
      }
    }
    if (failure !== undefined) {
      this.#failAll(batch, errorText(failure), failure);
      return;
    }
    this.#stats.transactions++;
    for (let i = 0; i < batch.length; i++) {
      const op = batch[i];
      if (outcomes[i] !== undefined) {
        op.reject(outcomes[i]);
      } else {
        if (op.events) {
          this.#stats.persistCalls++;
          this.#stats.eventsWritten += op.events.length;
        } else if (op.snapshot) {
          this.#stats.snapshotsWritten++;
        }
        op.resolve();
      }
    }
    this.#drained();
  }

  // Another connection holds the write lock: retry the queue from a timer with a growing delay,
  // unless busyTimeout has run out (then returns false and the caller fails the queue).
  #waitForLock(): boolean {
    const now = performance.now();
    this.#busySince ??= now;
    if (now - this.#busySince >= this.#busyTimeout) {
      this.#busySince = undefined;
      this.#busyDelay = 1;
      return false;
    }
    const delay = Math.min(this.#busyDelay, this.#busyTimeout - (now - this.#busySince));
    this.#busyDelay = Math.min(this.#busyDelay * 2, 50);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.#flush();
    }, Math.max(1, delay));
    return true;
  }

  #failAll(batch: Pending[], reason: string, cause: unknown): void {
    for (const op of batch) {
      const what = op.events
        ? "persist events"
        : op.snapshot
        ? "save snapshot"
        : op.truncateFrom !== undefined
        ? "truncate events"
        : "delete events";
      op.reject(
        new JournalError(
          "JOURNAL_WRITE",
          `Cannot ${what} for "${op.entityId}" in journal "${this.#path}": ${reason}`,
          { cause },
        ),
      );
    }
    this.#drained();
  }

  #drained(): void {
    if (this.#queue.length === 0) { for (const done of this.#drainWaiters.splice(0)) done(); }
  }

  // Applies one queued call inside the open transaction. Returns the call's own failure (a
  // conflict); throws for anything that must abort the whole batch. `batchHighest` holds the
  // highest sequence numbers written by earlier calls of this batch.
  #apply(op: Pending, batchHighest: Map<string, number>): Error | undefined {
    const sql = this.#sql;
    const entityId = op.entityId;
    if (op.snapshot) {
      sql.saveSnapshot.run(entityId, op.snapshot.sequenceNr, op.snapshot.timestamp, op.state!);
      return undefined;
    }
    if (op.truncateFrom !== undefined) {
      sql.truncateEvents.run(entityId, op.truncateFrom);
      // The cache and the batch learn the new end (later calls of the batch continue it).
      batchHighest.set(entityId, this.#highest(entityId));
      return undefined;
    }
    if (op.deleteTo !== undefined) {
      // Read inside the transaction: it sees this batch's earlier inserts. The latest stays.
      const to = Math.min(op.deleteTo, this.#highest(entityId) - 1);
      if (to > 0) sql.deleteEvents.run(entityId, to);
      return undefined;
    }
    const events = op.events!;
    const rows = op.rows!;
    // The cache is never above the truth (it only learns committed numbers), so a call that
    // looks valid against it can only be stale-low: then its first insert hits the primary key
    // and is reported as a conflict below. A call that looks invalid is re-checked against the
    // file, since another process may have appended meanwhile.
    const known = batchHighest.get(entityId) ?? this.#highestCache.get(entityId);
    let conflict = findConflict(events, known ?? this.#highest(entityId));
    if (conflict && known !== undefined) conflict = findConflict(events, this.#highest(entityId));
    if (conflict) {
      this.#stats.conflicts++;
      return new JournalConflictError(entityId, conflict[0], conflict[1]);
    }
    // One INSERT is atomic on its own (a failing statement leaves nothing behind), so only calls
    // of several events need a savepoint; savepoints copy every touched page into a statement
    // journal and measured to halve throughput when taken for every call.
    const guarded = events.length > 1;
    if (guarded) sql.savepoint.run();
    try {
      for (let i = 0; i < events.length; i++) {
        sql.insert.run(entityId, events[i].sequenceNr, events[i].timestamp, rows[i]);
      }
      if (guarded) sql.release.run();
    } catch (err) {
      // Undo this call only. If SQLite already aborted the whole transaction (I/O error, disk
      // full) this throws too, and the whole batch fails, which is the truth.
      if (guarded) {
        sql.rollbackTo.run();
        sql.release.run();
      }
      if (!isConstraintError(err)) throw err;
      this.#stats.conflicts++;
      const highest = this.#highest(entityId);
      batchHighest.set(entityId, highest);
      return new JournalConflictError(entityId, events[0].sequenceNr, highest + 1);
    }
    batchHighest.set(entityId, events[events.length - 1].sequenceNr);
    return undefined;
  }

  #highest(entityId: string): number {
    return (this.#sql.highest.get(entityId)?.highest as number | null) ?? 0;
  }

  #decode(bytes: Uint8Array, what: string): unknown {
    return decodeStored(this.#serializer, this.#resolveRef, bytes, what, this.#name);
  }

  // Runs a read now; when another connection holds a lock, again from timers (never a sleep
  // on the event loop) until busyTimeout.
  #read<T>(action: string, read: () => T): Promise<T> {
    try {
      this.#checkOpen(action);
      if (this.#opening !== undefined) {
        return this.#opening.then(() => this.#read(action, read));
      }
      return Promise.resolve(read());
    } catch (err) {
      if (!isBusyError(err)) return Promise.reject(this.#readError(err, action));
      return this.#whenFree(read, action).catch((failure) => {
        throw this.#readError(failure, action);
      });
    }
  }

  async #whenFree<T>(attempt: () => T, action: string): Promise<T> {
    const start = performance.now();
    let delay = 1;
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      try {
        return attempt();
      } catch (err) {
        if (!isBusyError(err)) throw err;
        if (performance.now() - start >= this.#busyTimeout) {
          throw new Error(
            `${errorText(err)} by another connection (waited ${this.#busyTimeout} ms to ${action})`,
            { cause: err },
          );
        }
        delay = Math.min(delay * 2, 50);
      }
    }
  }

  #readError(err: unknown, action: string): unknown {
    if (err instanceof JournalError) return err;
    if (err instanceof TypeError || err instanceof RangeError) return err;
    if (err instanceof SerializationError) return err;
    return new JournalError(
      "JOURNAL_READ",
      `Cannot ${action} from journal "${this.#path}": ${errorText(err)}`,
      { cause: err },
    );
  }

  #checkOpen(action: string): void {
    if (this.#closed) {
      throw new JournalError(
        "JOURNAL_CLOSED",
        `Cannot ${action}: journal "${this.#path}" is closed`,
      );
    }
    if (this.#openFailure !== undefined) throw this.#openFailure;
  }
}

function prepareStatements(db: DatabaseSync): Statements {
  return {
    begin: db.prepare("BEGIN IMMEDIATE"),
    commit: db.prepare("COMMIT"),
    rollback: db.prepare("ROLLBACK"),
    savepoint: db.prepare("SAVEPOINT casty_persist"),
    release: db.prepare("RELEASE casty_persist"),
    rollbackTo: db.prepare("ROLLBACK TO casty_persist"),
    highest: db.prepare(
      "SELECT max(sequence_nr) AS highest FROM casty_events WHERE entity_id = ?",
    ),
    deleteEvents: db.prepare(
      "DELETE FROM casty_events WHERE entity_id = ? AND sequence_nr <= ?",
    ),
    truncateEvents: db.prepare(
      "DELETE FROM casty_events WHERE entity_id = ? AND sequence_nr >= ?",
    ),
    insert: db.prepare(
      "INSERT INTO casty_events (entity_id, sequence_nr, timestamp, event) VALUES (?, ?, ?, ?)",
    ),
    load: db.prepare(
      "SELECT sequence_nr, timestamp, event FROM casty_events " +
        "WHERE entity_id = ? AND sequence_nr >= ? AND sequence_nr <= ? " +
        "ORDER BY sequence_nr LIMIT ?",
    ),
    saveSnapshot: db.prepare(
      "INSERT INTO casty_snapshots (entity_id, sequence_nr, timestamp, state) VALUES (?, ?, ?, ?) " +
        "ON CONFLICT (entity_id) DO UPDATE SET sequence_nr = excluded.sequence_nr, " +
        "timestamp = excluded.timestamp, state = excluded.state " +
        "WHERE excluded.sequence_nr >= casty_snapshots.sequence_nr",
    ),
    loadSnapshot: db.prepare(
      "SELECT sequence_nr, timestamp, state FROM casty_snapshots WHERE entity_id = ?",
    ),
  };
}
