import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { runShape, SHAPES } from "./_partition_scenarios.ts";

// Seeds per shape here; `npm run soak` runs thousands (CASTY_SOAK_SEEDS).
const SEEDS = 30;

describe("Membership under every partition shape (deterministic simulation)", () => {
  for (const shape of SHAPES) {
    it(`${shape.name}: exactly nodes ${shape.survivors.join(", ")} survive, under ${SEEDS} seeds`, () => {
      const failures: string[] = [];
      for (let seed = 1; seed <= SEEDS; seed++) {
        const failure = runShape(shape, seed);
        if (failure !== undefined) failures.push(failure);
      }
      // every failing seed prints the schedule that reproduces it
      assert.deepEqual(failures, []);
    });
  }
});
