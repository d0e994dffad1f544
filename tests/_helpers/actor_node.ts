// A casty node in its own process, for multi-process tests (deno run -A / bun).
// Usage: actor_node.ts <system name> <port> [seed host:port ...]
// Hosts /counter (checks that {seq} messages arrive in order, replies with a report),
// /echo (replies with the text), /stopper (stops on any message). Prints "ready <port>" once
// bound, and lives until killed or for at most 120 s.
import process from "node:process";
import { type ActorRef, Behaviors, ClusteredActorSystem } from "../../mod.ts";

const [name = "test", portArg = "0"] = process.argv.slice(2);

type CounterMsg =
  | { type: "n"; seq: number }
  | { type: "report"; replyTo: ActorRef<{ count: number; inOrder: boolean }> };

const node = await ClusteredActorSystem.start({
  name,
  host: "127.0.0.1",
  port: Number(portArg),
  logLevel: "error",
});

let count = 0;
let last = 0;
let inOrder = true;
node.spawn(
  Behaviors.receive<CounterMsg>((_ctx, msg) => {
    if (msg.type === "n") {
      count++;
      if (msg.seq !== last + 1) inOrder = false;
      last = msg.seq;
    } else msg.replyTo.tell({ count, inOrder });
  }),
  "counter",
);
node.spawn(
  Behaviors.receive<{ text: string; replyTo: ActorRef<string> }>((_ctx, msg) => {
    msg.replyTo.tell(msg.text);
  }),
  "echo",
);
node.spawn(Behaviors.receive<unknown>(() => Behaviors.stopped()), "stopper");

process.stdout.write(`ready ${node.selfAddress.port}\n`);
const lifetime = setTimeout(() => node.shutdown().then(() => process.exit(0)), 120_000);
process.on("SIGTERM", () => {
  clearTimeout(lifetime);
  node.shutdown().then(() => process.exit(0));
});
