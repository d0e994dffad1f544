/**
 * The base of casty's domain errors, and the error of this folder: {@linkcode ConfigError}.
 *
 * `CastyError` lives here because config is the lowest layer (config ← actor ← …): every
 * layer extends it and owns its own errors (actor/errors.ts, serialization/errors.ts,
 * cluster/errors.ts, persistence/journal.ts, remote/address.ts).
 *
 * @module
 */

/** Options shared by casty errors. */
export interface CastyErrorOptions {
  /** The underlying failure, if any. */
  cause?: unknown;
}

/**
 * Base class of casty's domain errors.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AskTimeoutError, CastyError } from "@casty/casty";
 * const err = new AskTimeoutError("/a", 100);
 * assert.ok(err instanceof CastyError && err.code === "ASK_TIMEOUT");
 * ```
 */
export class CastyError extends Error {
  /** A stable, machine-readable code such as `"ASK_TIMEOUT"`. */
  readonly code: string;
  /**
   * Creates a CastyError.
   *
   * @param code Stable error code.
   * @param message Human-readable message.
   * @param options Optional cause.
   */
  constructor(code: string, message: string, options?: CastyErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = "CastyError";
  }
}

/**
 * A configuration key or value is invalid, or a config file is missing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConfigError } from "@casty/casty";
 * const err = new ConfigError("cluster.port", "must be an integer");
 * assert.equal(err.key, "cluster.port");
 * ```
 */
export class ConfigError extends CastyError {
  /** The offending key, dotted (`cluster.gossip.interval`), or `""` for the file itself. */
  readonly key: string;
  /**
   * Creates a ConfigError.
   *
   * @param key The offending key.
   * @param reason Why it is invalid.
   * @param options Optional cause.
   */
  constructor(key: string, reason: string, options?: CastyErrorOptions) {
    super("CONFIG", key ? `Invalid config key "${key}": ${reason}` : reason, options);
    this.name = "ConfigError";
    this.key = key;
  }
}
