import { describe, it } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { runSchedule } from "./_schedules.ts";

// Seeds run here; CASTY_REPLICATION_SEEDS / CASTY_REPLICATION_FROM run more.
const SEEDS = Number(process.env.CASTY_REPLICATION_SEEDS ?? 60);
const FROM = Number(process.env.CASTY_REPLICATION_FROM ?? 1);

describe("replication under seeded schedules of kills, partitions and cut links", () => {
  it(`loses no acknowledged write and never has two writers, over ${SEEDS} seeds`, async () => {
    const failures: string[] = [];
    for (let seed = FROM; seed < FROM + SEEDS; seed++) {
      const failure = await runSchedule(seed);
      if (failure !== undefined) failures.push(failure);
    }
    assert.deepEqual(failures, [], failures.join("\n"));
  });

  it("keeps every replica converged with two replicas and minAcks 1", async () => {
    const failures: string[] = [];
    for (let seed = FROM; seed < FROM + Math.ceil(SEEDS / 2); seed++) {
      const failure = await runSchedule(seed, { replicas: 2, minAcks: 1, ackTimeout: 1000 });
      if (failure !== undefined) failures.push(failure);
    }
    assert.deepEqual(failures, [], failures.join("\n"));
  });

  it("refills idle entities in the background: no write from each heal until recovered", async () => {
    const failures: string[] = [];
    for (let seed = FROM; seed < FROM + Math.ceil(SEEDS / 2); seed++) {
      const failure = await runSchedule(seed, undefined, { quiet: true });
      if (failure !== undefined) failures.push(failure);
    }
    assert.deepEqual(failures, [], failures.join("\n"));
  });

  // Seeds that once failed, by name. 422 (quiet): a promotion still retrying on a node that had
  // lost the shard took a newer term than the new owner's and deposed it (its next write failed
  // with no quorum); a promoter now takes a term only within its lease. 788: the checker counted
  // a placement naming a node already gone as recovered, and the next fault took the last copy.
  // 150 and 582 (two replicas, quiet): a replica that left shipments unanswered (its link broke
  // with them on the way) stayed behind until the entity's next write; it is now probed again.
  const TWO = { replicas: 2, minAcks: 1, ackTimeout: 1000 };
  const named = [[422, undefined], [788, undefined], [11, undefined], [49, undefined], [
    150,
    TWO,
  ], [582, TWO]] as const;
  for (const [seed, config] of named) {
    const quiet = seed !== 788;
    it(`seed ${seed}${config ? " (two replicas)" : ""}${quiet ? " (quiet)" : ""}`, async () => {
      const failure = await runSchedule(seed, config, { quiet });
      assert.equal(failure, undefined, failure);
    });
  }
});
