import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { testCluster } from "../../src/testing/mod.ts";
import { deposit, idsIn, placement, spawnAccounts } from "./_fixtures.ts";

describe("replication: pipelined commands", () => {
  it("one entity keeps many commands on the way: each reply after its replica ack, in sequence order", async () => {
    // 20 ms links: one command per round trip would take 40 × 40 ms.
    await using cluster = await testCluster(2, { seed: 61, latency: 20, step: 1 });
    const { journals, regions } = spawnAccounts(cluster, {
      replicas: 1,
      minAcks: 1,
      ackTimeout: 5000,
    });
    assert.equal((await cluster.run(deposit(cluster, 0, regions[0], "pia", "c0")))?.ok, true);
    const p = (await placement(cluster, 0, "pia"))!;
    const replica = p.replicas[0];
    const order: number[] = [];
    const inReplica: boolean[] = [];
    const started = cluster.clock.now();
    const all = Array.from(
      { length: 40 },
      (_, k) =>
        deposit(cluster, p.primary, regions[p.primary], "pia", `c${k + 1}`, 10_000).then(
          async (r) => {
            assert.equal(r?.ok, true);
            if (r?.ok) {
              order.push(r.seq);
              inReplica.push((await idsIn(journals[replica], "pia")).includes(`c${k + 1}`));
            }
          },
        ),
    );
    await cluster.run(Promise.all(all), { timeout: 30_000 });
    const took = cluster.clock.now() - started;
    assert.deepEqual(order, Array.from({ length: 40 }, (_, k) => k + 2), "replies in order");
    assert.ok(inReplica.every(Boolean), "each deposit was on the replica before its reply");
    assert.ok(took < 20 * 40, `40 commands in ${took} ms of simulated time: pipelined`);
    assert.deepEqual(
      await idsIn(journals[replica], "pia"),
      Array.from({ length: 41 }, (_, k) => `c${k}`),
    );
  });
});
