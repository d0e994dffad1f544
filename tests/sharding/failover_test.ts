import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Behaviors, DeadLetter, ShardEnvelope } from "../../mod.ts";
import { testCluster } from "../../src/testing/mod.ts";
import { coordinatorOf } from "../../src/sharding/shard_coordinator.ts";
import { account, type AccountMsg, Ledger, startTraffic } from "./_fixtures.ts";

const onNode = (ledger: Ledger, node: string) =>
  [...ledger.alive].filter(([, s]) => s.has(node)).map(([id]) => id);

describe("sharding on a simulated cluster: failures", () => {
  it("reallocates a killed node's shards once it is downed, and its entities answer again", async () => {
    await using cluster = await testCluster(3, { seed: 11 });
    const { ledger, regions, traffic } = await startTraffic(cluster, 30, 60);
    const lost = onNode(ledger, "n2");
    assert.ok(lost.length > 0);
    await cluster.kill(2);
    for (let step = 0; step < 200; step++) {
      traffic.send(`s${step % 2}`, regions[step % 2]);
      await cluster.advance(50);
      assert.equal(ledger.duplicate, undefined, ledger.duplicate);
    }
    await cluster.until(() => cluster.isConverged(2), { timeout: 60_000 });
    for (const id of lost) {
      const where = await cluster.run(
        cluster.nodes[0].entityAsk<AccountMsg, string>(regions[0], id, (replyTo) => ({
          type: "where",
          replyTo,
        })),
      );
      assert.ok(where === "n0" || where === "n1", `${id} now on ${where}`);
    }
    await cluster.until(() => traffic.accounted() === traffic.sent.size, { timeout: 30_000 });
    assert.deepEqual(traffic.problems(true), []);
  });

  it("keeps every decided allocation when the leader is lost: the new leader re-decides nothing", async () => {
    await using cluster = await testCluster(3, { seed: 17 });
    const { ledger } = await startTraffic(cluster, 40, 80);
    const owners = async (i: number) =>
      Object.fromEntries(
        Object.entries((await cluster.nodes[i].getClusterState()).allocations.accounts ?? {})
          .map(([s, a]) => [s, a.primary.port]),
      );
    const before = await owners(1);
    const epochBefore = (await cluster.nodes[1].getClusterState()).allocationEpoch;
    assert.equal(cluster.nodes[1].leader?.port, 25520, "node 0 leads");
    await cluster.kill(0);
    await cluster.until(() => cluster.isConverged(2), { timeout: 60_000 });
    await cluster.until(() => cluster.nodes[1].leader?.port === 25521);
    // The lost leader's shards are dropped from the table (allocated anew on their next message).
    for (let t = 0; Object.values(await owners(2)).includes(25520); t += 100) {
      assert.ok(t < 10_000, "the lost leader's shards are forgotten");
      await cluster.advance(100);
    }
    const state = await cluster.nodes[2].getClusterState();
    assert.ok(state.allocationEpoch > epochBefore, "decided again under the new epoch");
    for (const [shard, port] of Object.entries(before)) {
      const now = state.allocations.accounts?.[Number(shard)]?.primary.port;
      if (port === 25520) assert.notEqual(now, 25520, `shard ${shard} left the lost leader`);
      else assert.equal(now, port, `shard ${shard} stayed on ${port}`);
    }
    assert.equal(ledger.duplicate, undefined);
  });

  it("stops the shards of a cut-off node before the majority downs it and takes them over", async () => {
    const stableAfter = 2000;
    await using cluster = await testCluster(3, { seed: 13, downing: { stableAfter } });
    const { ledger, regions, traffic } = await startTraffic(cluster, 30, 60);
    const cut = onNode(ledger, "n2");
    assert.ok(cut.length > 0);
    const t0 = cluster.clock.now();
    cluster.partition([0, 1], 2);
    let stoppedAt: number | undefined;
    let downedAt: number | undefined;
    let takenAt: number | undefined;
    for (let step = 0; step < 1000 && takenAt === undefined; step++) {
      traffic.send(`s${step % 2}`, regions[step % 2]);
      await cluster.advance(20);
      assert.equal(ledger.duplicate, undefined, ledger.duplicate);
      const now = cluster.clock.now();
      if (stoppedAt === undefined && onNode(ledger, "n2").length === 0) stoppedAt = now;
      const s2 = cluster.nodes[0].members.find((m) => m.address.port === 25522)?.status;
      if (downedAt === undefined && (s2 === "down" || s2 === undefined)) downedAt = now;
      if (cut.some((id) => ledger.nodeOf(id) === "n0" || ledger.nodeOf(id) === "n1")) {
        takenAt = now;
      }
    }
    assert.ok(stoppedAt !== undefined && downedAt !== undefined && takenAt !== undefined);
    // The lease (stableAfter / 2 by default) runs out first; downing waits stableAfter.
    assert.ok(stoppedAt - t0 < stableAfter, `stopped ${stoppedAt - t0} ms after the cut`);
    assert.ok(stoppedAt < downedAt, `stopped at ${stoppedAt - t0}, downed at ${downedAt - t0}`);
    assert.ok(downedAt <= takenAt, `downed at ${downedAt - t0}, taken at ${takenAt - t0}`);
    cluster.heal();
    await cluster.until(() => traffic.accounted() === traffic.sent.size, { timeout: 30_000 });
    assert.deepEqual(traffic.problems(true), []);
  });

  it("passivates idle entities and brings them back on their next message", async () => {
    await using cluster = await testCluster(1, { seed: 2 });
    const ledger = new Ledger();
    const node = cluster.nodes[0];
    const region = node.spawn(
      Behaviors.sharded(account(ledger, "n0"), { numShards: 10, passivateAfter: 1000 }),
      "accounts",
    );
    region.tell(new ShardEnvelope("a", { type: "deposit", amount: 5 }));
    await cluster.until(() => ledger.nodeOf("a") === "n0");
    await cluster.until(() => ledger.nodeOf("a") === undefined, { timeout: 5000 });
    const balance = await cluster.run(
      node.entityAsk<AccountMsg, number>(
        region,
        "a",
        (replyTo) => ({ type: "getBalance", replyTo }),
      ),
    );
    assert.equal(balance, 0, "a fresh incarnation (not event-sourced)");
    assert.equal(ledger.nodeOf("a"), "n0");
  });

  it("places entities only on nodes with the role; the others route", async () => {
    await using cluster = await testCluster(2, { seed: 4 });
    const ledger = new Ledger();
    // testCluster gives every node the same roles, so the role is met on no node but the
    // restarted one below.
    const [a] = cluster.nodes;
    const region = a.spawn(
      Behaviors.sharded(account(ledger, "n0"), { numShards: 10, role: "worker" }),
      "accounts",
    );
    const dead: DeadLetter[] = [];
    a.eventStream.subscribe(DeadLetter, (d) => dead.push(d));
    region.tell(new ShardEnvelope("x", { type: "deposit", amount: 1 }));
    await cluster.advance(3000);
    assert.equal(ledger.nodeOf("x"), undefined, "no node has the role: nothing is hosted");
    assert.equal(dead.length, 0, "still waiting in the bounded buffer");
    await cluster.until(() => dead.length === 1, { timeout: 15_000 });
    assert.equal(dead[0].reason, "undeliverable");
    assert.match(dead[0].detail ?? "", /no shard location within 10000 ms/);
  });

  it("turns an overflowing shard buffer into dead letters, never a silent drop", async () => {
    const { shardingExtension } = await import("../../src/sharding/mod.ts");
    await using cluster = await testCluster(1, {
      seed: 6,
      extensions: [shardingExtension({ bufferSize: 3 })],
    });
    const ledger = new Ledger();
    const node = cluster.nodes[0];
    const region = node.spawn(
      Behaviors.sharded(account(ledger, "n0"), { numShards: 10, role: "nobody" }),
      "accounts",
    );
    const dead: DeadLetter[] = [];
    node.eventStream.subscribe(DeadLetter, (d) => dead.push(d));
    for (let i = 0; i < 5; i++) region.tell(new ShardEnvelope("x", { type: "deposit", amount: i }));
    await cluster.advance(10);
    assert.deepEqual(dead.map((d) => (d.message as { amount: number }).amount), [3, 4]);
    assert.match(dead[0].detail ?? "", /shard buffer full \(3\)/);
  });
});

