/**
 * Time for the whole framework goes through a {@linkcode Clock}, so that the scheduler,
 * ask timeouts and every cluster protocol can run against a simulated clock in tests and
 * in deterministic multi-node simulations.
 *
 * @module
 */

/** A handle to a pending timer. */
export interface Cancellable {
  /** Cancels the timer; calling it twice, or after the timer fired, does nothing. */
  cancel(): void;
}

/**
 * A source of time and timers.
 *
 * @example Using the real clock
 * ```ts
 * import assert from "node:assert/strict";
 * import { realClock } from "@casty/casty";
 * const start = realClock.now();
 * const timer = realClock.setTimeout(() => {}, 10);
 * timer.cancel();
 * assert.ok(realClock.now() >= start);
 * ```
 */
export interface Clock {
  /** Monotonic milliseconds, for measuring intervals. */
  now(): number;
  /** Wall-clock milliseconds since the epoch, for timestamps. */
  wallNow(): number;
  /** Runs `callback` once after `delayMs` milliseconds. */
  setTimeout(callback: () => void, delayMs: number): Cancellable;
}

/**
 * The longest delay a runtime timer honours (2^31−1 ms, about 24.8 days): longer delays fire
 * at once on Deno, Bun and Node.
 */
export const MAX_TIMER_DELAY: number = 2 ** 31 - 1;

class RealClock implements Clock {
  now(): number {
    return performance.now();
  }
  wallNow(): number {
    return Date.now();
  }
  setTimeout(callback: () => void, delayMs: number): Cancellable {
    if (!(delayMs > MAX_TIMER_DELAY)) {
      const id = setTimeout(callback, Math.max(0, delayMs));
      return { cancel: () => clearTimeout(id) };
    }
    // Chain runtime timers of at most MAX_TIMER_DELAY until the due time.
    const due = performance.now() + delayMs;
    let id: ReturnType<typeof setTimeout>;
    const step = () => {
      const left = due - performance.now();
      if (left <= 0) callback();
      else id = setTimeout(step, Math.min(MAX_TIMER_DELAY, left));
    };
    id = setTimeout(step, MAX_TIMER_DELAY);
    return { cancel: () => clearTimeout(id) };
  }
}

/**
 * The real clock: `performance.now()`, `Date.now()` and the runtime's timers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { realClock } from "@casty/casty";
 * assert.equal(typeof realClock.now(), "number");
 * ```
 */
export const realClock: Clock = new RealClock();
