import { describe, it } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { runSchedule } from "./_schedules.ts";

// Seeds run here (about 10 s in npm test); `npm run soak:sharding` runs many more.
const SEEDS = Number(process.env.CASTY_SHARDING_SEEDS ?? 100);

describe("sharding under seeded schedules of joins, leaves, kills, partitions, slow links and downs", () => {
  it(`keeps every invariant under ${SEEDS} seeds`, async () => {
    const failures: string[] = [];
    for (let seed = 1; seed <= SEEDS; seed++) {
      const failure = await runSchedule(seed);
      if (failure !== undefined) failures.push(failure);
    }
    assert.deepEqual(failures, [], failures.join("\n"));
  });
});
