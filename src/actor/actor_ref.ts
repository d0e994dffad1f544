/**
 * Typed references to actors.
 *
 * @module
 */

/** Brand carried by every actor reference, local or remote (see {@linkcode isActorRef}). */
export const ACTOR_REF: unique symbol = Symbol.for("casty.ActorRef") as never;

/**
 * A typed, location-transparent handle to an actor. Refs are values: they can be put inside
 * messages, compared by {@linkcode ActorRef.address}, and sent across the network.
 *
 * @typeParam M The messages the actor accepts.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ActorSystem, Behaviors, type ActorRef } from "@casty/casty";
 * await using system = new ActorSystem({ name: "demo" });
 * const ref: ActorRef<string> = system.spawn(Behaviors.ignore<string>(), "sink");
 * ref.tell("hello");
 * assert.equal(ref.path, "/sink");
 * ```
 */
export interface ActorRef<M> {
  /** Brand; always `true`. */
  readonly [ACTOR_REF]: true;
  /** The actor's path within its system, such as `/account` or `/parent/child`. */
  readonly path: string;
  /**
   * The actor's URI: `casty://system/path` locally, `casty://system@host:port/path` once
   * the system is clustered.
   */
  readonly address: string;
  /**
   * Sends a message, fire-and-forget. A message that cannot be delivered becomes a
   * `DeadLetter` on the event stream.
   *
   * @throws {MailboxFullError} when the mailbox is full and uses `"backpressure"`.
   */
  tell(msg: M): void;
  /**
   * Sends a message, waiting for room when the mailbox is full and uses `"backpressure"`.
   * For every other mailbox it is the same as {@linkcode ActorRef.tell}.
   */
  send(msg: M): Promise<void>;
}

/**
 * Tells whether a value is an {@linkcode ActorRef}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isActorRef } from "@casty/casty";
 * assert.ok(!isActorRef({ path: "/x" }));
 * ```
 */
export function isActorRef(value: unknown): value is ActorRef<unknown> {
  return typeof value === "object" && value !== null &&
    (value as Record<symbol, unknown>)[ACTOR_REF] === true;
}
