import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { MembershipEvent } from "../../src/cluster/events.ts";
import type { DowningOptions } from "../../src/cluster/downing.ts";
import { bumpVersion, encodeGossip, putMember } from "../../src/cluster/gossip.ts";
import { nodeKey } from "../../src/cluster/member.ts";
import { Membership } from "../../src/cluster/membership.ts";
import {
  MembershipSimulation,
  type SimulatedNode,
} from "../../src/testing/membership_simulation.ts";
import { SimulatedClock } from "../../src/testing/simulated_clock.ts";

const STABLE_AFTER = 5000;

function simulation(seed = 1, tombstoneTtl?: number): MembershipSimulation {
  return new MembershipSimulation({
    seed,
    tuning: { downing: { stableAfter: STABLE_AFTER }, tombstoneTtl },
  });
}

/** Starts nodes on `ports` (seeds: the first two ports) and waits until all are up everywhere. */
function formed(sim: MembershipSimulation, ports: number[]): void {
  for (const p of ports) sim.add(p, { seeds: ports.slice(0, 2) });
  assert.ok(sim.runUntil(() => sim.allUp(ports.length), 60_000), "cluster did not form");
}

/** `type:port` of each event, e.g. `MemberUp:3`; `LeaderChanged:1`; `ShutdownSelf:minority`. */
function labels(events: readonly MembershipEvent[]): string[] {
  return events.map((e) => {
    switch (e.type) {
      case "LeaderChanged":
        return `${e.type}:${e.leader?.port ?? "-"}`;
      case "ShutdownSelf":
        return `${e.type}:${e.reason}`;
      default:
        return `${e.type}:${e.member.address.port}`;
    }
  });
}

function count(node: SimulatedNode, label: string): number {
  return labels(node.events).filter((l) => l === label).length;
}

function ports(node: SimulatedNode): number[] {
  return node.membership.members.map((m) => m.address.port);
}

describe("Membership: forming a cluster", () => {
  for (const n of [3, 5]) {
    it(`brings ${n} nodes up with the same leader on every node`, () => {
      using sim = simulation(n);
      const all = Array.from({ length: n }, (_, i) => i + 1);
      formed(sim, all);
      for (const node of sim.nodes) {
        assert.deepEqual(ports(node), all);
        assert.equal(node.membership.leader?.port, 1);
        assert.equal(node.membership.selfMember?.status, "up");
        for (const p of all) assert.equal(count(node, `MemberUp:${p}`), 1, `MemberUp:${p} once`);
      }
      sim.runFor(5000);
      for (const node of sim.nodes) assert.ok(node.membership.isConverged);
      const upNumbers = sim.nodes[0].membership.members.map((m) => m.upNumber);
      assert.equal(new Set(upNumbers).size, n, "distinct upNumbers");
    });
  }

  it("forms a single-node cluster with no seeds at once", () => {
    const clock = new SimulatedClock();
    const events: MembershipEvent[] = [];
    const node = new Membership({
      self: { address: { host: "h", port: 1 }, id: "000000000001-aaaaaaaa" },
      seedNodes: [],
      clock,
      send: () => {},
      onEvent: (e) => events.push(e),
    });
    node.start();
    assert.equal(node.selfMember?.status, "up");
    assert.equal(node.leader?.port, 1);
    assert.deepEqual(labels(events), ["MemberJoined:1", "LeaderChanged:1", "MemberUp:1"]);
    node.stop();
    assert.equal(clock.pending, 0, "stop() cancels every timer");
  });

  it("joins through another seed when a seed is down at start", () => {
    using sim = simulation(7);
    // seeds 1, 2, 3; seed 2 never starts
    for (const p of [1, 3, 4]) sim.add(p, { seeds: [1, 2, 3] });
    assert.ok(sim.runUntil(() => sim.allUp(3), 60_000));
    // later the first seed dies; a newcomer still gets in through seed 3
    sim.kill(1);
    assert.ok(sim.runUntil(() => sim.allUp(2), 60_000));
    sim.add(5, { seeds: [1, 2, 3] });
    assert.ok(sim.runUntil(() => sim.allUp(3), 60_000));
    assert.deepEqual(ports(sim.node(5)), [3, 4, 5]);
  });

  it("lets a restarted first seed rejoin the existing cluster instead of forming a new one", () => {
    using sim = simulation(8);
    formed(sim, [1, 2, 3]);
    const old = sim.node(1).membership.selfNode.id;
    const fresh = sim.restart(1);
    assert.ok(
      sim.runUntil(() => sim.allUp(3) && fresh.membership.selfMember?.status === "up", 60_000),
    );
    for (const node of sim.alive) {
      assert.deepEqual(ports(node), [1, 2, 3]);
      assert.ok(node.membership.members.every((m) => m.id !== old));
    }
  });
});

