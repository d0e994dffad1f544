import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { BarrierMismatchError, DistributedError, InMemoryJournal } from "../../mod.ts";
import { testCluster } from "../../src/testing/mod.ts";

const isCode = (code: string) => (e: unknown) => e instanceof DistributedError && e.code === code;

describe("lock on a simulated cluster", () => {
  it("grants one holder at a time from two nodes, FIFO, with growing fencing tokens", async () => {
    await using cluster = await testCluster(3, { seed: 31 });
    const [a, b, c] = cluster.nodes.map((n) => n.distributed().lock("deploy", { lease: 3000 }));
    const t1 = await cluster.run(a.acquire());
    assert.equal(a.fencingToken, t1);
    assert.equal(await cluster.run(b.tryAcquire()), undefined);
    const order: string[] = [];
    const pb = b.acquire().then((t) => (order.push("b"), t));
    await cluster.advance(50);
    const pc = c.acquire().then((t) => (order.push("c"), t));
    await cluster.advance(200);
    assert.deepEqual(order, []);
    assert.equal(await cluster.run(a.release()), true);
    const t2 = await cluster.run(pb);
    assert.ok(t2 > t1);
    assert.equal(b.fencingToken, t2);
    assert.equal(a.fencingToken, undefined);
    assert.equal(await cluster.run(a.release()), false);
    await cluster.advance(500);
    assert.deepEqual(order, ["b"]);
    assert.equal(await cluster.run(b.release()), true);
    const t3 = await cluster.run(pc);
    assert.ok(t3 > t2);
    assert.deepEqual(order, ["b", "c"]);
    assert.equal(await cluster.run(c.release()), true);
  });

  it("keeps a holder past many leases while it renews", async () => {
    await using cluster = await testCluster(2, { seed: 32 });
    const [a, b] = cluster.nodes.map((n) => n.distributed().lock("long", { lease: 1000 }));
    const t = await cluster.run(a.acquire());
    await cluster.advance(10_000);
    assert.equal(a.fencingToken, t);
    assert.equal(await cluster.run(b.tryAcquire()), undefined);
  });

  it("a waiter that times out or is aborted leaves the queue and is never granted", async () => {
    await using cluster = await testCluster(2, { seed: 33 });
    const d0 = cluster.nodes[0].distributed();
    const d1 = cluster.nodes[1].distributed();
    const holder = d0.lock("l");
    const late = d1.lock("l");
    const aborted = d0.lock("l");
    const next = d1.lock("l");
    await cluster.run(holder.acquire());
    const timedOut = late.acquire({ timeout: 500 });
    const ctl = new AbortController();
    const abortedP = aborted.acquire({ signal: ctl.signal });
    await cluster.advance(100);
    const nextP = next.acquire();
    await cluster.advance(100);
    ctl.abort(new Error("no longer needed"));
    await assert.rejects(cluster.run(abortedP), /no longer needed/);
    await assert.rejects(cluster.run(timedOut), (e: unknown) => {
      assert.ok(isCode("ACQUIRE_TIMEOUT")(e));
      assert.match((e as Error).message, /Cannot acquire lock "l": not granted within 500 ms/);
      return true;
    });
    await cluster.run(holder.release());
    const t = await cluster.run(nextP);
    await cluster.advance(2000);
    assert.equal(next.fencingToken, t);
    assert.equal(late.fencingToken, undefined);
    assert.equal(aborted.fencingToken, undefined);
    assert.equal(await cluster.run(late.release()), false);
  });

  it("a holder on a killed node loses the lock after the lease; the next grant has a higher token", async () => {
    await using cluster = await testCluster(3, { seed: 34 });
    const lease = 2000;
    const dead = cluster.nodes[2].distributed().lock("job", { lease });
    const t1 = await cluster.run(dead.acquire());
    const other = cluster.nodes[0].distributed().lock("job", { lease, timeout: 1000 });
    const start = cluster.clock.now();
    await cluster.kill(2);
    const t2 = await cluster.run(other.acquire(), { timeout: 120_000 });
    assert.ok(t2 > t1);
    assert.ok(cluster.clock.now() - start >= lease - 100, "not before the lease ran out");
  });

  for (const withJournal of [true, false]) {
    it(`tokens keep growing when the lock's own node dies (failover, ${withJournal ? "with" : "without"} a journal)`, async () => {
      await using cluster = await testCluster(3, { seed: withJournal ? 37 : 38 });
      const journal = withJournal ? cluster.journal as InMemoryJournal : undefined;
      const lease = 2000;
      // Node 2 alone has the region when the lock is first used, so the lock's entity lives there.
      const dead = cluster.nodes[2].distributed({ journal }).lock("f", { lease });
      const t1 = await cluster.run(dead.acquire());
      const other = cluster.nodes[0].distributed({ journal }).lock("f", { lease, timeout: 1000 });
      const waiter = cluster.nodes[1].distributed({ journal }).lock("f", { lease, timeout: 1000 });
      assert.equal(await cluster.run(other.tryAcquire()), undefined);
      const killedAt = cluster.clock.now();
      await cluster.kill(2);
      const t2 = await cluster.run(other.acquire(), { timeout: 120_000 });
      assert.ok(t2 > t1, `${t2} > ${t1}`);
      // Longer than a lease: the entity itself moved (downing, reallocation, recovery).
      assert.ok(cluster.clock.now() - killedAt > 2 * lease, "the lock's entity moved");
      assert.equal(await cluster.run(waiter.tryAcquire()), undefined);
      assert.equal(await cluster.run(other.release()), true);
      assert.ok((await cluster.run(waiter.acquire())) > t2);
    });
  }

  it("fencing tokens keep growing across a restart of every node, with a journal", async () => {
    const journal = new InMemoryJournal();
    let t1: number;
    {
      await using cluster = await testCluster(2, { seed: 35, journal });
      const l = cluster.nodes[1].distributed({ journal }).lock("j");
      t1 = await cluster.run(l.acquire());
      assert.equal(await cluster.run(l.release()), true);
      t1 = await cluster.run(l.acquire());
    }
    await using again = await testCluster(2, { seed: 36, journal });
    const l = again.nodes[0].distributed({ journal }).lock("j", { lease: 1000 });
    const t2 = await again.run(l.acquire(), { timeout: 120_000 });
    assert.ok(t2 > t1, `${t2} > ${t1}`);
  });
});

