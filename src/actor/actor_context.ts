/**
 * What a behavior sees of its actor.
 *
 * @module
 */
import type { ActorRef } from "./actor_ref.ts";
import type { ActorSystem } from "./actor_system.ts";
import type { Behavior } from "./behaviors.ts";
import type { Logger } from "./logger.ts";
import type { Mailbox } from "./mailbox.ts";

/** Options of `spawn`. */
export interface SpawnOptions {
  /**
   * The actor's mailbox.
   * @default {Mailbox.unbounded}
   */
  mailbox?: Mailbox;
}

/**
 * The actor's view of itself and the system, passed to every handler and hook.
 *
 * @typeParam M The messages the actor accepts.
 *
 * @example Spawning and watching a child
 * ```ts
 * import { ActorSystem, Behaviors, Terminated } from "@casty/casty";
 * type Msg = { type: "start" } | Terminated;
 * const parent = Behaviors.receive<Msg>((ctx, msg) => {
 *   if (msg.type === "start") {
 *     const child = ctx.spawn(Behaviors.stopped<string>(), "child");
 *     ctx.watch(child);
 *   } else {
 *     ctx.log.info(`child ${msg.ref.path} stopped`);
 *   }
 * });
 * await using system = new ActorSystem({ logLevel: "warn" });
 * system.spawn(parent, "parent").tell({ type: "start" });
 * ```
 */
export interface ActorContext<M> {
  /** This actor's own ref. */
  readonly self: ActorRef<M>;
  /** The system the actor runs in. */
  readonly system: ActorSystem;
  /** A logger whose lines name this actor. */
  readonly log: Logger;
  /** The parent's ref; `undefined` for a root actor. */
  readonly parent: ActorRef<never> | undefined;
  /** Refs of the live children. */
  readonly children: readonly ActorRef<never>[];
  /** The live child with this name, if any. */
  child(name: string): ActorRef<never> | undefined;
  /**
   * Spawns a child. Names are unique among live siblings.
   *
   * @throws {ActorNameTakenError} when a live child already has the name.
   */
  spawn<C>(behavior: Behavior<C>, name: string, options?: SpawnOptions): ActorRef<C>;
  /**
   * Stops a child (its children first, then its `postStop`).
   *
   * @throws {TypeError} when `child` is not a child of this actor.
   */
  stop(child: ActorRef<never>): void;
  /**
   * Watches an actor: when it stops, this actor receives a `Terminated` message. Watching an
   * actor that has already stopped delivers `Terminated` at once.
   */
  watch(ref: ActorRef<never>): void;
  /** Stops watching; no `Terminated` for that actor is delivered afterwards. */
  unwatch(ref: ActorRef<never>): void;
  /**
   * Sends the outcome of a promise to this actor as a message. Without `onFailure`, a
   * rejection fails the actor (its supervisor decides what happens).
   */
  pipeToSelf<T>(
    promise: Promise<T>,
    onSuccess: (value: T) => M,
    onFailure?: (error: unknown) => M,
  ): void;
}
