/**
 * The system-wide publish/subscribe bus.
 *
 * @module
 */
import { type ActorRef, isActorRef } from "./actor_ref.ts";
import type { Logger } from "./logger.ts";

/** A class of events (any constructor, abstract ones included). */
// deno-lint-ignore no-explicit-any
export type EventClass<E> = abstract new (...args: any[]) => E;

interface Subscription {
  readonly cls: EventClass<unknown>;
  readonly deliver: (event: unknown) => void;
}

/**
 * Publish/subscribe for events. Subscriptions are by class and match subclasses, so
 * subscribing to `ActorEvent` receives `ActorStarted`, `ActorStopped`, …
 *
 * @example
 * ```ts
 * import { ActorSystem, DeadLetter } from "@casty/casty";
 * await using system = new ActorSystem();
 * const seen: DeadLetter[] = [];
 * const unsubscribe = system.eventStream.subscribe(DeadLetter, (d) => seen.push(d));
 * system.eventStream.publish(new DeadLetter("hi", "/nobody", "unknownPath"));
 * unsubscribe();
 * console.assert(seen.length === 1);
 * ```
 */
export class EventStream {
  #subs: Subscription[] = [];
  #wants = new Map<EventClass<unknown>, boolean>();
  #log: Logger | undefined;

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
    const sub: Subscription = { cls, deliver };
    this.#subs = [...this.#subs, sub];
    this.#wants.clear();
    return () => {
      this.#subs = this.#subs.filter((s) => s !== sub);
      this.#wants.clear();
    };
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
