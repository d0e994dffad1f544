// After the loss of a primary's node, an entity woken on its new primary by a read (no write)
// brings its replicas up to date at once: the new primary probes each replica when it starts,
// and one that lags gets the missing range. Before, the log stayed on fewer nodes until the
// entity's next write, and a second loss in between lost acknowledged writes.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { testCluster } from "../../src/testing/mod.ts";
import { type Cmd, deposit, idsIn, placement, spawnAccounts, type State } from "./_fixtures.ts";

const IDS = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"];

describe("replication: a read after a failover refills the replicas", () => {
  it("every replica of the new primary holds the whole log soon after a read, and the old replica may then go", async () => {
    await using cluster = await testCluster(4, { seed: 3, downing: { stableAfter: 2000 } });
    const { journals, regions } = spawnAccounts(cluster, {
      replicas: 1,
      minAcks: 1,
      ackTimeout: 1000,
    });
    const acked = new Map<string, string[]>();
    for (const id of IDS) {
      acked.set(id, []);
      for (let k = 0; k < 3; k++) {
        const r = await cluster.run(deposit(cluster, 0, regions[0], id, `${id}${k}`));
        assert.equal(r?.ok, true, `${id}${k}: ${JSON.stringify(r)}`);
        acked.get(id)!.push(`${id}${k}`);
      }
    }
    const before = new Map<string, { primary: number; replicas: number[] }>();
    for (const id of IDS) before.set(id, (await placement(cluster, 0, id))!);
    // The node that is the primary of the most entities is lost.
    const count = [0, 1, 2, 3].map((n) => IDS.filter((id) => before.get(id)!.primary === n).length);
    const lost = count.indexOf(Math.max(...count));
    const moved = IDS.filter((id) => before.get(id)!.primary === lost);
    await cluster.run(cluster.kill(lost));
    const survivors = [0, 1, 2, 3].filter((i) => i !== lost);
    await cluster.until(() => cluster.isConverged(3), { timeout: 60_000 });
    const via = survivors[0];
    const read = (id: string, from = via) =>
      cluster.run(
        cluster.nodes[from].entityAsk<Cmd, State>(
          regions[from],
          id,
          (replyTo) => ({ type: "get", replyTo }),
          { timeout: 20_000 },
        ),
        { timeout: 60_000 },
      );
    // Reads only: each wakes its entity on the new primary, which adopts the newest copy.
    let refilled = 0;
    for (const id of moved) {
      const state = await read(id);
      assert.deepEqual(state.ids, acked.get(id), `${id}: the read sees every acknowledged write`);
      const now = (await placement(cluster, via, id))!;
      const old = before.get(id)!;
      for (const r of now.replicas) {
        if (r !== old.replicas[0]) refilled++; // a replica that held nothing of it before
        let held: string[] = [];
        for (let step = 0; step < 500; step++) {
          held = await idsIn(journals[r], id);
          if (held.length === acked.get(id)!.length) break;
          await cluster.advance(10);
        }
        assert.deepEqual(held, acked.get(id), `${id}: replica n${r} holds the log, with no write`);
      }
    }
    assert.ok(refilled > 0, "some entity got a replica that held nothing of its log");
    // The second loss: every old replica that is not a new primary. Nothing acknowledged is lost.
    const oldReplicas = new Set(moved.map((id) => before.get(id)!.replicas[0]));
    const newPrimaries = new Set<number>();
    for (const id of moved) newPrimaries.add((await placement(cluster, via, id))!.primary);
    const second = [...oldReplicas].find((r) => !newPrimaries.has(r));
    if (second !== undefined) {
      await cluster.run(cluster.kill(second));
      await cluster.until(() => cluster.isConverged(2), { timeout: 60_000 });
    }
    const left = survivors.filter((i) => i !== second);
    for (const id of moved) {
      const state = await read(id, left[0]);
      assert.deepEqual(state.ids, acked.get(id), `${id}: every acknowledged write, once, in order`);
    }
  });
});
