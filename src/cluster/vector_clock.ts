/**
 * Vector clocks as plain, JSON-able records, so a version travels in gossip unchanged.
 *
 * @module
 */

/**
 * A vector clock: a counter per node key. Missing keys count as 0. Treat it as immutable;
 * every function here returns a new clock.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { incrementClock, type VectorClock } from "./vector_clock.ts";
 * const v: VectorClock = incrementClock({}, "a");
 * assert.equal(v.a, 1);
 * ```
 */
export type VectorClock = Readonly<Record<string, number>>;

/**
 * How two clocks relate: `before` means the first happened before the second.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ClockOrder, compareClocks } from "./vector_clock.ts";
 * const o: ClockOrder = compareClocks({ a: 1 }, { b: 1 });
 * assert.equal(o, "concurrent");
 * ```
 */
export type ClockOrder = "before" | "after" | "same" | "concurrent";

/**
 * Adds one to `node`'s counter.
 *
 * @param clock The clock.
 * @param node The node key.
 * @returns A new clock.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { incrementClock } from "./vector_clock.ts";
 * assert.equal(incrementClock({ a: 2 }, "a").a, 3);
 * ```
 */
export function incrementClock(clock: VectorClock, node: string): VectorClock {
  return { ...clock, [node]: (clock[node] ?? 0) + 1 };
}

/**
 * The element-wise maximum of two clocks: the least clock that is after or same as both.
 *
 * @param a First clock.
 * @param b Second clock.
 * @returns A new clock with keys in sorted order.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mergeClocks } from "./vector_clock.ts";
 * const m = mergeClocks({ a: 2, b: 1 }, { b: 3 });
 * assert.ok(m.a === 2 && m.b === 3);
 * ```
 */
export function mergeClocks(a: VectorClock, b: VectorClock): VectorClock {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  const out: Record<string, number> = {};
  for (const k of keys) out[k] = Math.max(a[k] ?? 0, b[k] ?? 0);
  return out;
}

/**
 * Compares two clocks.
 *
 * @param a First clock.
 * @param b Second clock.
 * @returns `"before"` if `a` < `b`, `"after"` if `a` > `b`, `"same"`, or `"concurrent"`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compareClocks } from "./vector_clock.ts";
 * assert.equal(compareClocks({ a: 1 }, { a: 1, b: 1 }), "before");
 * assert.equal(compareClocks({ a: 1 }, { b: 1 }), "concurrent");
 * ```
 */
export function compareClocks(a: VectorClock, b: VectorClock): ClockOrder {
  let aBigger = false;
  let bBigger = false;
  for (const k in a) {
    const x = a[k];
    const y = b[k] ?? 0;
    if (x > y) aBigger = true;
    else if (x < y) bBigger = true;
  }
  for (const k in b) {
    if (k in a) continue;
    if (b[k] > 0) bBigger = true;
  }
  if (aBigger && bBigger) return "concurrent";
  if (aBigger) return "after";
  if (bBigger) return "before";
  return "same";
}

/**
 * Drops the given node keys, used once a removed member can no longer change the state.
 *
 * @param clock The clock.
 * @param nodes Keys to drop.
 * @returns A new clock without those keys (the same object when nothing was dropped).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { pruneClock } from "./vector_clock.ts";
 * assert.ok(!("a" in pruneClock({ a: 1, b: 2 }, ["a"])));
 * ```
 */
export function pruneClock(clock: VectorClock, nodes: Iterable<string>): VectorClock {
  let out: Record<string, number> | undefined;
  for (const n of nodes) {
    if (n in clock) {
      out ??= { ...clock };
      delete out[n];
    }
  }
  return out ?? clock;
}
