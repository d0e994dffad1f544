// Idle entities are refilled after a loss, with no message of their own. Without the repair an
// entity nobody writes to or reads keeps its log on the surviving copies only after its primary's
// (or its replica's) node is lost, and a second loss can take the last copy of acknowledged writes
// (README, Replication, "One loss at a time"). Here nothing touches the entities between the two
// losses: the nodes that hold their logs wake them (or, on a live primary, probe its replicas)
// once they see the placement of their shard change; a replica that left a shipment unanswered is
// probed again.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { testCluster } from "../../src/testing/mod.ts";
import {
  account,
  type Cmd,
  deposit,
  idsIn,
  placement,
  spawnAccounts,
  type State,
} from "./_fixtures.ts";
import { InMemoryJournal, type PersistedEvent } from "../../src/persistence/mod.ts";
import { type ActorRef, Behaviors, type ShardEnvelope } from "../../mod.ts";
import type { TestCluster } from "../../src/testing/mod.ts";

const OPTIONS = { replicas: 1, minAcks: 1, ackTimeout: 1000 };

/** The live nodes whose journal holds at least `acked` events of each entity. */
async function holders(
  cluster: TestCluster,
  journals: InMemoryJournal[],
  entities: readonly string[],
  acked: number,
): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  for (const e of entities) {
    const at: number[] = [];
    for (let i = 0; i < journals.length; i++) {
      if (!cluster.nodes[i].isShutdown && (await idsIn(journals[i], e)).length >= acked) at.push(i);
    }
    out.set(e, at);
  }
  return out;
}

/** Waits (simulated time) until every entity's log is on two live nodes; the time it took. */
async function refilled(
  cluster: TestCluster,
  journals: InMemoryJournal[],
  entities: readonly string[],
  acked: number,
): Promise<number> {
  const t0 = cluster.clock.now();
  for (;;) {
    const at = await holders(cluster, journals, entities, acked);
    const thin = [...at].filter(([, nodes]) => nodes.length < 2);
    if (thin.length === 0) return cluster.clock.now() - t0;
    if (cluster.clock.now() - t0 > 60_000) {
      assert.fail(
        `after 60 s, ${thin.length} idle entities still have their log on one live node: ${
          thin.slice(0, 5).map(([e, n]) => `${e} on ${n}`).join(", ")
        }`,
      );
    }
    await cluster.advance(500);
  }
}

/** Waits until every entity's shard is placed and its primary and replicas hold its log. */
async function onPlacement(
  cluster: TestCluster,
  journals: InMemoryJournal[],
  entities: readonly string[],
  acked: number,
): Promise<void> {
  const t0 = cluster.clock.now();
  for (;;) {
    const off: string[] = [];
    for (const e of entities) {
      const p = await placement(cluster, 0, e);
      const on = p === undefined ? [] : [p.primary, ...p.replicas];
      if (on.length < 2) off.push(`${e} (not placed)`);
      for (const i of on) {
        if ((await idsIn(journals[i], e)).length < acked) off.push(`${e} on n${i}`);
      }
    }
    if (off.length === 0) return;
    if (cluster.clock.now() - t0 > 60_000) {
      assert.fail(`after 60 s, logs missing from their placement: ${off.slice(0, 5).join(", ")}`);
    }
    await cluster.advance(500);
  }
}

/** Deposits `<entity>-<d>` for each of `ds` into each entity through node 0; each acknowledged. */
async function depositEach(
  cluster: TestCluster,
  region: ActorRef<ShardEnvelope<Cmd>>,
  entities: readonly string[],
  ds: readonly string[],
): Promise<void> {
  for (const e of entities) {
    for (const d of ds) {
      const r = await cluster.run(deposit(cluster, 0, region, e, `${e}-${d}`));
      assert.equal(r?.ok, true, `${e}-${d}: ${JSON.stringify(r)}`);
    }
  }
}

async function read(
  cluster: TestCluster,
  via: number,
  region: Parameters<TestCluster["nodes"][number]["entityAsk"]>[0],
  entity: string,
): Promise<State> {
  return await cluster.run(
    cluster.nodes[via].entityAsk<Cmd, State>(
      region as never,
      entity,
      (replyTo) => ({ type: "get", replyTo }),
      { timeout: 20_000 },
    ),
    { timeout: 60_000 },
  );
}

