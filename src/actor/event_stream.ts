/**
 * The system-wide publish/subscribe bus.
 *
 * @module
 */
import { type ActorRef, isActorRef } from "./actor_ref.ts";
import { DeadLetter } from "./events.ts";
import type { Logger } from "./logger.ts";

/** A class of events (any constructor, abstract ones included). */
// deno-lint-ignore no-explicit-any
export type EventClass<E> = abstract new (...args: any[]) => E;

interface Subscription {
  readonly cls: EventClass<unknown>;
  readonly deliver: (event: unknown) => void;
  readonly ref?: ActorRef<never>;
}

/**
 * Publish/subscribe for events. Subscriptions are by class and match subclasses, so
 * subscribing to `ActorEvent` receives `ActorStarted`, `ActorStopped`, … A subscription
 * made with an actor's ref ends when that actor stops. A `DeadLetter` about a `DeadLetter`
 * (a subscriber that could not take one) is logged, never published: republishing it would
 * feed the same subscriber again.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ActorSystem, DeadLetter } from "@casty/casty";
 * await using system = new ActorSystem();
 * const seen: DeadLetter[] = [];
 * const unsubscribe = system.eventStream.subscribe(DeadLetter, (d) => seen.push(d));
 * system.eventStream.publish(new DeadLetter("hi", "/nobody", "unknownPath"));
 * unsubscribe();
 * assert.equal(seen.length, 1);
 * ```
 */
export class EventStream {
  #subs: Subscription[] = [];
  #wants = new Map<EventClass<unknown>, boolean>();
  #log: Logger | undefined;
  // Subscriptions by ref, so that a stopping actor's subscriptions are found in O(1).
  #byRef = new Map<ActorRef<never>, Subscription[]>();

  /**
   * Creates a EventStream.
   *
   * @param log Where failing subscribers are reported.
   */
  constructor(log?: Logger) {
    this.#log = log;
  }

  /**
   * Subscribes to events of class `cls` (and its subclasses).
   *
   * @param cls The event class.
   * @param handler A function, or an actor ref that is told each event.
   * @returns A function that removes this subscription.
   */
  subscribe<E>(cls: EventClass<E>, handler: ((event: E) => void) | ActorRef<E>): () => void {
    const deliver = isActorRef(handler)
      ? (e: unknown) => (handler as ActorRef<unknown>).tell(e)
      : (handler as (e: unknown) => void);
    const ref = isActorRef(handler) ? (handler as ActorRef<never>) : undefined;
    const sub: Subscription = { cls, deliver, ref };
    this.#subs = [...this.#subs, sub];
    this.#wants.clear();
    if (ref) {
      const list = this.#byRef.get(ref);
      if (list) list.push(sub);
      else this.#byRef.set(ref, [sub]);
    }
    return () => this.#remove([sub]);
  }

  /**
   * Removes every subscription made with `ref` (the actor system calls it when a local actor
   * stops, so a stopped actor is never told events again).
   *
   * @param ref The subscriber's ref.
   * @returns How many subscriptions were removed.
   */
  unsubscribeRef(ref: ActorRef<never>): number {
    if (this.#byRef.size === 0) return 0;
    const list = this.#byRef.get(ref);
    if (!list) return 0;
    this.#remove(list.slice());
    return list.length;
  }

  #remove(subs: Subscription[]): void {
    const gone = new Set(subs);
    const before = this.#subs.length;
    this.#subs = this.#subs.filter((s) => !gone.has(s));
    if (this.#subs.length === before) return;
    this.#wants.clear();
    for (const sub of subs) {
      if (!sub.ref) continue;
      const list = this.#byRef.get(sub.ref);
      if (!list) continue;
      const i = list.indexOf(sub);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.#byRef.delete(sub.ref);
    }
  }

  /** Whether anything subscribes to events of `cls` (or a superclass of it). */
  hasSubscribers(cls: EventClass<unknown>): boolean {
    let wants = this.#wants.get(cls);
    if (wants === undefined) {
      wants = this.#subs.some((s) => s.cls === cls || cls.prototype instanceof s.cls);
      this.#wants.set(cls, wants);
    }
    return wants;
  }

  /** Publishes an event to every matching subscriber. A throwing subscriber is logged. */
  publish(event: object): void {
    if (event instanceof DeadLetter && event.message instanceof DeadLetter) {
      const inner = event.message;
      const to = typeof event.recipient === "string" ? event.recipient : event.recipient.path;
      const about = typeof inner.recipient === "string" ? inner.recipient : inner.recipient.path;
      this.#log?.warn(
        `Dropped a DeadLetter (${inner.reason}, for "${about}") that subscriber "${to}" could ` +
          `not take (${event.reason}${event.detail ? `: ${event.detail}` : ""})`,
      );
      return;
    }
    const subs = this.#subs;
    for (let i = 0; i < subs.length; i++) {
      const s = subs[i];
      if (event instanceof s.cls) {
        try {
          s.deliver(event);
        } catch (err) {
          this.#log?.error(`event stream subscriber failed on ${event.constructor.name}`, err);
        }
      }
    }
  }

  /** Number of subscriptions. */
  get size(): number {
    return this.#subs.length;
  }
}
