// The region ref's fast path hands an envelope straight to a live local entity. It checks the
// region's mailbox (empty: nothing told earlier waits there) and one byte per shard, which the
// coordinator and the region zero synchronously whenever the shard may no longer take
// deliveries here. This test sends at the instant the lease is lost, before the region itself
// (an actor, told of the loss asynchronously) has stopped a single entity.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ShardBuffers, ShardEnvelope } from "../../mod.ts";
import { testCluster } from "../../src/testing/mod.ts";
import { coordinatorOf } from "../../src/sharding/shard_coordinator.ts";
import { startTraffic } from "./_fixtures.ts";

describe("the region ref's fast path", () => {
  it("delivers nothing once the lease is lost, even before the region hears of it", async () => {
    const stableAfter = 4000; // the lease (stableAfter / 2) runs out well before any downing
    await using cluster = await testCluster(3, { seed: 21, downing: { stableAfter } });
    const { ledger, regions, traffic } = await startTraffic(cluster, 30, 90);
    const mine = [...ledger.alive].filter(([, s]) => s.has("n2")).map(([id]) => id);
    assert.ok(mine.length > 0, "n2 hosts some accounts");
    const coordinator = coordinatorOf(cluster.nodes[2])!;
    assert.ok(coordinator.leaseValid);

    // The instant n2's coordinator loses its lease (its listeners run synchronously), n2's own
    // sender tells each of n2's live entities once more through n2's region ref.
    const atLoss: string[] = [];
    const off = coordinator.onLeaseChange(() => {
      if (coordinator.leaseValid || atLoss.length > 0) return;
      for (const id of mine) {
        // Still alive here: the region has not processed its refresh yet.
        assert.equal(ledger.nodeOf(id), "n2");
        const seq = traffic.sent.size; // unique per message
        traffic.sent.set(`loss/${seq}`, id);
        traffic.sentAt.set(`loss/${seq}`, cluster.clock.now());
        atLoss.push(`loss/${seq}`);
        regions[2].tell(
          new ShardEnvelope(id, { type: "deposit", amount: 1, from: "loss", seq }),
        );
      }
    });
    try {
      cluster.partition([0, 1], 2);
      for (let step = 0; step < 400 && atLoss.length === 0; step++) await cluster.advance(10);
      assert.ok(atLoss.length > 0, "n2 lost its lease within 4 s of the cut");
      // Still cut off, and too early for anyone to take the shards over: nobody handled them.
      await cluster.advance(50);
      const handledLoss = [...ledger.handled.values()].flat().filter((h) => h.from === "loss");
      assert.deepEqual(handledLoss, [], "handled without a lease");
      assert.equal(ledger.duplicate, undefined);
    } finally {
      off();
    }
    // The cut heals before n2 is downed: it regains its lease, and what waited is delivered
    // once, in order, with the traffic that follows.
    cluster.heal();
    for (let k = 0; k < 30; k++) traffic.send(`s${k % 3}`, regions[k % 3], cluster.clock.now());
    await cluster.until(() => traffic.accounted() === traffic.sent.size, { timeout: 30_000 });
    assert.deepEqual(traffic.problems(true), []);
    assert.equal(ledger.duplicate, undefined);
    const handled = new Set([...ledger.handled.values()].flat().map((h) => `${h.from}/${h.seq}`));
    assert.deepEqual(atLoss.filter((k) => !handled.has(k) && !traffic.dead.has(k)), []);
  });
});

describe("ShardBuffers' waiting callback", () => {
  it("reports when a shard starts to have a buffer and when it is gone, each once", () => {
    const seen: [number, boolean][] = [];
    const lost: unknown[] = [];
    const b = new ShardBuffers(
      { capacity: 2, timeout: 10 },
      (m) => lost.push(m.message),
      (shard, waiting) => seen.push([shard, waiting]),
    );
    const m = (message: number, at = 0) => ({
      entityId: "a",
      message,
      origin: "user" as const,
      hops: 0,
      at,
    });
    b.push(1, m(1));
    b.push(1, m(2));
    b.push(1, m(3)); // overflow: lost, the buffer stays
    b.push(2, m(4, 5));
    assert.deepEqual(seen, [[1, true], [2, true]]);
    assert.deepEqual(b.take(1).map((x) => x.message), [1, 2]);
    assert.deepEqual(b.take(1), []); // nothing there: no callback
    assert.deepEqual(seen, [[1, true], [2, true], [1, false]]);
    b.expire(14); // m(4) is 9 ms old: stays
    b.push(3, m(5, 14));
    b.expire(15); // m(4) times out and its buffer is gone; m(5) stays
    assert.deepEqual(seen, [[1, true], [2, true], [1, false], [3, true], [2, false]]);
    b.clear();
    assert.deepEqual(seen.slice(5), [[3, false]]);
    assert.deepEqual(lost, [3, 4, 5]);
    assert.equal(b.empty, true);
  });
});
