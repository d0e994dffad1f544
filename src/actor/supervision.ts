/**
 * Supervision: what happens when an actor's handler fails.
 *
 * @module
 */

/** What to do with a failed actor. */
export type Directive = "restart" | "stop" | "escalate";

/** Restart backoff: delays grow from `min` to `max` by doubling, with jitter. */
export interface BackoffOptions {
  /** First delay in milliseconds. */
  min: number;
  /** Largest delay in milliseconds. */
  max: number;
  /**
   * Random extra delay as a fraction of the computed delay (0.2 = up to +20 %).
   * @default {0.2}
   */
  randomFactor?: number;
}

/** Options of {@linkcode OneForOneStrategy}. */
export interface OneForOneStrategyOptions {
  /**
   * Restarts allowed within the `within` window; one more and the actor is stopped.
   * @default {3}
   */
  maxRestarts?: number;
  /**
   * Length of the sliding restart window in milliseconds.
   * @default {60000}
   */
  within?: number;
  /**
   * Chooses a directive for an error.
   * @default {() => "restart"}
   */
  decider?: (error: unknown) => Directive;
  /** Wait before each restart; messages stay in the mailbox meanwhile. */
  backoff?: BackoffOptions;
}

/** A supervision strategy: decides, per failure, what happens to the failed actor. */
export interface SupervisionStrategy {
  /**
   * Decides what to do with a failure.
   *
   * @param error The error the actor failed with.
   * @param restartTimes Monotonic times (ms) of this actor's earlier restarts; the strategy
   *   may prune it.
   * @param now The current monotonic time in ms.
   */
  decide(error: unknown, restartTimes: number[], now: number): Directive;
  /** Delay before the `restartCount`-th consecutive restart (1-based), in ms. */
  restartDelay(restartCount: number): number;
}

/**
 * Supervises each actor on its own: restarts it on failure (by default) unless it failed
 * more than `maxRestarts` times within the sliding `within` window, in which case it stops.
 *
 * @example
 * ```ts
 * import { ActorSystem, Behaviors, OneForOneStrategy } from "@casty/casty";
 * const strategy = new OneForOneStrategy({ maxRestarts: 3, within: 60_000 });
 * await using system = new ActorSystem();
 * const ref = system.spawn(
 *   Behaviors.supervise(Behaviors.receive<string>((_ctx, msg) => {
 *     if (msg === "crash") throw new Error("boom");
 *   }), strategy),
 *   "worker",
 * );
 * ref.tell("crash");
 * ```
 */
export class OneForOneStrategy implements SupervisionStrategy {
  /** Restarts allowed within the window. */
  readonly maxRestarts: number;
  /** Window length in milliseconds. */
  readonly within: number;
  /** Restart backoff, if any. */
  readonly backoff: BackoffOptions | undefined;
  #decider: (error: unknown) => Directive;

  /**
   * Creates a OneForOneStrategy.
   *
   * @param options Limits, decider and backoff.
   * @throws {RangeError} on a negative `maxRestarts`, a non-positive `within`, or bad backoff.
   */
  constructor(options: OneForOneStrategyOptions = {}) {
    const { maxRestarts = 3, within = 60_000, decider = () => "restart", backoff } = options;
    if (!Number.isInteger(maxRestarts) || maxRestarts < 0) {
      throw new RangeError(`maxRestarts must be a non-negative integer, got ${maxRestarts}`);
    }
    if (!(within > 0)) throw new RangeError(`within must be positive, got ${within}`);
    if (backoff && !(backoff.min >= 0 && backoff.max >= backoff.min)) {
      throw new RangeError(`backoff needs 0 <= min <= max, got ${backoff.min}..${backoff.max}`);
    }
    this.maxRestarts = maxRestarts;
    this.within = within;
    this.backoff = backoff;
    this.#decider = decider;
  }

  /** See {@linkcode SupervisionStrategy.decide}. */
  decide(error: unknown, restartTimes: number[], now: number): Directive {
    const directive = this.#decider(error);
    if (directive !== "restart") return directive;
    while (restartTimes.length > 0 && now - restartTimes[0] > this.within) restartTimes.shift();
    if (restartTimes.length >= this.maxRestarts) return "stop";
    restartTimes.push(now);
    return "restart";
  }

  /** See {@linkcode SupervisionStrategy.restartDelay}. */
  restartDelay(restartCount: number): number {
    const b = this.backoff;
    if (!b) return 0;
    const base = Math.min(b.max, b.min * 2 ** Math.max(0, restartCount - 1));
    return base * (1 + Math.random() * (b.randomFactor ?? 0.2));
  }
}
