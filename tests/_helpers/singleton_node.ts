// A cluster node in its own process for the singleton and receptionist process tests.
// Usage: singleton_node.ts <system> [--seed host:port]... [--stable-after ms]
// Role "worker". Runs Behaviors.singleton(…, { role: "worker" }) as "single" (its instance
// answers { replyTo } with this node's port) and a discoverable "svc" under ServiceKey("svc");
// subscribes to that key. Prints JSON lines: {"event":"ready","port":P},
// {"event":"singletonStarted"|"singletonStopped","port":P}, {"event":"listing","ports":[…]}.
// SIGTERM → graceful leave, then exit 0. Lives at most 120 s.
import process from "node:process";
import {
  type ActorRef,
  Behaviors,
  ClusteredActorSystem,
  type Listing,
  ServiceKey,
  ShutdownSelf,
  Subscribe,
} from "../../mod.ts";

const args = process.argv.slice(2);
const [name = "cluster"] = args;
const seeds: string[] = [];
let stableAfter: number | undefined;
for (let i = 1; i < args.length; i++) {
  if (args[i] === "--seed") seeds.push(args[++i]);
  else if (args[i] === "--stable-after") stableAfter = Number(args[++i]);
}
const print = (o: Record<string, unknown>) => process.stdout.write(JSON.stringify(o) + "\n");

const node = await ClusteredActorSystem.start({
  name,
  host: "127.0.0.1",
  port: 0,
  seedNodes: seeds,
  roles: ["worker"],
  downing: stableAfter === undefined ? undefined : { stableAfter },
  logLevel: "error",
});
const port = node.selfAddress.port;
type Ping = { replyTo: ActorRef<number> };
node.spawn(
  Behaviors.singleton(
    () =>
      Behaviors.withLifecycle(
        Behaviors.receive<Ping>((_c, m) => m.replyTo.tell(port)),
        {
          preStart: () => void print({ event: "singletonStarted", port }),
          postStop: () => void print({ event: "singletonStopped", port }),
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
node.eventStream.subscribe(ShutdownSelf, () => setTimeout(() => process.exit(0), 200));
print({ event: "ready", port });
const lifetime = setTimeout(() => node.shutdown().then(() => process.exit(0)), 120_000);
process.on("SIGTERM", () => {
  clearTimeout(lifetime);
  node.leave().then(() => process.exit(0));
});
