// Shared fixtures of the replication tests: an event-sourced account whose every node has its own
// journal, and a writer that records which deposits were acknowledged.
import type { ActorRef, Behavior } from "../../mod.ts";
import { Behaviors, entityShard, type ShardEnvelope } from "../../mod.ts";
import {
  type EventJournal,
  InMemoryJournal,
  type PersistedEvent,
} from "../../src/persistence/mod.ts";
import type { ReplicationConfig } from "../../src/sharding/mod.ts";
import type { TestCluster } from "../../src/testing/mod.ts";

export type Reply =
  | { ok: true; seq: number; node: string }
  | { ok: false; code: string; node: string };
export type State = { balance: number; ids: string[]; seq: number; node: string };
export type Cmd =
  | { type: "deposit"; id: string; amount: number; replyTo: ActorRef<Reply> }
  | { type: "get"; replyTo: ActorRef<State> };
type Event = { id: string; amount: number };

/** The account entity on node `node`, writing to that node's `journal`. */
export function account(node: string, journal: EventJournal): (id: string) => Behavior<Cmd> {
  return (entityId) =>
    Behaviors.eventSourced<Cmd, Event, Omit<State, "node">>({
      entityId,
      journal,
      initialState: { balance: 0, ids: [], seq: 0 },
      onEvent: (s, e) => ({ balance: s.balance + e.amount, ids: [...s.ids, e.id], seq: s.seq + 1 }),
      onCommand: (_ctx, s, cmd) => {
        if (cmd.type === "get") {
          cmd.replyTo.tell({ ...s, node });
          return undefined;
        }
        return Behaviors.persisted([{ id: cmd.id, amount: cmd.amount }], {
          reply: (n: Omit<State, "node">) => cmd.replyTo.tell({ ok: true, seq: n.seq, node }),
          onFailure: (err) =>
            cmd.replyTo.tell({
              ok: false,
              code: (err as { code?: string }).code ?? err.name,
              node,
            }),
        });
      },
    });
}

/** One journal per node and the region of "accounts" on each node. */
export function spawnAccounts(
  cluster: TestCluster,
  replication: ReplicationConfig | undefined,
  journals: InMemoryJournal[] = cluster.nodes.map(() => new InMemoryJournal()),
): { journals: InMemoryJournal[]; regions: ActorRef<ShardEnvelope<Cmd>>[] } {
  const regions = cluster.nodes.map((node, i) =>
    node.spawn(
      Behaviors.sharded(account(`n${i}`, journals[i]), { numShards: 10, replication }),
      "accounts",
    )
  );
  return { journals, regions };
}

/**
 * Sends a deposit and resolves with its reply, or `undefined` when none comes in `timeout` (also
 * when the sending node is shut down meanwhile, which would leave its ask pending).
 */
export function deposit(
  cluster: TestCluster,
  from: number,
  region: ActorRef<ShardEnvelope<Cmd>>,
  entity: string,
  id: string,
  timeout = 5000,
): Promise<Reply | undefined> {
  const { promise, resolve } = Promise.withResolvers<Reply | undefined>();
  const timer = cluster.clock.setTimeout(() => resolve(undefined), timeout + 100);
  cluster.nodes[from].entityAsk<Cmd, Reply>(
    region,
    entity,
    (replyTo) => ({ type: "deposit", id, amount: 1, replyTo }),
    { timeout },
  ).then(resolve, () => resolve(undefined)).finally(() => timer.cancel());
  return promise;
}

/** The node indexes of the primary and replicas of `entity`'s shard, in node `via`'s table. */
export async function placement(
  cluster: TestCluster,
  via: number,
  entity: string,
): Promise<{ primary: number; replicas: number[] } | undefined> {
  const state = await cluster.nodes[via].getClusterState();
  const a = state.allocations.accounts?.[entityShard(entity, 10)];
  if (a === undefined) return undefined;
  return { primary: a.primary.port - 25520, replicas: a.replicas.map((r) => r.port - 25520) };
}

/** Events of `entity` in `journal`, as deposit ids. */
export async function idsIn(journal: EventJournal, entity: string): Promise<string[]> {
  return (await journal.load(entity)).map((e) => (e.event as Event).id);
}

/** A deposit event of the account entity as stored in a journal (amount 1). */
export function ev(sequenceNr: number, id: string): PersistedEvent {
  return { sequenceNr, event: { id, amount: 1 }, timestamp: 0 };
}
