import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { SnapshotEvery } from "../../src/persistence/snapshot.ts";

describe("SnapshotEvery", () => {
  it("snapshots once nEvents were persisted since the last snapshot", () => {
    const policy = new SnapshotEvery(3);
    assert.equal(policy.nEvents, 3);
    assert.equal(policy.shouldSnapshot(2, 2), false);
    assert.equal(policy.shouldSnapshot(3, 3), true);
    assert.equal(policy.shouldSnapshot(7, 4), true);
    assert.equal(new SnapshotEvery(1).shouldSnapshot(1, 1), true);
  });

  it("rejects an interval below 1 or not an integer", () => {
    for (const n of [0, -1, 1.5, NaN, Infinity]) {
      assert.throws(() => new SnapshotEvery(n), RangeError);
    }
  });
});