describe("semaphore on a simulated cluster", () => {
  it("grants its permits, queues the rest, refuses another permit count", async () => {
    await using cluster = await testCluster(2, { seed: 41 });
    const s0 = cluster.nodes[0].distributed().semaphore("db", 2);
    const s1 = cluster.nodes[1].distributed().semaphore("db", 2);
    const a = await cluster.run(s0.acquire());
    const b = await cluster.run(s1.acquire());
    assert.ok(b > a);
    assert.equal(await cluster.run(s1.tryAcquire()), undefined);
    const waiting = s1.acquire();
    await cluster.advance(300);
    assert.equal(await cluster.run(s0.release()), true);
    assert.ok((await cluster.run(waiting)) > b);
    assert.equal(await cluster.run(s0.release()), false);
    await assert.rejects(
      cluster.run(cluster.nodes[0].distributed().semaphore("db", 3).acquire()),
      (e: unknown) => {
        assert.ok(isCode("PERMITS_MISMATCH")(e));
        assert.match((e as Error).message, /with 3 permits: it was created with 2/);
        return true;
      },
    );
    assert.throws(() => cluster.nodes[0].distributed().semaphore("x", 0), /permits must be/);
  });
});

describe("barrier on a simulated cluster", () => {
  it("releases every participant once all arrived, in reusable rounds, from two nodes", async () => {
    await using cluster = await testCluster(2, { seed: 51 });
    const b0 = cluster.nodes[0].distributed().barrier("phase");
    const b1 = cluster.nodes[1].distributed().barrier("phase");
    for (let round = 0; round < 3; round++) {
      let released = 0;
      const ps = [b0.arrive(3), b1.arrive(3)].map((p) => p.then(() => released++));
      await cluster.advance(500);
      assert.equal(released, 0);
      await cluster.run(Promise.all([...ps, b1.arrive(3)]));
      assert.equal(released, 2);
    }
  });

  it("rejects a different expected count, and a timeout fails the round for everyone", async () => {
    await using cluster = await testCluster(2, { seed: 52 });
    const b0 = cluster.nodes[0].distributed().barrier("b");
    const b1 = cluster.nodes[1].distributed().barrier("b");
    const waiting = assert.rejects(b0.arrive(3), isCode("BARRIER_TIMEOUT"));
    const timing = assert.rejects(b1.arrive(3, { timeout: 1000 }), isCode("BARRIER_TIMEOUT"));
    await cluster.advance(100);
    await assert.rejects(cluster.run(b1.arrive(2)), BarrierMismatchError);
    await cluster.run(timing);
    await cluster.run(waiting);
    // The next round works.
    await cluster.run(Promise.all([b0.arrive(2), b1.arrive(2)]));
  });

  it("a participant whose node dies fails the round", async () => {
    await using cluster = await testCluster(3, { seed: 53 });
    const lease = 2000;
    const b0 = cluster.nodes[0].distributed().barrier("b", { lease });
    const b2 = cluster.nodes[2].distributed().barrier("b", { lease });
    const waiting = b0.arrive(3);
    void b2.arrive(3).catch(() => {});
    await cluster.advance(200);
    await cluster.kill(2);
    await assert.rejects(cluster.run(waiting, { timeout: 120_000 }), isCode("BARRIER_BROKEN"));
  });

  it("an aborted participant leaves the round; destroy() fails the waiting ones", async () => {
    await using cluster = await testCluster(2, { seed: 54 });
    const b0 = cluster.nodes[0].distributed().barrier("b");
    const b1 = cluster.nodes[1].distributed().barrier("b");
    const ctl = new AbortController();
    const gone = assert.rejects(b0.arrive(2, { signal: ctl.signal }), /left/);
    await cluster.advance(1000); // the arrival has reached the entity (not merely been sent)
    ctl.abort(new Error("left"));
    await cluster.run(gone);
    await cluster.advance(100);
    // The aborted arrival does not count: this round needs two new participants.
    let released = false;
    const waiting = b1.arrive(2).then(() => (released = true));
    await cluster.advance(1000);
    assert.equal(released, false);
    await cluster.run(Promise.all([waiting, b0.arrive(2)]));
    const broken = assert.rejects(b0.arrive(2), isCode("BARRIER_BROKEN"));
    await cluster.advance(100);
    await cluster.run(b1.destroy());
    await cluster.run(broken);
  });
});

