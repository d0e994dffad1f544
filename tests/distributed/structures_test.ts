import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ClusteredActorSystem, DistributedError, InMemoryJournal } from "../../mod.ts";
import { type TestCluster, testCluster } from "../../src/testing/mod.ts";

type Journal = InMemoryJournal | undefined;

async function exercise(
  cluster: TestCluster,
  a: ClusteredActorSystem,
  b: ClusteredActorSystem,
  journal: Journal,
): Promise<void> {
  const run = <T>(p: Promise<T>) => cluster.run(p);
  const da = a.distributed({ journal });
  const db = b.distributed({ journal });

  const ca = da.counter("views", { shards: 10 });
  const cb = db.counter("views", { shards: 10 });
  assert.equal(await run(ca.increment()), 1);
  assert.equal(await run(cb.increment(5)), 6);
  assert.equal(await run(ca.decrement()), 5);
  assert.equal(await run(cb.decrement(2)), 3);
  assert.equal(await run(ca.get()), 3);
  assert.equal(await run(cb.get()), 3);

  const ma = da.map<string, { n: number }>("users");
  const mb = db.map<string, { n: number }>("users");
  assert.equal(await run(ma.put("alice", { n: 1 })), undefined);
  assert.deepEqual(await run(mb.put("alice", { n: 2 })), { n: 1 });
  assert.deepEqual(await run(ma.get("alice")), { n: 2 });
  assert.equal(await run(mb.get("nobody")), undefined);
  assert.equal(await run(ma.contains("alice")), true);
  assert.equal(await run(mb.put("bob", { n: 3 })), undefined);
  assert.equal(await run(mb.delete("bob")), true);
  assert.equal(await run(ma.delete("bob")), false);
  assert.equal(await run(ma.contains("bob")), false);

  const sa = da.set<string>("tags");
  const sb = db.set<string>("tags");
  assert.equal(await run(sa.add("x")), true);
  assert.equal(await run(sb.add("x")), false);
  assert.equal(await run(sb.add("y")), true);
  assert.equal(await run(sa.size()), 2);
  assert.equal(await run(sa.remove("y")), true);
  assert.equal(await run(sb.remove("y")), false);
  assert.equal(await run(sb.contains("x")), true);
  assert.equal(await run(sb.contains("y")), false);

  const qa = da.queue<string>("jobs");
  const qb = db.queue<string>("jobs");
  assert.equal(await run(qa.dequeue()), undefined);
  assert.equal(await run(qa.peek()), undefined);
  await run(qa.enqueue("j1"));
  await run(qb.enqueue("j2"));
  await run(qa.enqueue("j3"));
  assert.equal(await run(qb.size()), 3);
  assert.equal(await run(qb.peek()), "j1");
  assert.equal(await run(qb.dequeue()), "j1");
  assert.equal(await run(qa.dequeue()), "j2");
  assert.equal(await run(qa.size()), 1);
}

async function expectAfterRestart(cluster: TestCluster): Promise<void> {
  const [a, b] = cluster.nodes;
  const run = <T>(p: Promise<T>) => cluster.run(p);
  const da = a.distributed({ journal: cluster.journal as InMemoryJournal });
  const db = b.distributed({ journal: cluster.journal as InMemoryJournal });
  assert.equal(await run(db.counter("views", { shards: 10 }).get()), 3);
  assert.equal(await run(da.counter("views", { shards: 10 }).increment()), 4);
  assert.deepEqual(await run(db.map<string, { n: number }>("users").get("alice")), { n: 2 });
  assert.equal(await run(da.map("users").contains("bob")), false);
  assert.equal(await run(db.set<string>("tags").size()), 1);
  assert.equal(await run(da.set<string>("tags").contains("x")), true);
  assert.equal(await run(db.queue<string>("jobs").peek()), "j3");
  assert.equal(await run(da.queue<string>("jobs").dequeue()), "j3");
  assert.equal(await run(db.queue<string>("jobs").dequeue()), undefined);
}

