/**
 * The phi accrual failure detector (Hayashibara et al.), as used by Akka and Cassandra.
 *
 * @module
 */

/**
 * Tuning for {@linkcode PhiAccrualFailureDetector}. All durations are milliseconds.
 *
 * @example
 * ```ts
 * import type { PhiAccrualOptions } from "./phi_accrual.ts";
 * import assert from "node:assert/strict";
 * const o: PhiAccrualOptions = { threshold: 10, acceptableHeartbeatPause: 1000 };
 * assert.ok(o.threshold === 10);
 * ```
 */
export interface PhiAccrualOptions {
  /**
   * Phi at or above which a node counts as unavailable.
   * @default {8}
   */
  readonly threshold?: number;
  /**
   * How many inter-arrival intervals to keep per node.
   * @default {200}
   */
  readonly maxSampleSize?: number;
  /**
   * Floor for the standard deviation, so a very regular history does not make phi jumpy.
   * @default {100}
   */
  readonly minStdDeviation?: number;
  /**
   * Extra silence tolerated on top of the mean interval (GC pauses, event-loop stalls). The
   * default tolerates a 1.5 s stall of either side (with 500 ms heartbeats the silence is then
   * about 2 s; phi crosses 8 after about 2.8 s of silence) and detects a crashed node in about
   * 3–4.5 s; the seeds' 0 took 1.06 s of silence for a failure.
   * @default {1750}
   */
  readonly acceptableHeartbeatPause?: number;
  /**
   * Assumed interval before any real one is known; seeds a new node's history.
   * @default {1000}
   */
  readonly firstHeartbeatEstimate?: number;
}

class History {
  readonly #max: number;
  readonly #samples: number[] = [];
  #head = 0;
  #sum = 0;
  #sumSq = 0;
  last: number;

  constructor(max: number, last: number) {
    this.#max = max;
    this.last = last;
  }

  add(interval: number): void {
    if (this.#samples.length < this.#max) {
      this.#samples.push(interval);
    } else {
      const old = this.#samples[this.#head];
      this.#samples[this.#head] = interval;
      this.#head = (this.#head + 1) % this.#max;
      this.#sum -= old;
      this.#sumSq -= old * old;
    }
    this.#sum += interval;
    this.#sumSq += interval * interval;
  }

  get mean(): number {
    return this.#sum / this.#samples.length;
  }

