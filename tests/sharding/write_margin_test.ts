import { describe, it } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { runWriteSchedule } from "./_write_schedules.ts";

// Seeds run here; `npm run soak:sharding` runs many more (CASTY_WRITE_SEEDS here).
const SEEDS = Number(process.env.CASTY_WRITE_SEEDS ?? 200);

describe("sharding: journal writes around a lost lease, under seeded schedules", () => {
  it(`no write of a downed node lands after its shards moved, under ${SEEDS} seeds`, async () => {
    const failures: string[] = [];
    const stats = { refused: 0, victimAfterDown: 0 };
    for (let seed = 1; seed <= SEEDS; seed++) {
      const failure = await runWriteSchedule(seed, stats);
      if (failure !== undefined) failures.push(failure);
    }
    assert.deepEqual(failures, [], failures.join("\n"));
    // Not vacuous: the downed node still wrote after the downing (it had not learned of it),
    // and some asynchronous handlers tried to write after its lease ran out and were refused.
    assert.ok(stats.victimAfterDown > 0, "the downed node wrote after the downing");
    assert.ok(stats.refused > 0, "late writes were refused");
    console.log(
      `write schedules: ${SEEDS} seeds, ${stats.victimAfterDown} writes by a downed node before ` +
        `its lease ran out, ${stats.refused} late writes refused`,
    );
  });
});
