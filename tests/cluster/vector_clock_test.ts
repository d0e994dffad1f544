import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  compareClocks,
  incrementClock,
  mergeClocks,
  pruneClock,
  type VectorClock,
} from "../../src/cluster/vector_clock.ts";

describe("vector clocks", () => {
  it("increments one node's counter without touching the input", () => {
    const a: VectorClock = { x: 1 };
    const b = incrementClock(a, "x");
    assert.equal(b.x, 2);
    assert.equal(a.x, 1);
    assert.equal(incrementClock(b, "y").y, 1);
  });

  it("orders clocks: before, after, same, concurrent", () => {
    assert.equal(compareClocks({}, {}), "same");
    assert.equal(compareClocks({ a: 1 }, { a: 1 }), "same");
    assert.equal(compareClocks({ a: 1 }, { a: 2 }), "before");
    assert.equal(compareClocks({ a: 2 }, { a: 1 }), "after");
    assert.equal(compareClocks({}, { a: 1 }), "before");
    assert.equal(compareClocks({ a: 1, b: 0 }, { a: 1 }), "same");
    assert.equal(compareClocks({ a: 1 }, { b: 1 }), "concurrent");
    assert.equal(compareClocks({ a: 2, b: 1 }, { a: 1, b: 2 }), "concurrent");
  });

  it("merges by element-wise maximum, after or same as both inputs", () => {
    const a = { a: 3, b: 1 };
    const b = { b: 4, c: 2 };
    const m = mergeClocks(a, b);
    assert.deepEqual(m, { a: 3, b: 4, c: 2 });
    assert.notEqual(compareClocks(m, a), "before");
    assert.notEqual(compareClocks(m, b), "before");
    assert.deepEqual(mergeClocks(a, b), mergeClocks(b, a));
    assert.deepEqual(mergeClocks(a, a), a);
  });

  it("prunes entries and keeps the same object when there is nothing to prune", () => {
    const a = { a: 1, b: 2 };
    assert.deepEqual(pruneClock(a, ["a"]), { b: 2 });
    assert.equal(pruneClock(a, ["z"]), a);
  });
});
