/**
 * Timed message delivery keyed by name.
 *
 * @module
 */
import type { ActorRef } from "./actor_ref.ts";
import { type Cancellable, type Clock, MAX_TIMER_DELAY } from "./clock.ts";
import type { EventStream } from "./event_stream.ts";
import type { Logger } from "./logger.ts";
import { type Timed, TimerHeap } from "./_timer_heap.ts";
import { tellSafely } from "./_tell_safely.ts";

/**
 * Options of {@linkcode Scheduler}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { consoleLogger, EventStream, Scheduler } from "@casty/casty";
 * import { SimulatedClock } from "@casty/casty/testing";
 * const clock = new SimulatedClock();
 * const logged: string[] = [];
 * const log = { ...consoleLogger("silent"), error: (m: string) => void logged.push(m) };
 * const scheduler = new Scheduler(clock, { eventStream: new EventStream(), log });
 * scheduler.internal(() => {
 *   throw new Error("boom");
 * }, 10);
 * clock.advance(10); // the failure is logged, never thrown into the runtime
 * assert.deepEqual(logged, ["A scheduled callback failed"]);
 * scheduler.close();
 * ```
 */
export interface SchedulerOptions {
  /** Where a scheduled message that cannot be delivered is published as a `DeadLetter`. */
  eventStream?: EventStream;
  /** Where failing timer callbacks are logged. */
  log?: Logger;
}

/**
 * Schedules messages to actors: periodic ticks and one-shot delays, each under a string key.
 * Scheduling under a key that is in use replaces the earlier schedule. Framework-internal
 * timers use {@linkcode Scheduler.internal}, which has no key, so user keys can never reach
 * them. Everything is cancelled when the system shuts down. A scheduled message that cannot
 * be delivered (a full `backpressure` mailbox, an unserializable message to a remote ref)
 * becomes a `DeadLetter`, and a failing internal callback is logged: nothing a timer runs
 * can throw into the runtime. Delays of any length work (runtime timers stop at 2^31−1 ms).
 *
 * @example
 * ```ts
 * import { ActorSystem, Behaviors } from "@casty/casty";
 * await using system = new ActorSystem();
 * const ref = system.spawn(Behaviors.ignore<string>(), "target");
 * system.tick("report", ref, "report", 30_000);
 * system.schedule("timeout", ref, "timeout", 5_000);
 * system.cancelSchedule("report");
 * ```
 */
export class Scheduler {
  #clock: Clock;
  #sink: SchedulerOptions;
  #keyed = new Map<string, Cancellable>();
  #closed = false;
  // Internal timers (ask timeouts, protocol timers) share ONE clock timer through a min-heap
  // ordered by due time, so creating and cancelling one costs no runtime timer.
  #heap = new TimerHeap<InternalTimer>();
  #live = 0;
  #seq = 0;
  #armed: Cancellable | undefined;
  #armedAt = Infinity;

  /**
   * Creates a Scheduler.
   *
   * @param clock The clock timers run on.
   * @param options Where undeliverable messages and failing callbacks are reported.
   */
  constructor(clock: Clock, options: SchedulerOptions = {}) {
    this.#clock = clock;
    this.#sink = options;
  }

