/**
 * A durable event journal on a PostgreSQL server: {@linkcode PostgresJournal}, for clusters
 * whose entities move between machines. casty adds no database driver: you pass your own client
 * behind the one-method {@linkcode SqlClient} interface.
 *
 * ```ts ignore
 * import postgres from "postgres";
 * import { PostgresJournal } from "@casty/casty/postgres";
 * const sql = postgres("postgres://app@db.internal/bank");
 * const journal = new PostgresJournal({
 *   sql: { query: (text, params) => sql.unsafe(text, params) },
 * });
 * ```
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PostgresJournal } from "@casty/casty/postgres";
 * const journal = new PostgresJournal({ sql: { query: () => Promise.resolve([]) }, schema: "bank" });
 * assert.equal(journal.schema, "bank");
 * await journal.close();
 * ```
 *
 * @module
 */

export {
  PostgresJournal,
  type PostgresJournalOptions,
  type PostgresJournalStats,
  type SqlClient,
} from "./postgres_journal.ts";
// The types PostgresJournal's signatures mention, so this entry documents itself.
export type {
  EventJournal,
  LoadOptions,
  PersistedEvent,
  Snapshot,
} from "../persistence/journal.ts";
export type { DurableJournalOptions, DurableJournalStats } from "../persistence/journal_support.ts";
export type { Serializer } from "../serialization/serialization.ts";
export { ACTOR_REF, type ActorRef } from "../actor/actor_ref.ts";
