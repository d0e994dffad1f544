/**
 * A durable {@linkcode EventJournal} on a PostgreSQL server, with group commit.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { setImmediate } from "node:timers";
import type { ActorRef } from "../actor/actor_ref.ts";
import { SerializationError } from "../serialization/errors.ts";
import {
  serializedText,
  type Serializer,
  TaggedJsonSerializer,
} from "../serialization/serialization.ts";
import {
  type EventJournal,
  JournalConflictError,
  JournalError,
  type LoadOptions,
  type PersistedEvent,
  type Snapshot,
} from "../persistence/journal.ts";
import {
  decodeStored,
  type DurableJournalOptions,
  type DurableJournalStats,
  encodeEvents,
  encodeState,
  errorText,
  loadBounds,
  validateDeleteTo,
  validateEntityId,
  validatePersist,
  validateSnapshot,
  validateTruncateFrom,
  zeroStats,
} from "../persistence/journal_support.ts";

/** The schema version this code writes and reads, kept in `<schema>.casty_journal_version`. */
const SCHEMA_VERSION = 1;

const MAX_CACHED_ENTITIES = 100_000;

/**
 * The one thing {@linkcode PostgresJournal} needs from a PostgreSQL client: run one statement
 * with positional parameters (`$1`, `$2`, …) and resolve with its rows as objects keyed by
 * column name. Every statement the journal sends is self-contained (one statement, one implicit
 * transaction), so a pooled client that runs each call on any connection is fine.
 *
 * @example One-line adapters for the common clients
 * ```ts ignore
 * import postgres from "postgres";
 * import pg from "pg";
 * const viaPostgres: SqlClient = { query: (text, params) => sqlPostgres.unsafe(text, params) };
 * const viaPg: SqlClient = { query: (text, params) => pool.query(text, params).then((r) => r.rows) };
 * const viaBun: SqlClient = { query: (text, params) => Bun.sql.unsafe(text, params) };
 * ```
 *
 * @example A client that answers one statement
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SqlClient } from "@casty/casty/postgres";
 * const client: SqlClient = { query: () => Promise.resolve([{ answer: 42 }]) };
 * assert.deepEqual(await client.query("SELECT 42 AS answer", []), [{ answer: 42 }]);
 * ```
 */
export interface SqlClient {
  /**
   * Runs one statement.
   *
   * @param text SQL with `$1`, `$2`, … placeholders.
   * @param params The parameter values: strings (numbers and JSON travel as text and are cast in
   * the SQL, so every client binds them alike) or `null`.
   * @returns The rows, each an object keyed by column name.
   */
  query(text: string, params: (string | null)[]): PromiseLike<readonly Record<string, unknown>[]>;
}

/** Options of {@linkcode PostgresJournal}. */
export interface PostgresJournalOptions extends DurableJournalOptions {
  /** The client that runs the journal's statements; casty never opens connections itself. */
  sql: SqlClient;
  /**
   * The PostgreSQL schema that holds the journal's tables; created on first use if missing.
   *
   * @default {"public"}
   */
  schema?: string;
  /**
   * How long one statement may wait for the server, in milliseconds, before the calls it carries
   * fail with a {@linkcode JournalError}. A write that timed out may still commit later; the
   * journal never reports such a write as done.
   *
   * @default {30000}
   */
  timeout?: number;
  /**
   * The most events one group-commit statement carries; calls beyond it wait for the next one.
   *
   * @default {10000}
   */
  maxBatchEvents?: number;
}

/** Counters of a {@linkcode PostgresJournal}, for monitoring and tests. */
export type PostgresJournalStats = DurableJournalStats;

/**
 * A queued `persist` or `saveSnapshot` call. Its values are encoded at call time (so later
 * mutation changes nothing): the events as JSON rows for json_to_recordset, the snapshot's state
 * as bytes. Every entry has the same fields, so the queue's objects share one shape.
 */
interface Pending {
  readonly entityId: string;
  /** The first event's sequence number; 0 for a snapshot. */
  readonly first: number;
  /** How many events; 0 for a snapshot. */
  readonly count: number;
  /** The events' numbers, kept only when they do not follow each other (the call conflicts). */
  readonly gapped: readonly number[] | undefined;
  readonly rows: string | undefined;
  /** Whether `rows` carry each event as JSON text ("u") rather than base64 bytes ("b"). */
  readonly text: boolean;
  readonly snapshot: Snapshot | undefined;
  readonly state: Uint8Array | undefined;
  resolve: () => void;
  reject: (err: unknown) => void;
}

const unset = (): void => {};

