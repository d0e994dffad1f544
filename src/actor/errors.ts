/**
 * The error classes casty throws. Each has a matching `name`, a stable `code` and,
 * where it wraps another failure, a `cause`.
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
 * An `ask` got no reply in time.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AskTimeoutError } from "@casty/casty";
 * const err = new AskTimeoutError("/account", 2000);
 * assert.equal(err.message, 'Cannot ask actor "/account": no reply after 2000 ms');
 * ```
 */
export class AskTimeoutError extends CastyError {
  /** Path of the actor that was asked. */
  readonly path: string;
  /** The timeout that expired, in milliseconds. */
  readonly timeout: number;
  /**
   * Creates a AskTimeoutError.
   *
   * @param path Path of the asked actor.
   * @param timeout Timeout in milliseconds.
   */
  constructor(path: string, timeout: number) {
    super("ASK_TIMEOUT", `Cannot ask actor "${path}": no reply after ${timeout} ms`);
    this.name = "AskTimeoutError";
    this.path = path;
    this.timeout = timeout;
  }
}

/**
 * A spawn used a name that a live sibling already has.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ActorNameTakenError } from "@casty/casty";
 * assert.equal(new ActorNameTakenError("/a").name, "ActorNameTakenError");
 * ```
 */
export class ActorNameTakenError extends CastyError {
  /** The path that is taken. */
  readonly path: string;
  /**
   * Creates a ActorNameTakenError.
   *
   * @param path The taken path.
   */
  constructor(path: string) {
    super("ACTOR_NAME_TAKEN", `Cannot spawn actor "${path}": the name is taken`);
    this.name = "ActorNameTakenError";
    this.path = path;
  }
}

/**
 * A `tell` to a full mailbox with the `"backpressure"` overflow strategy.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MailboxFullError } from "@casty/casty";
 * const err = new MailboxFullError("/worker", 10, { type: "job" });
 * assert.equal(err.capacity, 10);
 * ```
 */
export class MailboxFullError extends CastyError {
  /** Path of the actor whose mailbox is full. */
  readonly path: string;
  /** The mailbox capacity. */
  readonly capacity: number;
  /** The message that was not enqueued. */
  readonly unsent: unknown;
  /**
   * Creates a MailboxFullError.
   *
   * @param path Path of the actor.
   * @param capacity Mailbox capacity.
   * @param unsent The rejected message.
   */
  constructor(path: string, capacity: number, unsent: unknown) {
    super("MAILBOX_FULL", `Cannot tell actor "${path}": mailbox full (capacity ${capacity})`);
    this.name = "MailboxFullError";
    this.path = path;
    this.capacity = capacity;
    this.unsent = unsent;
  }
}

/**
 * A value could not be serialized or deserialized.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SerializationError } from "@casty/casty";
 * assert.equal(new SerializationError("bad").code, "SERIALIZATION");
 * ```
 */
export class SerializationError extends CastyError {
  /**
   * Creates a SerializationError.
   *
   * @param message What could not be (de)serialized and why.
   * @param options Optional cause.
   */
  constructor(message: string, options?: CastyErrorOptions) {
    super("SERIALIZATION", message, options);
    this.name = "SerializationError";
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

/**
 * A replicated write did not collect enough acknowledgements in time.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { QuorumNotReachedError } from "@casty/casty";
 * assert.equal(new QuorumNotReachedError("acc-1", 2, 1, 500).acks, 1);
 * ```
 */
export class QuorumNotReachedError extends CastyError {
  /** The entity whose write failed. */
  readonly entityId: string;
  /** Acknowledgements required. */
  readonly required: number;
  /** Acknowledgements received. */
  readonly acks: number;
  /**
   * Creates a QuorumNotReachedError.
   *
   * @param entityId Entity id.
   * @param required Acks required.
   * @param acks Acks received.
   * @param timeout Ack timeout in milliseconds.
   */
  constructor(entityId: string, required: number, acks: number, timeout: number) {
    super(
      "QUORUM_NOT_REACHED",
      `Cannot confirm write for entity "${entityId}": ${acks} of ${required} replica acks after ${timeout} ms`,
    );
    this.name = "QuorumNotReachedError";
    this.entityId = entityId;
    this.required = required;
    this.acks = acks;
  }
}

/**
 * The cluster cannot serve a request (no reachable member, not enough members, shut down).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ClusterUnavailableError } from "@casty/casty";
 * assert.equal(new ClusterUnavailableError("no members").name, "ClusterUnavailableError");
 * ```
 */
export class ClusterUnavailableError extends CastyError {
  /**
   * Creates a ClusterUnavailableError.
   *
   * @param message Why the cluster is unavailable.
   * @param options Optional cause.
   */
  constructor(message: string, options?: CastyErrorOptions) {
    super("CLUSTER_UNAVAILABLE", message, options);
    this.name = "ClusterUnavailableError";
  }
}

/**
 * A barrier participant expected a different number of parties than the others, or a
 * participant died while the round was waiting.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { BarrierMismatchError } from "@casty/casty";
 * assert.equal(new BarrierMismatchError("b", "expected 3, got 2").barrier, "b");
 * ```
 */
export class BarrierMismatchError extends CastyError {
  /** The barrier name. */
  readonly barrier: string;
  /**
   * Creates a BarrierMismatchError.
   *
   * @param barrier The barrier name.
   * @param reason What went wrong.
   */
  constructor(barrier: string, reason: string) {
    super("BARRIER_MISMATCH", `Barrier "${barrier}": ${reason}`);
    this.name = "BarrierMismatchError";
    this.barrier = barrier;
  }
}

/**
 * A lock or permit was released by someone who does not hold it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LockNotHeldError } from "@casty/casty";
 * assert.equal(new LockNotHeldError("deploy").lock, "deploy");
 * ```
 */
export class LockNotHeldError extends CastyError {
  /** The lock name. */
  readonly lock: string;
  /**
   * Creates a LockNotHeldError.
   *
   * @param lock The lock name.
   */
  constructor(lock: string) {
    super("LOCK_NOT_HELD", `Cannot release lock "${lock}": not the holder`);
    this.name = "LockNotHeldError";
    this.lock = lock;
  }
}
