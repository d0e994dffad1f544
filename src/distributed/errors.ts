/**
 * Errors of the distributed data structures.
 *
 * @module
 */

/** Stable codes of {@linkcode DistributedError}. */
export type DistributedErrorCode =
  | "BAD_ARGUMENT"
  | "BAD_REQUEST"
  | "UNKNOWN_OPERATION"
  | "JOURNAL_MISMATCH"
  | "PERMITS_MISMATCH"
  | "ACQUIRE_TIMEOUT"
  | "BARRIER_TIMEOUT"
  | "BARRIER_BROKEN";

/**
 * An operation on a distributed structure was refused (bad input, or a conflicting definition).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DistributedError } from "@casty/casty/distributed";
 * const err = new DistributedError("BAD_ARGUMENT", "Cannot increment: expected a safe integer, got x");
 * assert.equal(err.name, "DistributedError");
 * assert.equal(err.code, "BAD_ARGUMENT");
 * ```
 */
export class DistributedError extends Error {
  /** A stable code. */
  readonly code: DistributedErrorCode;
  /**
   * Creates the error.
   *
   * @param code A stable code.
   * @param message What went wrong.
   */
  constructor(code: DistributedErrorCode, message: string) {
    super(message);
    this.name = "DistributedError";
    this.code = code;
  }
}
