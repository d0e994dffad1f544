// Partition shapes for the deterministic membership simulation, shared by
// partition_shapes_test.ts (a few hundred seeds) and the soak run (`npm run soak`, thousands).
// Each run forms a cluster, applies a seeded fault schedule, checks invariants every simulated
// 100 ms, and checks the outcome once stableAfter plus a few seconds have passed. A failure
// names the seed and the fault list that reproduce it.
import { MembershipSimulation, seededRandom } from "../../src/testing/membership_simulation.ts";

export const STABLE_AFTER = 3000;

/** One fault at a simulated time (ms after the cluster formed). */
export type Fault =
  | {
    readonly at: number;
    readonly op: "cut" | "oneWay" | "restore";
    readonly a: number;
    readonly b: number;
  }
  | {
    readonly at: number;
    readonly op: "partition";
    readonly a: readonly number[];
    readonly b: readonly number[];
  }
  | { readonly at: number; readonly op: "kill"; readonly a: number };

export interface Shape {
  readonly name: string;
  readonly nodes: number;
  /** The fault schedule for one seed. */
  readonly faults: (random: () => number) => Fault[];
  /** The ports that must be the only survivors. */
  readonly survivors: readonly number[];
  /** Seeds in `npm test` (default 30; fewer for large, slow shapes; the soak scales it). */
  readonly testSeeds?: number;
  /**
   * A node restarted (a new incarnation) once the cluster formed; the faults start once it is
   * up everywhere, while its failure-detector histories are still young.
   */
  readonly restartFirst?: number;
  /** `downing.stableAfter` for this shape (default {@linkcode STABLE_AFTER}). */
  readonly stableAfter?: number;
}

const jitter = (random: () => number, ms: number) => Math.floor(random() * ms);

export const SHAPES: readonly Shape[] = [
  {
    name: "3 nodes, only the link 2↔3 cut",
    nodes: 3,
    faults: (r) => [{ at: jitter(r, 2000), op: "cut", a: 2, b: 3 }],
    survivors: [1, 2],
  },
  {
    name: "5 nodes, node 5 cut from 2, 3, 4 but not from 1",
    nodes: 5,
    faults: (r) => {
      const at = jitter(r, 2000);
      // the three cuts land within a few hundred ms of each other, in a seeded order
      return [2, 3, 4].map((b) => ({ at: at + jitter(r, 400), op: "cut" as const, a: 5, b }));
    },
    survivors: [1, 2, 3, 4],
  },
  {
    name: "5 nodes, only the link 1↔2 cut",
    nodes: 5,
    faults: (r) => [{ at: jitter(r, 2000), op: "cut", a: 1, b: 2 }],
    survivors: [1, 3, 4, 5],
  },
  {
    name: "5 nodes, one-way loss 3 → 4",
    nodes: 5,
    faults: (r) => [{ at: jitter(r, 2000), op: "oneWay", a: 3, b: 4 }],
    survivors: [1, 2, 3, 5],
  },
  {
    name: "5 nodes, the link 2↔4 flapping, then cut for good",
    nodes: 5,
    faults: (r) => {
      const out: Fault[] = [];
      let at = jitter(r, 1000);
      for (let i = 0; i < 6; i++) {
        out.push({ at, op: "cut", a: 2, b: 4 });
        at += 300 + jitter(r, 1500);
        out.push({ at, op: "restore", a: 2, b: 4 });
        at += 300 + jitter(r, 1500);
      }
      out.push({ at, op: "cut", a: 2, b: 4 });
      return out;
    },
    survivors: [1, 2, 3, 5],
  },
  {
    // The restarted node's links are observed later than the others' when young heartbeat
    // histories detect slower: the majority side saw a tie {1,2,5} vs {1,3,4} and shut down.
    name: "5 nodes, node 1 restarted, then a 3|2 split [1,3,4]|[2,5] within its warm-up",
    nodes: 5,
    restartFirst: 1,
    stableAfter: 2000, // testCluster's: shorter than the check interval plus a gossip round
    faults: (r) => [{ at: jitter(r, 3000), op: "partition", a: [1, 3, 4], b: [2, 5] }],
    survivors: [1, 3, 4],
  },
  {
    name: "5 nodes, a clean 2|3 split (the minority holds the lowest address)",
    nodes: 5,
    faults: (r) => [{ at: jitter(r, 2000), op: "partition", a: [1, 2], b: [3, 4, 5] }],
    survivors: [3, 4, 5],
  },
  {
    name: "4 nodes, a clean 2|2 split",
    nodes: 4,
    faults: (r) => [{ at: jitter(r, 2000), op: "partition", a: [1, 3], b: [2, 4] }],
    survivors: [1, 3],
  },
  {
    // beyond 10 members each node monitors only 9 ring successors: most pairs are unobserved
    name:
      "13 nodes, a clean 5|8 split (partial monitoring; the minority holds the lowest addresses)",
    nodes: 13,
    faults: (r) => [{
      at: jitter(r, 2000),
      op: "partition",
      a: [1, 2, 3, 4, 5],
      b: [6, 7, 8, 9, 10, 11, 12, 13],
    }],
    survivors: [6, 7, 8, 9, 10, 11, 12, 13],
    testSeeds: 10,
  },
  {
    // without inferring the unobserved pairs, each side would keep members of the other
    name: "60 nodes, a clean 25|35 split (most pairs unobserved)",
    nodes: 60,
    faults: (r) => {
      const ports = Array.from({ length: 60 }, (_, i) => i + 1);
      return [{ at: jitter(r, 2000), op: "partition", a: ports.slice(0, 25), b: ports.slice(25) }];
    },
    survivors: Array.from({ length: 35 }, (_, i) => i + 26),
    testSeeds: 1,
  },
  {
    name: "5 nodes, node 3 crashes",
    nodes: 5,
    faults: (r) => [{ at: jitter(r, 2000), op: "kill", a: 3 }],
    survivors: [1, 2, 4, 5],
  },
];

