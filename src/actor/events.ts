/**
 * Events published on the event stream, and the `Terminated` message of death watch.
 *
 * @module
 */
import type { ActorRef } from "./actor_ref.ts";

/**
 * Delivered to a watcher when an actor it watches stops (see `ActorContext.watch`).
 *
 * @example
 * ```ts
 * import { Terminated, type ActorRef } from "@casty/casty";
 * type ManagerMsg = { type: "hire"; name: string } | Terminated;
 * const describe = (msg: ManagerMsg) => msg.type === "terminated" ? msg.ref.path : msg.name;
 * ```
 */
export class Terminated {
  /** Discriminant. */
  readonly type = "terminated" as const;
  /**
   * Creates a Terminated.
   *
   * @param ref The actor that stopped.
   */
  constructor(readonly ref: ActorRef<never>) {}
}

/** Base class of every event about an actor's lifecycle. */
export abstract class ActorEvent {
  /**
   * Creates a ActorEvent.
   *
   * @param ref The actor the event is about.
   */
  constructor(readonly ref: ActorRef<never>) {}
}

/**
 * An actor started (after its setup and `preStart`).
 *
 * @example
 * ```ts
 * import { ActorStarted, ActorSystem } from "@casty/casty";
 * await using system = new ActorSystem();
 * const off = system.eventStream.subscribe(ActorStarted, (e) => console.log(e.ref.path));
 * off();
 * ```
 */
export class ActorStarted extends ActorEvent {
  /** Discriminant. */
  readonly type = "actorStarted" as const;
}

/**
 * An actor stopped (after its children and `postStop`).
 *
 * @example
 * ```ts
 * import { ActorStopped, ActorSystem } from "@casty/casty";
 * await using system = new ActorSystem();
 * system.eventStream.subscribe(ActorStopped, (e) => console.log("stopped", e.ref.path));
 * ```
 */
export class ActorStopped extends ActorEvent {
  /** Discriminant. */
  readonly type = "actorStopped" as const;
}

/**
 * An actor was restarted by its supervisor (or by returning `Behaviors.restart()`).
 *
 * @example
 * ```ts
 * import { ActorRestarted, ActorSystem } from "@casty/casty";
 * await using system = new ActorSystem();
 * system.eventStream.subscribe(ActorRestarted, (e) => console.log(e.error));
 * ```
 */
export class ActorRestarted extends ActorEvent {
  /** Discriminant. */
  readonly type = "actorRestarted" as const;
  /**
   * Creates a ActorRestarted.
   *
   * @param ref The restarted actor.
   * @param error The error that caused the restart (`undefined` for an explicit restart).
   */
  constructor(ref: ActorRef<never>, readonly error: unknown) {
    super(ref);
  }
}

/** Why a message became a dead letter. */
export type DeadLetterReason =
  | "stopped"
  | "mailboxFull"
  | "lateReply"
  | "unknownPath"
  | "serialization"
  | "undeliverable"
  | "shutdown";

/**
 * A message that could not be delivered. Nothing in casty is dropped silently: every lost
 * message is published as a `DeadLetter`.
 *
 * @example
 * ```ts
 * import { ActorSystem, DeadLetter } from "@casty/casty";
 * await using system = new ActorSystem();
 * system.eventStream.subscribe(DeadLetter, (d) => console.log(d.reason, d.message));
 * ```
 */
export class DeadLetter {
  /** Discriminant. */
  readonly type = "deadLetter" as const;
  /**
   * Creates a DeadLetter.
   *
   * @param message The undelivered message.
   * @param recipient The intended recipient (a ref, or a path/URI when no ref exists).
   * @param reason Why it was not delivered.
   * @param detail Optional human-readable detail.
   */
  constructor(
    readonly message: unknown,
    readonly recipient: ActorRef<never> | string,
    readonly reason: DeadLetterReason,
    readonly detail?: string,
  ) {}
}

/**
 * A handler returned `Behaviors.unhandled()` for a message.
 *
 * @example
 * ```ts
 * import { ActorSystem, UnhandledMessage } from "@casty/casty";
 * await using system = new ActorSystem();
 * system.eventStream.subscribe(UnhandledMessage, (u) => console.log(u.message));
 * ```
 */
export class UnhandledMessage extends ActorEvent {
  /** Discriminant. */
  readonly type = "unhandledMessage" as const;
  /**
   * Creates a UnhandledMessage.
   *
   * @param ref The actor that did not handle the message.
   * @param message The message.
   */
  constructor(ref: ActorRef<never>, readonly message: unknown) {
    super(ref);
  }
}
