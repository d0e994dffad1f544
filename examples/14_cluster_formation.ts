/**
 * Cluster formation: the first node forms a cluster, the others join through it as a seed
 * node. Membership changes arrive as events on the event stream (`MemberUp`, `MemberLeft`,
 * `MemberRemoved`, …); the leader is the lowest address that is up. A graceful `leave()` goes
 * leaving → exiting → removed, seen by every member.
 *
 * Run: `deno run -A examples/14_cluster_formation.ts` or `bun examples/14_cluster_formation.ts`
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  ClusteredActorSystem,
  type Logger,
  MemberLeft,
  MemberRemoved,
  MemberUp,
  type NodeAddress,
} from "../mod.ts";

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };
const options = { name: "formation", host: "127.0.0.1", port: 0, logger: quiet };

await using first = await ClusteredActorSystem.start(options);
const names = new Map<number, string>([[first.selfAddress.port, "first"]]);
const nameOf = (address: NodeAddress) => names.get(address.port) ?? "?";

const seen: string[] = [];
first.eventStream.subscribe(MemberUp, (e) => seen.push(`up ${nameOf(e.member.address)}`));
first.eventStream.subscribe(MemberLeft, (e) => seen.push(`left ${nameOf(e.member.address)}`));
first.eventStream.subscribe(
  MemberRemoved,
  (e) => seen.push(`removed ${nameOf(e.member.address)}`),
);

const seedNodes = [`127.0.0.1:${first.selfAddress.port}`];
await using second = await ClusteredActorSystem.start({ ...options, seedNodes });
names.set(second.selfAddress.port, "second");
const third = await ClusteredActorSystem.start({ ...options, seedNodes });
names.set(third.selfAddress.port, "third");

const state = await first.waitFor(3, { timeout: 30_000 });
console.log(`members up: ${state.members.map((m) => nameOf(m.address)).sort().join(", ")}`);
const lowest = [first, second, third].map((n) => n.selfAddress).sort((x, y) => x.port - y.port)[0];
assert.deepEqual(first.leader, lowest);
console.log("leader (as the first node sees it): the lowest address");

await third.leave();
const deadline = Date.now() + 30_000;
while (!seen.includes("removed third") && Date.now() < deadline) {
  await new Promise((r) => setTimeout(r, 10));
}
const view = await first.getClusterState();
console.log(`after third.leave(): ${view.members.map((m) => nameOf(m.address)).sort().join(", ")}`);
for (const event of ["up second", "up third", "left third", "removed third"]) {
  assert.ok(seen.includes(event), `missing event: ${event}`);
  console.log(`event: ${event}`);
}
