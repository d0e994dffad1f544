import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  type ActorRef,
  BarrierMismatchError,
  Behaviors,
  ClusteredActorSystem,
  type ClusteredActorSystemOptions,
  ClusterUnavailableError,
  DeadLetter,
  LeaderChanged,
  MemberRemoved,
  MemberUp,
  parseConfig,
  ResolveNode,
  SubscribeTopology,
  TOPOLOGY_PATH,
  TopologySnapshot,
  UnreachableMember,
  UnsubscribeTopology,
} from "../../mod.ts";
import { memoryLogger, waitFor } from "../_helpers/probe.ts";
import { type TestCluster, testCluster } from "../../src/testing/mod.ts";
import { startNode } from "../_helpers/cluster_harness.ts";

const LONG = { timeout: 60_000 };

const start = (extra: Partial<ClusteredActorSystemOptions> = {}) =>
  ClusteredActorSystem.start({
    name: "cl",
    host: "127.0.0.1",
    port: 0,
    logger: memoryLogger(),
    downing: { stableAfter: 1000 },
    ...extra,
  });

async function cluster(n: number): Promise<ClusteredActorSystem[]> {
  const first = await start();
  const seed = `127.0.0.1:${first.selfAddress.port}`;
  const rest = await Promise.all(Array.from({ length: n - 1 }, () => start({ seedNodes: [seed] })));
  const nodes = [first, ...rest];
  await Promise.all(nodes.map((x) => x.waitFor(n, { timeout: 20_000 })));
  await leadershipSettled(nodes);
  return nodes;
}

/**
 * Waits until every node knows the same leader epoch, held by the lowest member (leadership
 * moves when a lower address comes up, and barrier rounds do not survive a move).
 */
async function leadershipSettled(nodes: ClusteredActorSystem[]): Promise<void> {
  await waitFor(() => {
    const lowest = Math.min(...nodes[0].members.map((m) => m.address.port));
    const holders = new Set(nodes.map((x) => x.membership.state.leaderEpoch?.leader));
    const [holder] = holders;
    return holders.size === 1 && holder !== undefined &&
      holder.startsWith(`127.0.0.1:${lowest}#`) &&
      new Set(nodes.map((x) => x.leaderEpoch)).size === 1;
  }, { timeout: 10_000 });
}

/** Every waiter of the "doomed" round failed because the participant on `port` was lost. */
function assertRoundFailed(results: PromiseSettledResult<void>[], port: string): void {
  assert.ok(results.length > 0);
  for (const r of results) {
    assert.equal(r.status, "rejected");
    const err = (r as PromiseRejectedResult).reason;
    assert.ok(err instanceof ClusterUnavailableError);
    assert.match(
      err.message,
      new RegExp(
        `Barrier "doomed" failed: participant 127\\.0\\.0\\.1:${port} became unreachable or left`,
      ),
    );
  }
}

async function shutdownAll(nodes: ClusteredActorSystem[]): Promise<void> {
  await Promise.all(nodes.map((n) => n.shutdown()));
}

