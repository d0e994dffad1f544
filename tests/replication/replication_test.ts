import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Behaviors } from "../../mod.ts";
import { parseConfig } from "../../src/config/mod.ts";
import { testCluster } from "../../src/testing/mod.ts";
import { deposit, idsIn, placement, type Reply, spawnAccounts } from "./_fixtures.ts";

describe("replication on a simulated cluster", () => {
  it("places replicas on nodes other than the primary and ships every event to them before the reply", async () => {
    // 20 ms links, 1 ms steps: a reply sent before the replica stored the event would be seen.
    await using cluster = await testCluster(3, { seed: 3, latency: 20, step: 1 });
    const { journals, regions } = spawnAccounts(cluster, {
      replicas: 1,
      minAcks: 1,
      ackTimeout: 2000,
    });
    assert.equal((await cluster.run(deposit(cluster, 0, regions[0], "alice", "c0")))?.ok, true);
    const p = await placement(cluster, 0, "alice");
    assert.ok(p !== undefined);
    assert.equal(p.replicas.length, 1);
    assert.notEqual(p.replicas[0], p.primary);
    const primary: number = p.primary;
    const replica: number = p.replicas[0];
    const ids = ["c0"];
    for (let k = 1; k < 5; k++) {
      // Asked on the primary's node: the reply is local, the replica is 20 ms away.
      const r = await cluster.run(deposit(cluster, primary, regions[primary], "alice", `c${k}`));
      assert.deepEqual(r, { ok: true, seq: k + 1, node: `n${primary}` });
      ids.push(`c${k}`);
      assert.deepEqual(await idsIn(journals[primary], "alice"), ids);
      assert.deepEqual(await idsIn(journals[replica], "alice"), ids);
    }
    const third = [0, 1, 2].find((i) => i !== p.primary && i !== p.replicas[0])!;
    assert.deepEqual(await idsIn(journals[third], "alice"), []);
  });

  it("takes replication from casty.toml and with two replicas keeps a copy on every node", async () => {
    const config = await parseConfig(
      "[defaults.replication]\nreplicas = 1\n[actors.accounts]\nreplication = { replicas = 2, min_acks = 2 }",
    );
    await using cluster = await testCluster(3, { seed: 5, config });
    const { journals, regions } = spawnAccounts(cluster, undefined);
    const r = await cluster.run(deposit(cluster, 0, regions[0], "bob", "c0"));
    assert.equal(r?.ok, true);
    const p = await placement(cluster, 1, "bob");
    assert.equal(p?.replicas.length, 2);
    for (const j of journals) assert.deepEqual(await idsIn(j, "bob"), ["c0"]);
  });

  it("fails a command with QuorumNotReachedError when its replica is gone, and tells the caller", async () => {
    await using cluster = await testCluster(2, { seed: 7 });
    const { regions } = spawnAccounts(cluster, { replicas: 1, minAcks: 1, ackTimeout: 1000 });
    assert.equal((await cluster.run(deposit(cluster, 0, regions[0], "carol", "c0")))?.ok, true);
    const p = (await placement(cluster, 0, "carol"))!;
    await cluster.kill(p.replicas[0]);
    const t0 = cluster.clock.now();
    const r = await cluster.run(deposit(cluster, p.primary, regions[p.primary], "carol", "c1"));
    assert.deepEqual(r, { ok: false, code: "QUORUM_NOT_REACHED", node: `n${p.primary}` });
    const waited = cluster.clock.now() - t0;
    assert.ok(waited >= 1000 && waited < 1500, `failed after ${waited} ms`);
  });

  it("fails the waiting commands of several entities each at its own deadline", async () => {
    await using cluster = await testCluster(2, { seed: 7 });
    const { regions } = spawnAccounts(cluster, { replicas: 1, minAcks: 1, ackTimeout: 1000 });
    const ids = ["carol", "dave", "erin", "fay", "gus", "hal", "ivy", "jon"];
    for (const id of ids) {
      assert.equal((await cluster.run(deposit(cluster, 0, regions[0], id, "c0")))?.ok, true);
    }
    const places = await Promise.all(ids.map((id) => placement(cluster, 0, id)));
    const primary = places[0]!.primary;
    const same = ids.filter((_, i) => places[i]!.primary === primary);
    assert.ok(same.length >= 3, `entities on node ${primary}: ${same}`);
    await cluster.kill(places[0]!.replicas[0]);
    const t0 = cluster.clock.now();
    const failedAt: number[] = [];
    const waits: Promise<Reply | undefined>[] = [];
    // Three entities start waiting 0, 300 and 600 ms apart (the second twice).
    for (const [k, id] of [same[0], same[1], same[1], same[2]].entries()) {
      if (k === 1 || k === 3) await cluster.advance(300);
      waits.push(
        deposit(cluster, primary, regions[primary], id, `c${k + 1}`).then((r) => {
          failedAt[k] = cluster.clock.now() - t0;
          return r;
        }),
      );
    }
    const replies = await cluster.run(Promise.all(waits));
    for (const r of replies) assert.equal(r?.ok === false && r.code, "QUORUM_NOT_REACHED");
    for (const [k, start] of [0, 300, 300, 600].entries()) {
      const waited = failedAt[k] - start;
      assert.ok(waited >= 1000 && waited < 1100, `command ${k} failed after ${waited} ms`);
    }
  });

  it("with minAcks 0 replies at once and still ships the events", async () => {
    await using cluster = await testCluster(2, { seed: 9 });
    const { journals, regions } = spawnAccounts(cluster, { replicas: 1 });
    for (let k = 0; k < 3; k++) {
      assert.equal((await cluster.run(deposit(cluster, 0, regions[0], "dan", `c${k}`)))?.ok, true);
    }
    await cluster.advance(100);
    for (const j of journals) assert.deepEqual(await idsIn(j, "dan"), ["c0", "c1", "c2"]);
  });

  it("with minAcks 0 holds writers back (never fails them) past 1000 events unanswered by a replica", async () => {
    await using cluster = await testCluster(2, { seed: 9, downing: { stableAfter: 30_000 } });
    const { journals, regions } = spawnAccounts(cluster, {
      replicas: 1,
      minAcks: 0,
      ackTimeout: 1000,
    });
    assert.equal((await cluster.run(deposit(cluster, 0, regions[0], "eli", "c0")))?.ok, true);
    const p = (await placement(cluster, 0, "eli"))!;
    const [primary, replica] = [p.primary, p.replicas[0]];
    cluster.partition([primary], [replica]); // the replica answers nothing now
    const t0 = cluster.clock.now();
    const at: number[] = [];
    const all = Array.from(
      { length: 1100 },
      (_, k) =>
        deposit(cluster, primary, regions[primary], "eli", `d${k}`).then((r) => {
          at.push(cluster.clock.now() - t0);
          return r;
        }),
    );
    const replies = await cluster.run(Promise.all(all), { timeout: 30_000 });
    assert.ok(replies.every((r) => r?.ok === true), "no write failed");
    const fast = at.filter((t) => t < 500).length;
    assert.ok(
      fast >= 900 && fast <= 1000,
      `${fast} replies before the replica's batches timed out`,
    );
    assert.ok(Math.max(...at) >= 1000, "the rest waited for room (the batches' ackTimeout)");
    // Healed, the replica catches up by range with the next writes.
    cluster.heal();
    for (let k = 0; (await idsIn(journals[replica], "eli")).length < 1102; k++) {
      assert.ok(k < 100, "the replica caught up");
      await cluster.run(deposit(cluster, primary, regions[primary], "eli", `late${k}`));
      await cluster.advance(200);
    }
    assert.deepEqual(
      (await idsIn(journals[replica], "eli")).slice(0, 1101),
      (await idsIn(journals[primary], "eli")).slice(0, 1101),
    );
  });

  it("rejects a bad ReplicationConfig at once", () => {
    const f = (_id: string) => Behaviors.same<never>();
    assert.throws(() => Behaviors.sharded(f, { replication: { replicas: 1, minAcks: 2 } }), {
      name: "RangeError",
      message: "replication.minAcks must be an integer from 0 to replicas (1), got 2",
    });
    assert.throws(() => Behaviors.sharded(f, { replication: { replicas: -1 } }), RangeError);
    assert.throws(
      () => Behaviors.sharded(f, { replication: { replicas: 1, ackTimeout: 0 } }),
      RangeError,
    );
  });
});
