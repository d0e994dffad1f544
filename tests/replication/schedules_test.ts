import { describe, it } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { runSchedule } from "./_schedules.ts";

// Seeds run here; CASTY_REPLICATION_SEEDS / CASTY_REPLICATION_FROM run more.
const SEEDS = Number(process.env.CASTY_REPLICATION_SEEDS ?? 10);
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
});