interface Tables {
  readonly events: string;
  readonly snapshots: string;
  readonly version: string;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * A durable journal on a PostgreSQL server, for clusters whose entities move between machines:
 * one row per event keyed by `(entity_id, sequence_nr)`, the latest snapshot per entity, and
 * a schema version, in the tables `casty_events`, `casty_snapshots` and
 * `casty_journal_version` of one PostgreSQL schema, created on first use.
 *
 * **Group commit.** `persist` and `saveSnapshot` calls made in the same tick, from any number of
 * entities, go to the server as one statement (a multi-row `INSERT` plus the snapshot upserts),
 * which PostgreSQL runs as one transaction; calls made while it is in flight form the next one.
 * A call resolves only after that statement committed. A call that does not continue its
 * entity's log is rejected with a {@linkcode JournalConflictError} and left out; the primary key
 * catches a writer in another process that got there first, and then the batch is checked
 * against the server and sent again without the losers. So two writers for one entity can never
 * both succeed, across processes and machines.
 *
 * **Failures.** When the server cannot be reached or a statement fails, every call it carried
 * rejects with a {@linkcode JournalError} (never a success without a commit), so the actors
 * that made them fail; later calls work again as soon as the client reconnects. Nothing here
 * blocks the event loop. The client belongs to the caller: {@linkcode PostgresJournal.close}
 * does not end it.
 *
 * @example
 * ```ts ignore
 * import postgres from "postgres";
 * import { PostgresJournal } from "@casty/casty/postgres";
 * const sql = postgres("postgres://app@db.internal/bank");
 * const journal = new PostgresJournal({
 *   sql: { query: (text, params) => sql.unsafe(text, params) },
 * });
 * ```
 *
 * @example With any client that implements the one method
 * ```ts
 * import assert from "node:assert/strict";
 * import { PostgresJournal } from "@casty/casty/postgres";
 * const down = { query: () => Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:5432")) };
 * const journal = new PostgresJournal({ sql: down, schema: "bank" });
 * await assert.rejects(
 *   journal.persist("acc-1", [{ sequenceNr: 1, event: { amount: 10 }, timestamp: 0 }]),
 *   { code: "JOURNAL_OPEN" },
 * );
 * await journal.close();
 * ```
 */
export class PostgresJournal implements EventJournal {
  #client: SqlClient;
  #schema: string;
  #name: string;
  #t: Tables;
  #serializer: Serializer;
  #resolveRef: ((uri: string) => ActorRef<unknown>) | undefined;
  #timeout: number;
  #maxBatchEvents: number;
  #ready: Promise<void> | undefined;
  #queue: Pending[] = [];
  #scheduled: ReturnType<typeof setImmediate> | undefined;
  #inFlight: Promise<void> | undefined;
  // False once the server is known not to store UTF-8 (events then travel as base64 bytes).
  #textEvents = true;
  #drainWaiters: (() => void)[] = [];
  // Highest committed sequence number per entity, so most persists need no read. It may lag
  // behind the truth (another process appended), never run ahead of it within this process.
  #highestCache = new Map<string, number>();
  #closed = false;
  #stats = zeroStats();

  /**
   * Creates the journal. Nothing is sent to the server until the first call, which creates or
   * checks the tables.
   *
   * @param options The client, the schema and settings.
   * @throws {TypeError} when `sql` has no `query` method or `schema` is not a plain identifier.
   */
  constructor(options: PostgresJournalOptions) {
    const { sql, schema = "public", timeout = 30_000, maxBatchEvents = 10_000 } = options ?? {};
    if (typeof sql?.query !== "function") {
      throw new TypeError(
        "Cannot create PostgresJournal: sql must be an object with a query(text, params) method",
      );
    }
    if (typeof schema !== "string" || !IDENTIFIER.test(schema)) {
      throw new TypeError(
        `Cannot create PostgresJournal: schema ${
          JSON.stringify(schema)
        } must be a plain identifier (letters, digits, _; at most 63)`,
      );
    }
    if (!Number.isSafeInteger(timeout) || timeout < 1) {
      throw new RangeError(`Cannot create PostgresJournal: timeout must be an integer >= 1`);
    }
    if (!Number.isSafeInteger(maxBatchEvents) || maxBatchEvents < 1) {
      throw new RangeError(`Cannot create PostgresJournal: maxBatchEvents must be an integer >= 1`);
    }
    this.#client = sql;
    this.#schema = schema;
    this.#name = `PostgreSQL schema "${schema}"`;
    const q = `"${schema}"`;
    this.#t = {
      events: `${q}.casty_events`,
      snapshots: `${q}.casty_snapshots`,
      version: `${q}.casty_journal_version`,
    };
    this.#serializer = options.serializer ?? new TaggedJsonSerializer();
    this.#resolveRef = options.resolveRef;
    this.#timeout = timeout;
    this.#maxBatchEvents = maxBatchEvents;
  }

  /** The PostgreSQL schema that holds the tables. */
  get schema(): string {
    return this.#schema;
  }