describe("sharding on a simulated cluster: a slow link out of a node", () => {
  // The node still receives every state from the leader, but its acks (and everything else it
  // sends) arrive 8 s late. A lease timed from the arrival of states would keep it hosting while
  // the others down it and reallocate its shards; a lease timed from its own acks runs out.
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    const victim = 1 + (seed % 2);
    it(`stops the node's shards before they are reallocated (seed ${seed}, node ${victim})`, async () => {
      let slowFrom: number | undefined;
      await using cluster = await testCluster(3, {
        seed,
        downing: { stableAfter: 2000 },
        latency: (from, _to) => (from.port === slowFrom ? 8000 : 1),
      });
      const { ledger, regions, traffic } = await startTraffic(cluster, 30, 60);
      assert.ok(onNode(ledger, `n${victim}`).length > 0, "the node hosts entities at first");
      slowFrom = cluster.address(victim).port;
      const others = [0, 1, 2].filter((x) => x !== victim);
      let stoppedAt: number | undefined;
      const start = cluster.clock.now();
      for (let step = 0; step < 200; step++) {
        if (step === 160) slowFrom = undefined;
        traffic.send(`s${others[step % 2]}`, regions[others[step % 2]]);
        await cluster.advance(50);
        assert.equal(ledger.duplicate, undefined, `${ledger.duplicate} at step ${step}`);
        if (stoppedAt === undefined && onNode(ledger, `n${victim}`).length === 0) {
          stoppedAt = cluster.clock.now() - start;
        }
      }
      // The lease is 1000 ms (stableAfter / 2): the node gives up its shards within about that.
      assert.ok(stoppedAt !== undefined && stoppedAt <= 1500, `stopped after ${stoppedAt} ms`);
      assert.ok(cluster.nodes[victim].isShutdown, "the node was downed");
      await cluster.until(() => traffic.accounted() === traffic.sent.size, { timeout: 30_000 });
      assert.deepEqual(traffic.problems(true), []);
    });
  }
});