describe("ClusteredActorSystem over real TCP (in one process)", () => {
  it("forms a single-node cluster without seeds and leads it", LONG, async () => {
    await using node = await start();
    const state = await node.waitFor(1, { timeout: 5000 });
    assert.equal(state.members.length, 1);
    assert.equal(state.members[0].status, "up");
    assert.deepEqual(state.leader, node.selfAddress);
    assert.deepEqual(state.unreachable, []);
    assert.ok(state instanceof TopologySnapshot);
    // One identity per node start: the transport's handshake and the membership share it.
    assert.equal(node.transport.incarnation, node.memberId);
    assert.equal(state.members[0].id, node.memberId);
  });

  it("start() with requiredQuorum resolves only once that many members are up", LONG, async () => {
    const first = await start();
    const seed = `127.0.0.1:${first.selfAddress.port}`;
    const pending = start({ seedNodes: [seed], requiredQuorum: 3 });
    let resolved = false;
    void pending.then(() => (resolved = true));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(resolved, false, "two members are not a quorum of three");
    const third = await start({ seedNodes: [seed] });
    const second = await pending;
    try {
      assert.equal(
        (await second.getClusterState()).members.filter((m) => m.status === "up").length,
        3,
      );
    } finally {
      await shutdownAll([first, second, third]);
    }
  });

  it("waitFor() rejects with ClusterUnavailableError after its timeout", LONG, async () => {
    await using node = await start();
    await assert.rejects(node.waitFor(2, { timeout: 100 }), (err: unknown) => {
      assert.ok(err instanceof ClusterUnavailableError);
      assert.match(err.message, /Cannot reach 2 up members: 1 after 100 ms/);
      return true;
    });
  });

  it("starts from a casty.toml config with overrides", LONG, async () => {
    const config = await parseConfig(`
[system]
name = "from-file"
[cluster]
host = "127.0.0.1"
port = 1
[cluster.gossip]
interval = 0.5
`);
    await using node = await ClusteredActorSystem.fromConfig(config, {
      port: 0,
      logger: memoryLogger(),
    });
    assert.equal(node.name, "from-file");
    assert.ok(node.selfAddress.port > 1, "the override wins over the file");
    await node.waitFor(1, { timeout: 5000 });
  });
});

describe("ClusteredActorSystem and dead nodes", () => {
  it("dead-letters messages queued for a node once the cluster removes it", LONG, async () => {
    const nodes = await cluster(2);
    const [a] = nodes;
    const child = await startNode(0, {
      seeds: [a.selfAddress.port],
      stableAfter: 1000,
      name: "cl",
    });
    try {
      await a.waitFor(3, { timeout: 20_000 });
      const dead: DeadLetter[] = [];
      a.eventStream.subscribe(DeadLetter, (d) => dead.push(d));
      const removed = new Promise<void>((resolve) =>
        a.eventStream.subscribe(MemberRemoved, (e) => {
          if (e.member.address.port === child.port) resolve();
        })
      );
      const killedAt = Date.now();
      await child.kill("SIGKILL");
      await new Promise((r) => setTimeout(r, 200));
      const echo = a.lookup<string>(`casty://cl@127.0.0.1:${child.port}/echo`)!;
      echo.tell("into the void");
      await removed;
      await waitFor(() => dead.some((d) => d.message === "into the void"), { timeout: 5000 });
      const letter = dead.find((d) => d.message === "into the void")!;
      assert.equal(letter.reason, "undeliverable");
      assert.ok(Date.now() - killedAt < 20_000, "well before the transport's 30 s timeout");
    } finally {
      await child.kill("SIGKILL");
      await shutdownAll(nodes);
    }
  });
});

