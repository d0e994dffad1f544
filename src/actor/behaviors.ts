/**
 * Behaviors are values: a behavior describes how an actor handles its next message, and
 * returning a new behavior from a handler is a state transition.
 *
 * @module
 */
import type { ActorContext } from "./actor_context.ts";
import type { ActorRef } from "./actor_ref.ts";
import type { SupervisionStrategy } from "./supervision.ts";

/** What a message handler may return: the next behavior, or nothing to keep the current one. */
export type BehaviorResult<M> = Behavior<M> | void | undefined;

/** A message handler. It may be sync (fast path) or async. */
export type MessageHandler<M> = (
  ctx: ActorContext<M>,
  msg: M,
) => BehaviorResult<M> | Promise<BehaviorResult<M>>;

/** Runs when an actor starts (and after each restart) and returns its real behavior. */
export type SetupFactory<M> = (ctx: ActorContext<M>) => Behavior<M> | Promise<Behavior<M>>;

/** Lifecycle hooks for {@linkcode Behaviors.withLifecycle}. All may be async. */
export interface LifecycleHooks<M> {
  /** Runs before the first message. */
  preStart?: (ctx: ActorContext<M>) => void | Promise<void>;
  /** Runs once after the last message, after the children have stopped. */
  postStop?: (ctx: ActorContext<M>) => void | Promise<void>;
  /**
   * Runs on the failing incarnation before a restart, with the error (`undefined` for an
   * explicit {@linkcode Behaviors.restart}). When absent, `postStop` runs instead.
   */
  preRestart?: (ctx: ActorContext<M>, error: unknown) => void | Promise<void>;
  /**
   * Runs on the new incarnation after a restart, before its first message. When absent,
   * `preStart` runs instead.
   */
  postRestart?: (ctx: ActorContext<M>) => void | Promise<void>;
}

/** Options for {@linkcode Behaviors.spy}. */
export interface SpyOptions {
  /**
   * Also spy on every child this actor spawns (and their children).
   * @default {false}
   */
  spyChildren?: boolean;
}

/**
 * What {@linkcode Behaviors.spy} reports after each message an actor handles.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SpyEvent } from "@casty/casty";
 * const e = new SpyEvent("/a", "hello", 0);
 * assert.equal(e.actorPath, "/a");
 * ```
 */
export class SpyEvent<M = unknown> {
  /** Discriminant. */
  readonly type = "spy" as const;
  /**
   * Creates a SpyEvent.
   *
   * @param actorPath Path of the spied actor.
   * @param event The message it handled.
   * @param timestamp Monotonic milliseconds of the system clock.
   */
  constructor(
    readonly actorPath: string,
    readonly event: M,
    readonly timestamp: number,
  ) {}
}

/** @internal The behavior kinds the actor cell interprets. */
export type BehaviorKind =
  | "receive"
  | "setup"
  | "same"
  | "stopped"
  | "unhandled"
  | "restart"
  | "supervise"
  | "lifecycle"
  | "spy"
  | "persisted"
  | "marker";

/**
 * A description of how an actor handles messages. Build behaviors with
 * {@linkcode Behaviors}; they are immutable values and can be shared and composed.
 *
 * @typeParam M The messages the actor accepts.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Behaviors, type Behavior } from "@casty/casty";
 * const counter = (n = 0): Behavior<"inc"> => Behaviors.receive(() => counter(n + 1));
 * assert.equal(counter().kind, "receive");
 * ```
 */
export class Behavior<M> {
  /** Phantom member that carries the message type; never set at run time. */
  declare readonly __message?: (msg: M) => void;
  /**
   * Creates a Behavior.
   *
   * @param kind What sort of behavior this is.
   * @param payload The data the kind needs (handler, factory, wrapped behavior, …).
   */
  constructor(readonly kind: BehaviorKind, readonly payload?: unknown) {}
}

/** @internal Payload of a `supervise` behavior. */
export interface SupervisePayload {
  readonly inner: Behavior<unknown>;
  readonly strategy: SupervisionStrategy;
}
/** @internal Payload of a `lifecycle` behavior. */
export interface LifecyclePayload {
  readonly inner: Behavior<unknown>;
  readonly hooks: LifecycleHooks<unknown>;
}
/** @internal Payload of a `spy` behavior. */
export interface SpyPayload {
  readonly inner: Behavior<unknown>;
  readonly observer: ActorRef<SpyEvent<unknown>>;
  readonly spyChildren: boolean;
}

/** Options of {@linkcode Behaviors.persisted}. */
export interface PersistedOptions<S> {
  /** Runs with the new state once the events are durable (and replicated, if configured). */
  reply?: (state: S) => void;
  /**
   * Runs instead of `reply` when the events are durable locally but could not be confirmed
   * (a replicated entity that did not collect `minAcks` acknowledgements in time gets a
   * `QuorumNotReachedError`); without it such a failure fails the actor and nobody is told.
   * It also runs when a sharded entity's write is refused because its node's shard lease ran out
   * after the command arrived (nothing was written; the command is a `DeadLetter`, the entity
   * stops).
   */
  onFailure?: (error: Error) => void;
  /** The behavior after persisting; only {@linkcode Behaviors.stopped} changes anything. */
  then?: Behavior<unknown>;
}

/** @internal Payload of a `persisted` behavior. */
export interface PersistedPayload {
  readonly events: readonly unknown[];
  readonly reply?: (state: unknown) => void;
  readonly onFailure?: (error: Error) => void;
  readonly then?: Behavior<unknown>;
}

