/**
 * What the processes of `examples/demo.ts` share (not an example on its own): the cluster's
 * settings, the account entity and its messages.
 *
 * @module
 */
import process from "node:process";
import {
  type ActorRef,
  type Behavior,
  Behaviors,
  type ClusteredActorSystemOptions,
  type EventJournal,
} from "../mod.ts";

/** The system name of the demo cluster. */
export const SYSTEM = "bank";
/** The sharded type of the accounts. */
export const ACCOUNTS = "accounts";
/** Only nodes with this role host accounts; the driver routes only. */
export const BANK_ROLE = "bank";
/** Shards of the accounts type. */
export const NUM_SHARDS = 30;
/** Every entity's events live on its primary and on this many other nodes. */
export const REPLICATION = { replicas: 2, minAcks: 1, ackTimeout: 2000 } as const;

/**
 * Failure detection and downing of every process of the demo. The full run keeps casty's
 * defaults; `--short` detects a crash faster (it still tolerates a 1 s stall of a loaded
 * machine). Sharding's lease is half of `stableAfter`: much shorter, and a loaded machine's
 * slow answers let it lapse while the dead node still counts as a member, which pauses every
 * shard until the node is downed.
 *
 * @param short Whether the demo runs in its short mode.
 * @returns The options shared by every node.
 */
export function clusterTuning(short: boolean): Partial<ClusteredActorSystemOptions> {
  return short
    ? {
      gossip: { interval: 300 },
      heartbeat: { interval: 250, availabilityCheckInterval: 1000 },
      failureDetector: { acceptableHeartbeatPause: 1000 },
      downing: { stableAfter: 2000 },
    }
    : {};
}

/** The answer to a command of an account. */
export type Reply =
  | {
    readonly ok: true;
    readonly balance: number;
    readonly node: number;
    /** The operation had been applied before: nothing changed this time. */
    readonly duplicate: boolean;
  }
  | { readonly ok: false; readonly node: number; readonly reason: string; readonly retry: boolean };

/** What an account reports about itself. */
export interface AccountView {
  readonly balance: number;
  /** How many distinct operations changed the balance. */
  readonly applied: number;
  readonly node: number;
}

/** The commands of an account. */
export type AccountCmd =
  | {
    readonly type: "apply";
    /** A unique id: a retried operation is applied once. */
    readonly op: string;
    /** Positive for a deposit, negative for a withdrawal. */
    readonly amount: number;
    readonly replyTo: ActorRef<Reply>;
  }
  | { readonly type: "view"; readonly replyTo: ActorRef<AccountView> };

type AccountEvent =
  | { readonly op: string; readonly amount: number }
  | { readonly confirm: string };

interface AccountState {
  balance: number;
  readonly ops: Set<string>;
}

/**
 * An event-sourced account that applies each operation id at most once. A retried operation
 * that was applied already persists a `confirm` event, so its reply also waits for the
 * replicas (the first attempt may have failed with `QuorumNotReachedError` after its event was
 * written on this node only).
 *
 * @param id The account's id.
 * @param journal This node's journal.
 * @param node This node's port (told in every reply, to show who served it).
 * @returns The account's behavior.
 */
export function account(id: string, journal: EventJournal, node: number): Behavior<AccountCmd> {
  return Behaviors.eventSourced<AccountCmd, AccountEvent, AccountState>({
    entityId: `account-${id}`,
    journal,
    initialState: { balance: 0, ops: new Set() },
    onEvent: (s, e) => {
      if ("op" in e) {
        s.ops.add(e.op);
        s.balance += e.amount;
      }
      return s;
    },
    onCommand: (_ctx, s, cmd) => {
      if (cmd.type === "view") {
        cmd.replyTo.tell({ balance: s.balance, applied: s.ops.size, node });
        return Behaviors.same();
      }
      const { op, amount, replyTo } = cmd;
      const failed = (err: Error) =>
        replyTo.tell({ ok: false, node, reason: err.message, retry: true });
      if (s.ops.has(op)) {
        return Behaviors.persisted([{ confirm: op }], {
          reply: (st: AccountState) =>
            replyTo.tell({ ok: true, balance: st.balance, node, duplicate: true }),
          onFailure: failed,
        });
      }
      if (s.balance + amount < 0) {
        replyTo.tell({ ok: false, node, reason: "insufficient funds", retry: false });
        return Behaviors.same();
      }
      return Behaviors.persisted([{ op, amount }], {
        reply: (st: AccountState) =>
          replyTo.tell({ ok: true, balance: st.balance, node, duplicate: false }),
        onFailure: failed,
      });
    },
  });
}

/**
 * Starts `script` with `args` under the runtime of this process (`deno run -A` or `bun`).
 *
 * @param script The script's path.
 * @returns The argument vector for `process.execPath`.
 */
export function runtimeArgs(script: string): string[] {
  return "Deno" in globalThis ? ["run", "-A", script] : [script];
}

/**
 * Prints one JSON line on stdout (the protocol between the demo's processes).
 *
 * @param event The event.
 */
export function emit(event: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(event) + "\n");
}
