// The replication benches' setup: three nodes in this process on real TCP sockets (127.0.0.1),
// each with its own in-memory journal, and a sharded event-sourced account per case.
import { type ActorRef, Behaviors, ClusteredActorSystem, ShardEnvelope } from "../mod.ts";
import { InMemoryJournal } from "../src/persistence/mod.ts";
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

const account = (journal: InMemoryJournal) => (entityId: string) =>
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
