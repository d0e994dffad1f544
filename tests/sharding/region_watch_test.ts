// Death watch of the ref that `node.spawn(Behaviors.sharded(...))` returns (the region's ref with
// its fast path): watching it is a local watch of the region, so `Terminated` with that very ref
// comes when the region stops.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ActorRef, Behaviors, ShardEnvelope, Terminated } from "../../mod.ts";
import { testCluster } from "../../src/testing/mod.ts";

type WatcherMsg = { type: "watch"; ref: ActorRef<never> } | {
  type: "unwatch";
  ref: ActorRef<never>;
} | Terminated;

/** An actor that watches what it is told to and records the `Terminated` it gets. */
function watcher(seen: Terminated[], watching: string[]) {
  return Behaviors.receive<WatcherMsg>((ctx, msg) => {
    if (msg instanceof Terminated) seen.push(msg);
    else if (msg.type === "watch") {
      ctx.watch(msg.ref);
      watching.push(msg.ref.path);
    } else {
      ctx.unwatch(msg.ref);
      watching.push(`-${msg.ref.path}`);
    }
  });
}

/** A sharded type whose factory throws for id "boom": the region fails and stops. */
const fragile = Behaviors.sharded<number>((id) => {
  if (id === "boom") throw new Error("no entity for boom");
  return Behaviors.ignore<number>();
}, { numShards: 10 });

describe("watching the ref of a sharded type", () => {
  it("delivers Terminated with that ref once the region has stopped", async () => {
    await using cluster = await testCluster(1, { seed: 3 });
    const node = cluster.nodes[0];
    const region = node.spawn(fragile, "fragile");
    const seen: Terminated[] = [];
    const watching: string[] = [];
    const w = node.spawn(watcher(seen, watching), "watcher");
    w.tell({ type: "watch", ref: region as ActorRef<never> });
    await cluster.until(() => watching.length === 1);
    region.tell(new ShardEnvelope("fine", 1));
    await cluster.advance(500);
    assert.equal(seen.length, 0, "the region is alive: no Terminated yet");
    region.tell(new ShardEnvelope("boom", 1));
    await cluster.until(() => seen.length === 1, { timeout: 5000 });
    assert.equal(seen[0].ref, region, "Terminated carries the ref that was watched");
    assert.equal(seen[0].ref.path, "/fragile");
    // Watching it again after it stopped answers at once.
    w.tell({ type: "watch", ref: region as ActorRef<never> });
    await cluster.until(() => seen.length === 2, { timeout: 5000 });
    assert.equal(seen[1].ref, region);
  });

  it("sends nothing after unwatch", async () => {
    await using cluster = await testCluster(1, { seed: 5 });
    const node = cluster.nodes[0];
    const region = node.spawn(fragile, "fragile");
    const seen: Terminated[] = [];
    const watching: string[] = [];
    const w = node.spawn(watcher(seen, watching), "watcher");
    const otherSeen: Terminated[] = [];
    const w2 = node.spawn(watcher(otherSeen, []), "second");
    w.tell({ type: "watch", ref: region as ActorRef<never> });
    w2.tell({ type: "watch", ref: region as ActorRef<never> });
    w.tell({ type: "unwatch", ref: region as ActorRef<never> });
    await cluster.until(() => watching.length === 2);
    assert.deepEqual(watching, ["/fragile", "-/fragile"]);
    region.tell(new ShardEnvelope("boom", 1));
    // The second watcher's Terminated shows the region is gone; the first got none.
    await cluster.until(() => otherSeen.length === 1, { timeout: 5000 });
    await cluster.advance(200);
    assert.equal(seen.length, 0);
  });
});