  get variance(): number {
    const m = this.mean;
    return Math.max(0, this.#sumSq / this.#samples.length - m * m);
  }
}

const LN10 = Math.log(10);

/**
 * `-log10(1 - Φ(z))`, Φ being the standard normal CDF, without underflow for large `z`.
 *
 * The upper tail is `erfc(z/√2)/2`, and the Numerical Recipes `erfcc` approximation has the
 * form `t·exp(p(t) − x²)` (relative error below 1.2e-7 everywhere), so its logarithm is taken
 * term by term instead of computing a tiny number and then its log.
 *
 * @param z Standardised elapsed time.
 * @returns Phi, 0 or more.
 * @example
 * ```ts
 * import { phiOf } from "./phi_accrual.ts";
 * import assert from "node:assert/strict";
 * assert.ok(Math.abs(phiOf(5.612) - 8) < 0.01);
 * assert.ok(Number.isFinite(phiOf(1000)));
 * ```
 */
export function phiOf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.5 * x);
  const poly = -1.26551223 +
    t * (1.00002368 +
        t * (0.37409196 +
            t * (0.09678418 +
                t * (-0.18628806 +
                    t * (0.27886807 +
                        t *
                          (-1.13520398 +
                            t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  const lnUpperTail = Math.log(t) - x * x + poly + Math.log(0.5); // ln(1 - Φ(|z|))
  if (z >= 0) return -lnUpperTail / LN10;
  // Below the mean: 1 - Φ(z) = 1 - tail(|z|), close to 1.
  return Math.max(0, -Math.log1p(-Math.exp(lnUpperTail)) / LN10);
}

/**
 * A phi accrual failure detector over many monitored nodes, keyed by string. Pure: callers
 * pass the current monotonic time, so it runs the same under a real or simulated clock.
 *
 * A node's history starts, on its first heartbeat, with two samples around
 * `firstHeartbeatEstimate` (mean ± mean/4), so a fresh node is judged by a sane estimate
 * rather than by nothing. Call {@linkcode PhiAccrualFailureDetector.heartbeat} when monitoring
 * starts (before any reply): a node that never answers is then detected too.
 *
 * @example
 * ```ts
 * import { PhiAccrualFailureDetector } from "./phi_accrual.ts";
 * import assert from "node:assert/strict";
 * const fd = new PhiAccrualFailureDetector();
 * for (let t = 0; t <= 10_000; t += 500) fd.heartbeat("b", t);
 * assert.ok(fd.isAvailable("b", 10_500));
 * assert.ok(fd.isAvailable("b", 12_000)); // 2 s of silence: tolerated by default
 * assert.ok(!fd.isAvailable("b", 16_000));
 * ```
 */
export class PhiAccrualFailureDetector {
  readonly #threshold: number;
  readonly #maxSampleSize: number;
  readonly #minStdDeviation: number;
  readonly #pause: number;
  readonly #firstEstimate: number;
  readonly #nodes = new Map<string, History>();

  /**
   * Creates a PhiAccrualFailureDetector.
   *
   * @param options Tuning; see {@linkcode PhiAccrualOptions} for defaults.
   * @throws {RangeError} When an option is out of range.
   */
  constructor(options: PhiAccrualOptions = {}) {
    this.#threshold = options.threshold ?? 8;
    this.#maxSampleSize = options.maxSampleSize ?? 200;
    this.#minStdDeviation = options.minStdDeviation ?? 100;
    this.#pause = options.acceptableHeartbeatPause ?? 1750;
    this.#firstEstimate = options.firstHeartbeatEstimate ?? 1000;
    if (!(this.#threshold > 0)) throw new RangeError(`Invalid phi threshold ${this.#threshold}`);
    if (!(this.#maxSampleSize >= 1)) {
      throw new RangeError(`Invalid max sample size ${this.#maxSampleSize}`);
    }
    if (!(this.#minStdDeviation > 0)) {
      throw new RangeError(`Invalid min std deviation ${this.#minStdDeviation} ms`);
    }
    if (!(this.#pause >= 0)) throw new RangeError(`Invalid acceptable pause ${this.#pause} ms`);
    if (!(this.#firstEstimate > 0)) {
      throw new RangeError(`Invalid first heartbeat estimate ${this.#firstEstimate} ms`);
    }
  }

  /** The configured threshold. */
  get threshold(): number {
    return this.#threshold;
  }

  /**
   * Records a heartbeat from `node` at `now` (the first one starts its history). The interval
   * since the previous one joins the history only if the node still counted as available.
   *
   * @param node Key of the monitored node.
   * @param now Monotonic milliseconds.
   */
  heartbeat(node: string, now: number): void {
    const h = this.#nodes.get(node);
    if (h === undefined) {
      const fresh = new History(this.#maxSampleSize, now);
      const std = this.#firstEstimate / 4;
      fresh.add(this.#firstEstimate - std);
      fresh.add(this.#firstEstimate + std);
      this.#nodes.set(node, fresh);
      return;
    }
    const interval = now - h.last;
    // A gap that already counted as a failure is not a sample of normal behaviour: learning
    // it would make the detector tolerate ever longer silences.
    const sane = interval >= 0 && this.isAvailable(node, now);
    h.last = now;
    if (sane) h.add(interval);
  }

  /**
   * The suspicion level for `node` at `now`; 0 for a node never heard of.
   *
   * @param node Key of the monitored node.
   * @param now Monotonic milliseconds.
   * @returns Phi.
   */
  phi(node: string, now: number): number {
    const h = this.#nodes.get(node);
    if (h === undefined) return 0;
    const elapsed = now - h.last;
    const mean = h.mean + this.#pause;
    const std = Math.max(Math.sqrt(h.variance), this.#minStdDeviation);
    return phiOf((elapsed - mean) / std);
  }

  /**
   * Whether phi is below the threshold.
   *
   * @param node Key of the monitored node.
   * @param now Monotonic milliseconds.
   * @returns `true` for a node that seems alive (or is not monitored).
   */
  isAvailable(node: string, now: number): boolean {
    return this.phi(node, now) < this.#threshold;
  }

  /**
   * Whether `node` has a history.
   *
   * @param node Key of the node.
   * @returns `true` once it had a heartbeat and until {@linkcode PhiAccrualFailureDetector.remove}.
   */
  isMonitoring(node: string): boolean {
    return this.#nodes.has(node);
  }

  /**
   * Forgets `node`'s history.
   *
   * @param node Key of the node.
   */
  remove(node: string): void {
    this.#nodes.delete(node);
  }
}