describe("Membership: failures", () => {
  it("marks a killed node unreachable on every survivor, then downs and removes it", () => {
    using sim = simulation(11);
    formed(sim, [1, 2, 3, 4, 5]);
    sim.kill(3);
    const survivors = sim.alive;
    assert.ok(
      sim.runUntil(() => survivors.every((n) => count(n, "UnreachableMember:3") === 1), 10_000),
    );
    assert.ok(sim.runUntil(() => sim.allUp(4), 60_000));
    for (const node of survivors) {
      assert.equal(count(node, "UnreachableMember:3"), 1);
      assert.equal(count(node, "MemberDowned:3"), 1);
      assert.equal(count(node, "MemberRemoved:3"), 1);
      assert.equal(count(node, "ReachableMember:3"), 0);
      assert.deepEqual(ports(node), [1, 2, 4, 5]);
      assert.equal(node.membership.unreachable.length, 0);
    }
  });

  it("elects the next lowest address when the leader dies", () => {
    using sim = simulation(12);
    formed(sim, [1, 2, 3]);
    sim.kill(1);
    assert.ok(sim.runUntil(() => sim.allUp(2), 60_000));
    for (const node of sim.alive) {
      assert.equal(node.membership.leader?.port, 2);
      assert.equal(count(node, "LeaderChanged:2"), 1);
    }
  });

  it("reports ReachableMember when a briefly cut-off node comes back, and downs nobody", () => {
    using sim = simulation(13);
    formed(sim, [1, 2, 3]);
    const three = [sim.address(3)];
    sim.network.partition(three, [sim.address(1), sim.address(2)]);
    assert.ok(sim.runUntil(() => count(sim.node(1), "UnreachableMember:3") === 1, 10_000));
    sim.network.heal();
    assert.ok(sim.runUntil(() => count(sim.node(1), "ReachableMember:3") === 1, 10_000));
    sim.runFor(3 * STABLE_AFTER);
    assert.ok(sim.allUp(3));
    for (const node of sim.nodes) {
      assert.ok(node.alive);
      assert.ok(!labels(node.events).some((l) => l.startsWith("MemberDowned")));
    }
  });

  it("rejoins a restarted node (new incarnation, same address) and removes the old one", () => {
    using sim = simulation(14);
    formed(sim, [1, 2, 3, 4]);
    const oldId = sim.node(3).membership.selfNode.id;
    const fresh = sim.restart(3); // restarts before anyone noticed the crash
    assert.notEqual(fresh.membership.selfNode.id, oldId);
    assert.ok(sim.runUntil(() => sim.allUp(4), 60_000));
    for (const node of sim.alive) {
      const three = node.membership.members.find((m) => m.address.port === 3);
      assert.equal(three?.id, fresh.membership.selfNode.id);
    }
    for (const p of [1, 2, 4]) {
      const events = sim.node(p).events;
      const removed = events.filter((e) => e.type === "MemberRemoved" && e.member.id === oldId);
      assert.equal(removed.length, 1, `old incarnation removed once on ${p}`);
      const ups = events.filter((e) => e.type === "MemberUp" && e.member.address.port === 3);
      assert.equal(ups.length, 2, `both incarnations were up once on ${p}`);
    }
  });

  it("lets an operator down a live node, which then shuts itself down", () => {
    using sim = simulation(15);
    formed(sim, [1, 2, 3]);
    sim.node(2).membership.down(sim.address(3));
    assert.ok(sim.runUntil(() => sim.allUp(2) && !sim.node(3).alive, 30_000));
    assert.deepEqual(labels(sim.node(3).events).slice(-1), ["ShutdownSelf:downed"]);
  });
});