describe("sharding on a simulated cluster: a live node downed by an operator", () => {
  // Node 2 still answers the leader, but everything the leader sends it takes 300 ms, so it
  // learns that it was downed 300 ms late and keeps its lease until then. Its shards must not
  // move before the last lease the leader granted it has run out.
  for (const seed of [1, 2, 3, 4]) {
    it(`moves the node's shards only after its lease ran out (seed ${seed})`, async () => {
      await using cluster = await testCluster(3, {
        seed,
        downing: { stableAfter: 2000 },
        latency: (from, to) => (from.port === 25520 && to.port === 25522 ? 300 : 1),
      });
      const { ledger, regions, traffic } = await startTraffic(cluster, 30, 60);
      const moved = onNode(ledger, "n2");
      assert.ok(moved.length > 0, "the node hosts entities at first");
      const downedAt = cluster.clock.now();
      traffic.crashes.push([downedAt - 1000, downedAt + 1000]);
      cluster.nodes[0].down(cluster.address(2));
      for (let step = 0; step < 300; step++) {
        traffic.send(`s${step % 2}`, regions[step % 2]);
        await cluster.advance(10);
        assert.equal(ledger.duplicate, undefined, `${ledger.duplicate} at step ${step}`);
      }
      assert.ok(cluster.nodes[2].isShutdown, "the node learned that it was downed");
      for (const id of moved) {
        const where = await cluster.run(
          cluster.nodes[1].entityAsk<AccountMsg, string>(regions[1], id, (replyTo) => ({
            type: "where",
            replyTo,
          })),
        );
        assert.ok(where === "n0" || where === "n1", `${id} now on ${where}`);
      }
      await cluster.until(() => traffic.accounted() === traffic.sent.size, { timeout: 30_000 });
      assert.deepEqual(traffic.problems(true), []);
    });
  }
});

describe("sharding on a simulated cluster: a lower address rejoins and becomes the leader", () => {
  // Leadership moves to the lowest address. The others' leases outlive the change of epoch (the
  // new leader keeps what was decided), so their entities keep running; only shards that the
  // new leader rebalances onto the new node move, by hand-off.
  for (const seed of [1, 2, 3]) {
    it(`stops no entity on the other nodes but those handed over (seed ${seed})`, async () => {
      await using cluster = await testCluster(3, { seed });
      const { ledger, regions, traffic } = await startTraffic(cluster, 30, 60);
      await cluster.kill(0);
      await cluster.until(() => cluster.isConverged(2) && cluster.nodes[1].leader?.port === 25521, {
        timeout: 60_000,
      });
      for (let k = 0; k < 60; k++) traffic.send(`s${1 + (k % 2)}`, regions[1 + (k % 2)]);
      await cluster.until(() => traffic.accounted() === traffic.sent.size, { timeout: 30_000 });
      const before = new Set([...onNode(ledger, "n1"), ...onNode(ledger, "n2")]);
      assert.ok(before.size > 0);
      const restarted = cluster.restart(0);
      const stopped = new Set<string>();
      for (let step = 0; step < 600; step++) {
        traffic.send(`s${1 + (step % 2)}`, regions[1 + (step % 2)]);
        await cluster.advance(10);
        for (const i of [1, 2]) {
          assert.ok(coordinatorOf(cluster.nodes[i])!.leaseValid, `node ${i} lost its lease`);
        }
        const now = new Set([...onNode(ledger, "n1"), ...onNode(ledger, "n2")]);
        for (const id of before) if (!now.has(id)) stopped.add(id);
        assert.equal(ledger.duplicate, undefined, ledger.duplicate);
      }
      await cluster.run(restarted);
      assert.equal(cluster.nodes[1].leader?.port, 25520, "the rejoined node leads");
      const moved = new Set(onNode(ledger, "n0"));
      const lost = [...stopped].filter((id) => !moved.has(id));
      assert.deepEqual(lost, [], "entities stopped without moving to the new node");
      assert.ok(stopped.size < before.size, `${stopped.size} of ${before.size} stopped`);
      await cluster.until(() => traffic.accounted() === traffic.sent.size, { timeout: 30_000 });
      assert.deepEqual(traffic.problems(true), []);
    });
  }
});
