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
  UnsubscribeTopology,
} from "../../mod.ts";
import { memoryLogger, waitFor } from "../_helpers/probe.ts";
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
  return nodes;
}

async function shutdownAll(nodes: ClusteredActorSystem[]): Promise<void> {
  await Promise.all(nodes.map((n) => n.shutdown()));
}

describe("ClusteredActorSystem (in one process)", () => {
  it("forms a single-node cluster without seeds and leads it", LONG, async () => {
    await using node = await start();
    const state = await node.waitFor(1, { timeout: 5000 });
    assert.equal(state.members.length, 1);
    assert.equal(state.members[0].status, "up");
    assert.deepEqual(state.leader, node.selfAddress);
    assert.deepEqual(state.unreachable, []);
    assert.ok(state instanceof TopologySnapshot);
  });

  it("publishes MemberUp and LeaderChanged, and agrees on one leader", LONG, async () => {
    const first = await start();
    const ups: number[] = [];
    const leaders: (number | undefined)[] = [];
    const leaderAtSubscribe = first.leader?.port;
    first.eventStream.subscribe(MemberUp, (e) => ups.push(e.member.address.port));
    first.eventStream.subscribe(LeaderChanged, (e) => leaders.push(e.leader?.port));
    const seed = `127.0.0.1:${first.selfAddress.port}`;
    const others = await Promise.all([start({ seedNodes: [seed] }), start({ seedNodes: [seed] })]);
    const nodes = [first, ...others];
    try {
      await Promise.all(nodes.map((x) => x.waitFor(3, { timeout: 20_000 })));
      await waitFor(() => ups.length >= 2, { timeout: 5000 });
      assert.deepEqual(ups.sort(), others.map((o) => o.selfAddress.port).sort());
      const states = await Promise.all(nodes.map((x) => x.getClusterState()));
      const lowest = Math.min(...nodes.map((x) => x.selfAddress.port));
      await waitFor(() => nodes.every((x) => x.leader?.port === lowest), { timeout: 5000 });
      assert.ok(states.every((s) => s.members.length === 3));
      // Each LeaderChanged names a different leader than the one before it, and the last
      // leader `first` saw (or the one it had all along) is the agreed one.
      [leaderAtSubscribe, ...leaders].reduce((prev, l) => {
        assert.notEqual(l, prev, `LeaderChanged without a change: ${leaders.join(", ")}`);
        return l;
      });
      assert.equal(leaders.at(-1) ?? leaderAtSubscribe, lowest);
    } finally {
      await shutdownAll(nodes);
    }
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

  it(
    "serves the topology protocol at /_cluster/_topology, also to remote subscribers",
    LONG,
    async () => {
      const nodes = await cluster(2);
      const [a, b] = nodes;
      try {
        const snapshots: TopologySnapshot[] = [];
        const sub = b.spawn(
          Behaviors.receive<TopologySnapshot>((_c, s) => void snapshots.push(s)),
          "sub",
        );
        const remoteTopology = b.lookup<SubscribeTopology | UnsubscribeTopology | ResolveNode>(
          `casty://cl@127.0.0.1:${a.selfAddress.port}${TOPOLOGY_PATH}`,
        )!;
        remoteTopology.tell(new SubscribeTopology(sub));
        await waitFor(() => snapshots.length >= 1, { timeout: 5000 });
        assert.ok(snapshots[0] instanceof TopologySnapshot, "the snapshot class survives the wire");
        assert.equal(snapshots[0].members.length, 2);
        const resolved = await b.ask<ResolveNode, { host: string; port: number } | undefined>(
          remoteTopology,
          (replyTo) => new ResolveNode(b.memberId, replyTo),
        );
        assert.deepEqual(resolved, b.selfAddress);
        const unknown = await b.ask<ResolveNode, unknown>(
          remoteTopology,
          (replyTo) => new ResolveNode("nope", replyTo),
        );
        assert.equal(unknown, undefined);
        // A third node joining pushes a new snapshot to the subscriber.
        const c = await start({ seedNodes: [`127.0.0.1:${a.selfAddress.port}`] });
        nodes.push(c);
        await waitFor(
          () => snapshots.at(-1)!.members.filter((m) => m.status === "up").length === 3,
          {
            timeout: 10_000,
          },
        );
        remoteTopology.tell(new UnsubscribeTopology(sub));
        await new Promise((r) => setTimeout(r, 100));
        const count = snapshots.length;
        c.down(b.selfAddress);
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(snapshots.length, count, "no pushes after unsubscribe");
      } finally {
        await shutdownAll(nodes);
      }
    },
  );

  it("removes a member that is downed by hand", LONG, async () => {
    const nodes = await cluster(3);
    const [a, b, c] = nodes;
    try {
      const removed: number[] = [];
      a.eventStream.subscribe(MemberRemoved, (e) => removed.push(e.member.address.port));
      a.down(c.selfAddress);
      await waitFor(() => removed.includes(c.selfAddress.port), { timeout: 10_000 });
      await waitFor(() => c.isShutdown, {
        timeout: 10_000,
        what: "the downed node shuts itself down",
      });
      assert.equal(
        b.members.some((m) => m.address.port === c.selfAddress.port && m.status === "up"),
        false,
      );
    } finally {
      await shutdownAll(nodes);
    }
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

describe("ClusteredActorSystem.barrier()", () => {
  it("releases every node once n arrive, and is reusable", LONG, async () => {
    const nodes = await cluster(3);
    try {
      for (let round = 0; round < 3; round++) {
        const released: { node: number; at: number }[] = [];
        const arrive = (i: number) =>
          nodes[i].barrier("phase", 3, { timeout: 10_000 }).then(() =>
            released.push({ node: i, at: performance.now() })
          );
        // Two arrive first; the third a little later: nobody may be released before it arrives.
        const arrivals = [arrive(0), arrive(1)];
        await new Promise((r) => setTimeout(r, 50));
        const lastArrivedAt = performance.now();
        arrivals.push(arrive(2));
        await Promise.all(arrivals);
        assert.deepEqual(released.map((r) => r.node).sort(), [0, 1, 2], `round ${round}`);
        for (const r of released) {
          assert.ok(r.at >= lastArrivedAt, `node ${r.node} released before the third arrived`);
        }
      }
      // Two of three: nobody is released.
      let released = 0;
      const two = nodes.slice(0, 2).map((n) =>
        n.barrier("partial", 3, { timeout: 300 }).then(() => released++)
      );
      const results = await Promise.allSettled(two);
      assert.equal(released, 0);
      assert.ok(
        results.every((r) =>
          r.status === "rejected" &&
          /BARRIER_TIMEOUT|fewer than 3/.test(String(r.reason?.code ?? r.reason?.message))
        ),
      );
    } finally {
      await shutdownAll(nodes);
    }
  });

  it("fails a node that expects a different number of participants", LONG, async () => {
    const nodes = await cluster(2);
    try {
      const first = nodes[0].barrier("mixed", 3, { timeout: 2000 }).catch((e) => e);
      await new Promise((r) => setTimeout(r, 100));
      await assert.rejects(nodes[1].barrier("mixed", 2, { timeout: 2000 }), BarrierMismatchError);
      // The node that expects three keeps waiting for a third participant until its timeout.
      const outcome = await first;
      assert.equal(outcome?.code, "BARRIER_TIMEOUT", String(outcome));
    } finally {
      await shutdownAll(nodes);
    }
  });

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
      const waiting = [a, b].map((n) => n.barrier("doomed", 4, { timeout: 30_000 }));
      await new Promise((r) => setTimeout(r, 300));
      const killedAt = Date.now();
      await child.kill("SIGKILL");
      const results = await Promise.allSettled(waiting);
      for (const r of results) {
        assert.equal(r.status, "rejected");
        const err = (r as PromiseRejectedResult).reason;
        assert.ok(err instanceof ClusterUnavailableError);
        assert.match(
          err.message,
          /Barrier "doomed" failed: participant 127\.0\.0\.1:\d+ became unreachable or left/,
        );
      }
      assert.ok(Date.now() - killedAt < 15_000);
    } finally {
      await child.kill("SIGKILL");
      await shutdownAll(nodes);
    }
  });
});

void ({} as ActorRef<never>);