/** Runs one shape under one seed; returns `undefined` or what went wrong (with the schedule). */
export function runShape(shape: Shape, seed: number): string | undefined {
  const random = seededRandom(seed * 2654435761);
  const faults = shape.faults(random).sort((x, y) => x.at - y.at);
  const repro = () => `seed ${seed}, faults ${JSON.stringify(faults)}`;
  const stableAfter = shape.stableAfter ?? STABLE_AFTER;
  using sim = new MembershipSimulation({
    seed,
    tuning: { downing: { stableAfter } },
  });
  const ports = Array.from({ length: shape.nodes }, (_, i) => i + 1);
  for (const p of ports) sim.add(p, { seeds: [1, 2] });
  if (!sim.runUntil(() => sim.allUp(shape.nodes), 60_000)) {
    return `${shape.name}: the cluster did not form (${repro()})`;
  }
  if (shape.restartFirst !== undefined) {
    sim.restart(shape.restartFirst);
    if (!sim.runUntil(() => sim.allUp(shape.nodes), 60_000)) {
      return `${shape.name}: node ${shape.restartFirst} did not rejoin (${repro()})`;
    }
  }
  const addr = (p: number) => sim.address(p);
  const t0 = sim.clock.now();
  // large clusters need more gossip rounds to spread the downing and converge on the removal
  // (at 60 nodes, 4 of 34 soak seeds needed more than 35 s to remove all 25 downed members)
  const settle = shape.nodes > 20 ? 60_000 : 15_000;
  const end = t0 + faults[faults.length - 1].at + stableAfter + settle;
  let next = 0;
  const actorsByEpoch = new Map<number, Set<number>>();
  while (sim.clock.now() < end) {
    while (next < faults.length && faults[next].at <= sim.clock.now() - t0) {
      const f = faults[next++];
      if (f.op === "cut") sim.network.cut(addr(f.a), addr(f.b));
      else if (f.op === "oneWay") sim.network.cut(addr(f.a), addr(f.b), { oneWay: true });
      else if (f.op === "restore") sim.network.restore(addr(f.a), addr(f.b));
      else if (f.op === "partition") sim.network.partition(f.a.map(addr), f.b.map(addr));
      else sim.kill(f.a);
    }
    sim.runFor(100);
    // Invariant, every 100 ms: one node at most takes leader actions under any epoch.
    for (const node of sim.nodes) {
      for (const a of node.leaderActions) {
        const by = actorsByEpoch.get(a.epoch) ?? new Set<number>();
        by.add(node.address.port);
        actorsByEpoch.set(a.epoch, by);
        if (by.size > 1) {
          return `${shape.name}: epoch ${a.epoch} has leader actions by nodes ${[
            ...by,
          ]} (${repro()})`;
        }
      }
    }
  }
  const alive = sim.alive.map((n) => n.address.port);
  if (JSON.stringify(alive) !== JSON.stringify(shape.survivors)) {
    return `${shape.name}: survivors ${JSON.stringify(alive)}, expected ${
      JSON.stringify(shape.survivors)
    } (${repro()})`;
  }
  for (const a of alive) {
    for (const b of alive) {
      if (a !== b && sim.network.isCut(addr(a), addr(b))) {
        return `${shape.name}: survivors ${a} and ${b} are not connected (${repro()})`;
      }
    }
  }
  if (2 * alive.length < shape.nodes) {
    return `${shape.name}: the survivors hold no majority (${repro()})`;
  }
  if (!sim.allUp(alive.length)) {
    const views = sim.alive.map((n) =>
      `${n.address.port}: ${
        n.membership.members.map((m) => `${m.address.port}=${m.status}`).join(",")
      } leader ${n.membership.leader?.port}`
    );
    return `${shape.name}: survivors disagree or are not all up: ${views.join("; ")} (${repro()})`;
  }
  const leader = sim.alive[0].membership.leader?.port;
  if (leader === undefined || !alive.includes(leader)) {
    return `${shape.name}: leader ${leader} is not a survivor (${repro()})`;
  }
  if (!sim.alive.every((n) => n.membership.isLeader === (n.address.port === leader))) {
    return `${shape.name}: not exactly one node holds the leadership (${repro()})`;
  }
  return undefined;
}