  /**
   * Read-only counters: statements committed, calls and events written, conflicts.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { PostgresJournal } from "@casty/casty/postgres";
   * const journal = new PostgresJournal({ sql: { query: () => Promise.resolve([]) } });
   * assert.equal(journal.stats.transactions, 0);
   * ```
   */
  get stats(): PostgresJournalStats {
    return { ...this.#stats };
  }

  /**
   * Appends events atomically and durably; see {@linkcode EventJournal.persist}. Calls made in
   * the same tick share one statement and one transaction.
   *
   * @param entityId The entity.
   * @param events Events numbered from the entity's highest sequence number + 1.
   * @returns A promise that resolves once the events are committed.
   * @throws {JournalConflictError} on a duplicate or non-contiguous sequence number.
   * @throws {SerializationError} when an event cannot be serialized.
   * @throws {JournalError} when the journal is closed (`JOURNAL_CLOSED`), its tables cannot be
   * set up (`JOURNAL_OPEN`) or the write fails (`JOURNAL_WRITE`).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { PostgresJournal } from "@casty/casty/postgres";
   * const journal = new PostgresJournal({ sql: { query: () => Promise.resolve([]) } });
   * await journal.close();
   * await assert.rejects(journal.persist("a", []), { code: "JOURNAL_CLOSED" });
   * ```
   */
  persist(entityId: string, events: readonly PersistedEvent[]): Promise<void> {
    let rows: string;
    let text: boolean;
    try {
      this.#checkOpen(`persist events for "${entityId}"`);
      validatePersist(entityId, events);
      checkText(entityId, `persist events for "${entityId}"`);
      if (events.length === 0) return Promise.resolve();
      const id = JSON.stringify(entityId);
      const texts = this.#textEvents ? textRows(this.#serializer, entityId, id, events) : undefined;
      text = texts !== undefined;
      rows = texts ?? bytesRows(
        id,
        events,
        encodeEvents(this.#serializer, entityId, events),
      );
    } catch (err) {
      return Promise.reject(err);
    }
    const first = events[0].sequenceNr;
    let gapped: number[] | undefined;
    for (let i = 1; i < events.length; i++) {
      if (events[i].sequenceNr !== first + i) {
        gapped = events.map((e) => e.sequenceNr);
        break;
      }
    }
    return this.#enqueue({
      entityId,
      first,
      count: events.length,
      gapped,
      rows,
      text,
      snapshot: undefined,
      state: undefined,
      resolve: unset,
      reject: unset,
    });
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
   * @throws {JournalError} (`JOURNAL_READ`) when the server cannot answer.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { PostgresJournal } from "@casty/casty/postgres";
   * const journal = new PostgresJournal({ sql: { query: () => Promise.resolve([]) } });
   * await assert.rejects(journal.load("e", 1, { max: 0 }), RangeError);
   * ```
   */
  async load(
    entityId: string,
    fromSequenceNr: number = 1,
    options: LoadOptions = {},
  ): Promise<PersistedEvent[]> {
    const action = `load events for "${entityId}"`;
    this.#checkOpen(action);
    const [from, to, max] = loadBounds(entityId, fromSequenceNr, options);
    checkText(entityId, action);
    if (from > to) return [];
    const rows = await this.#read(
      `SELECT sequence_nr, "timestamp", event FROM ${this.#t.events} ` +
        "WHERE entity_id = $1 AND sequence_nr >= $2::text::int8 AND sequence_nr <= $3::text::int8 " +
        "ORDER BY sequence_nr LIMIT $4::text::int8",
      [entityId, String(from), String(to), max === Infinity ? null : String(max)],
      action,
    );
    const out: PersistedEvent[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i];
      const sequenceNr = Number(row.sequence_nr);
      out[i] = {
        sequenceNr,
        event: this.#decode(row.event, `event ${sequenceNr} of "${entityId}"`),
        timestamp: Number(row.timestamp),
      };
    }
    return out;
  }

  /**
   * The entity's highest committed sequence number, 0 when it has no events.
   *
   * @param entityId The entity.
   * @returns The highest sequence number.
   * @throws {JournalError} (`JOURNAL_READ`) when the server cannot answer.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { PostgresJournal } from "@casty/casty/postgres";
   * const journal = new PostgresJournal({ sql: { query: () => Promise.resolve([]) } });
   * await assert.rejects(journal.highestSequenceNr(42 as unknown as string), TypeError);
   * ```
   */
  async highestSequenceNr(entityId: string): Promise<number> {
    const action = `read the highest sequence number of "${entityId}"`;
    this.#checkOpen(action);
    validateEntityId(entityId);
    checkText(entityId, action);
    const rows = await this.#read(
      `SELECT max(sequence_nr) AS highest FROM ${this.#t.events} WHERE entity_id = $1`,
      [entityId],
      action,
    );
    return Number(rows[0]?.highest ?? 0);
  }

  /**
   * Stores the snapshot as the entity's latest, in the next group commit; a snapshot older than
   * the stored one is ignored.
   *
   * @param entityId The entity.
   * @param snapshot The snapshot; its state goes through the serializer.
   * @returns A promise that resolves once committed.
   * @throws {SerializationError} when the state cannot be serialized.
   * @throws {JournalError} when the journal is closed or the write fails.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { PostgresJournal } from "@casty/casty/postgres";
   * const journal = new PostgresJournal({ sql: { query: () => Promise.resolve([]) } });
   * await assert.rejects(
   *   journal.saveSnapshot("e", { sequenceNr: 1, state: () => 1, timestamp: 0 }),
   *   { name: "SerializationError" },
   * );
   * ```
   */
  saveSnapshot(entityId: string, snapshot: Snapshot): Promise<void> {
    let state: Uint8Array;
    try {
      this.#checkOpen(`save snapshot for "${entityId}"`);
      validateSnapshot(entityId, snapshot);
      checkText(entityId, `save snapshot for "${entityId}"`);
      state = encodeState(this.#serializer, entityId, snapshot.state);
    } catch (err) {
      return Promise.reject(err);
    }
    const { sequenceNr, timestamp } = snapshot;
    return this.#enqueue({
      entityId,
      first: 0,
      count: 0,
      gapped: undefined,
      rows: undefined,
      text: false,
      snapshot: { sequenceNr, timestamp, state: null },
      state,
      resolve: unset,
      reject: unset,
    });
  }

  /**
   * The entity's latest committed snapshot.
   *
   * @param entityId The entity.
   * @returns The snapshot, or `undefined` when none was saved.
   * @throws {SerializationError} when the stored state cannot be decoded.
   * @throws {JournalError} (`JOURNAL_READ`) when the server cannot answer.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { PostgresJournal } from "@casty/casty/postgres";
   * const journal = new PostgresJournal({ sql: { query: () => Promise.resolve([]) } });
   * assert.equal(await journal.loadSnapshot("e"), undefined);
   * ```
   */
  async loadSnapshot(entityId: string): Promise<Snapshot | undefined> {
    const action = `load snapshot for "${entityId}"`;
    this.#checkOpen(action);
    validateEntityId(entityId);
    checkText(entityId, action);
    const rows = await this.#read(
      `SELECT sequence_nr, "timestamp", state FROM ${this.#t.snapshots} WHERE entity_id = $1`,
      [entityId],
      action,
    );
    const row = rows[0];
    if (row === undefined) return undefined;
    return {
      sequenceNr: Number(row.sequence_nr),
      state: this.#decode(row.state, `snapshot of "${entityId}"`),
      timestamp: Number(row.timestamp),
    };
  }

  /**
   * Waits for the writes already queued, then refuses new calls with a {@linkcode JournalError}
   * (`JOURNAL_CLOSED`). The client is left open: it belongs to the caller. Idempotent.
   *
   * @returns A promise that resolves once queued writes are settled.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { PostgresJournal } from "@casty/casty/postgres";
   * const journal = new PostgresJournal({ sql: { query: () => Promise.resolve([]) } });
   * await journal.close();
   * await assert.rejects(journal.load("e"), { code: "JOURNAL_CLOSED" });
   * ```
   */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#queue.length === 0 && this.#inFlight === undefined) return;
    await new Promise<void>((resolve) => this.#drainWaiters.push(resolve));
  }

  /**
   * Frees the entity's events up to `toSequenceNr`, never its latest one (so the sequence goes
   * on), after the writes queued before the call; see {@linkcode EventJournal.deleteEvents}.
   * Snapshots are not touched. One `DELETE` statement.
   *
   * @param entityId The entity.
   * @param toSequenceNr The last sequence number to free, inclusive.
   * @returns A promise that resolves once deleted.
   * @throws {JournalError} (`JOURNAL_WRITE`) when the server cannot do it.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { PostgresJournal } from "@casty/casty/postgres";
   * const journal = new PostgresJournal({ sql: { query: () => Promise.resolve([]) } });
   * await assert.rejects(journal.deleteEvents("e", -1), RangeError);
   * ```
   */
  async deleteEvents(entityId: string, toSequenceNr: number): Promise<void> {
    const action = `delete events of "${entityId}"`;
    this.#checkOpen(action);
    validateEntityId(entityId);
    checkText(entityId, action);
    validateDeleteTo(entityId, toSequenceNr);
    // Calls made before this one are written first.
    if (this.#queue.length > 0 || this.#inFlight !== undefined) {
      await new Promise<void>((resolve) => this.#drainWaiters.push(resolve));
    }
    await this.#setUp();
    try {
      await this.#run(
        `DELETE FROM ${this.#t.events} WHERE entity_id = $1 AND sequence_nr <= LEAST($2::bigint, ` +
          `(SELECT max(sequence_nr) FROM ${this.#t.events} WHERE entity_id = $1) - 1)`,
        [entityId, String(toSequenceNr)],
      );
    } catch (err) {
      throw new JournalError(
        "JOURNAL_WRITE",
        `Cannot ${action} in ${this.#name}: ${errorText(err)}`,
        { cause: err },
      );
    }
  }

  /**
   * Removes the entity's events from `fromSequenceNr` on, after the writes queued before the
   * call; see {@linkcode EventJournal.truncateEvents}. Snapshots are not touched. One `DELETE`
   * statement.
   *
   * @param entityId The entity.
   * @param fromSequenceNr The first sequence number to remove, inclusive.
   * @returns A promise that resolves once removed.
   * @throws {JournalError} (`JOURNAL_WRITE`) when the server cannot do it.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { PostgresJournal } from "@casty/casty/postgres";
   * const journal = new PostgresJournal({ sql: { query: () => Promise.resolve([]) } });
   * await assert.rejects(journal.truncateEvents("e", 0), RangeError);
   * ```
   */
  async truncateEvents(entityId: string, fromSequenceNr: number): Promise<void> {
    const action = `truncate events of "${entityId}"`;
    this.#checkOpen(action);
    validateEntityId(entityId);
    checkText(entityId, action);
    validateTruncateFrom(entityId, fromSequenceNr);
    // Calls made before this one are written first.
    if (this.#queue.length > 0 || this.#inFlight !== undefined) {
      await new Promise<void>((resolve) => this.#drainWaiters.push(resolve));
    }
    await this.#setUp();
    // The cached highest number would be above the truth: forget it (the next write reads it).
    this.#highestCache.delete(entityId);
    try {
      await this.#run(
        `DELETE FROM ${this.#t.events} WHERE entity_id = $1 AND sequence_nr >= $2::bigint`,
        [entityId, String(fromSequenceNr)],
      );
    } catch (err) {
      throw new JournalError(
        "JOURNAL_WRITE",
        `Cannot ${action} in ${this.#name}: ${errorText(err)}`,
        { cause: err },
      );
    } finally {
      this.#highestCache.delete(entityId);
    }
  }

  /** Same as {@linkcode PostgresJournal.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #enqueue(op: Pending): Promise<void> {
    const done = new Promise<void>((resolve, reject) => {
      op.resolve = resolve;
      op.reject = reject;
    });
    this.#queue.push(op);
    this.#schedule();
    return done;
  }

  #schedule(): void {
    if (this.#inFlight !== undefined || this.#scheduled !== undefined) return;
    // setImmediate rather than a microtask: it gathers every call of the current macrotask,
    // including those made from promise continuations, into one statement.
    this.#scheduled = setImmediate(() => {
      this.#scheduled = undefined;
      this.#startBatch();
    });
  }

  #startBatch(): void {
    if (this.#inFlight !== undefined) return;
    if (this.#queue.length === 0) {
      for (const done of this.#drainWaiters.splice(0)) done();
      return;
    }
    let events = 0;
    let n = 0;
    while (n < this.#queue.length && (n === 0 || events < this.#maxBatchEvents)) {
      events += this.#queue[n].count;
      n++;
    }
    const batch = this.#queue.splice(0, n);
    this.#inFlight = this.#write(batch).finally(() => {
      this.#inFlight = undefined;
      if (this.#queue.length > 0) this.#schedule();
      else for (const done of this.#drainWaiters.splice(0)) done();
    });
  }

  async #write(batch: Pending[]): Promise<void> {
    try {
      await this.#setUp();
    } catch (err) {
      for (const op of batch) op.reject(err);
      return;
    }
    let fresh = new Map<string, number>();
    for (let attempt = 1;; attempt++) {
      const unknown = new Set<string>();
      for (const op of batch) {
        if (op.count > 0 && !fresh.has(op.entityId) && !this.#highestCache.has(op.entityId)) {
          unknown.add(op.entityId);
        }
      }
      let plan: Plan;
      try {
        if (unknown.size > 0) await this.#readHighest(unknown, fresh);
        plan = this.#plan(batch, fresh);
        // A conflict against a cached number may be stale: another process may have appended.
        // Check those entities against the server before rejecting anything.
        if (plan.staleSuspects.size > 0) {
          for (const id of plan.staleSuspects) this.#highestCache.delete(id);
          await this.#readHighest(plan.staleSuspects, fresh);
          plan = this.#plan(batch, fresh);
        }
        if (plan.events.length > 0 || plan.snapshots.length > 0) await this.#commit(plan);
      } catch (err) {
        for (const op of batch) if (op.count > 0) this.#highestCache.delete(op.entityId);
        // The primary key caught a writer we did not know about: learn the truth, try again.
        if (isUniqueViolation(err) && attempt < 5) {
          fresh = new Map();
          continue;
        }
        for (const op of batch) {
          const what = op.count > 0 ? "persist events" : "save snapshot";
          op.reject(
            new JournalError(
              "JOURNAL_WRITE",
              `Cannot ${what} for "${op.entityId}" in ${this.#name}: ${errorText(err)}`,
              { cause: err },
            ),
          );
        }
        return;
      }
      this.#stats.transactions += plan.events.length > 0 || plan.snapshots.length > 0 ? 1 : 0;
      const cache = this.#highestCache;
      if (cache.size + plan.highest.size > MAX_CACHED_ENTITIES) cache.clear();
      for (const [id, highest] of plan.highest) cache.set(id, highest);
      for (let i = 0; i < batch.length; i++) {
        const op = batch[i];
        const conflict = plan.conflicts.get(i);
        if (conflict) {
          this.#stats.conflicts++;
          op.reject(conflict);
        } else if (op.count > 0) {
          this.#stats.persistCalls++;
          this.#stats.eventsWritten += op.count;
          op.resolve();
        } else {
          this.#stats.snapshotsWritten++;
          op.resolve();
        }
      }
      return;
    }
  }

  // Decides which calls of the batch continue their logs, given the highest numbers known.
  #plan(batch: Pending[], fresh: Map<string, number>): Plan {
    const highest = new Map<string, number>();
    const conflicts = new Map<number, JournalConflictError>();
    const staleSuspects = new Set<string>();
    const events: string[] = [];
    const snapshotsByEntity = new Map<string, Pending>();
    for (let i = 0; i < batch.length; i++) {
      const op = batch[i];
      const id = op.entityId;
      if (op.snapshot) {
        const prior = snapshotsByEntity.get(id);
        // One upsert per entity per statement (PostgreSQL refuses to touch a row twice); the
        // newest wins, a later call of the same number too, as with separate statements.
        if (prior === undefined || op.snapshot.sequenceNr >= prior.snapshot!.sequenceNr) {
          snapshotsByEntity.set(id, op);
        }
        continue;
      }
      const known = highest.get(id) ?? fresh.get(id) ?? this.#highestCache.get(id) ?? 0;
      const conflict = conflictOf(op, known);
      if (conflict) {
        if (!highest.has(id) && !fresh.has(id)) staleSuspects.add(id);
        conflicts.set(i, new JournalConflictError(id, conflict[0], conflict[1]));
        continue;
      }
      events.push(op.text && !this.#textEvents ? rowsAsBytes(op.rows!) : op.rows!);
      highest.set(id, op.first + op.count - 1);
    }
    const snapshots: string[] = [];
    for (const op of snapshotsByEntity.values()) {
      snapshots.push(jsonRow(JSON.stringify(op.entityId), op.snapshot!, op.state!));
    }
    return { highest, conflicts, staleSuspects, events, snapshots };
  }

  async #commit(plan: Plan): Promise<void> {
    const t = this.#t;
    // One statement, so one transaction on whichever connection the client picks: the events
    // as one multi-row INSERT and the snapshots as one upsert (both, in one statement, when the
    // batch has both). The batch travels as text parameters holding JSON, which every client
    // passes the same way (no array or bytea binding differences between drivers). Every
    // parameter is declared text (`$1::text::json`): a client that learns a parameter's type
    // from the server (postgres) would otherwise JSON-encode a string meant as json, or reject a
    // string meant as int8.
    const insertEvents = `INSERT INTO ${t.events} (entity_id, sequence_nr, "timestamp", event) ` +
      "SELECT i, s, t, coalesce(convert_to(u, 'UTF8'), decode(b, 'base64')) " +
      "FROM json_to_recordset($1::text::json) AS x(i text, s int8, t float8, u text, b text)";
    const upsertSnapshots = (param: string) =>
      `INSERT INTO ${t.snapshots} (entity_id, sequence_nr, "timestamp", state) ` +
      `SELECT i, s, t, decode(b, 'base64') FROM json_to_recordset(${param}::text::json) ` +
      "AS y(i text, s int8, t float8, b text) " +
      `ON CONFLICT (entity_id) DO UPDATE SET sequence_nr = excluded.sequence_nr, ` +
      `"timestamp" = excluded."timestamp", state = excluded.state ` +
      `WHERE excluded.sequence_nr >= ${t.snapshots}.sequence_nr`;
    const events = `[${plan.events.join(",")}]`;
    const snapshots = `[${plan.snapshots.join(",")}]`;
    if (plan.snapshots.length === 0) {
      await this.#run(insertEvents, [events]);
    } else if (plan.events.length === 0) {
      await this.#run(upsertSnapshots("$1"), [snapshots]);
    } else {
      await this.#run(
        `WITH ev AS (${insertEvents}), sn AS (${upsertSnapshots("$2")}) SELECT 1 AS done`,
        [events, snapshots],
      );
    }
  }

  async #readHighest(ids: Set<string>, into: Map<string, number>): Promise<void> {
    const rows = await this.#run(
      `SELECT entity_id, max(sequence_nr) AS highest FROM ${this.#t.events} ` +
        "WHERE entity_id IN (SELECT json_array_elements_text($1::text::json)) GROUP BY entity_id",
      [JSON.stringify([...ids])],
    );
    for (const id of ids) into.set(id, 0);
    for (const row of rows) into.set(String(row.entity_id), Number(row.highest));
  }

  // Creates or checks the tables once; a failure is reported to the calls that needed them and
  // retried by the next call (the server may be back by then).
  #setUp(): Promise<void> {
    this.#ready ??= this.#createTables().catch((err) => {
      this.#ready = undefined;
      throw err;
    });
    return this.#ready;
  }

  async #createTables(): Promise<void> {
    const t = this.#t;
    const schema = this.#schema;
    try {
      // A DO block is one statement: the advisory lock keeps processes that start together from
      // racing on CREATE, and the existence checks avoid IF NOT EXISTS notices in client logs.
      await this.#run(
        `DO $casty$ BEGIN
          PERFORM pg_advisory_xact_lock(hashtext('casty_journal:${schema}'));
          IF NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = '${schema}') THEN
            CREATE SCHEMA "${schema}";
          END IF;
          IF to_regclass('${t.version}') IS NULL THEN
            CREATE TABLE ${t.version} (version integer NOT NULL);
          END IF;
          IF NOT EXISTS (SELECT 1 FROM ${t.version}) THEN
            CREATE TABLE ${t.events} (
              entity_id text NOT NULL,
              sequence_nr int8 NOT NULL,
              "timestamp" float8 NOT NULL,
              event bytea NOT NULL,
              PRIMARY KEY (entity_id, sequence_nr)
            );
            CREATE TABLE ${t.snapshots} (
              entity_id text NOT NULL PRIMARY KEY,
              sequence_nr int8 NOT NULL,
              "timestamp" float8 NOT NULL,
              state bytea NOT NULL
            );
            INSERT INTO ${t.version} (version) VALUES (${SCHEMA_VERSION});
          END IF;
        END $casty$`,
        [],
      );
      const rows = await this.#run(
        `SELECT max(version) AS version, current_setting('server_encoding') AS encoding ` +
          `FROM ${t.version}`,
        [],
      );
      const version = Number(rows[0]?.version ?? 0);
      // Events travel as JSON text only where the server keeps UTF-8 text as is; elsewhere a
      // character outside the database's encoding would fail a whole batch.
      this.#textEvents = rows[0]?.encoding === "UTF8";
      if (version > SCHEMA_VERSION) {
        throw new JournalError(
          "JOURNAL_OPEN",
          `Cannot open journal in ${this.#name}: schema version ${version} is newer than the supported version ${SCHEMA_VERSION}`,
        );
      }
    } catch (err) {
      if (err instanceof JournalError && err.code === "JOURNAL_OPEN") throw err;
      throw new JournalError(
        "JOURNAL_OPEN",
        `Cannot open journal in ${this.#name}: ${errorText(err)}`,
        { cause: err },
      );
    }
  }

  async #read(
    text: string,
    params: (string | null)[],
    action: string,
  ): Promise<readonly Record<string, unknown>[]> {
    await this.#setUp();
    try {
      return await this.#run(text, params);
    } catch (err) {
      throw new JournalError(
        "JOURNAL_READ",
        `Cannot ${action} from ${this.#name}: ${errorText(err)}`,
        {
          cause: err,
        },
      );
    }
  }

  // Runs one statement, bounded by the timeout. A statement that outlives it is abandoned, not
  // cancelled: its outcome is ignored, and its calls were already reported as failed.
  #run(text: string, params: (string | null)[]): Promise<readonly Record<string, unknown>[]> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const answer = Promise.resolve().then(() => this.#client.query(text, params));
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer from the server after ${this.#timeout} ms`)),
        this.#timeout,
      );
    });
    answer.then(() => {}, () => {});
    return Promise.race([answer, expired]).then((rows) => {
      clearTimeout(timer);
      if (!Array.isArray(rows)) {
        throw new TypeError(`sql.query() must resolve with an array of rows, got ${typeof rows}`);
      }
      return rows;
    }, (err) => {
      clearTimeout(timer);
      throw err;
    });
  }

  #decode(value: unknown, what: string): unknown {
    return decodeStored(
      this.#serializer,
      this.#resolveRef,
      toBytes(value, what, this.#name),
      what,
      this.#name,
    );
  }

  #checkOpen(action: string): void {
    if (this.#closed) {
      throw new JournalError(
        "JOURNAL_CLOSED",
        `Cannot ${action}: journal in ${this.#name} is closed`,
      );
    }
  }
}

interface Plan {
  /** The highest number each entity reaches when the batch commits. */
  readonly highest: Map<string, number>;
  /** Rejections by index in the batch. */
  readonly conflicts: Map<number, JournalConflictError>;
  /** Entities rejected on a cached number only. */
  readonly staleSuspects: Set<string>;
  /** JSON rows of the accepted calls' events, one string per call. */
  readonly events: string[];
  /** JSON rows of the snapshots, one per entity. */
  readonly snapshots: string[];
}

