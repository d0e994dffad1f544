import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type NodeProcess, startNode, stopAll, waitForViews } from "../_helpers/cluster_harness.ts";
import { freePort, NodeProxy, PartitionTable } from "../_helpers/partition_proxy.ts";

const LONG = { timeout: 90_000 };

const sameUp = (ports: number[]) => (v: { up?: number[]; leader?: number | null }) =>
  JSON.stringify(v.up) === JSON.stringify([...ports].sort((a, b) => a - b)) &&
  v.leader === Math.min(...ports);

async function formCluster(
  n: number,
  stableAfter = 3000,
): Promise<{ nodes: NodeProcess[]; ms: number }> {
  const t0 = Date.now();
  const first = await startNode(0, { stableAfter });
  const rest = await Promise.all(
    Array.from({ length: n - 1 }, () => startNode(0, { seeds: [first.port], stableAfter })),
  );
  const nodes = [first, ...rest];
  const ports = nodes.map((x) => x.port);
  await waitForViews(nodes, sameUp(ports), 20_000, `${n} members up with one leader`);
  return { nodes, ms: Date.now() - t0 };
}

describe("cluster membership across real processes", () => {
  it(
    "forms 3- and 5-node clusters with one leader (the lowest address) on every node",
    LONG,
    async () => {
      for (const n of [3, 5]) {
        const { nodes, ms } = await formCluster(n);
        try {
          console.log(`formation of ${n} processes: ${ms} ms (including process start-up)`);
          const leaders = new Set(nodes.map((x) => x.view()!.leader));
          assert.equal(leaders.size, 1);
        } finally {
          await stopAll(nodes);
        }
      }
    },
  );

  it(
    "detects a SIGKILLed node as unreachable on every survivor, then downs and removes it",
    LONG,
    async () => {
      const { nodes } = await formCluster(3);
      try {
        const [a, b, victim] = nodes;
        const killedAt = Date.now();
        await victim.kill("SIGKILL");
        await Promise.all(
          [a, b].map((n) =>
            n.waitFor((e) => e.event === "UnreachableMember" && e.port === victim.port, 15_000)
          ),
        );
        const detectedMs = Date.now() - killedAt;
        await Promise.all(
          [a, b].map((n) =>
            n.waitFor((e) => e.event === "MemberRemoved" && e.port === victim.port, 20_000)
          ),
        );
        const removedMs = Date.now() - killedAt;
        console.log(
          `kill -9 → UnreachableMember ≤ ${detectedMs} ms, → MemberRemoved ≤ ${removedMs} ms (stableAfter 3000)`,
        );
        for (const n of [a, b]) {
          const seen = n.events();
          const unreachableAt = seen.findIndex((e) =>
            e.event === "UnreachableMember" && e.port === victim.port
          );
          const removedAt = seen.findIndex((e) =>
            e.event === "MemberRemoved" && e.port === victim.port
          );
          assert.ok(unreachableAt >= 0 && unreachableAt < removedAt, "unreachable, then removed");
        }
        await waitForViews([a, b], sameUp([a.port, b.port]), 10_000, "two survivors, one leader");
      } finally {
        await stopAll(nodes);
      }
    },
  );

  it(
    "lets a node leave gracefully: leaving → exiting → removed on every member",
    LONG,
    async () => {
      const { nodes } = await formCluster(3);
      try {
        const [a, b, leaver] = nodes;
        await leaver.kill("SIGTERM");
        await leaver.waitFor((e) => e.event === "left", 15_000);
        const own = leaver.events().map((e) => e.event);
        assert.ok(
          own.includes("ShutdownSelf"),
          "the leaver learned it was removed before stopping",
        );
        for (const n of [a, b]) {
          await n.waitFor((e) => e.event === "MemberRemoved" && e.port === leaver.port, 15_000);
          const seen = n.events().map((e) => `${e.event}:${e.port}`);
          assert.ok(seen.includes(`MemberLeft:${leaver.port}`), `MemberLeft seen on ${n.port}`);
          assert.ok(
            !seen.includes(`UnreachableMember:${leaver.port}`),
            "a graceful leave is not a crash",
          );
        }
        await waitForViews([a, b], sameUp([a.port, b.port]), 10_000, "two members after the leave");
      } finally {
        await stopAll(nodes);
      }
    },
  );

  it("lets a restarted node (same address, new incarnation) rejoin", LONG, async () => {
    const { nodes } = await formCluster(3);
    try {
      const [a, b, c] = nodes;
      await c.kill("SIGKILL");
      const again = await startNode(c.port, { seeds: [a.port], stableAfter: 3000 });
      nodes[2] = again;
      await waitForViews(
        [a, b, again],
        sameUp([a.port, b.port, c.port]),
        25_000,
        "the restarted node up again",
      );
    } finally {
      await stopAll(nodes);
    }
  });

  it("joins through another seed when the first seed is down", LONG, async () => {
    const { nodes } = await formCluster(2);
    const [a, b] = nodes;
    let late: NodeProcess | undefined;
    try {
      // A port nobody listens on, then a live seed.
      late = await startNode(0, { seeds: [1, b.port], stableAfter: 3000 });
      await waitForViews(
        [a, b, late],
        sameUp([a.port, b.port, late.port]),
        20_000,
        "joined via the second seed",
      );
    } finally {
      await stopAll(late ? [...nodes, late] : nodes);
    }
  });

  it("keeps exactly the majority side of a partition running, with one leader", LONG, async () => {
    const table = new PartitionTable();
    const proxies: NodeProxy[] = [];
    const nodes: NodeProcess[] = [];
    try {
      for (let i = 0; i < 5; i++) {
        const bindPort = await freePort();
        const proxy = await NodeProxy.start(bindPort, table);
        proxies.push(proxy);
        const seeds = i === 0 ? [] : [proxies[0].port];
        nodes.push(await startNode(proxy.port, { bindPort, seeds, stableAfter: 2000 }));
      }
      const all = nodes.map((n) => n.port);
      await waitForViews(nodes, sameUp(all), 30_000, "5 members through the proxies");
      const majority = nodes.slice(0, 3);
      const minority = nodes.slice(3);
      table.partition(majority.map((n) => n.port), minority.map((n) => n.port));
      for (const n of minority) {
        const e = await n.waitFor((x) => x.event === "ShutdownSelf", 30_000);
        assert.equal(e.reason, "minority");
      }
      const kept = majority.map((n) => n.port);
      await waitForViews(majority, sameUp(kept), 30_000, "the majority alone, one leader");
      for (const n of majority) {
        for (const m of minority) {
          await n.waitFor((e) => e.event === "MemberRemoved" && e.port === m.port, 30_000);
        }
        const removed = n.events().filter((e) => e.event === "MemberRemoved").map((e) => e.port);
        assert.deepEqual(
          removed.sort(),
          minority.map((m) => m.port).sort(),
          "only the minority was removed",
        );
      }
      for (const n of minority) {
        const downedOthers = n.events().filter((e) =>
          e.event === "MemberDowned" && kept.includes(e.port!)
        );
        assert.deepEqual(
          downedOthers,
          [],
          "the minority side made no decisions about the majority",
        );
      }
    } finally {
      await stopAll(nodes);
      await Promise.all(proxies.map((p) => p.close()));
    }
  });
});
