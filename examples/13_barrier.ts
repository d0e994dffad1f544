/**
 * Barriers: `node.barrier(name, n)` waits until `n` nodes have arrived, then releases them
 * all at once. Barriers are reusable (the same name starts a new round), a node that expects a
 * different `n` gets `BarrierMismatchError`, and a round never hangs: the `timeout` bounds it.
 *
 * Run: `deno run -A examples/13_barrier.ts` or `bun examples/13_barrier.ts`
 *
 * @module
 */
import assert from "node:assert/strict";
import { BarrierMismatchError, ClusteredActorSystem, type Logger } from "../mod.ts";

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };
const options = { name: "barriers", host: "127.0.0.1", port: 0, logger: quiet };

await using a = await ClusteredActorSystem.start(options);
const seedNodes = [`127.0.0.1:${a.selfAddress.port}`];
await using b = await ClusteredActorSystem.start({ ...options, seedNodes });
await using c = await ClusteredActorSystem.start({ ...options, seedNodes });
await a.waitFor(3, { timeout: 30_000 });
console.log("3 members up");

const nodes = [a, b, c];
for (const round of [1, 2]) {
  const passed: string[] = [];
  await Promise.all(
    nodes.map(async (node, i) => {
      await node.barrier("ready", 3, { timeout: 30_000 });
      passed.push(`node ${i + 1}`);
    }),
  );
  assert.equal(passed.length, 3);
  console.log(`round ${round}: all 3 nodes passed "ready" together`);
}

// Two nodes disagree on how many parties the barrier has: the round keeps the first n it
// heard, the node with the other n gets BarrierMismatchError, and the first one's wait ends
// with its timeout.
const results = await Promise.allSettled([
  a.barrier("mismatch", 2, { timeout: 1_000 }),
  b.barrier("mismatch", 3, { timeout: 1_000 }),
]);
const errors = results.map((r) => r.status === "rejected" ? r.reason : undefined);
assert.equal(errors.filter((e) => e instanceof BarrierMismatchError).length, 1);
assert.equal(errors.filter((e) => e?.code === "BARRIER_TIMEOUT").length, 1);
console.log("disagreeing on n: one BarrierMismatchError, one BARRIER_TIMEOUT");

// Only one of three arrives: the timeout ends the wait instead of hanging.
const late = await a.barrier("alone", 3, { timeout: 300 }).then(() => "passed", (e) => e.code);
console.log(`waiting alone for 300 ms: ${late}`);
