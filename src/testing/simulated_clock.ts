import type { Cancellable, Clock } from "../actor/clock.ts";
import { TimerHeap } from "../actor/internal.ts";

interface Timer {
  readonly at: number;
  readonly seq: number;
  readonly callback: () => void;
  cancelled: boolean;
}

/**
 * A clock whose time moves only when told to. Timers fire in order of due time (ties in
 * the order they were set) as {@linkcode SimulatedClock.advance} passes them, which makes
 * schedulers, timeouts and cluster protocols deterministic in tests.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SimulatedClock } from "@casty/casty/testing";
 * const clock = new SimulatedClock();
 * let fired = 0;
 * clock.setTimeout(() => fired++, 100);
 * clock.advance(99);
 * assert.equal(fired, 0);
 * clock.advance(1);
 * assert.equal(fired, 1);
 * ```
 */
export class SimulatedClock implements Clock {
  #now: number;
  #wallOffset: number;
  #seq = 0;
  #timers = new TimerHeap<Timer>();
  #live = 0;

  /**
   * Creates a SimulatedClock.
   *
   * @param start The initial monotonic time in milliseconds.
   * @default {0}
   */
  constructor(start = 0) {
    this.#now = start;
    this.#wallOffset = 1_700_000_000_000;
  }

  /** The current simulated time in milliseconds. */
  now(): number {
    return this.#now;
  }

  /** The simulated wall-clock time (a fixed epoch plus {@linkcode SimulatedClock.now}). */
  wallNow(): number {
    return this.#wallOffset + this.#now;
  }

  /** Schedules `callback` at `now() + delayMs`. */
  setTimeout(callback: () => void, delayMs: number): Cancellable {
    const timer: Timer = {
      at: this.#now + Math.max(0, delayMs),
      seq: this.#seq++,
      callback,
      cancelled: false,
    };
    this.#timers.push(timer);
    this.#live++;
    return {
      cancel: () => {
        if (timer.cancelled) return;
        timer.cancelled = true;
        this.#live--;
      },
    };
  }

  /** How many timers are waiting to fire. */
  get pending(): number {
    return this.#live;
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due on the way, including
   * timers that those callbacks set within the window.
   *
   * @returns How many timers fired.
   */
  advance(ms: number): number {
    if (!(ms >= 0)) throw new RangeError(`Cannot advance a clock by ${ms} ms`);
    const until = this.#now + ms;
    let fired = 0;
    while (this.#timers.size > 0 && this.#timers.peek()!.at <= until) {
      const timer = this.#timers.pop()!;
      if (timer.cancelled) continue;
      timer.cancelled = true;
      this.#live--;
      this.#now = Math.max(this.#now, timer.at);
      fired++;
      timer.callback();
    }
    this.#now = until;
    return fired;
  }

  /** Fires every pending timer (and those they set), up to `maxTimers`, moving time as needed. */
  runAll(maxTimers = 100_000): number {
    let fired = 0;
    while (this.#timers.size > 0) {
      if (fired >= maxTimers) {
        throw new RangeError(`SimulatedClock.runAll() stopped after ${maxTimers} timers`);
      }
      const timer = this.#timers.pop()!;
      if (timer.cancelled) continue;
      timer.cancelled = true;
      this.#live--;
      this.#now = Math.max(this.#now, timer.at);
      fired++;
      timer.callback();
    }
    return fired;
  }
}