describe("ClusteredActorSystem.fromConfig() with [cluster.tls]", () => {
  it(
    "forms a mutual-TLS cluster from casty.toml files whose certificate paths are relative",
    LONG,
    async () => {
      const { loadConfig } = await import("../../mod.ts");
      const { mkdtempSync, writeFileSync, rmSync, copyFileSync } = await import("node:fs");
      const { tmpdir } = await import("node:os");
      const { join } = await import("node:path");
      const { fileURLToPath } = await import("node:url");
      const fixtures = fileURLToPath(new URL("../_fixtures/tls/", import.meta.url));
      const dir = mkdtempSync(join(tmpdir(), "casty-tls-config-"));
      try {
        for (
          const f of [
            "ca_cert.pem",
            "node1_cert.pem",
            "node1_key.pem",
            "node2_cert.pem",
            "node2_key.pem",
          ]
        ) {
          copyFileSync(join(fixtures, f), join(dir, f));
        }
        const file = (n: 1 | 2) => {
          const path = join(dir, `node${n}.toml`);
          writeFileSync(
            path,
            `[system]\nname = "tls-config"\n[cluster]\nhost = "127.0.0.1"\nport = 0\n` +
              `[cluster.tls]\ncertfile = "node${n}_cert.pem"\nkeyfile = "node${n}_key.pem"\ncafile = "ca_cert.pem"\n`,
          );
          return path;
        };
        const a = await ClusteredActorSystem.fromConfig(await loadConfig(file(1)), {
          logger: memoryLogger(),
        });
        const b = await ClusteredActorSystem.fromConfig(await loadConfig(file(2)), {
          logger: memoryLogger(),
          seedNodes: [`127.0.0.1:${a.selfAddress.port}`],
        });
        try {
          await Promise.all([a.waitFor(2, { timeout: 20_000 }), b.waitFor(2, { timeout: 20_000 })]);
          assert.equal(a.name, "tls-config");
          // TLS is really on: a node without certificates cannot join.
          const plain = await ClusteredActorSystem.start({
            name: "tls-config",
            host: "127.0.0.1",
            port: 0,
            logger: memoryLogger(),
            seedNodes: [`127.0.0.1:${a.selfAddress.port}`],
          });
          try {
            await assert.rejects(plain.waitFor(2, { timeout: 1500 }), ClusterUnavailableError);
            assert.equal(a.members.length, 2);
          } finally {
            await plain.shutdown();
          }
        } finally {
          await shutdownAll([a, b]);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});

describe("ClusteredActorSystem.barrier() across real processes", () => {
  it("fails the waiting round when a participant is killed with SIGKILL", LONG, async () => {
    const nodes = await cluster(2);
    const [a, b] = nodes;
    const child = await startNode(0, {
      seeds: [a.selfAddress.port],
      barrier: "doomed:4",
      stableAfter: 1000,
      name: "cl",
    });
    try {
      await a.waitFor(3, { timeout: 20_000 });
      await leadershipSettled([a, b]);
      const waiting = [a, b].map((n) => n.barrier("doomed", 4, { timeout: 30_000 }));
      await new Promise((r) => setTimeout(r, 300));
      const killedAt = Date.now();
      await child.kill("SIGKILL");
      assertRoundFailed(await Promise.allSettled(waiting), "\\d+");
      assert.ok(Date.now() - killedAt < 15_000);
    } finally {
      await child.kill("SIGKILL");
      await shutdownAll(nodes);
    }
  });
});

const port = (c: TestCluster, i: number): number => c.address(i).port;

describe("ClusteredActorSystem on testCluster (simulated time, in-memory transport)", () => {
  it("publishes MemberUp and LeaderChanged, and every node agrees on the lowest address", async () => {
    await using c = await testCluster(3, { seed: 4, waitForUp: false });
    const ups: number[] = [];
    const leaders: (number | undefined)[] = [];
    c.nodes[0].eventStream.subscribe(MemberUp, (e) => ups.push(e.member.address.port));
    for (const n of c.nodes.slice(1)) {
      n.eventStream.subscribe(LeaderChanged, (e) => leaders.push(e.leader?.port));
    }
    await c.until(() => c.isConverged(3));
    assert.deepEqual(ups.sort(), [port(c, 1), port(c, 2)]);
    assert.ok(leaders.length >= 2, "each joining node learns the leader");
    assert.deepEqual(new Set(leaders), new Set([port(c, 0)]));
    const states = await Promise.all(c.nodes.map((x) => x.getClusterState()));
    for (const s of states) {
      assert.ok(s instanceof TopologySnapshot);
      assert.equal(s.members.length, 3);
      assert.deepEqual(s.leader, c.address(0));
      assert.deepEqual(s.unreachable, []);
    }
    // one leader epoch, held by the leader, known to every node and in the snapshot
    await c.until(() =>
      c.nodes[0].membership.isLeader &&
      c.nodes.every((n) => n.leaderEpoch === c.nodes[0].leaderEpoch)
    );
    assert.ok(c.nodes[0].leaderEpoch >= 1);
    assert.deepEqual(c.nodes.map((n) => n.membership.isLeader), [true, false, false]);
    for (const n of c.nodes) {
      assert.equal((await n.getClusterState()).leaderEpoch, c.nodes[0].leaderEpoch);
    }
  });

  it("serves the topology protocol at /_cluster/_topology, also to remote subscribers", async () => {
    await using c = await testCluster(2);
    const [a, b] = c.nodes;
    const snapshots: TopologySnapshot[] = [];
    const sub = b.spawn(
      Behaviors.receive<TopologySnapshot>((_c, s) => void snapshots.push(s)),
      "sub",
    );
    const remoteTopology = b.lookup<SubscribeTopology | UnsubscribeTopology | ResolveNode>(
      `casty://test@127.0.0.1:${a.selfAddress.port}${TOPOLOGY_PATH}`,
    )!;
    remoteTopology.tell(new SubscribeTopology(sub));
    await c.until(() => snapshots.length >= 1);
    assert.ok(snapshots[0] instanceof TopologySnapshot, "the snapshot class survives the wire");
    assert.equal(snapshots[0].members.length, 2);
    const resolved = await c.run(
      b.ask<ResolveNode, { host: string; port: number } | undefined>(
        remoteTopology,
        (replyTo) => new ResolveNode(b.memberId, replyTo),
      ),
    );
    assert.deepEqual(resolved, b.selfAddress);
    const unknown = await c.run(
      b.ask<ResolveNode, unknown>(remoteTopology, (replyTo) => new ResolveNode("nope", replyTo)),
    );
    assert.equal(unknown, undefined);
    // A third node joining pushes a new snapshot to the subscriber.
    await c.start(2);
    await c.until(() => snapshots.at(-1)!.members.filter((m) => m.status === "up").length === 3);
    remoteTopology.tell(new UnsubscribeTopology(sub));
    await c.advance(100);
    const count = snapshots.length;
    c.nodes[2].down(b.selfAddress);
    await c.until(() => a.members.every((m) => m.address.port !== b.selfAddress.port), {
      timeout: 60_000,
    });
    await c.advance(1000);
    assert.equal(snapshots.length, count, "no pushes after unsubscribe");
  });

  it("removes a member that is downed by hand, and the downed node shuts itself down", async () => {
    await using c = await testCluster(3);
    const [a, b, z] = c.nodes;
    const removed: number[] = [];
    a.eventStream.subscribe(MemberRemoved, (e) => removed.push(e.member.address.port));
    a.down(z.selfAddress);
    await c.until(() => removed.includes(z.selfAddress.port));
    await c.until(() => z.isShutdown);
    assert.equal(b.members.some((m) => m.address.port === z.selfAddress.port), false);
  });

  it("leaves gracefully: leaving → removed, seen by every other member", async () => {
    await using c = await testCluster(3);
    const removed: number[][] = [[], []];
    c.nodes.slice(0, 2).forEach((n, i) =>
      n.eventStream.subscribe(MemberRemoved, (e) => removed[i].push(e.member.address.port))
    );
    await c.run(c.nodes[1].leave());
    assert.ok(c.nodes[1].isShutdown);
    assert.deepEqual(removed[0], [port(c, 1)]);
    await c.until(() => c.isConverged(2));
    assert.deepEqual(c.nodes[2].members.map((m) => m.address.port).sort(), [
      port(c, 0),
      port(c, 2),
    ]);
  });

  it("removes a killed node and dead-letters what was queued for it", async () => {
    await using c = await testCluster(3, { downing: { stableAfter: 1000 } });
    const [a] = c.nodes;
    const dead: DeadLetter[] = [];
    a.eventStream.subscribe(DeadLetter, (d) => dead.push(d));
    const unreachable: number[] = [];
    a.eventStream.subscribe(UnreachableMember, (e) => unreachable.push(e.member.address.port));
    const killedAt = c.clock.now();
    await c.kill(2);
    a.lookup<string>(`casty://test@127.0.0.1:${port(c, 2)}/echo`)!.tell("into the void");
    await c.until(() => c.isConverged(2), { timeout: 60_000 });
    assert.deepEqual(unreachable, [port(c, 2)]);
    await c.until(() => dead.some((d) => d.message === "into the void"));
    assert.equal(dead.find((d) => d.message === "into the void")!.reason, "undeliverable");
    assert.ok(c.clock.now() - killedAt < 30_000, "before the transport's unreachable timeout");
  });

  it("a partition: the majority downs the minority; a restarted node rejoins after heal", async () => {
    await using c = await testCluster(3, { seed: 9 });
    c.partition([0, 1], 2);
    await c.until(() => c.nodes[2].isShutdown, { timeout: 60_000 });
    await c.until(() => c.isConverged(2), { timeout: 60_000 });
    c.heal();
    const back = await c.restart(2);
    await c.until(() => c.isConverged(3), { timeout: 60_000 });
    assert.ok(c.nodes[0].members.some((m) => m.id === back.memberId));
  });

  it("sends /_cluster/ messages on the control lane: a full user queue never drops them", async () => {
    await using c = await testCluster(2, {
      transport: { outboundQueueLimit: 2 },
      downing: { stableAfter: 60_000 },
    });
    const [a, b] = c.nodes;
    const dead: DeadLetter[] = [];
    b.eventStream.subscribe(DeadLetter, (d) => dead.push(d));
    const snapshots: TopologySnapshot[] = [];
    const sub = b.spawn(
      Behaviors.receive<TopologySnapshot>((_c, s) => void snapshots.push(s)),
      "sub",
    );
    c.partition(0, 1);
    const user = b.lookup<string>(`casty://test@127.0.0.1:${port(c, 0)}/nobody`)!;
    for (let i = 0; i < 5; i++) user.tell(`m${i}`);
    b.lookup<SubscribeTopology>(`casty://test@127.0.0.1:${port(c, 0)}${TOPOLOGY_PATH}`)!
      .tell(new SubscribeTopology(sub));
    await c.advance(50);
    assert.deepEqual(
      dead.filter((d) => d.detail === "queue-overflow").map((d) => d.message),
      ["m2", "m3", "m4"],
      "the user lane overflows past its limit of 2",
    );
    c.heal();
    await c.until(() => snapshots.length > 0, { timeout: 20_000 });
    assert.equal(snapshots[0].members.length, 2, "the control-lane subscription got through");
    assert.equal(a.members.length, 2);
  });

  it("barrier releases every node once n arrive, is reusable, and fails short rounds", async () => {
    await using c = await testCluster(3);
    for (let round = 0; round < 3; round++) {
      const order: number[] = [];
      const arrive = (i: number) =>
        c.nodes[i].barrier("phase", 3, { timeout: 10_000 }).then(() => order.push(i));
      // Two arrive and wait: nobody is released before the third arrives.
      const arrivals = [arrive(0), arrive(1)];
      await c.advance(500);
      assert.deepEqual(order, [], `round ${round}: released before the third arrived`);
      arrivals.push(arrive(2));
      await c.run(Promise.all(arrivals));
      assert.deepEqual(order.sort(), [0, 1, 2]);
    }
    const two = c.nodes.slice(0, 2).map((n) => n.barrier("partial", 3, { timeout: 300 }));
    const results = await c.run(Promise.allSettled(two));
    for (const r of results) {
      assert.equal(r.status, "rejected");
      assert.match(
        String((r as PromiseRejectedResult).reason?.code ?? (r as PromiseRejectedResult).reason),
        /BARRIER_TIMEOUT|fewer than 3/,
      );
    }
  });

  it("barrier fails a node that expects a different number of participants", async () => {
    await using c = await testCluster(2);
    const first = c.nodes[0].barrier("mixed", 3, { timeout: 2000 }).catch((e) => e);
    await c.advance(100);
    await assert.rejects(
      c.run(c.nodes[1].barrier("mixed", 2, { timeout: 2000 })),
      BarrierMismatchError,
    );
    // The node that expects three keeps waiting for a third participant until its timeout.
    const outcome = await c.run(first);
    assert.equal(outcome?.code, "BARRIER_TIMEOUT", String(outcome));
  });

  it("barrier fails the waiting round when a participant is killed", async () => {
    await using c = await testCluster(3, { downing: { stableAfter: 1000 } });
    // Three of four arrive; then one of the three is killed.
    const waiting = c.nodes.slice(0, 2).map((n) => n.barrier("doomed", 4, { timeout: 30_000 }));
    void c.nodes[2].barrier("doomed", 4, { timeout: 30_000 }).catch(() => {});
    await c.advance(300);
    await c.kill(2);
    assertRoundFailed(await c.run(Promise.allSettled(waiting), { timeout: 30_000 }), "25522");
  });
});

void ({} as ActorRef<never>);
