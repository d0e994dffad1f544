/**
 * A cluster node for `examples/demo.ts` (started as a child process; not an example on its
 * own). Usage: `_demo_node.ts <seed port> <owner>` — joins the demo cluster through the seed
 * and hosts one event-sourced account for `owner` at `/account`.
 *
 * @module
 */
import process from "node:process";
import { type ActorRef, Behaviors, ClusteredActorSystem, InMemoryJournal } from "../mod.ts";

type Cmd =
  | { type: "deposit"; amount: number; replyTo: ActorRef<number> }
  | { type: "balance"; replyTo: ActorRef<number> };

const [seedPort, owner = "someone"] = process.argv.slice(2);
const node = await ClusteredActorSystem.start({
  name: "demo",
  host: "127.0.0.1",
  port: 0,
  seedNodes: [`127.0.0.1:${seedPort}`],
  downing: { stableAfter: 1500 },
  logLevel: "error",
});
node.spawn(
  Behaviors.eventSourced<Cmd, number, number>({
    entityId: owner,
    journal: new InMemoryJournal(),
    initialState: 0,
    onEvent: (balance, amount) => balance + amount,
    onCommand: (_ctx, balance, cmd) => {
      if (cmd.type === "balance") return void cmd.replyTo.tell(balance);
      return Behaviors.persisted([cmd.amount], { reply: (b: number) => cmd.replyTo.tell(b) });
    },
  }),
  "account",
);
process.stdout.write(`ready ${node.selfAddress.port}\n`);
setTimeout(() => node.shutdown().then(() => process.exit(0)), 60_000);
