import { describe, it } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { runSchedule } from "./_schedules.ts";

// Seeds run here (about 10 s in npm test); `npm run soak:sharding` runs many more.
const SEEDS = Number(process.env.CASTY_SHARDING_SEEDS ?? 300);

describe("sharding under seeded schedules of joins, leaves, kills, partitions, slow links and downs", () => {
  it(`keeps every invariant under ${SEEDS} seeds`, async () => {
    const failures: string[] = [];
    for (let seed = 1; seed <= SEEDS; seed++) {
      const failure = await runSchedule(seed);
      if (failure !== undefined) failures.push(failure);
    }
    assert.deepEqual(failures, [], failures.join("\n"));
  });

  // Found by the soak (seeds 1001–6000): a partition heals just as the cut-off node downs itself
  // as the minority; the deposits the majority had queued for it were flushed into the exiting
  // process and lost without a dead letter. A node told to stop now refuses new connections at
  // once, so the senders keep them and make them dead letters when they hear it is down.
  it("loses nothing when a partition heals as the cut-off node downs itself (seeds 2830, 4406)", async () => {
    const failures: string[] = [];
    for (const seed of [2830, 4406]) {
      const failure = await runSchedule(seed);
      if (failure !== undefined) failures.push(failure);
    }
    assert.deepEqual(failures, [], failures.join("\n"));
  });

  // Also found by the soak: a slow link out of the leader (all it sends seconds late) ended with
  // every node shut down. Its last answers, arriving after it had downed itself, made one
  // survivor take it for alive again; the other saw a partial partition and downed itself
  // (seeds 2139, 3092). A picture reached by a link healing now waits a failure detection longer
  // for the bridge. (Requiring three answers before a peer counts as back, tried first, fixed
  // these two but lost the cluster on 5985, 7140, 8367 and 9713: they stay here too.)
  it("keeps the majority when the leader's link out is seconds slow (seeds 2139, 3092, 5985, 7140, 8367, 9713)", async () => {
    const failures: string[] = [];
    for (const seed of [2139, 3092, 5985, 7140, 8367, 9713]) {
      const failure = await runSchedule(seed);
      if (failure !== undefined) failures.push(failure);
    }
    assert.deepEqual(failures, [], failures.join("\n"));
  });
});
