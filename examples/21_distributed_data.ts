/**
 * Distributed data and coordination (seed "Casty as a Cluster Backend", "Distributed
 * Coordination"): a counter, a map, a lock with fencing tokens, a semaphore and a barrier shared
 * by three nodes over loopback TCP, in one process, with no coordination service. Each structure
 * is a sharded entity, so every node that names it reaches the same one.
 *
 * Run: `deno run -A examples/21_distributed_data.ts` or `bun examples/21_distributed_data.ts`
 *
 * @module
 */
import assert from "node:assert/strict";
import { ClusteredActorSystem } from "../mod.ts";

const nodes: ClusteredActorSystem[] = [];
for (let i = 0; i < 3; i++) {
  nodes.push(
    await ClusteredActorSystem.start({
      name: "coord",
      host: "127.0.0.1",
      port: 0,
      seedNodes: i === 0 ? [] : [nodes[0].selfAddress],
      logLevel: "error",
    }),
  );
}
await Promise.all(nodes.map((n) => n.waitFor(3, { timeout: 20_000 })));
console.log("3 nodes up");
const d = nodes.map((n) => n.distributed());

// A counter: 30 increments from three nodes, one total.
await Promise.all(
  d.flatMap((dd) => Array.from({ length: 10 }, () => dd.counter("jobs").increment())),
);
console.log(`counter from 3 nodes: ${await d[0].counter("jobs").get()}`);

// A map: written on one node, read on another.
await d[1].map<string, string>("owners").put("invoice-7", "node B");
console.log(
  `map read on C: invoice-7 → ${await d[2].map<string, string>("owners").get("invoice-7")}`,
);

// A lock: one holder at a time; each grant has a larger fencing token than the one before.
// (Without a journal, a lock entity that starts knows nothing of earlier grants, so it grants
// nothing for one lease: the first acquire here waits about 1 s. With `distributed({ journal })`
// it remembers its holders and tokens.)
const lockA = d[0].lock("deploy", { lease: 1000 });
const lockB = d[1].lock("deploy", { lease: 1000 });
const tokenA = await lockA.acquire({ timeout: 10_000 });
assert.equal(await lockB.tryAcquire(), undefined, "B cannot take a held lock");
const waiting = lockB.acquire({ timeout: 10_000 });
await lockA.release();
const tokenB = await waiting;
assert.ok(tokenB > tokenA, "fencing tokens grow");
console.log("lock: A held it, B waited and got it after A released; B's token is larger");
await lockB.release();

// A semaphore: at most 2 of 3 workers at once.
let inside = 0, most = 0;
await Promise.all(d.map(async (dd) => {
  const permits = dd.semaphore("pool", 2, { lease: 1000 });
  await permits.acquire({ timeout: 10_000 });
  most = Math.max(most, ++inside);
  await new Promise((r) => setTimeout(r, 50));
  inside--;
  await permits.release();
}));
assert.equal(most, 2);
console.log(`semaphore: at most ${most} of 3 holders at once`);

// A barrier: nobody passes until all three nodes arrived.
const order: string[] = [];
await Promise.all(d.map(async (dd, i) => {
  await new Promise((r) => setTimeout(r, 100 * i));
  order.push(`arrive ${"ABC"[i]}`);
  await dd.barrier("work-complete").arrive(3, { timeout: 10_000 });
  order.push(`pass ${"ABC"[i]}`);
}));
assert.deepEqual(order.slice(0, 3), ["arrive A", "arrive B", "arrive C"]);
console.log("barrier: A, B and C arrived before any passed");

await Promise.all(nodes.map((n) => n.shutdown()));