describe("Membership: failure-detector defaults", () => {
  it("takes a node whose event loop stalls for 1.5 s for a slow node, not a failed one", () => {
    for (const seed of [51, 52, 53, 54, 55]) {
      using sim = simulation(seed);
      formed(sim, [1, 2, 3, 4, 5]);
      sim.runFor(10_000); // a realistic heartbeat history
      sim.stall(3, 1500);
      sim.runFor(15_000);
      for (const node of sim.nodes) {
        assert.ok(node.alive, `node ${node.address.port} alive (seed ${seed})`);
        const unreachable = labels(node.events).filter((l) => l.startsWith("UnreachableMember"));
        assert.deepEqual(
          unreachable,
          [],
          `no UnreachableMember on ${node.address.port} (seed ${seed})`,
        );
      }
      assert.ok(sim.allUp(5));
    }
  });

  it("still detects a crash within 5 s and removes it within stableAfter + 5 s", () => {
    for (const seed of [61, 62, 63]) {
      using sim = simulation(seed);
      formed(sim, [1, 2, 3, 4, 5]);
      sim.runFor(10_000);
      sim.kill(4);
      const t0 = sim.clock.now();
      const survivors = sim.alive;
      assert.ok(
        sim.runUntil(() => survivors.every((n) => count(n, "UnreachableMember:4") === 1), 5_000),
        `UnreachableMember within 5 s (seed ${seed})`,
      );
      assert.ok(
        sim.runUntil(() => survivors.every((n) => count(n, "MemberRemoved:4") === 1), 10_000),
        `MemberRemoved (seed ${seed})`,
      );
      assert.ok(sim.clock.now() - t0 <= STABLE_AFTER + 5_000 + 5_000);
    }
  });
});

describe("Membership: identity", () => {
  it("rejoins a node restarted with its clock a day behind, before its crash was noticed", () => {
    using sim = simulation(71);
    formed(sim, [1, 2, 3, 4]);
    const oldId = sim.node(3).membership.selfNode.id;
    const fresh = sim.restart(3, { wallClockOffset: -86_400_000 });
    assert.ok(fresh.membership.selfNode.id < oldId, "the new id sorts before the old one");
    assert.ok(sim.runUntil(() => sim.allUp(4), 60_000), "rejoined");
    for (const node of sim.alive) {
      const three = node.membership.members.filter((m) => m.address.port === 3);
      assert.deepEqual(three.map((m) => m.id), [fresh.membership.selfNode.id]);
    }
  });

  it("rejoins a node restarted with its clock a day behind, after it was removed", () => {
    using sim = simulation(72);
    formed(sim, [1, 2, 3, 4]);
    const oldId = sim.node(4).membership.selfNode.id;
    sim.kill(4);
    assert.ok(sim.runUntil(() => sim.allUp(3), 60_000), "the crashed node was removed");
    assert.ok(sim.node(1).membership.state.tombstones.some((t) => t.node.id === oldId));
    const fresh = sim.restart(4, { wallClockOffset: -86_400_000 });
    assert.ok(sim.runUntil(() => sim.allUp(4), 60_000), "rejoined despite the tombstone");
    assert.equal(fresh.membership.selfMember?.status, "up");
  });

  it("logs a join that keeps getting no answer, and drops malformed messages with a log", () => {
    const clock = new SimulatedClock();
    const logs: string[] = [];
    const node = new Membership({
      self: { address: { host: "h", port: 2 }, id: "b" },
      seedNodes: [{ host: "h", port: 1 }],
      clock,
      send: () => {},
      log: (_level, message) => logs.push(message),
    });
    node.start();
    clock.advance(9_000);
    assert.equal(logs.length, 0);
    clock.advance(2_000);
    assert.equal(logs.length, 1);
    assert.match(logs[0], /Cannot join the cluster yet: no seed node answered \d+ join attempts/);
    node.receive({ host: "h", port: 1 }, { type: "heartbeat", from: "x", to: "b", seq: 1 });
    node.receive({ host: "h", port: 1 }, {
      type: "welcome",
      from: { address: { host: "h", port: 1 }, id: "a" },
      to: "b",
      gossip: { m: [["h", 1.5, "a", 1, 1, []]], v: [], s: "", r: [], t: [] },
    });
    assert.equal(logs.length, 3);
    assert.match(logs[1], /Dropped a membership message from h:1: .*from is not an object/);
    assert.match(logs[2], /member 0 port is not an integer/);
    assert.equal(node.selfMember, undefined, "no state change");
    node.stop();
  });
});

