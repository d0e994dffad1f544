/**
 * Timed message delivery keyed by name.
 *
 * @module
 */
import type { ActorRef } from "./actor_ref.ts";
import type { Cancellable, Clock } from "./clock.ts";

/**
 * Schedules messages to actors: periodic ticks and one-shot delays, each under a string key.
 * Scheduling under a key that is in use replaces the earlier schedule. Framework-internal
 * timers use {@linkcode Scheduler.internal}, which has no key, so user keys can never reach
 * them. Everything is cancelled when the system shuts down.
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
  #keyed = new Map<string, Cancellable>();
  #internal = new Set<Cancellable>();
  #closed = false;

  /** @param clock The clock timers run on. */
  constructor(clock: Clock) {
    this.#clock = clock;
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
        target.tell(message);
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
      target.tell(message);
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
    const timer = this.#clock.setTimeout(() => {
      this.#internal.delete(handle);
      callback();
    }, delayMs);
    const handle: Cancellable = {
      cancel: () => {
        this.#internal.delete(handle);
        timer.cancel();
      },
    };
    this.#internal.add(handle);
    return handle;
  }

  /** Number of live timers (keyed and internal). */
  get size(): number {
    return this.#keyed.size + this.#internal.size;
  }

  /** Cancels every timer and refuses new ones. */
  close(): void {
    this.#closed = true;
    for (const h of this.#keyed.values()) h.cancel();
    this.#keyed.clear();
    for (const h of [...this.#internal]) h.cancel();
    this.#internal.clear();
  }
}
