import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { runShape, SHAPES } from "./_partition_scenarios.ts";

// Seeds per shape here (shape.testSeeds, default 30); `npm run soak` runs thousands.
const SEEDS = 30;

describe("Membership under every partition shape (deterministic simulation)", () => {
  for (const shape of SHAPES) {
    const seeds = shape.testSeeds ?? SEEDS;
    const who = shape.survivors.length > 8
      ? `${shape.survivors.length} nodes (${shape.survivors[0]}–${shape.survivors.at(-1)})`
      : `nodes ${shape.survivors.join(", ")}`;
    it(`${shape.name}: exactly ${who} survive, under ${seeds} seeds`, () => {
      const failures: string[] = [];
      for (let seed = 1; seed <= seeds; seed++) {
        const failure = runShape(shape, seed);
        if (failure !== undefined) failures.push(failure);
      }
      // every failing seed prints the schedule that reproduces it
      assert.deepEqual(failures, []);
    });
  }
});
