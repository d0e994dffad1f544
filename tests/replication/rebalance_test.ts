import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Behaviors } from "../../mod.ts";
import { InMemoryJournal } from "../../src/persistence/mod.ts";
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

describe("replication: rebalancing moves a replicated shard without a window of loss", () => {
  it("the moved primary holds the whole log before its first write is acknowledged, and so do its replicas", async () => {
    await using cluster = await testCluster(2, { seed: 51, downing: { stableAfter: 2000 } });
    const journals = [new InMemoryJournal(), new InMemoryJournal(), new InMemoryJournal()];
    const replication = { replicas: 1, minAcks: 1, ackTimeout: 2000 };
    const { regions } = spawnAccounts(cluster, replication, journals.slice(0, 2));
    const entities = Array.from({ length: 12 }, (_, k) => `m${k}`);
    const acked = new Map<string, string[]>(entities.map((e) => [e, []]));
    for (let k = 0; k < 3; k++) {
      for (const e of entities) {
        const r = await cluster.run(deposit(cluster, 0, regions[0], e, `${e}-${k}`));
        assert.equal(r?.ok, true);
        acked.get(e)!.push(`${e}-${k}`);
      }
    }
    // A third node joins: rebalancing hands shards over to it.
    const fresh = await cluster.run(cluster.start(2));
    await cluster.until(() => cluster.isConverged(3), { timeout: 60_000 });
    regions.push(fresh.spawn(
      Behaviors.sharded(account("n2", journals[2]), { numShards: 10, replication }),
      "accounts",
    ));
    let moved: string | undefined;
    for (let k = 0; k < 120 && moved === undefined; k++) {
      await cluster.advance(500);
      for (const e of entities) if ((await placement(cluster, 0, e))?.primary === 2) moved = e;
    }
    assert.ok(moved !== undefined, "rebalancing moved a shard to the new node");
    const r = await cluster.run(deposit(cluster, 0, regions[0], moved, `${moved}-3`, 10_000), {
      timeout: 60_000,
    });
    assert.deepEqual(r, { ok: true, seq: 4, node: "n2" }, "served by the new node");
    acked.get(moved)!.push(`${moved}-3`);
    // Acknowledged means: on the new primary and on its replica, the log before the move included.
    const p = (await placement(cluster, 0, moved))!;
    assert.equal(p.primary, 2);
    assert.deepEqual(await idsIn(journals[2], moved), acked.get(moved));
    assert.deepEqual(await idsIn(journals[p.replicas[0]], moved), acked.get(moved));
    // Losing the new primary right away loses nothing acknowledged.
    await cluster.run(cluster.kill(2));
    // Until the failure detector, downing and promotion have run, asks may go unanswered.
    let served = false;
    for (let k = 4; k < 40 && !served; k++) {
      const id = `${moved}-${k}`;
      const r = await cluster.run(deposit(cluster, 0, regions[0], moved, id, 3000), {
        timeout: 60_000,
      });
      if (r?.ok) acked.get(moved)!.push(id);
      served = r?.ok === true;
    }
    assert.ok(served, "served again after the failover");
    const state = await cluster.run(
      cluster.nodes[0].entityAsk<Cmd, State>(regions[0], moved, (replyTo) => ({
        type: "get",
        replyTo,
      })),
    );
    assert.equal(new Set(state.ids).size, state.ids.length, "no deposit twice");
    for (const id of acked.get(moved)!) assert.ok(state.ids.includes(id), `acknowledged ${id}`);
    assert.deepEqual(state.ids.slice(0, 4), acked.get(moved)!.slice(0, 4));
  });
});
