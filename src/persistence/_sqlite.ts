// The slice of `node:sqlite` the journal uses, typed here because the project's @types/node
// (v20) does not declare that module. Deno and Bun both provide it at runtime.
//
// The module is loaded on the first open, not imported: `@casty/casty` re-exports SqliteJournal,
// and a program that only runs local actors must not load (or fail on) `node:sqlite`.
import process from "node:process";

/** A value SQLite can bind or return. */
export type SqliteValue = null | number | bigint | string | Uint8Array;

/** A prepared statement of `node:sqlite`. */
export interface StatementSync {
  run(...params: SqliteValue[]): { changes: number | bigint; lastInsertRowid: number | bigint };
  get(...params: SqliteValue[]): Record<string, SqliteValue> | undefined;
  all(...params: SqliteValue[]): Record<string, SqliteValue>[];
}

/** A synchronous SQLite connection of `node:sqlite`. */
export interface DatabaseSync {
  exec(sql: string): void;
  prepare(sql: string): StatementSync;
  close(): void;
}

type DatabaseSyncConstructor = new (path: string) => DatabaseSync;

let loaded: DatabaseSyncConstructor | undefined;

function load(): DatabaseSyncConstructor {
  const getBuiltinModule = (process as { getBuiltinModule?: (id: string) => unknown })
    .getBuiltinModule;
  const sqlite = typeof getBuiltinModule === "function"
    ? getBuiltinModule("node:sqlite") as { DatabaseSync?: DatabaseSyncConstructor } | undefined
    : undefined;
  if (typeof sqlite?.DatabaseSync !== "function") {
    throw new Error("node:sqlite is not available in this runtime (Deno 2.2+ or Bun 1.2+ has it)");
  }
  return sqlite.DatabaseSync;
}

/** Opens a connection, loading `node:sqlite` on first use. */
export function openDatabase(path: string): DatabaseSync {
  loaded ??= load();
  return new loaded(path);
}

/** The `DatabaseSync` constructor of `node:sqlite`, loaded when first called. */
export const DatabaseSync: DatabaseSyncConstructor = function DatabaseSync(path: string) {
  return openDatabase(path);
} as unknown as DatabaseSyncConstructor;

/** Whether an error thrown by `node:sqlite` is a constraint violation (SQLITE_CONSTRAINT). */
export function isConstraintError(err: unknown): boolean {
  const errcode = (err as { errcode?: unknown })?.errcode;
  if (typeof errcode === "number") return (errcode & 0xff) === 19;
  return err instanceof Error && /constraint failed/i.test(err.message);
}

/**
 * Whether an error means another connection holds a lock (SQLITE_BUSY or SQLITE_LOCKED). Deno
 * reports no `errcode`, only SQLite's message.
 */
export function isBusyError(err: unknown): boolean {
  const errcode = (err as { errcode?: unknown })?.errcode;
  if (typeof errcode === "number") return (errcode & 0xff) === 5 || (errcode & 0xff) === 6;
  return err instanceof Error && (err as { code?: unknown }).code === "ERR_SQLITE_ERROR" &&
    /database (table )?is locked/i.test(err.message);
}