describe("replication: idle entities are refilled after a loss", () => {
  it("a lost primary's idle entities are back on two nodes with no message, so a second loss loses nothing", async () => {
    await using cluster = await testCluster(4, { seed: 11, downing: { stableAfter: 2000 } });
    const { journals, regions } = spawnAccounts(cluster, OPTIONS);
    const entities = Array.from({ length: 40 }, (_, i) => `idle-${i}`);
    await depositEach(cluster, regions[0], entities, ["a", "b"]);
    // The first loss: the node that is primary of the most of them (never node 0, which new
    // nodes of a test cluster join through).
    const primaries = await Promise.all(entities.map((e) => placement(cluster, 0, e)));
    const count = [0, 0, 0, 0];
    for (const p of primaries) count[p!.primary]++;
    const victim = [1, 2, 3].reduce((a, b) => (count[b] > count[a] ? b : a));
    assert.ok(count[victim] > 0, "the victim is primary of some entities");
    const before = await holders(cluster, journals, entities, 2);
    assert.ok([...before.values()].every((n) => n.length === 2), "primary and replica hold each");
    await cluster.run(cluster.kill(victim));
    await cluster.until(() => cluster.isConverged(3), { timeout: 60_000 });
    const took = await refilled(cluster, journals, entities, 2);
    assert.ok(took <= 60_000);
    // The second loss: a survivor holding logs (not node 0, through which the test reads).
    const second = [1, 2, 3].filter((i) => i !== victim)[0];
    await cluster.run(cluster.kill(second));
    await cluster.until(() => cluster.isConverged(2), { timeout: 60_000 });
    for (const e of entities) {
      const s = await read(cluster, 0, regions[0], e);
      assert.deepEqual(s.ids, [`${e}-a`, `${e}-b`], `${e}: every acknowledged deposit, once`);
    }
  });

  it("a live primary whose replica was lost ships its idle entities' logs to the new replica", async () => {
    await using cluster = await testCluster(4, { seed: 12, downing: { stableAfter: 2000 } });
    const { journals, regions } = spawnAccounts(cluster, OPTIONS);
    const entities = Array.from({ length: 40 }, (_, i) => `live-${i}`);
    await depositEach(cluster, regions[0], entities, ["a"]);
    // The loss of a replica of entities whose primary (not node 0, through which the test reads)
    // stays, alive, with entities that get no message.
    const at = await Promise.all(entities.map((e) => placement(cluster, 0, e)));
    const keptIf = (victim: number) =>
      entities.filter((_, k) =>
        at[k]!.replicas.includes(victim) && at[k]!.primary !== victim && at[k]!.primary !== 0
      );
    const victim = [1, 2, 3].reduce((a, b) => (keptIf(b).length > keptIf(a).length ? b : a));
    const kept = keptIf(victim);
    assert.ok(kept.length > 0, "some live entities lose their replica");
    await cluster.run(cluster.kill(victim));
    await cluster.until(() => cluster.isConverged(3), { timeout: 60_000 });
    await refilled(cluster, journals, kept, 1);
    // Their primary is lost next: the new replica holds what it acknowledged.
    const primary = at[entities.indexOf(kept[0])]!.primary;
    await cluster.run(cluster.kill(primary));
    await cluster.until(() => cluster.isConverged(2), { timeout: 60_000 });
    for (const e of kept.filter((e) => at[entities.indexOf(e)]!.primary === primary)) {
      const s = await read(cluster, 0, regions[0], e);
      assert.deepEqual(s.ids, [`${e}-a`], `${e}: the acknowledged deposit`);
    }
  });

  it("a join moves shards: their idle entities follow to the new placement, and two later losses, one at a time, lose nothing", async () => {
    await using cluster = await testCluster(3, { seed: 13, downing: { stableAfter: 2000 } });
    const { journals, regions } = spawnAccounts(cluster, OPTIONS);
    const entities = Array.from({ length: 40 }, (_, i) => `moved-${i}`);
    await depositEach(cluster, regions[0], entities, ["a"]);
    const before = await Promise.all(entities.map((e) => placement(cluster, 0, e)));
    const node = await cluster.run(cluster.start(3));
    journals.push(new InMemoryJournal());
    regions.push(node.spawn(
      Behaviors.sharded(account("n3", journals[3]), { numShards: 10, replication: OPTIONS }),
      "accounts",
    ));
    await cluster.until(() => cluster.isConverged(4), { timeout: 60_000 });
    // Rebalancing moves shards to it a few at a time, and the ring gives it replicas: wait until
    // the placements have not changed for 5 s.
    let last = "";
    for (let stable = 0; stable < 5000; stable += 500) {
      const now = JSON.stringify(await Promise.all(entities.map((e) => placement(cluster, 0, e))));
      if (now !== last) stable = 0;
      last = now;
      assert.ok(cluster.clock.now() < 120_000, "the placements settle");
      await cluster.advance(500);
    }
    await onPlacement(cluster, journals, entities, 1);
    const after = await Promise.all(entities.map((e) => placement(cluster, 0, e)));
    const onNew = entities.filter((_, k) =>
      [after[k]!.primary, ...after[k]!.replicas].includes(3) &&
      ![before[k]!.primary, ...before[k]!.replicas].includes(3)
    );
    assert.ok(onNew.length > 0, "the join moved some entities' placement to the new node");
    for (const e of onNew) assert.deepEqual(await idsIn(journals[3], e), [`${e}-a`]);
    for (const victim of [1, 2]) {
      await cluster.run(cluster.kill(victim));
      await cluster.until(() => cluster.isConverged(victim === 1 ? 3 : 2), { timeout: 60_000 });
      await onPlacement(cluster, journals, entities, 1);
    }
    for (const e of entities) {
      const s = await read(cluster, 0, regions[0], e);
      assert.deepEqual(s.ids, [`${e}-a`], `${e}: the acknowledged deposit`);
    }
  });

  it("a replica that left a shipment unanswered (its disk stalled, then the write failed) catches up with no further write", async () => {
    await using cluster = await testCluster(3, { seed: 14, downing: { stableAfter: 2000 } });
    // Node journals whose writes can stall: while `stalled`, a write waits 3 s, then fails.
    class StallingJournal extends InMemoryJournal {
      stalled = false;
      override persist(id: string, events: readonly PersistedEvent[]): Promise<void> {
        if (!this.stalled) return super.persist(id, events);
        return new Promise((_, reject) => {
          cluster.clock.setTimeout(() => reject(new Error("disk stalled")), 3000);
        });
      }
    }
    const stalling = cluster.nodes.map(() => new StallingJournal());
    const { journals, regions } = spawnAccounts(cluster, { ...OPTIONS, replicas: 2 }, stalling);
    const first = await cluster.run(deposit(cluster, 0, regions[0], "lag", "lag-a"));
    assert.equal(first?.ok, true, JSON.stringify(first));
    const p = (await placement(cluster, 0, "lag"))!;
    const [, far] = p.replicas;
    // One replica's disk stalls: the next deposit is acknowledged by the other replica; the
    // stalled one answers nothing in time, and its write then fails.
    stalling[far].stalled = true;
    const second = await cluster.run(deposit(cluster, 0, regions[0], "lag", "lag-b"));
    assert.equal(second?.ok, true, JSON.stringify(second));
    stalling[far].stalled = false;
    await cluster.advance(3500);
    assert.deepEqual((await idsIn(journals[far], "lag")).slice(0, 1), ["lag-a"]);
    // No write, no read from here on.
    const t0 = cluster.clock.now();
    while ((await idsIn(journals[far], "lag")).length < 2) {
      assert.ok(cluster.clock.now() - t0 < 20_000, "the replica caught up within 20 s");
      await cluster.advance(250);
    }
    assert.deepEqual(await idsIn(journals[far], "lag"), ["lag-a", "lag-b"]);
    assert.equal(cluster.alive.length, 3, "nobody was downed");
  });

  it("passivated entities are woken for the refill and passivated again; a second loss loses nothing", async () => {
    await using cluster = await testCluster(4, { seed: 15, downing: { stableAfter: 2000 } });
    const journals = cluster.nodes.map(() => new InMemoryJournal());
    const regions = cluster.nodes.map((node, i) =>
      node.spawn(
        Behaviors.sharded(account(`n${i}`, journals[i]), {
          numShards: 10,
          replication: OPTIONS,
          passivateAfter: 2000,
        }),
        "accounts",
      )
    );
    const live = () =>
      cluster.nodes.map((n) => n.isShutdown ? 0 : (n.stats().roots["/accounts"]?.actors ?? 1) - 1);
    const entities = Array.from({ length: 40 }, (_, i) => `sleepy-${i}`);
    await depositEach(cluster, regions[0], entities, ["a"]);
    await cluster.advance(5000);
    assert.deepEqual(live(), [0, 0, 0, 0], "every entity passivated");
    const at = await Promise.all(entities.map((e) => placement(cluster, 0, e)));
    const count = [0, 0, 0, 0];
    for (const p of at) count[p!.primary]++;
    const victim = [1, 2, 3].reduce((a, b) => (count[b] > count[a] ? b : a));
    await cluster.run(cluster.kill(victim));
    await cluster.until(() => cluster.isConverged(3), { timeout: 60_000 });
    await refilled(cluster, journals, entities, 1);
    // The woken entities go back to sleep.
    await cluster.advance(5000);
    assert.deepEqual(live(), [0, 0, 0, 0], "the woken entities passivated again");
    const second = [1, 2, 3].find((i) => i !== victim)!;
    await cluster.run(cluster.kill(second));
    await cluster.until(() => cluster.isConverged(2), { timeout: 60_000 });
    for (const e of entities) {
      const s = await read(cluster, 0, regions[0], e);
      assert.deepEqual(s.ids, [`${e}-a`], `${e}: the acknowledged deposit`);
    }
  });
});