  /** Tells `target` `message` every `intervalMs`, first after one interval. */
  tick<M>(key: string, target: ActorRef<M>, message: M, intervalMs: number): void {
    if (!(intervalMs > 0)) {
      throw new RangeError(`Tick interval must be positive, got ${intervalMs}`);
    }
    this.cancel(key);
    if (this.#closed) return;
    const start = this.#clock.now();
    let n = 0;
    let current: Cancellable;
    const handle: Cancellable = { cancel: () => current.cancel() };
    const arm = () => {
      n++;
      const due = start + n * intervalMs;
      current = this.#clock.setTimeout(() => {
        if (this.#keyed.get(key) !== handle) return;
        arm();
        tellSafely(this.#sink, target, message, `tick "${key}"`);
      }, Math.max(0, due - this.#clock.now()));
    };
    arm();
    this.#keyed.set(key, handle);
  }

  /** Tells `target` `message` once, after `delayMs`. */
  schedule<M>(key: string, target: ActorRef<M>, message: M, delayMs: number): void {
    if (!(delayMs >= 0)) throw new RangeError(`Delay must be non-negative, got ${delayMs}`);
    this.cancel(key);
    if (this.#closed) return;
    const handle: Cancellable = {
      cancel: () => timer.cancel(),
    };
    const timer = this.#clock.setTimeout(() => {
      if (this.#keyed.get(key) !== handle) return;
      this.#keyed.delete(key);
      tellSafely(this.#sink, target, message, `schedule "${key}"`);
    }, delayMs);
    this.#keyed.set(key, handle);
  }

  /** Cancels the schedule under `key`; returns whether there was one. */
  cancel(key: string): boolean {
    const h = this.#keyed.get(key);
    if (!h) return false;
    this.#keyed.delete(key);
    h.cancel();
    return true;
  }

  /** Whether a schedule exists under `key`. */
  has(key: string): boolean {
    return this.#keyed.has(key);
  }

  /** Runs `callback` after `delayMs` on a keyless timer that shutdown cancels. */
  internal(callback: () => void, delayMs: number): Cancellable {
    if (this.#closed) return { cancel: () => {} };
    const timer: InternalTimer = {
      at: this.#clock.now() + Math.max(0, delayMs),
      seq: this.#seq++,
      callback,
      cancelled: false,
    };
    this.#heap.push(timer);
    this.#live++;
    if (timer.at < this.#armedAt) this.#arm(timer.at);
    return {
      cancel: () => {
        if (timer.cancelled) return;
        timer.cancelled = true;
        // The armed clock timer is left to fire (it finds nothing due and re-arms for the
        // next live timer): re-arming a runtime timer for every ask costs more than the ask.
        if (--this.#live === 0) {
          this.#heap.clear();
        } else if (this.#heap.size > 1024 && this.#heap.size > 3 * this.#live) {
          this.#heap.filter((t) => !t.cancelled);
        }
      },
    };
  }

  #arm(at: number): void {
    this.#armed?.cancel();
    this.#armedAt = at;
    // Runtime timers fire at once beyond 2^31−1 ms; a far-off timer (a 35-day ask) arms the
    // longest runtime timer and, finding nothing due, #fire re-arms for the rest.
    const delay = Math.min(MAX_TIMER_DELAY, Math.max(0, at - this.#clock.now()));
    this.#armed = this.#clock.setTimeout(this.#fire, delay);
  }

  #disarm(): void {
    this.#armed?.cancel();
    this.#armed = undefined;
    this.#armedAt = Infinity;
  }

  #fire = (): void => {
    this.#armed = undefined;
    this.#armedAt = Infinity;
    const now = this.#clock.now();
    const heap = this.#heap;
    while (heap.size > 0 && heap.peek()!.at <= now) {
      const t = heap.pop()!;
      if (t.cancelled) continue;
      t.cancelled = true;
      this.#live--;
      try {
        t.callback();
      } catch (err) {
        // Rethrowing here would be an uncaught exception in a timer: it kills the process.
        (this.#sink.log ?? console).error("A scheduled callback failed", err);
      }
    }
    while (heap.size > 0 && heap.peek()!.cancelled) heap.pop();
    if (heap.size > 0 && !this.#closed) this.#arm(heap.peek()!.at);
  };

  /** Number of live timers (keyed and internal). */
  get size(): number {
    return this.#keyed.size + this.#live;
  }

  /** Cancels every timer and refuses new ones. */
  close(): void {
    this.#closed = true;
    for (const h of this.#keyed.values()) h.cancel();
    this.#keyed.clear();
    for (const t of this.#heap.clear()) t.cancelled = true;
    this.#live = 0;
    this.#disarm();
  }
}

interface InternalTimer extends Timed {
  readonly callback: () => void;
  cancelled: boolean;
}