describe("destroy() of a lock", () => {
  it("takes the lock from its holder and keeps tokens growing", async () => {
    await using cluster = await testCluster(2, { seed: 55 });
    const journal = cluster.journal as InMemoryJournal;
    const a = cluster.nodes[0].distributed({ journal }).lock("l", { lease: 1500 });
    const b = cluster.nodes[1].distributed({ journal }).lock("l", { lease: 1500 });
    const t1 = await cluster.run(a.acquire());
    await cluster.run(b.destroy());
    await cluster.until(() => a.fencingToken === undefined, { timeout: 5000 });
    const t2 = await cluster.run(b.acquire());
    assert.ok(t2 > t1);
    assert.equal(await cluster.run(a.release()), false);
  });

  it("frees the lock's journal entries but not its token, across a restart", async () => {
    const journal = new InMemoryJournal();
    let t2: number;
    {
      await using cluster = await testCluster(2, { seed: 56, journal });
      const a = cluster.nodes[0].distributed({ journal }).lock("l", { lease: 1500 });
      await cluster.run(a.acquire());
      await cluster.run(a.release());
      const t1 = await cluster.run(a.acquire());
      await cluster.run(a.destroy());
      const log = await journal.load("_dd:lock:l");
      assert.equal(log.length, 1, "only the reset event is left");
      assert.deepEqual(log[0].event, { t: "reset", lastToken: t1 });
      t2 = await cluster.run(a.acquire());
      assert.ok(t2 > t1);
      await cluster.run(a.release());
    }
    await using again = await testCluster(1, { seed: 57, journal });
    const l = again.nodes[0].distributed({ journal }).lock("l", { lease: 1500 });
    assert.ok((await again.run(l.acquire())) > t2, "tokens keep growing after a restart");
  });
});
