// Shared fixtures of the sharding tests: an account entity that records, per node, which
// entities are alive (to check that no entity lives on two nodes at once) and every message it
// handled (to check delivery once and in per-sender order).
import type { ActorRef, Behavior } from "../../mod.ts";
import { Behaviors } from "../../mod.ts";

export type AccountMsg =
  | { type: "deposit"; amount: number; from?: string; seq?: number }
  | { type: "getBalance"; replyTo: ActorRef<number> }
  | { type: "where"; replyTo: ActorRef<string> };

/** Which node hosts each live entity, and what every entity handled. */
export class Ledger {
  /** entityId → node labels where it is alive now. */
  readonly alive = new Map<string, Set<string>>();
  /** The first violation seen: an entity alive on two nodes at once. */
  duplicate: string | undefined;
  /** entityId → handled deposits (from, seq) in handling order, across incarnations. */
  readonly handled = new Map<string, { from?: string; seq?: number; node: string }[]>();

  started(id: string, node: string): void {
    let s = this.alive.get(id);
    if (s === undefined) this.alive.set(id, s = new Set());
    s.add(node);
    if (s.size > 1 && this.duplicate === undefined) {
      this.duplicate = `entity ${id} alive on ${[...s].join(" and ")}`;
    }
  }

  stopped(id: string, node: string): void {
    this.alive.get(id)?.delete(node);
  }

  nodeOf(id: string): string | undefined {
    const s = this.alive.get(id);
    return s && s.size > 0 ? [...s][0] : undefined;
  }
}

/** The account entity of the seed's bank example, instrumented with `ledger`. */
export function account(ledger: Ledger, node: string): (id: string) => Behavior<AccountMsg> {
  return (id) =>
    Behaviors.setup<AccountMsg>(() => {
      ledger.started(id, node);
      const active = (balance: number): Behavior<AccountMsg> =>
        Behaviors.receive<AccountMsg>((_ctx, msg) => {
          switch (msg.type) {
            case "deposit": {
              let h = ledger.handled.get(id);
              if (h === undefined) ledger.handled.set(id, h = []);
              h.push({ from: msg.from, seq: msg.seq, node });
              return active(balance + msg.amount);
            }
            case "getBalance":
              msg.replyTo.tell(balance);
              return Behaviors.same();
            case "where":
              msg.replyTo.tell(node);
              return Behaviors.same();
          }
        });
      return Behaviors.withLifecycle(active(0), { postStop: () => ledger.stopped(id, node) });
    });
}
