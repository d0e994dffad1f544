/**
 * Local actors: behaviors as values, typed refs, supervision, lifecycle, event stream,
 * mailboxes and the scheduler.
 *
 * @example
 * ```ts
 * import { ActorSystem, Behaviors } from "@casty/casty/actor";
 * await using system = new ActorSystem({ name: "hello" });
 * const greeter = system.spawn(
 *   Behaviors.receive<string>((ctx, name) => ctx.log.info(`Hello, ${name}!`)),
 *   "greeter",
 * );
 * greeter.tell("Alice");
 * ```
 *
 * @module
 */
export { ACTOR_REF, type ActorRef, isActorRef } from "./actor_ref.ts";
export type { ActorContext, SpawnOptions } from "./actor_context.ts";
export {
  ActorSystem,
  type ActorSystemOptions,
  type ActorSystemStats,
  type ActorTreeStats,
  type AskFactory,
  type AskOptions,
  type ReplyOf,
} from "./actor_system.ts";
// The one `Behaviors` object (actor factories plus eventSourced) lives in the persistence
// layer, which the actor layer's code cannot import; this entry only re-exports it (see
// src/persistence/behaviors.ts). No code imports an entry, so the layers stay one-way.
export { Behaviors, type CastyBehaviors } from "../persistence/behaviors.ts";
export {
  type ActorBehaviors,
  Behavior,
  type BehaviorKind,
  type BehaviorResult,
  type LifecycleHooks,
  type LifecyclePayload,
  type MessageHandler,
  type PersistedOptions,
  type PersistedPayload,
  type SetupFactory,
  SpyEvent,
  type SpyOptions,
  type SpyPayload,
  type SupervisePayload,
} from "./behaviors.ts";
export { type Cancellable, type Clock, realClock } from "./clock.ts";
export {
  ActorNameTakenError,
  AskTimeoutError,
  CastyError,
  type CastyErrorOptions,
  MailboxFullError,
} from "./errors.ts";
export {
  ActorEvent,
  ActorRestarted,
  ActorStarted,
  ActorStopped,
  DeadLetter,
  type DeadLetterReason,
  Terminated,
  UnhandledMessage,
} from "./events.ts";
export { type EventClass, EventStream } from "./event_stream.ts";
export { consoleLogger, type Logger, type LogLevel } from "./logger.ts";
export { Mailbox, type MailboxOptions, type OverflowStrategy } from "./mailbox.ts";
export { Scheduler, type SchedulerOptions } from "./scheduler.ts";
export {
  type BackoffOptions,
  type Directive,
  OneForOneStrategy,
  type OneForOneStrategyOptions,
  type SupervisionStrategy,
} from "./supervision.ts";