// Why bytea and not jsonb: the serializer is pluggable and may produce any bytes, and even the
// tagged JSON would not survive jsonb intact — jsonb reorders and de-duplicates object keys and
// rejects "\u0000" inside strings, so an event holding a NUL character could never be stored.
// bytea keeps exactly the bytes SqliteJournal keeps, costs the server no parsing, and stays
// readable for ad-hoc queries with convert_from(event, 'UTF8')::jsonb.
// Uint8Array.prototype.toBase64 (ES2026) where the runtime has it: no Buffer to allocate, about
// a third cheaper per event on Deno and Bun.
const toBase64: ((bytes: Uint8Array) => string) | undefined =
  typeof (Uint8Array.prototype as { toBase64?: unknown }).toBase64 === "function"
    ? (bytes) => (bytes as unknown as { toBase64(): string }).toBase64()
    : undefined;

function base64(bytes: Uint8Array): string {
  if (toBase64 !== undefined) return toBase64(bytes);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

// The first number of a call that breaks `known + 1, + 2, …`, with the number expected there
// (findConflict of journal_support, on the numbers a queued call keeps).
function conflictOf(op: Pending, known: number): [number, number] | undefined {
  if (op.gapped === undefined) return op.first === known + 1 ? undefined : [op.first, known + 1];
  for (let i = 0; i < op.gapped.length; i++) {
    if (op.gapped[i] !== known + 1 + i) return [op.gapped[i], known + 1 + i];
  }
  return undefined;
}

// The rows of one persist call with each event as its JSON text ("u", stored as its UTF-8 bytes
// by convert_to: exactly what serialize returns), or undefined when the serializer has no text
// form. Skipping the UTF-8 bytes and their base64 makes an event ~14% cheaper in JavaScript on
// Deno (about even on Bun), and the server's statement ~15% cheaper (it unescapes one JSON
// string instead of decoding base64; bench/postgres_ab.ts). The text holds no NUL (escaped).
function textRows(
  serializer: Serializer,
  entityId: string,
  id: string,
  events: readonly PersistedEvent[],
): string | undefined {
  let rows = "";
  for (let i = 0; i < events.length; i++) {
    const item = events[i];
    let text: string | undefined;
    try {
      text = serializedText(serializer, item.event);
    } catch (err) {
      throw new SerializationError(
        `Cannot persist events for "${entityId}": event ${item.sequenceNr} is not serializable: ${
          errorText(err)
        }`,
        { cause: err },
      );
    }
    if (text === undefined) return undefined;
    const row = `{"i":${id},"s":${item.sequenceNr},"t":${item.timestamp},"u":${
      JSON.stringify(text)
    }}`;
    rows = i === 0 ? row : `${rows},${row}`;
  }
  return rows;
}

const utf8 = new TextEncoder();

// Text rows (queued before the server's encoding was known) as base64 rows.
function rowsAsBytes(rows: string): string {
  const parsed = JSON.parse(`[${rows}]`) as { i: string; s: number; t: number; u: string }[];
  return parsed.map((row) =>
    jsonRow(JSON.stringify(row.i), { sequenceNr: row.s, timestamp: row.t }, utf8.encode(row.u))
  ).join(",");
}

function bytesRows(id: string, events: readonly PersistedEvent[], bytes: Uint8Array[]): string {
  let rows = jsonRow(id, events[0], bytes[0]);
  for (let i = 1; i < events.length; i++) rows += `,${jsonRow(id, events[i], bytes[i])}`;
  return rows;
}

// One row for json_to_recordset(...) AS (i text, s int8, t float8, b text), written by hand:
// `id` is already JSON, the numbers are safe integers and finite (validated), base64 needs no
// escaping.
function jsonRow(
  id: string,
  item: { readonly sequenceNr: number; readonly timestamp: number },
  bytes: Uint8Array,
): string {
  return `{"i":${id},"s":${item.sequenceNr},"t":${item.timestamp},"b":"${base64(bytes)}"}`;
}

// Clients return bytea as a Buffer (pg, postgres, Bun.sql); a client without type parsing
// returns PostgreSQL's hex text form.
function toBytes(value: unknown, what: string, name: string): Uint8Array {
  if (value instanceof Uint8Array) return value;
  if (typeof value === "string" && value.startsWith("\\x")) {
    return Buffer.from(value.slice(2), "hex");
  }
  throw new SerializationError(
    `Cannot decode ${what} from ${name}: the client returned ${typeof value} for a bytea column`,
  );
}

// PostgreSQL text cannot hold NUL; refusing it here keeps one bad id from failing a whole batch.
function checkText(entityId: string, action: string): void {
  if (entityId.includes("\0")) {
    throw new TypeError(`Cannot ${action}: an entity id for PostgreSQL cannot contain NUL (\\0)`);
  }
}

// SQLSTATE 23505, as the common clients expose it (pg and postgres: code; Bun.sql: errno).
function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: unknown; errno?: unknown; sqlState?: unknown } | null;
  return e?.code === "23505" || e?.errno === "23505" || e?.sqlState === "23505";
}
