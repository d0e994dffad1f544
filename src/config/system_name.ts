/**
 * The one rule for an actor system's name, shared by `casty.toml` (`[system] name`),
 * `new ActorSystem({ name })` and actor URIs (`casty://name@host:port/path`), so a name the
 * file accepts is a name the system and its addresses accept.
 *
 * @module
 */

const SYSTEM_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

/** What a valid system name looks like, for error messages. */
export const SYSTEM_NAME_RULE: string =
  'letters, digits, "-" or "_", starting with a letter or digit';

/**
 * Whether a string is a valid actor system name: letters, digits, `-` or `_`, starting with
 * a letter or digit (it appears in every actor URI, `casty://name@host:port/path`).
 *
 * @param name The candidate name.
 * @returns `true` when the name is valid.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isSystemName } from "@casty/casty/config";
 * assert.equal(isSystemName("my-app"), true);
 * assert.equal(isSystemName("my.app"), false);
 * assert.equal(isSystemName(""), false);
 * ```
 */
export function isSystemName(name: string): boolean {
  return SYSTEM_NAME.test(name);
}