describe("node.distributed() on a simulated cluster", () => {
  it("serves every operation of counter, map, set and queue from two nodes, in memory", async () => {
    await using cluster = await testCluster(2, { seed: 21 });
    const [a, b] = cluster.nodes;
    await exercise(cluster, a, b, undefined);
  });

  it("with a journal: every operation from two nodes, then the state survives a restart of all nodes", async () => {
    const journal = new InMemoryJournal();
    {
      await using cluster = await testCluster(2, { seed: 22, journal });
      const [a, b] = cluster.nodes;
      await exercise(cluster, a, b, journal);
    }
    await using again = await testCluster(2, { seed: 23, journal });
    await expectAfterRestart(again);
  });

  it("destroy() frees a structure and the next use starts fresh, also after a restart", async () => {
    const journal = new InMemoryJournal();
    {
      await using cluster = await testCluster(2, { seed: 24, journal });
      const [a, b] = cluster.nodes;
      const run = <T>(p: Promise<T>) => cluster.run(p);
      const c = a.distributed({ journal }).counter("c");
      assert.equal(await run(c.increment(7)), 7);
      assert.equal(await run(c.increment(1)), 8);
      await run(c.destroy());
      // Its journal entries are freed: only the reset event (number 3) is left.
      const log = await journal.load("_dd:counter:c");
      assert.deepEqual(log.map((e) => [e.sequenceNr, (e.event as { t: string }).t]), [
        [3, "reset"],
      ]);
      assert.equal(await run(b.distributed({ journal }).counter("c").get()), 0);
      assert.equal(await run(c.increment()), 1);
      const q = b.distributed({ journal }).queue<number>("q");
      await run(q.enqueue(1));
      await run(q.destroy());
      const s = a.distributed({ journal }).set<number>("s");
      await run(s.add(1));
      await run(s.destroy());
      const m = a.distributed({ journal }).map<number, number>("m");
      await run(m.put(1, 1));
      await run(m.destroy());
    }
    await using again = await testCluster(1, { seed: 25, journal });
    const run = <T>(p: Promise<T>) => again.run(p);
    const d = again.nodes[0].distributed({ journal });
    assert.equal(await run(d.counter("c").get()), 1);
    assert.equal(await run(d.queue("q").size()), 0);
    assert.equal(await run(d.set("s").size()), 0);
    assert.equal(await run(d.map("m").size()), 0);
  });

  it("rejects bad input with a clear error and keeps the state", async () => {
    await using cluster = await testCluster(1, { seed: 26 });
    const d = cluster.nodes[0].distributed();
    const c = d.counter("c");
    assert.equal(await cluster.run(c.increment(2)), 2);
    await assert.rejects(cluster.run(c.increment(1.5)), (err: unknown) => {
      assert.ok(err instanceof DistributedError);
      assert.equal(err.code, "BAD_ARGUMENT");
      assert.match(err.message, /Cannot increment: expected a safe integer, got 1.5/);
      return true;
    });
    assert.equal(await cluster.run(c.get()), 2);
    assert.throws(() => d.counter(""), /Invalid counter name ""/);
    assert.throws(() => d.queue("q", { shards: 0 }), /shards must be a positive integer, got 0/);
    assert.throws(
      () => cluster.nodes[0].distributed({ journal: new InMemoryJournal() }),
      (e: unknown) => e instanceof DistributedError && e.code === "JOURNAL_MISMATCH",
    );
  });

  it("keeps FIFO order over thousands of items, also replayed from the journal after a restart", async () => {
    const journal = new InMemoryJournal();
    const out: number[] = [];
    {
      await using cluster = await testCluster(1, { seed: 27 });
      const q = cluster.nodes[0].distributed({ journal }).queue<number>("big");
      await cluster.run(Promise.all(Array.from({ length: 3000 }, (_, i) => q.enqueue(i))));
      for (let i = 0; i < 2500; i++) out.push((await cluster.run(q.dequeue()))!);
    }
    assert.deepEqual(out, Array.from({ length: 2500 }, (_, i) => i));
    await using again = await testCluster(1, { seed: 28, journal });
    const q = again.nodes[0].distributed({ journal }).queue<number>("big");
    assert.equal(await again.run(q.size()), 500);
    assert.equal(await again.run(q.peek()), 2500);
  });
});
