// Membership protocol at scale, in the deterministic simulation (simulated clock, in-memory
// network with 2–3 ms latency, JSON round-trip of every message).
//
//   deno run -A bench/membership_bench.ts [sizes…]   prints the table (default: 100 1000)
//   deno bench -A bench/membership_bench.ts          wall time of the same simulations
//
// Measured, in gossip rounds (one round = the gossip interval, 1000 ms):
// - formation: from the moment every node has been welcomed (all are members, most still
//   `joining`) until every node sees all N members `up` and its state converged;
// - one change: a node is downed by an operator; rounds until every other node has removed it
//   and converged again (down spreads, converges, leader removes, removal spreads).
// Bytes are JSON lengths of all messages (gossip, digests, heartbeats), per round.
import { MembershipSimulation } from "../src/testing/membership_simulation.ts";

/** What one simulated run measured. */
export interface MembershipRun {
  readonly nodes: number;
  readonly joinMs: number;
  readonly formationRounds: number;
  readonly changeRounds: number;
  readonly bytesPerRound: number;
  readonly gossipBytesPerRound: number;
  readonly messagesPerRound: number;
  readonly steadyBytesPerRound: number;
  readonly wallMs: number;
}

const ROUND = 1000;

/** Runs one formation and one change on `n` nodes. */
export function simulate(n: number, seed = 1): MembershipRun {
  const started = performance.now();
  const sim = new MembershipSimulation({ seed });
  try {
    for (let p = 1; p <= n; p++) sim.add(p, { seeds: [1, 2, 3] });
    const nodes = sim.nodes;
    if (
      !sim.runUntil(() => nodes.every((x) => x.membership.selfMember !== undefined), 120_000, 10)
    ) {
      throw new Error(`not all ${n} nodes joined`);
    }
    const joinMs = sim.clock.now();
    sim.network.resetStats();
    const formed = (expected: number): boolean =>
      sim.alive.every((x) =>
        x.membership.isConverged && x.membership.members.length === expected &&
        x.membership.members.every((m) => m.status === "up")
      );
    let formationRounds = 0;
    let bytes = 0;
    let gossipBytes = 0;
    let messages = 0;
    while (!formed(n)) {
      if (formationRounds >= 60) throw new Error(`no convergence after 60 rounds`);
      sim.runFor(ROUND);
      formationRounds++;
      const s = sim.network.stats;
      bytes += s.bytes;
      messages += s.messages;
      gossipBytes += (s.byType.gossip?.bytes ?? 0) + (s.byType.gossipStatus?.bytes ?? 0) +
        (s.byType.welcome?.bytes ?? 0);
      sim.network.resetStats();
    }
    // steady state: nothing changes, only digests and heartbeats
    sim.runFor(3 * ROUND);
    sim.network.resetStats();
    sim.runFor(ROUND);
    const steadyBytesPerRound = sim.network.stats.bytes;

    sim.node(1).membership.down(sim.address(n));
    let changeRounds = 0;
    while (!formed(n - 1)) {
      if (changeRounds >= 60) throw new Error(`change not converged after 60 rounds`);
      sim.runFor(ROUND);
      changeRounds++;
    }
    return {
      nodes: n,
      joinMs,
      formationRounds,
      changeRounds,
      bytesPerRound: bytes / formationRounds,
      gossipBytesPerRound: gossipBytes / formationRounds,
      messagesPerRound: messages / formationRounds,
      steadyBytesPerRound,
      wallMs: performance.now() - started,
    };
  } finally {
    sim.stop();
  }
}

function kb(bytes: number): string {
  return bytes >= 1024 * 1024
    ? `${(bytes / 1024 / 1024).toFixed(1)} MB`
    : `${(bytes / 1024).toFixed(0)} KB`;
}

function table(runs: readonly MembershipRun[]): string {
  const rows = [
    "| nodes | formation rounds | one-change rounds | bytes/round (formation) | of which gossip | msgs/round | bytes/round (steady) | wall time |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const r of runs) {
    rows.push(
      `| ${r.nodes} | ${r.formationRounds} | ${r.changeRounds} | ${kb(r.bytesPerRound)} | ${
        kb(r.gossipBytesPerRound)
      } | ${Math.round(r.messagesPerRound)} | ${kb(r.steadyBytesPerRound)} | ${
        (r.wallMs / 1000).toFixed(1)
      } s |`,
    );
  }
  return rows.join("\n");
}

Deno.bench({ name: "membership: 100 nodes form and absorb one change", n: 3, warmup: 0 }, () => {
  simulate(100);
});

Deno.bench({ name: "membership: 1,000 nodes form and absorb one change", n: 1, warmup: 0 }, () => {
  simulate(1000);
});

if (import.meta.main) {
  const sizes = Deno.args.length > 0 ? Deno.args.map(Number) : [100, 1000];
  const runs = sizes.map((n) => simulate(n));
  console.log(`Deno ${Deno.version.deno}, ${new Date().toISOString().slice(0, 10)}\n`);
  console.log(table(runs));
}
