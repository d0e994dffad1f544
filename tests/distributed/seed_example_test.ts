// The seed's "Distributed Data Structures" example (shared/seeds/001), line by line in
// TypeScript, from each node of a 3-node cluster in turn: every call gives the seed's result.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { ClusteredActorSystem } from "../../mod.ts";
import "../../mod.ts"; // loads the distributed extension
import { type TestCluster, testCluster } from "../../src/testing/mod.ts";

interface User {
  readonly name: string;
  readonly email: string;
}

async function seedExample(cluster: TestCluster, node: ClusteredActorSystem, tag: string) {
  const run = <T>(p: Promise<T>) => cluster.run(p, { timeout: 60_000 });
  const d = node.distributed();

  // Counter
  const views = d.counter(`page-views-${tag}`, { shards: 50 });
  await run(views.increment(100));
  await run(views.decrement(10));
  assert.equal(await run(views.get()), 90);

  // Map: one sharded entity per structure
  const users = d.map<string, User>(`users-${tag}`, { shards: 50 });
  await run(users.put("alice", { name: "Alice", email: "alice@example.com" }));
  assert.deepEqual(await run(users.get("alice")), { name: "Alice", email: "alice@example.com" });
  assert.equal(await run(users.contains("alice")), true);
  assert.equal(await run(users.delete("alice")), true); // existed

  // Set
  const tags = d.set<string>(`active-tags-${tag}`, { shards: 50 });
  assert.equal(await run(tags.add("python")), true); // added
  assert.equal(await run(tags.add("python")), false); // already present
  assert.equal(await run(tags.size()), 1);

  // Queue (FIFO)
  const jobs = d.queue<string>(`work-queue-${tag}`, { shards: 50 });
  await run(jobs.enqueue("task-1"));
  assert.equal(await run(jobs.peek()), "task-1"); // does not remove
  assert.equal(await run(jobs.dequeue()), "task-1"); // removes
  assert.equal(await run(jobs.dequeue()), undefined); // empty

  // Lock (distributed mutex)
  const lock = d.lock(`deploy-lock-${tag}`, { shards: 10 });
  const token = await run(lock.acquire()); // blocks until granted
  assert.equal(typeof token, "number");
  assert.equal(await run(lock.release()), true); // released
  // Non-blocking try: a token when free (the seed's True), undefined when held (False).
  const got = await run(lock.tryAcquire());
  assert.ok(got !== undefined && got > token, `tryAcquire on a free lock: ${got}`);
  const other = node.distributed().lock(`deploy-lock-${tag}`, { shards: 10 });
  assert.equal(await run(other.tryAcquire()), undefined, "held by the first handle");
  assert.equal(await run(other.release()), false, "only the holder releases");
  assert.equal(await run(lock.release()), true);

  // Semaphore (bounded concurrency)
  const sem = d.semaphore(`db-pool-${tag}`, 5, { shards: 10 });
  await run(sem.acquire()); // blocks until a permit is available
  assert.equal(await run(sem.release()), true);
}

describe("the seed's distributed data structures example", () => {
  it("gives the seed's results from every node, and the barrier releases 3 nodes", async () => {
    await using cluster = await testCluster(3, { seed: 1001 });
    for (const [i, node] of cluster.nodes.entries()) {
      await seedExample(cluster, node, `n${i}`);
    }
    // The same structure from any node: node 2 sees what node 0 counted.
    assert.equal(
      await cluster.run(
        cluster.nodes[2].distributed().counter("page-views-n0", { shards: 50 }).get(),
      ),
      90,
    );
    // Barrier (distributed rendezvous): blocks until 3 nodes arrive.
    const arrived: number[] = [];
    const all = cluster.nodes.map((node, i) =>
      node.distributed().barrier("phase-1").arrive(3, { timeout: 30_000 }).then(() => {
        arrived.push(i);
      })
    );
    await cluster.run(Promise.all(all), { timeout: 60_000 });
    assert.deepEqual(arrived.sort(), [0, 1, 2]);
  });
});
