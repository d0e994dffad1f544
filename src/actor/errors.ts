/**
 * The errors of the actor layer. `CastyError`, the base of every casty error, lives in the
 * lowest layer (config/errors.ts) and is re-exported here for the layers that extend it.
 *
 * @module
 */

import { CastyError } from "../config/errors.ts";

export { CastyError, type CastyErrorOptions } from "../config/errors.ts";

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
