// Seeded schedules for the writes of event-sourced entities around a lost lease: an operator
// downs a live node behind a slow link, so it keeps hosting until its lease runs out, while its
// entities' journal writes take a while to land (a queued SQLite write, a database round trip)
// and some command handlers are asynchronous (they persist after an await). The journal is
// shared, as a database is. Invariants: no write of the downed node lands after its shards moved
// (no sequence conflict, and no log holds one of its events after one written by the new owner),
// and every acknowledged deposit is in the log exactly once.
// `runWriteSchedule(seed)` returns undefined on success, or the failure with its schedule.
import {
  type ActorRef,
  Behaviors,
  DeadLetter,
  type EventJournal,
  InMemoryJournal,
  JournalConflictError,
  ShardEnvelope,
} from "../../mod.ts";
import { seededRandom, testCluster } from "../../src/testing/mod.ts";

type Cmd = { type: "deposit"; dep: string; wait: number; replyTo?: ActorRef<unknown> };

/** Longest time a journal write takes to land (ms): below the default `writeMargin` (100). */
export const MAX_WRITE = 90;

/** Runs one seeded schedule on 3 nodes; returns a failure report or undefined. */
export async function runWriteSchedule(
  seed: number,
  stats?: { refused: number; victimAfterDown: number },
): Promise<string | undefined> {
  const rnd = seededRandom(seed * 104_729 + 3);
  const log: string[] = [];
  const slowLink = { from: -1, to: -1, delay: 0 };
  await using cluster = await testCluster(3, {
    seed,
    downing: { stableAfter: 2000 },
    latency: (from, to) =>
      from.port === slowLink.from && to.port === slowLink.to ? slowLink.delay : 1,
  });
  const clock = cluster.clock;
  // The shared journal: each write lands 0–MAX_WRITE ms after it was asked for.
  const inner = new InMemoryJournal();
  const conflicts: string[] = [];
  const journal: EventJournal = {
    persist: (id, events) =>
      new Promise<void>((resolve, reject) => {
        clock.setTimeout(() => {
          inner.persist(id, events).then(resolve, (err) => {
            if (err instanceof JournalConflictError) {
              conflicts.push(`t=${clock.now()} ${err.message}`);
            }
            reject(err);
          });
        }, Math.floor(rnd() * (MAX_WRITE + 1)));
      }),
    load: (id, from, options) => inner.load(id, from, options),
    highestSequenceNr: (id) => inner.highestSequenceNr(id),
    saveSnapshot: (id, s) => inner.saveSnapshot(id, s),
    loadSnapshot: (id) => inner.loadSnapshot(id),
  };
  /** Deposit → the node that handled it (wrote its event), and when. */
  const handled = new Map<string, { node: number; at: number }>();
  const acked = new Set<string>();
  const account = (node: number) => (id: string) =>
    Behaviors.eventSourced<Cmd, string, number>({
      entityId: id,
      journal,
      initialState: 0,
      onEvent: (n) => n + 1,
      onCommand: (_ctx, _n, cmd) => {
        const persist = () => {
          handled.set(cmd.dep, { node, at: clock.now() });
          return Behaviors.persisted([cmd.dep], { reply: () => acked.add(cmd.dep) });
        };
        if (cmd.wait === 0) return persist();
        // An asynchronous handler: it persists after an await.
        return new Promise((resolve) => clock.setTimeout(() => resolve(persist()), cmd.wait));
      },
    });
  let refused = 0;
  const regions = cluster.nodes.map((node, i) => {
    node.eventStream.subscribe(DeadLetter, (d) => {
      if (/lease on shard \d+ ran out/.test(d.detail ?? "")) refused++;
    });
    return node.spawn(Behaviors.sharded(account(i), { numShards: 16 }), "accounts");
  });
  const ids = Array.from({ length: 12 }, (_, k) => `a${k}`);
  let seq = 0;
  const deposit = (via: number, id: string) => {
    const wait = rnd() < 0.05 ? Math.floor(rnd() * 1000) : 0;
    regions[via].tell(new ShardEnvelope(id, { type: "deposit", dep: `d${seq++}`, wait }));
  };
  try {
    for (let t = 0; t < 1500; t += 10) {
      deposit(Math.floor(rnd() * 3), ids[Math.floor(rnd() * ids.length)]);
      await cluster.advance(10);
    }
    const owner = (id: string) => {
      let last: { node: number; at: number } | undefined;
      for (const [dep, h] of handled) if (depIds.get(dep) === id) last = h;
      return last?.node;
    };
    // Which account each deposit went to (from the log: every handled one is written or not).
    const depIds = new Map<string, string>();
    for (const id of ids) {
      for (const e of await cluster.run(inner.load(id, 1))) depIds.set(e.event as string, id);
    }
    const leaderPort = cluster.nodes[0].leader?.port;
    const l = [0, 1, 2].find((i) => cluster.address(i).port === leaderPort);
    if (l === undefined) throw new Error("no leader after 1.5 s");
    const others = [0, 1, 2].filter((i) => i !== l);
    const hosts = (i: number) => ids.filter((id) => owner(id) === i).length;
    const v = hosts(others[0]) >= hosts(others[1]) ? others[0] : others[1];
    const theirs = ids.filter((id) => owner(id) === v);
    if (theirs.length === 0) throw new Error("the victim hosts no account");
    slowLink.from = cluster.address(l).port;
    slowLink.to = cluster.address(v).port;
    slowLink.delay = 300 + Math.floor(rnd() * 600);
    const downedAt = clock.now();
    log.push(
      `t=${downedAt} node ${l} downs node ${v} (hosting ${theirs}); its link to it ${slowLink.delay} ms`,
    );
    cluster.nodes[l].down(cluster.address(v));
    for (let t = 0; t < 5000; t += 20) {
      const via = Math.floor(rnd() * 3);
      if (!cluster.nodes[via].isShutdown) deposit(via, theirs[Math.floor(rnd() * theirs.length)]);
      await cluster.advance(20);
    }
    log.push(`t=${clock.now()} traffic stops`);
    await cluster.advance(5000);

    const problems: string[] = [...conflicts];
    for (const id of theirs) {
      const deps = (await cluster.run(inner.load(id, 1))).map((e) => e.event as string);
      const twice = deps.filter((d, i) => deps.indexOf(d) !== i);
      if (twice.length > 0) problems.push(`${id}: written twice ${twice}`);
      // Once the new owner wrote, the log holds nothing more from the downed node.
      const took = deps.findIndex((d) => {
        const h = handled.get(d);
        return h !== undefined && h.node !== v && h.at >= downedAt;
      });
      const late = took < 0 ? [] : deps.slice(took).filter((d) => handled.get(d)?.node === v);
      if (late.length > 0) problems.push(`${id}: node ${v} wrote ${late} after the new owner`);
      if (stats) {
        stats.victimAfterDown += deps.filter((d) => {
          const h = handled.get(d);
          return h?.node === v && h.at >= downedAt;
        }).length;
      }
    }
    // Every acknowledged deposit is in its account's log.
    const written = new Set<string>();
    for (const id of ids) {
      for (const e of await cluster.run(inner.load(id, 1))) written.add(e.event as string);
    }
    const lost = [...acked].filter((d) => !written.has(d));
    if (lost.length > 0) problems.push(`acknowledged but not written: ${lost}`);
    if (stats) stats.refused += refused;
    if (problems.length > 0) throw new Error(problems.join("; "));
    return undefined;
  } catch (err) {
    return `seed ${seed}: ${(err as Error).message}\n  schedule:\n    ${log.join("\n    ")}`;
  }
}