describe("Membership: graceful leave", () => {
  it("goes leaving → exiting → removed on every node, and the leaver learns it was removed", () => {
    using sim = simulation(21);
    formed(sim, [1, 2, 3, 4]);
    sim.node(3).membership.leave();
    assert.ok(sim.runUntil(() => sim.allUp(3) && !sim.node(3).alive, 30_000));
    for (const p of [1, 2, 4]) {
      const l = labels(sim.node(p).events).filter((x) =>
        x.endsWith(":3") && !x.startsWith("Leader") && !x.startsWith("MemberJoined")
      );
      assert.deepEqual(l, ["MemberUp:3", "MemberLeft:3", "MemberExited:3", "MemberRemoved:3"]);
    }
    const leaver = sim.node(3);
    assert.equal(count(leaver, "MemberLeft:3"), 1);
    assert.equal(count(leaver, "MemberRemoved:3"), 1);
    assert.deepEqual(labels(leaver.events).slice(-1), ["ShutdownSelf:removed"]);
    assert.ok(leaver.membership.isTerminated);
    assert.equal(leaver.membership.selfMember, undefined);
    const removed = sim.node(1).events.find((e) => e.type === "MemberRemoved");
    assert.equal(removed?.type === "MemberRemoved" && removed.previousStatus, "exiting");
  });

  it("hands leadership over when the leader leaves", () => {
    using sim = simulation(22);
    formed(sim, [1, 2, 3]);
    sim.node(1).membership.leave();
    assert.ok(sim.runUntil(() => sim.allUp(2) && !sim.node(1).alive, 30_000));
    for (const p of [2, 3]) assert.equal(sim.node(p).membership.leader?.port, 2);
  });

  it("removes the last node of a cluster when it leaves", () => {
    using sim = simulation(23);
    const only = sim.add(1);
    assert.ok(sim.runUntil(() => only.membership.selfMember?.status === "up", 5000));
    only.membership.leave();
    assert.ok(sim.runUntil(() => !only.alive, 10_000));
    assert.deepEqual(
      labels(only.events).filter((l) => !l.startsWith("Leader")).slice(-4),
      ["MemberLeft:1", "MemberExited:1", "MemberRemoved:1", "ShutdownSelf:removed"],
    );
  });
});

