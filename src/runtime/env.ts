/**
 * Reading environment variables on any runtime (`Deno.env`, else `process.env`).
 *
 * @module
 */

/**
 * The value of an environment variable, or `undefined` when it is unset, empty, or cannot be
 * read (such as Deno without `--allow-env`).
 *
 * @param name The variable.
 * @returns Its value.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readEnv } from "./env.ts";
 * assert.equal(readEnv("CASTY_SURELY_UNSET_VARIABLE"), undefined);
 * ```
 */
export function readEnv(name: string): string | undefined {
  const g = globalThis as {
    Deno?: { env: { get(name: string): string | undefined } };
    process?: { env: Record<string, string | undefined> };
  };
  try {
    const value = g.Deno !== undefined ? g.Deno.env.get(name) : g.process?.env[name];
    return value === undefined || value === "" ? undefined : value;
  } catch {
    return undefined;
  }
}
