// Behaviors a cluster client spawns on nodes by key (imported by tests/client/_client_node.ts and
// by the tests: the module registers the same keys in every process).
import { type ActorRef, Behaviors } from "../../mod.ts";

/** What a spawned tally answers: its total and the address it runs at. */
export type TallyReply = { total: number; label: string; at: string };
export type TallyMsg =
  | { type: "add"; n: number }
  | { type: "get"; replyTo: ActorRef<TallyReply> };

/** A tally starting at `start`; `label` shows that both arguments traveled. */
export const tally = Behaviors.spawnable(
  "test-client-tally",
  (start: number, label: string) => {
    let total = start;
    return Behaviors.receive<TallyMsg>((ctx, msg) => {
      if (msg.type === "add") total += msg.n;
      else msg.replyTo.tell({ total, label, at: ctx.self.address });
    });
  },
);

/** A factory that throws on the node for `"bad"`. */
export const picky = Behaviors.spawnable("test-client-picky", (arg: string) => {
  if (arg === "bad") throw new RangeError(`picky refuses "${arg}"`);
  return Behaviors.ignore<string>();
});