describe("Membership: partitions (keep-majority)", () => {
  it("keeps the 3-node majority of a 3|2 split running with one leader; the minority shuts down", () => {
    using sim = simulation(31);
    formed(sim, [1, 2, 3, 4, 5]);
    // the minority holds the lowest address, which must not matter
    const minority = [1, 2];
    const majority = [3, 4, 5];
    sim.network.partition(minority.map((p) => sim.address(p)), majority.map((p) => sim.address(p)));
    assert.ok(
      sim.runUntil(() => sim.allUp(3) && minority.every((p) => !sim.node(p).alive), 60_000),
    );
    for (const p of minority) {
      const node = sim.node(p);
      assert.deepEqual(labels(node.events).slice(-1), ["ShutdownSelf:minority"]);
      // the minority never acted for the majority's members
      assert.ok(!labels(node.events).some((l) => l.startsWith("MemberDowned")));
    }
    for (const p of majority) {
      const node = sim.node(p);
      assert.equal(node.membership.leader?.port, 3);
      assert.deepEqual(ports(node), majority);
    }
    // healing the network later changes nothing: the minority is gone for good
    sim.network.heal();
    sim.runFor(20_000);
    assert.ok(sim.allUp(3));
  });

  it("resolves a 2|2 tie in favour of the side with the lowest address", () => {
    using sim = simulation(32);
    formed(sim, [1, 2, 3, 4]);
    const keep = [1, 4];
    const lose = [2, 3];
    sim.network.partition(keep.map((p) => sim.address(p)), lose.map((p) => sim.address(p)));
    assert.ok(sim.runUntil(() => sim.allUp(2) && lose.every((p) => !sim.node(p).alive), 60_000));
    for (const p of keep) {
      assert.deepEqual(ports(sim.node(p)), keep);
      assert.equal(sim.node(p).membership.leader?.port, 1);
    }
    for (const p of lose) {
      assert.deepEqual(labels(sim.node(p).events).slice(-1), ["ShutdownSelf:minority"]);
    }
  });

  it("never lets two nodes act as leader for the same members", () => {
    using sim = simulation(33);
    formed(sim, [1, 2, 3, 4, 5]);
    sim.network.partition([sim.address(1), sim.address(2)], [3, 4, 5].map((p) => sim.address(p)));
    // sample every 100 ms: a member is only ever downed by the majority side
    const downedBy = new Map<number, Set<number>>();
    const settled = sim.runUntil(() => {
      for (const node of sim.nodes) {
        for (const m of node.membership.members) {
          if (m.status !== "down") continue;
          const by = downedBy.get(m.address.port) ?? new Set<number>();
          by.add(node.address.port);
          downedBy.set(m.address.port, by);
        }
      }
      return sim.allUp(3);
    }, 60_000);
    assert.ok(settled, "the majority settled with 3 members up");
    assert.deepEqual([...downedBy.keys()].sort(), [1, 2], "exactly the minority was downed");
    for (const [port, by] of downedBy) {
      assert.ok([...by].every((p) => p >= 3), `${port} downed only in the majority's view`);
    }
    // one node took every leader action under each epoch, and the downing was node 3's
    const byEpoch = new Map<number, Set<number>>();
    for (const node of sim.nodes) {
      for (const a of node.leaderActions) {
        byEpoch.set(a.epoch, (byEpoch.get(a.epoch) ?? new Set()).add(node.address.port));
      }
    }
    for (const [epoch, by] of byEpoch) assert.equal(by.size, 1, `one actor in epoch ${epoch}`);
    const downs = sim.nodes.flatMap((n) =>
      n.leaderActions.filter((a) => a.kind === "down").map(() => n.address.port)
    );
    assert.deepEqual(downs, [3]);
  });
});

