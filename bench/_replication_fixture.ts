// The replication benches' setup: three nodes in this process on real TCP sockets (127.0.0.1),
// each with its own in-memory journal, and a sharded event-sourced account per case.
import { type ActorRef, Behaviors, ClusteredActorSystem, ShardEnvelope } from "../mod.ts";
import { type EventJournal, InMemoryJournal } from "../src/persistence/mod.ts";
import type { ReplicationConfig } from "../src/sharding/mod.ts";

type Cmd = { amount: number; replyTo: ActorRef<number | string> };
export const ENTITIES = 200;
export const CONCURRENCY = 400;

/** The cases, the unreplicated baseline first. */
export const CASES: [string, ReplicationConfig | undefined][] = [
  ["unreplicated", undefined],
  ["replicas 2, minAcks 0", { replicas: 2, minAcks: 0 }],
  ["replicas 2, minAcks 1", { replicas: 2, minAcks: 1 }],
  ["replicas 2, minAcks 2", { replicas: 2, minAcks: 2 }],
];

/** The benches' account: adds each command's amount, replies with the balance (or the error). */
export const account = (journal: EventJournal) => (entityId: string) =>
  Behaviors.eventSourced<Cmd, number, number>({
    entityId,
    journal,
    initialState: 0,
    onEvent: (s, e) => s + e,
    onCommand: (_ctx, _s, cmd) =>
      Behaviors.persisted([cmd.amount], {
        reply: (s: number) => cmd.replyTo.tell(s),
        onFailure: (err) => cmd.replyTo.tell(err.message),
      }),
  });

/** Three nodes up, each with its own journal. */
export async function startNodes(): Promise<ClusteredActorSystem[]> {
  const nodes = [await ClusteredActorSystem.start({ name: "bench", host: "127.0.0.1", port: 0 })];
  for (let i = 1; i < 3; i++) {
    nodes.push(
      await ClusteredActorSystem.start({
        name: "bench",
        host: "127.0.0.1",
        port: 0,
        seedNodes: [nodes[0].selfAddress],
      }),
    );
  }
  await nodes[0].waitFor(3, { timeout: 30_000 });
  return nodes;
}

let types = 0;
const journals = new WeakMap<ClusteredActorSystem, InMemoryJournal>();

/**
 * Spawns a new sharded account type on every node; returns one command from node 1 (to entity
 * `k % ENTITIES`), resolving with its latency in ms, after every entity was allocated.
 */
export async function accountType(
  nodes: ClusteredActorSystem[],
  replication: ReplicationConfig | undefined,
): Promise<(k: number) => Promise<number>> {
  const name = `t${types++}`;
  const regions = nodes.map((n) => {
    if (!journals.has(n)) journals.set(n, new InMemoryJournal());
    return n.spawn(
      Behaviors.sharded(account(journals.get(n)!), { numShards: 30, replication }),
      name,
    );
  });
  const one = (k: number): Promise<number> => {
    const t0 = performance.now();
    return nodes[1].ask<ShardEnvelope<Cmd>, number | string>(
      regions[1],
      // Entity ids per type: the types share each node's journal.
      (replyTo) => new ShardEnvelope(`${name}-e${k % ENTITIES}`, { amount: 1, replyTo }),
      { timeout: 30_000 },
    ).then((r) => {
      if (typeof r === "string") throw new Error(r);
      return performance.now() - t0;
    });
  };
  await Promise.all(Array.from({ length: ENTITIES }, (_, k) => one(k))); // allocate, promote
  return one;
}

/** Throughput and latency quantiles of one case. */
export interface CaseResult {
  /** Commands per second. */
  readonly rate: number;
  /** Latency quantile `p` (0..1) in ms. */
  readonly q: (p: number) => number;
}

/** Sends `n` commands with `one`, `CONCURRENCY` in flight; returns the rate and latencies. */
export async function measure(
  n: number,
  one: (k: number) => Promise<number>,
): Promise<CaseResult> {
  const latencies: number[] = [];
  const start = performance.now();
  let next = 0;
  const lane = async () => {
    while (next < n) latencies.push(await one(next++));
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  const secs = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    rate: n / secs,
    q: (p) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))],
  };
}

/** A Markdown table row: label, commands/s, p50, p99 (and any extra cells). */
export function row(label: string, r: CaseResult, ...extra: string[]): string {
  const cells = [
    label,
    `${Math.round(r.rate).toLocaleString("en")}/s`,
    `${r.q(0.5).toFixed(1)} ms`,
    `${r.q(0.99).toFixed(1)} ms`,
    ...extra,
  ];
  return `| ${cells.join(" | ")} |`;
}
