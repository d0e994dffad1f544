// Seed 270 of the schedules: the primary's node was lost, and while the entity's shard waited to
// be placed again its log lived on the old replica only; a second fault then took that replica.
// Two overlapping losses are outside the promise (one loss at a time). This test pins down the
// order of events that makes the second loss safe: the shard is placed again, the entity's next
// command runs on its new primary, which adopts the old replica's copy before it acknowledges
// anything and ships it to its own replica; from then on the old replica may go.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { testCluster } from "../../src/testing/mod.ts";
import { type Cmd, deposit, idsIn, placement, spawnAccounts, type State } from "./_fixtures.ts";

describe("replication: a second loss after the entity's log was refilled", () => {
  it("the new primary holds the old replica's log before its first acknowledgement, and its replica too, so losing the old replica next loses nothing", async () => {
    await using cluster = await testCluster(4, { seed: 270, downing: { stableAfter: 2000 } });
    const { journals, regions } = spawnAccounts(cluster, {
      replicas: 1,
      minAcks: 1,
      ackTimeout: 1000,
    });
    const acked: string[] = [];
    for (let k = 0; k < 8; k++) {
      const r = await cluster.run(deposit(cluster, 0, regions[0], "d", `c${k}`));
      assert.equal(r?.ok, true, `c${k}: ${JSON.stringify(r)}`);
      acked.push(`c${k}`);
    }
    const first = (await placement(cluster, 0, "d"))!;
    const [oldReplica] = first.replicas;
    assert.deepEqual(await idsIn(journals[oldReplica], "d"), acked, "the replica holds the log");
    // The first loss: the primary's node. Until the shard is placed again and the entity runs on
    // its new primary, the log is on the old replica only.
    await cluster.run(cluster.kill(first.primary));
    const survivors = [0, 1, 2, 3].filter((i) => i !== first.primary);
    const via = survivors[0];
    await cluster.until(() => cluster.isConverged(3), { timeout: 60_000 });
    // A shard is placed on demand: its next command places it again (once the lost node's lease
    // ran out) and runs on the new primary, acknowledged only once the new primary holds the
    // whole log (it adopted the old replica's copy) and its replica acknowledged it.
    const writer = survivors.find((i) => i !== oldReplica)!;
    const next = await cluster.run(deposit(cluster, writer, regions[writer], "d", "c8", 20_000), {
      timeout: 60_000,
    });
    const moved = (await placement(cluster, via, "d"))!;
    assert.notEqual(moved.primary, first.primary);
    assert.deepEqual(next, { ok: true, seq: 9, node: `n${moved.primary}` });
    acked.push("c8");
    assert.deepEqual(await idsIn(journals[moved.primary], "d"), acked, "the new primary's log");
    for (const r of moved.replicas) {
      assert.deepEqual(await idsIn(journals[r], "d"), acked, `the new replica n${r}'s log`);
    }
    // The second loss: the old replica, which held the only copy before. (When it is the new
    // primary itself, this is the loss of the new primary, covered by its replica.)
    await cluster.run(cluster.kill(oldReplica));
    const left = survivors.filter((i) => i !== oldReplica);
    await cluster.until(() => cluster.isConverged(2), { timeout: 60_000 });
    const last = await cluster.run(deposit(cluster, left[0], regions[left[0]], "d", "c9", 20_000), {
      timeout: 60_000,
    });
    assert.equal(last?.ok, true, `after the second loss: ${JSON.stringify(last)}`);
    acked.push("c9");
    const state = await cluster.run(
      cluster.nodes[left[0]].entityAsk<Cmd, State>(
        regions[left[0]],
        "d",
        (replyTo) => ({ type: "get", replyTo }),
      ),
    );
    assert.deepEqual(state.ids, acked, "every acknowledged deposit, once, in order");
  });
});
