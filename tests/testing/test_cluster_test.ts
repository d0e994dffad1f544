import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  type ActorRef,
  Behaviors,
  LeaderChanged,
  MemberRemoved,
  type MembershipEvent,
  MemberUp,
  type Terminated,
  UnreachableMember,
} from "../../mod.ts";
import { InMemoryJournal } from "../../src/persistence/mod.ts";
import { type TestCluster, testCluster } from "../../src/testing/mod.ts";

type Ping = { readonly replyTo: ActorRef<string> };

/** Every membership event each node publishes, as `time node Event port`. */
function trace(c: TestCluster, into: string[]): void {
  c.nodes.forEach((node, i) => {
    for (const cls of [MemberUp, MemberRemoved, UnreachableMember, LeaderChanged]) {
      node.eventStream.subscribe(cls, (e: MembershipEvent) => {
        const m = (e as { member?: { address: { port: number }; id: string } }).member;
        into.push(
          `${c.clock.now()} n${i} ${e.constructor.name} ${m?.address.port ?? ""} ${m?.id ?? ""}`,
        );
      });
    }
  });
}

describe("testCluster", () => {
  it("forms 5 nodes and removes a killed one, in well under a second of real time", async () => {
    const started = performance.now();
    await using c = await testCluster(5, { seed: 3 });
    const formedIn = performance.now() - started;
    assert.equal(c.nodes.length, 5);
    assert.ok(c.isConverged(5));
    assert.deepEqual(c.nodes[4].leader, c.address(0), "the lowest address leads");
    const killedAt = performance.now();
    const simKilledAt = c.clock.now();
    await c.kill(4);
    await c.until(() => c.isConverged(4), { timeout: 60_000 });
    const removedIn = performance.now() - killedAt;
    assert.ok(c.nodes[4].isShutdown);
    assert.ok(c.clock.now() - simKilledAt >= 2000, "removal waits for downing.stableAfter");
    assert.ok(formedIn + removedIn < 2000, `took ${formedIn} + ${removedIn} ms of real time`);
  });

  it("is deterministic: the same seed gives the same run, another seed another", async () => {
    const run = async (seed: number): Promise<string[]> => {
      const events: string[] = [];
      const c = await testCluster(3, { seed, waitForUp: false });
      try {
        trace(c, events);
        await c.until(() => c.isConverged(3));
        await c.kill(2);
        await c.until(() => c.isConverged(2), { timeout: 60_000 });
        await c.advance(1000);
      } finally {
        await c.shutdown();
      }
      return events;
    };
    const first = await run(7);
    const second = await run(7);
    assert.ok(first.length > 10, first.join("\n"));
    assert.deepEqual(second, first);
    const other = await run(8);
    assert.notDeepEqual(other, first, "member ids come from the seed");
  });

  it("lets actors on different nodes talk: tell, ask through run(), and remote watch", async () => {
    await using c = await testCluster(3);
    const [a, b, z] = c.nodes;
    a.spawn(
      Behaviors.receive<Ping>((_ctx, m) => m.replyTo.tell(`pong from ${a.selfAddress.port}`)),
      "ponger",
    );
    const ref = b.lookup<Ping>(`casty://test@127.0.0.1:${a.selfAddress.port}/ponger`)!;
    assert.equal(await c.run(b.ask(ref, (replyTo) => ({ replyTo }))), "pong from 25520");
    // Death watch across nodes: z watches an actor on b; killing b's node terminates it.
    b.spawn(Behaviors.ignore<string>(), "doomed");
    const terminated: string[] = [];
    z.spawn(
      Behaviors.setup<Terminated>((ctx) => {
        ctx.watch(z.lookup(`casty://test@127.0.0.1:${b.selfAddress.port}/doomed`)!);
        return Behaviors.receive((_c, t) => void terminated.push(t.ref.path));
      }),
      "watcher",
    );
    await c.advance(100);
    await c.kill(1);
    await c.until(() => terminated.length > 0, { timeout: 60_000 });
    assert.deepEqual(terminated, ["/doomed"]);
  });

  it("restart(i) brings a new incarnation back at the same address", async () => {
    await using c = await testCluster(3, { seed: 11 });
    const before = c.nodes[2].memberId;
    const fresh = await c.restart(2);
    assert.equal(fresh, c.nodes[2]);
    assert.notEqual(fresh.memberId, before);
    assert.equal(fresh.transport.incarnation, fresh.memberId, "one identity per node start");
    assert.deepEqual(fresh.selfAddress, c.address(2));
    await c.until(
      () => c.isConverged(3) && c.nodes[0].members.some((m) => m.id === fresh.memberId),
      {
        timeout: 60_000,
      },
    );
    assert.equal(c.nodes[0].members.some((m) => m.id === before), false);
  });

  it("a node started or restarted after node 0 was killed joins through the others", async () => {
    await using c = await testCluster(3, { seed: 5 });
    await c.kill(0);
    await c.until(() => c.isConverged(2), { timeout: 60_000 });
    const added = await c.start(3);
    await c.until(
      () => c.isConverged(3) && c.nodes[1].members.some((m) => m.id === added.memberId),
      { timeout: 60_000 },
    );
    const fresh = await c.restart(2);
    await c.until(
      () => c.isConverged(3) && c.nodes[1].members.some((m) => m.id === fresh.memberId),
      { timeout: 60_000 },
    );
    assert.deepEqual(
      c.alive.map((n) => n.selfAddress.port).sort(),
      [c.address(1).port, c.address(2).port, c.address(3).port].sort(),
    );
  });

  it("a partition splits the cluster: the majority downs the minority, which stops", async () => {
    await using c = await testCluster(5, { seed: 2 });
    c.partition([0, 1, 2], [3, 4]);
    await c.until(() => c.nodes[3].isShutdown && c.nodes[4].isShutdown, { timeout: 60_000 });
    await c.until(() => c.isConverged(3), { timeout: 60_000 });
    assert.deepEqual(c.alive.map((n) => n.selfAddress.port), [25520, 25521, 25522]);
    c.heal();
    const n3 = await c.restart(3);
    await c.until(() => c.isConverged(4), { timeout: 60_000 });
    assert.ok(c.nodes[0].members.some((m) => m.id === n3.memberId));
  });

  it("runs barriers and graceful leaves on simulated time", async () => {
    await using c = await testCluster(3);
    await c.run(Promise.all(c.nodes.map((n) => n.barrier("go", 3, { timeout: 5000 }))));
    const removed: number[] = [];
    c.nodes[0].eventStream.subscribe(MemberRemoved, (e) => removed.push(e.member.address.port));
    await c.run(c.nodes[2].leave(), { timeout: 30_000 });
    assert.ok(c.nodes[2].isShutdown);
    await c.until(() => removed.includes(25522));
    await c.until(() => c.isConverged(2));
  });

  it("shares one journal, and checks its arguments", async () => {
    const journal = new InMemoryJournal();
    await using c = await testCluster(1, { journal });
    assert.equal(c.journal, journal);
    await assert.rejects(testCluster(0), /Cannot start a test cluster of 0 nodes/);
    await assert.rejects(c.kill(7), /No node 7/);
    await assert.rejects(c.until(() => false, { timeout: 100 }), /not met within 100 ms/);
  });
});
