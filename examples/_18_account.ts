/**
 * The user code under test in `18_testing.ts`: a sharded, event-sourced bank account. Only nodes
 * with the role "bank" host accounts; the others route to them.
 *
 * @module
 */
import {
  type ActorRef,
  type Behavior,
  Behaviors,
  type ClusteredActorSystemOptions,
  type EventJournal,
  type ShardEnvelope,
} from "../mod.ts";

/** What an account answers: its balance, and the port of the node that hosts it. */
export type Balance = { readonly balance: number; readonly node: number };

/** The commands of an account. */
export type AccountMsg =
  | { readonly type: "deposit"; readonly amount: number; readonly replyTo: ActorRef<Balance> }
  | { readonly type: "balance"; readonly replyTo: ActorRef<Balance> };

/**
 * The sharded account type: spawn it as "accounts" on every node.
 *
 * @param journal Where the accounts' events live (shared by every node, as a database is).
 * @param port The port of the node it runs on (reported in every answer).
 * @returns The sharded behavior.
 */
export function accounts(journal: EventJournal, port: number): Behavior<ShardEnvelope<AccountMsg>> {
  const account = (id: string) =>
    Behaviors.eventSourced<AccountMsg, { amount: number }, number>({
      entityId: `account-${id}`,
      journal,
      initialState: 0,
      onEvent: (balance, event) => balance + event.amount,
      onCommand: (_ctx, balance, msg) => {
        if (msg.type === "balance") {
          msg.replyTo.tell({ balance, node: port });
          return Behaviors.same();
        }
        return Behaviors.persisted([{ amount: msg.amount }], {
          reply: (next) => msg.replyTo.tell({ balance: next, node: port }),
        });
      },
    });
  return Behaviors.sharded(account, { numShards: 10, role: "bank" });
}

/** Failure detection and downing tuned for a quick test on loopback (defaults are slower). */
export const quickFailover: Partial<ClusteredActorSystemOptions> = {
  heartbeat: { interval: 200, availabilityCheckInterval: 500 },
  failureDetector: { acceptableHeartbeatPause: 600 },
  downing: { stableAfter: 1500 },
};
