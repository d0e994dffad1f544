import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  type ActorRef,
  Behaviors,
  Deregister,
  type Listing,
  Register,
  ServiceKey,
  Subscribe,
  SubscribeTopology,
  TOPOLOGY_PATH,
  type TopologySnapshot,
} from "../../mod.ts";
import { type TestCluster, testCluster } from "../../src/testing/mod.ts";

type Echo = { type: "echo"; text: string; replyTo: ActorRef<string> } | { type: "stop" };
const EchoKey = new ServiceKey<Echo>("echo");

const echo = (port: number) =>
  Behaviors.receive<Echo>((_ctx, m) => {
    if (m.type === "stop") return Behaviors.stopped();
    m.replyTo.tell(`${port}:${m.text}`);
  });

/** How many instances of `key` each running node lists. */
async function counts(c: TestCluster, key: ServiceKey<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (const n of c.alive) out.push((await c.run(n.lookup(key))).instances.length);
  return out;
}

describe("receptionist", () => {
  it("a discoverable actor is found from every node, and its ref works", async () => {
    await using c = await testCluster(3, { seed: 21 });
    c.nodes[0].spawn(Behaviors.discoverable(echo(25520), EchoKey), "echo");
    c.nodes[2].spawn(Behaviors.discoverable(echo(25522), EchoKey), "echo");
    await c.advance(100);
    const listing = await c.run(c.nodes[1].lookup(EchoKey));
    assert.deepEqual(listing.instances.map((i) => i.node.port), [25520, 25522]);
    const answers = [];
    for (const ref of listing.refs) {
      answers.push(
        await c.run(c.nodes[1].ask(ref, (replyTo) => ({ type: "echo", text: "hi", replyTo }))),
      );
    }
    assert.deepEqual(answers, ["25520:hi", "25522:hi"]);
    assert.deepEqual(await counts(c, EchoKey), [2, 2, 2]);
    // The topology snapshot carries the registry.
    const state = await c.nodes[1].getClusterState();
    assert.deepEqual(
      state.registry.map((e) => [e.key, e.node.port, e.path]),
      [["echo", 25520, "/echo"], ["echo", 25522, "/echo"]],
    );
  });

  it("a deregistration and a stopped actor disappear on every node", async () => {
    await using c = await testCluster(3, { seed: 22 });
    const a = c.nodes[0].spawn(echo(25520), "a");
    const b = c.nodes[1].spawn(Behaviors.discoverable(echo(25521), EchoKey), "b");
    c.nodes[0].receptionist.tell(new Register(EchoKey, a));
    await c.advance(100);
    assert.deepEqual(await counts(c, EchoKey), [2, 2, 2]);
    // Deregistered from another node than its own: routed to the owner's receptionist.
    c.nodes[2].receptionist.tell(new Deregister(EchoKey, a));
    await c.advance(100);
    assert.deepEqual(await counts(c, EchoKey), [1, 1, 1]);
    b.tell({ type: "stop" });
    await c.advance(100);
    assert.deepEqual(await counts(c, EchoKey), [0, 0, 0]);
  });

  it("a removed node's registrations disappear everywhere", async () => {
    await using c = await testCluster(3, { seed: 23 });
    for (const n of c.nodes) {
      n.spawn(Behaviors.discoverable(echo(n.selfAddress.port), EchoKey), "echo");
    }
    await c.advance(100);
    assert.deepEqual(await counts(c, EchoKey), [3, 3, 3]);
    await c.kill(2);
    await c.until(() => c.isConverged(2), { timeout: 60_000 });
    assert.deepEqual(await counts(c, EchoKey), [2, 2]);
  });

  it("subscribers get the listing at once and on every change", async () => {
    await using c = await testCluster(2, { seed: 24 });
    const seen: number[][] = [];
    const watcher = c.nodes[1].spawn(
      Behaviors.receive<Listing<Echo>>((_ctx, l) => {
        seen.push(l.instances.map((i) => i.node.port));
      }),
      "watcher",
    );
    c.nodes[1].receptionist.tell(new Subscribe(EchoKey, watcher));
    await c.advance(20);
    const e = c.nodes[0].spawn(Behaviors.discoverable(echo(25520), EchoKey), "echo");
    await c.advance(100);
    e.tell({ type: "stop" });
    await c.advance(100);
    assert.deepEqual(seen, [[], [25520], []]);
  });

  it("topology subscribers get a snapshot carrying the registry when it changes", async () => {
    await using c = await testCluster(2, { seed: 26 });
    const snapshots: TopologySnapshot[] = [];
    const follower = c.nodes[1].spawn(
      Behaviors.receive<TopologySnapshot>((_ctx, s) => void snapshots.push(s)),
      "follower",
    );
    c.nodes[1].lookup(TOPOLOGY_PATH)!.tell(new SubscribeTopology(follower));
    await c.advance(20);
    assert.deepEqual(snapshots.at(-1)?.registry, []);
    c.nodes[0].spawn(Behaviors.discoverable(echo(25520), EchoKey), "echo");
    await c.until(() => (snapshots.at(-1)?.registry.length ?? 0) === 1);
    const [entry] = snapshots.at(-1)!.registry;
    assert.deepEqual([entry.key, entry.node.port, entry.path], ["echo", 25520, "/echo"]);
  });

  it("a change missed during a short partition arrives after it heals", async () => {
    // Messages to an unreachable peer are given up after 200 ms (dead letters), well before
    // the node would be downed: only the periodic resync can repair the registry.
    await using c = await testCluster(3, {
      seed: 25,
      transport: { unreachableTimeout: 200 },
      downing: { stableAfter: 10_000 },
    });
    const e = c.nodes[0].spawn(Behaviors.discoverable(echo(25520), EchoKey), "echo");
    await c.advance(100);
    assert.deepEqual(await counts(c, EchoKey), [1, 1, 1]);
    c.partition([0, 1], 2);
    e.tell({ type: "stop" });
    await c.advance(1000);
    c.heal();
    await c.advance(5000);
    assert.equal(c.alive.length, 3);
    assert.deepEqual(await counts(c, EchoKey), [0, 0, 0]);
  });
});