const SAME = new Behavior<never>("same");
const STOPPED = new Behavior<never>("stopped");
const UNHANDLED = new Behavior<never>("unhandled");
const RESTART = new Behavior<never>("restart");
const IGNORE = new Behavior<never>("receive", () => SAME);

/** The factories of {@linkcode Behaviors} for local actors. */
export interface ActorBehaviors {
  /**
   * A behavior that handles each message with `handler`. Returning `undefined` or
   * {@linkcode Behaviors.same} keeps the behavior; returning another behavior replaces it.
   */
  receive<M>(handler: MessageHandler<M>): Behavior<M>;
  /** A behavior built when the actor starts (and again after each restart). */
  setup<M>(factory: SetupFactory<M>): Behavior<M>;
  /** Keep the current behavior. */
  same<M>(): Behavior<M>;
  /** Stop the actor after this message (children first, then `postStop`). */
  stopped<M>(): Behavior<M>;
  /** The message was not handled: publishes an `UnhandledMessage` and keeps the behavior. */
  unhandled<M>(): Behavior<M>;
  /** Restart the actor: stop its children and run its initial behavior again. */
  restart<M>(): Behavior<M>;
  /** A behavior that ignores every message. */
  ignore<M>(): Behavior<M>;
  /** Attach lifecycle hooks to a behavior. */
  withLifecycle<M>(behavior: Behavior<M>, hooks: LifecycleHooks<M>): Behavior<M>;
  /** Apply a supervision strategy to failures of this behavior. */
  supervise<M>(behavior: Behavior<M>, strategy: SupervisionStrategy): Behavior<M>;
  /** Report every handled message to `observer` as a {@linkcode SpyEvent}. */
  spy<M>(behavior: Behavior<M>, observer: ActorRef<SpyEvent<M>>, options?: SpyOptions): Behavior<M>;
  /**
   * From an event-sourced command handler: persist `events`, then apply them to the state.
   * `reply` runs only once the events are durable.
   */
  // deno-lint-ignore no-explicit-any
  persisted<M, S = any>(events: readonly unknown[], options?: PersistedOptions<S>): Behavior<M>;
}

/**
 * Factories for behaviors.
 *
 * @example A counter with functional state
 * ```ts
 * import assert from "node:assert/strict";
 * import { ActorSystem, Behaviors, type ActorRef, type Behavior } from "@casty/casty";
 * type Msg = { type: "inc" } | { type: "get"; replyTo: ActorRef<number> };
 * const counter = (n = 0): Behavior<Msg> =>
 *   Behaviors.receive((_ctx, msg) => {
 *     if (msg.type === "inc") return counter(n + 1);
 *     msg.replyTo.tell(n);
 *   });
 * await using system = new ActorSystem();
 * const ref = system.spawn(counter(), "counter");
 * ref.tell({ type: "inc" });
 * const n = await system.ask(ref, (replyTo) => ({ type: "get", replyTo }), { timeout: 1000 });
 * assert.equal(n, 1);
 * ```
 */
export const Behaviors: ActorBehaviors = {
  /**
   * A behavior that handles each message with `handler`. Returning `undefined` or
   * {@linkcode Behaviors.same} keeps the behavior; returning another behavior replaces it.
   */
  receive<M>(handler: MessageHandler<M>): Behavior<M> {
    return new Behavior<M>("receive", handler);
  },
  /** A behavior built when the actor starts (and again after each restart). */
  setup<M>(factory: SetupFactory<M>): Behavior<M> {
    return new Behavior<M>("setup", factory);
  },
  /** Keep the current behavior. */
  same<M>(): Behavior<M> {
    return SAME as Behavior<M>;
  },
  /** Stop the actor after this message (children first, then `postStop`). */
  stopped<M>(): Behavior<M> {
    return STOPPED as Behavior<M>;
  },
  /** The message was not handled: publishes an `UnhandledMessage` and keeps the behavior. */
  unhandled<M>(): Behavior<M> {
    return UNHANDLED as Behavior<M>;
  },
  /** Restart the actor: stop its children and run its initial behavior again. */
  restart<M>(): Behavior<M> {
    return RESTART as Behavior<M>;
  },
  /** A behavior that ignores every message. */
  ignore<M>(): Behavior<M> {
    return IGNORE as Behavior<M>;
  },
  /** Attach lifecycle hooks to a behavior. */
  withLifecycle<M>(behavior: Behavior<M>, hooks: LifecycleHooks<M>): Behavior<M> {
    return new Behavior<M>("lifecycle", { inner: behavior, hooks } as LifecyclePayload);
  },
  /** Apply a supervision strategy to failures of this behavior. */
  supervise<M>(behavior: Behavior<M>, strategy: SupervisionStrategy): Behavior<M> {
    return new Behavior<M>("supervise", { inner: behavior, strategy } as SupervisePayload);
  },
  /** Report every handled message to `observer` as a {@linkcode SpyEvent}. */
  spy<M>(
    behavior: Behavior<M>,
    observer: ActorRef<SpyEvent<M>>,
    options: SpyOptions = {},
  ): Behavior<M> {
    return new Behavior<M>("spy", {
      inner: behavior,
      observer,
      spyChildren: options.spyChildren ?? false,
    } as SpyPayload);
  },
  /**
   * From an event-sourced command handler: persist `events`, then apply them to the state.
   * `reply` runs only once the events are durable.
   */
  // deno-lint-ignore no-explicit-any
  persisted<M, S = any>(
    events: readonly unknown[],
    options: PersistedOptions<S> = {},
  ): Behavior<M> {
    return new Behavior<M>("persisted", {
      events,
      reply: options.reply as ((s: unknown) => void) | undefined,
      onFailure: options.onFailure,
      then: options.then,
    } as PersistedPayload);
  },
};