describe("Membership: the leader epoch", () => {
  it("refuses the decisions of a former leader that has not learned the newer epoch", () => {
    const logs: string[] = [];
    using sim = new MembershipSimulation({
      seed: 91,
      tuning: { downing: { stableAfter: 60_000 }, log: (_l, m) => logs.push(m) },
    });
    formed(sim, [1, 2, 3]);
    assert.ok(sim.runUntil(() => sim.node(1).membership.isLeader, 10_000));
    const before = sim.node(1).membership.leaderEpoch;
    sim.network.partition([sim.address(1)], [sim.address(2), sim.address(3)]);
    // the majority side's leader (node 2) claims the next epoch; node 1 still has the old one
    assert.ok(sim.runUntil(() => sim.node(2).membership.isLeader, 20_000));
    assert.ok(sim.node(2).membership.leaderEpoch > before);
    assert.equal(sim.node(1).membership.leaderEpoch, before);
    assert.ok(!sim.node(1).membership.isLeader, "the cut-off node does not act meanwhile");
    // a decision of the former leader: node 1 downs node 3 under its old epoch
    const one = sim.node(1).membership;
    const three = one.members.find((m) => m.address.port === 3)!;
    const stale = bumpVersion(
      putMember(one.state, { ...three, status: "down" }),
      nodeKey(one.selfNode),
    );
    sim.node(2).membership.receive(sim.address(1), {
      type: "gossip",
      from: one.selfNode,
      to: sim.node(2).membership.selfNode.id,
      gossip: encodeGossip(stale),
      reply: false,
    });
    assert.ok(logs.some((l) => /Refused the state of former leader 10\.0\.0\.1:1#/.test(l)));
    assert.equal(
      sim.node(2).membership.members.find((m) => m.address.port === 3)?.status,
      "up",
      "the former leader's decision was refused",
    );
    sim.network.heal();
    // node 1 learns the newer epoch; leadership returns to the lowest address, newer again
    assert.ok(sim.runUntil(() => sim.allUp(3) && sim.node(1).membership.isLeader, 30_000));
    const epochs = new Set(sim.nodes.map((n) => n.membership.leaderEpoch));
    assert.equal(epochs.size, 1);
    assert.ok([...epochs][0] >= before + 2);
    const byEpoch = new Map<number, Set<number>>();
    for (const n of sim.nodes) {
      for (const a of n.leaderActions) {
        byEpoch.set(a.epoch, (byEpoch.get(a.epoch) ?? new Set()).add(n.address.port));
      }
    }
    for (const [epoch, by] of byEpoch) assert.equal(by.size, 1, `one actor in epoch ${epoch}`);
  });
});

describe("Membership: downing strategies end to end", () => {
  const run = (
    downing: DowningOptions,
    seed: number,
    fault: (sim: MembershipSimulation) => void,
  ): number[] => {
    using sim = new MembershipSimulation({ seed, tuning: { downing } });
    formed(sim, [1, 2, 3, 4, 5]);
    fault(sim);
    sim.runFor(40_000);
    return sim.alive.map((n) => n.address.port);
  };
  const crash3 = (sim: MembershipSimulation) => sim.kill(3);
  const split = (sim: MembershipSimulation) =>
    sim.network.partition([1, 2].map(sim.address.bind(sim)), [3, 4, 5].map(sim.address.bind(sim)));

  it("keepMajority, staticQuorum and keepOldest down a crashed node; downAll downs everyone", () => {
    for (const seed of [81, 82]) {
      assert.deepEqual(run({ stableAfter: 3000 }, seed, crash3), [1, 2, 4, 5]);
      const quorum = { strategy: "staticQuorum", quorumSize: 3, stableAfter: 3000 } as const;
      assert.deepEqual(run(quorum, seed, crash3), [1, 2, 4, 5]);
      assert.deepEqual(run({ strategy: "keepOldest", stableAfter: 3000 }, seed, crash3), [
        1,
        2,
        4,
        5,
      ]);
      assert.deepEqual(run({ strategy: "downAll", stableAfter: 3000 }, seed, crash3), []);
    }
  });

  it("on a 2|3 split: keepOldest keeps the oldest's minority side, staticQuorum 4 keeps nobody", () => {
    assert.deepEqual(run({ strategy: "keepOldest", stableAfter: 3000 }, 83, split), [1, 2]);
    const quorum = { strategy: "staticQuorum", quorumSize: 4, stableAfter: 3000 } as const;
    assert.deepEqual(run(quorum, 84, split), []);
    assert.deepEqual(run({ strategy: "off", stableAfter: 3000 }, 85, split), [1, 2, 3, 4, 5]);
  });
});

describe("Membership: bounded state", () => {
  it("prunes removed members' tombstones after tombstoneTtl", () => {
    using sim = simulation(41, 30_000);
    formed(sim, [1, 2, 3, 4]);
    sim.kill(4);
    assert.ok(sim.runUntil(() => sim.allUp(3), 60_000));
    for (const node of sim.alive) assert.equal(node.membership.state.tombstones.length, 1);
    sim.runFor(35_000);
    for (const node of sim.alive) {
      assert.equal(node.membership.state.tombstones.length, 0);
      assert.ok(
        Object.keys(node.membership.state.version).every((k) => !k.startsWith("10.0.0.1:4#")),
      );
    }
    assert.ok(sim.allUp(3));
  });
});
