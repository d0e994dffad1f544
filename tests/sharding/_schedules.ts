// Seeded fault schedules for sharding: joins, graceful leaves, kills, partitions, slow links and
// operator downs while traffic flows, with the invariants checked at every step.
// `runSchedule(seed)` returns undefined on success, or the failure with the schedule that
// reproduces it.
import assert from "node:assert/strict";
import {
  type ActorRef,
  Behaviors,
  type ClusteredActorSystem,
  type ShardEnvelope,
} from "../../mod.ts";
import { seededRandom, testCluster } from "../../src/testing/mod.ts";
import { account, type AccountMsg, Ledger, Traffic } from "./_fixtures.ts";

type Region = ActorRef<ShardEnvelope<AccountMsg>>;

/** Runs one seeded schedule on 4 nodes (3 at first); returns a failure report or undefined. */
export async function runSchedule(seed: number): Promise<string | undefined> {
  const rnd = seededRandom(seed * 7919 + 1);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const log: string[] = [];
  // A slow link: everything one node sends arrives `slow.delay` ms late while it lasts.
  const slow = { port: -1, delay: 0 };
  // A slow link from one node to another (the leader to a node it downs).
  const slowLink = { from: -1, to: -1, delay: 0 };
  await using cluster = await testCluster(3, {
    seed,
    downing: { stableAfter: 2000 },
    latency: (from, to) =>
      from.port === slow.port
        ? slow.delay
        : from.port === slowLink.from && to.port === slowLink.to
        ? slowLink.delay
        : 1,
  });
  const ledger = new Ledger();
  const traffic = new Traffic(ledger, Array.from({ length: 24 }, (_, i) => `e${i}`));
  const regions: (Region | undefined)[] = [];
  const incarnation: number[] = [];
  const senders = new Set<number>(); // nodes that send: up, not leaving, not cut off
  const faulty = new Set<number>(); // nodes killed, leaving or cut off and not yet gone
  const attach = (i: number, node: ClusteredActorSystem) => {
    traffic.watch(node);
    incarnation[i] = (incarnation[i] ?? 0) + 1;
    regions[i] = node.spawn(
      Behaviors.sharded(account(ledger, `n${i}.${incarnation[i]}`), { numShards: 16 }),
      "accounts",
    );
    senders.add(i);
  };
  cluster.nodes.forEach((n, i) => attach(i, n));
  const step = async (ms: number) => {
    for (let t = 0; t < ms; t += 20) {
      for (const i of [...senders]) if (cluster.nodes[i].isShutdown) senders.delete(i);
      if (senders.size > 0 && rnd() < 0.7) {
        const i = pick([...senders]);
        traffic.send(`s${i}.${incarnation[i]}`, regions[i]!, cluster.clock.now());
      }
      await cluster.advance(20);
      assert.equal(ledger.duplicate, undefined, ledger.duplicate);
      assert.deepEqual(traffic.problems(false), []);
    }
  };
  const leaving: Promise<void>[] = [];
  /** Cuts `a` from `b` (the smaller side, or both ends of a link, may be lost). */
  const cut = (a: number[], b: number[], what: string) => {
    log.push(`t=${cluster.clock.now()} ${what} [${a}] | [${b}]`);
    for (const x of a.length === 1 ? [...a, ...b] : b) faulty.add(x);
    const t = cluster.clock.now();
    traffic.crashes.push([t - 1000, t + 1000]);
    cluster.partition(a, b);
  };
  try {
    await step(500);
    let partitioned = false;
    for (let k = 0; k < 4; k++) {
      const alive = cluster.nodes.map((_, i) => i).filter((i) =>
        !cluster.nodes[i].isShutdown && senders.has(i)
      );
      slow.port = -1; // a slow link lasts one step
      slowLink.from = -1;
      let kind = pick(
        ["join", "leave", "kill", "partition", "cut", "slow", "down", "traffic"] as const,
      );
      // One fault at a time: a new one only once the cluster recovered from the last one
      // (two overlapping losses in 4 nodes leave no majority, which is membership's concern).
      for (const i of [...faulty]) if (cluster.nodes[i].isShutdown) faulty.delete(i);
      const settled = faulty.size === 0 && cluster.isConverged() &&
        cluster.alive.every((n) => n.membership.unreachable.length === 0);
      if (kind !== "traffic" && !settled) kind = "traffic";
      if (kind === "join" && cluster.nodes.length < 4 && !cluster.nodes[0].isShutdown) {
        const i = cluster.nodes.length;
        log.push(`t=${cluster.clock.now()} start node ${i}`);
        attach(i, await cluster.start(i));
      } else if (kind === "leave" && alive.length >= 3) {
        const i = pick(alive.filter((x) => x !== 0));
        log.push(`t=${cluster.clock.now()} node ${i} leaves`);
        senders.delete(i);
        faulty.add(i);
        leaving.push(cluster.nodes[i].leave());
      } else if (kind === "kill" && alive.length >= 3) {
        const i = pick(alive);
        log.push(`t=${cluster.clock.now()} kill node ${i}`);
        senders.delete(i);
        const t = cluster.clock.now();
        traffic.crashes.push([t - 1000, t + 1000]);
        await cluster.kill(i);
      } else if (kind === "partition" && !partitioned && alive.length >= 3) {
        const i = pick(alive);
        senders.delete(i);
        cut(alive.filter((x) => x !== i), [i], "partition");
        partitioned = true;
      } else if (kind === "cut" && !partitioned && alive.length >= 3) {
        // A partial partition: only the link between two nodes breaks; the others see both.
        const i = pick(alive);
        cut([i], [pick(alive.filter((x) => x !== i))], "cut link");
        partitioned = true;
      } else if (kind === "slow" && alive.length >= 3) {
        // What a node sends arrives seconds late (a stalled sender, a congested link): the
        // others may down it while it still receives everything and believes it is fine.
        const i = pick(alive);
        slow.port = cluster.address(i).port;
        slow.delay = 1000 + Math.floor(rnd() * 7000);
        log.push(`t=${cluster.clock.now()} slow link out of node ${i}: ${slow.delay} ms`);
        senders.delete(i);
        faulty.add(i);
        const t = cluster.clock.now();
        traffic.crashes.push([t - 1000, t + slow.delay + 5000]);
      } else if (kind === "down" && alive.length >= 3) {
        // An operator downs a live node that still answers; the leader's news reaches it late,
        // so it keeps hosting (its lease still runs) for a while after the leader decided.
        const leader = cluster.nodes[alive[0]].leader?.port;
        const l = alive.find((x) => cluster.address(x).port === leader);
        const i = pick(alive.filter((x) => x !== l));
        if (l !== undefined) {
          slowLink.from = leader!;
          slowLink.to = cluster.address(i).port;
          slowLink.delay = 100 + Math.floor(rnd() * 800);
          log.push(
            `t=${cluster.clock.now()} node ${l} downs node ${i}; its link to it ${slowLink.delay} ms`,
          );
          senders.delete(i);
          faulty.add(i);
          const t = cluster.clock.now();
          traffic.crashes.push([t - 1000, t + 2000]);
          cluster.nodes[l].down(cluster.address(i));
        }
      } else {
        log.push(`t=${cluster.clock.now()} traffic only`);
      }
      await step(200 + Math.floor(rnd() * 3000));
    }
    log.push(`t=${cluster.clock.now()} heal; faults stop`);
    cluster.heal();
    await cluster.run(Promise.allSettled(leaving), { timeout: 60_000 });
    // Converge: every live node agrees on the members and on the allocations, and every
    // allocated shard is owned by a live member.
    const live = () => cluster.alive;
    let agreed = false;
    for (let waited = 0; !agreed; waited += 100) {
      if (waited > 60_000) throw new Error("allocations did not converge within 60 s");
      await cluster.advance(100);
      const nodes = live();
      if (nodes.length === 0 || !cluster.isConverged(nodes.length)) continue;
      const tables = await Promise.all(nodes.map(async (n) => JSON.stringify(await ownersOf(n))));
      const ports = new Set(nodes.map((n) => n.selfAddress.port));
      agreed = tables.every((t) => t === tables[0]) &&
        Object.values(await ownersOf(nodes[0])).every((p) => ports.has(p));
    }
    const nodes = live();
    const ports = new Set(nodes.map((n) => n.selfAddress.port));
    for (const owner of Object.values(await ownersOf(nodes[0]))) {
      assert.ok(ports.has(owner), `shard owned by ${owner}, not a live member`);
    }
    // Everything is handled or a dead letter by now, or within the buffer timeout (10 s); what
    // is left must have been lost in a crash or cut window (checked below).
    await cluster.until(() => traffic.accounted() === traffic.sent.size, { timeout: 20_000 })
      .catch(() => {});
    assert.deepEqual(traffic.problems(true), []);
    // The simulated network drops what is in flight across a cut or to a killed node without a
    // dead letter (as a broken TCP connection does); bounded, so a real loss cannot hide here.
    assert.ok(
      traffic.excused().length <= traffic.sent.size / 10,
      `lost in crash or cut windows: ${traffic.excused()}`,
    );
    return undefined;
  } catch (err) {
    return `seed ${seed}: ${(err as Error).message}\n  schedule:\n    ${log.join("\n    ")}`;
  }
}

async function ownersOf(node: ClusteredActorSystem): Promise<Record<string, number>> {
  const s = await node.getClusterState();
  return Object.fromEntries(
    Object.entries(s.allocations.accounts ?? {}).map(([k, v]) => [k, v.primary.port]),
  );
}
