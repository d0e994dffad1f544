// The slice of `node:sqlite` the journal uses, typed here because the project's @types/node
// (v20) does not declare that module. Deno and Bun both provide it at runtime.

// @ts-ignore: @types/node 20 has no "node:sqlite" declarations; the module exists at runtime
import * as sqlite from "node:sqlite";

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

/** The `DatabaseSync` constructor of `node:sqlite`. */
export const DatabaseSync: new (path: string) => DatabaseSync =
  (sqlite as { DatabaseSync: new (path: string) => DatabaseSync }).DatabaseSync;

/** Whether an error thrown by `node:sqlite` is a constraint violation (SQLITE_CONSTRAINT). */
export function isConstraintError(err: unknown): boolean {
  const errcode = (err as { errcode?: unknown })?.errcode;
  if (typeof errcode === "number") return (errcode & 0xff) === 19;
  return err instanceof Error && /constraint failed/i.test(err.message);
}
