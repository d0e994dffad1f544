/**
 * The errors of the cluster and of the features built on it (replication, distributed data):
 * each moves to its feature's folder when that folder exists.
 *
 * @module
 */

import { CastyError, type CastyErrorOptions } from "../config/errors.ts";

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
