// A cluster node in its own process for the singleton and receptionist process tests.
// Usage: singleton_node.ts <system> [--seed host:port]... [--stable-after ms] [--port P]
//                            [--bind-port N]
// (--port is the advertised port, 0 by default; with --bind-port it listens there instead,
// behind a proxy.) Role "worker". Runs Behaviors.singleton(…, { role: "worker" }) as "single"
// (its instance answers { replyTo } with this node's port) and a discoverable "svc" under
// ServiceKey("svc"); subscribes to that key. Prints JSON lines: {"event":"ready","port":P},
// {"event":"singletonStarted"|"singletonStopped","port":P,"at":wall ms},
// {"event":"listing","ports":[…]}, {"event":"view","up":[ports],"unreachable":[ports],
// "leader":P} after each change (polled every 100 ms), {"event":"ShutdownSelf","reason":…,
// "at":wall ms}. Reads JSON commands on stdin when it is a pipe:
//   {"op":"ask","tag":T} → {"event":"answer","tag":T,"port":P} from the singleton (1 s timeout)
//                          or {"event":"error","tag":T,"message":…}
//   {"op":"down","port":P} → {"event":"downing","port":P,"at":wall ms}, then node.down(127.0.0.1:P)
// SIGTERM → graceful leave, then exit 0. Lives at most 120 s.
import process from "node:process";
import { createInterface } from "node:readline";
import {
  type ActorRef,
  Behaviors,
  ClusteredActorSystem,
  type Listing,
  ServiceKey,
  ShutdownSelf,
  Subscribe,
} from "../../mod.ts";
import { printViews } from "./print_views.ts";

const args = process.argv.slice(2);
const [name = "cluster"] = args;
const seeds: string[] = [];
let stableAfter: number | undefined;
let advertised = 0;
let bindPort: number | undefined;
for (let i = 1; i < args.length; i++) {
  if (args[i] === "--seed") seeds.push(args[++i]);
  else if (args[i] === "--stable-after") stableAfter = Number(args[++i]);
  else if (args[i] === "--port") advertised = Number(args[++i]);
  else if (args[i] === "--bind-port") bindPort = Number(args[++i]);
}
const print = (o: Record<string, unknown>) => process.stdout.write(JSON.stringify(o) + "\n");

const node = await ClusteredActorSystem.start({
  name,
  host: "127.0.0.1",
  port: advertised,
  bindPort,
  seedNodes: seeds,
  roles: ["worker"],
  downing: stableAfter === undefined ? undefined : { stableAfter },
  logLevel: "error",
});
const port = node.selfAddress.port;
type Ping = { replyTo: ActorRef<number> };
const single = node.spawn(
  Behaviors.singleton(
    () =>
      Behaviors.withLifecycle(
        Behaviors.receive<Ping>((_c, m) => m.replyTo.tell(port)),
        {
          preStart: () => void print({ event: "singletonStarted", port, at: Date.now() }),
          postStop: () => void print({ event: "singletonStopped", port, at: Date.now() }),
        },
      ),
    { role: "worker" },
  ),
  "single",
);
const Svc = new ServiceKey<Ping>("svc");
node.spawn(
  Behaviors.discoverable(Behaviors.receive<Ping>((_c, m) => m.replyTo.tell(port)), Svc),
  "svc",
);
const watcher = node.spawn(
  Behaviors.receive<Listing<Ping>>((_c, l) => {
    print({ event: "listing", ports: l.instances.map((i) => i.node.port).sort((a, b) => a - b) });
  }),
  "watcher",
);
node.receptionist.tell(new Subscribe(Svc, watcher));
node.eventStream.subscribe(ShutdownSelf, (e) => {
  print({ event: "ShutdownSelf", reason: e.reason, at: Date.now() });
  setTimeout(() => process.exit(0), 200);
});
printViews(node, print);
if (!process.stdin.isTTY) {
  createInterface({ input: process.stdin }).on("line", (line) => {
    const cmd = JSON.parse(line) as { op: string; tag?: string; port?: number };
    if (cmd.op === "down") {
      print({ event: "downing", port: cmd.port, at: Date.now() });
      node.down({ host: "127.0.0.1", port: cmd.port! });
    } else if (cmd.op === "ask") {
      node.ask(single, (replyTo: ActorRef<number>) => ({ replyTo }), { timeout: 1000 }).then(
        (p) => print({ event: "answer", tag: cmd.tag, port: p }),
        (err) => print({ event: "error", tag: cmd.tag, message: String(err) }),
      );
    }
  });
}
print({ event: "ready", port });
const lifetime = setTimeout(() => node.shutdown().then(() => process.exit(0)), 120_000);
process.on("SIGTERM", () => {
  clearTimeout(lifetime);
  node.leave().then(() => process.exit(0));
});
