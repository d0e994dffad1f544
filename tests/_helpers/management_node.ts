// A node with the management HTTP server, in its own process (deno run -A / bun), for the
// management, dashboard and `casty status` tests.
// Usage: management_node.ts <system> [--seed host:port]... [--secret S] [--http-port N]
//          [--no-http] [--stable-after ms] [--roles a,b] [--tls cert,key,ca] [--port N]
// Spawns Behaviors.sharded((_id: string) => counter(), { numShards: 12 }) as "counters", prints
// {"event":"ready","port":P,"http":H} (H: the bound management port, null with --no-http), then
// {"event":"view","up":n,"members":n} after each membership change. Reads commands on stdin,
// one JSON per line: {"op":"touch","n":10,"tag":"t"} sends one message to entities c0..c(n-1)
// and prints {"event":"touched","tag":"t"} once each answered. Closing stdin or SIGTERM leaves
// and exits; lives at most 90 s.
import process from "node:process";
import { createInterface } from "node:readline";
import {
  type ActorRef,
  type Behavior,
  Behaviors,
  ClusteredActorSystem,
  ShardEnvelope,
} from "../../mod.ts";
import { managementPort } from "../../src/management/mod.ts";

const args = process.argv.slice(2);
const name = args[0] ?? "ops";
const seeds: string[] = [];
let secret: string | undefined;
let httpPort: number | undefined = 0;
let port = 0;
let stableAfter: number | undefined;
let roles: string[] = [];
let tls: { cert: string; key: string; ca: string } | undefined;
for (let i = 1; i < args.length; i++) {
  if (args[i] === "--seed") seeds.push(args[++i]);
  else if (args[i] === "--secret") secret = args[++i];
  else if (args[i] === "--http-port") httpPort = Number(args[++i]);
  else if (args[i] === "--no-http") httpPort = undefined;
  else if (args[i] === "--port") port = Number(args[++i]);
  else if (args[i] === "--stable-after") stableAfter = Number(args[++i]);
  else if (args[i] === "--roles") roles = args[++i].split(",");
  else if (args[i] === "--tls") {
    const [cert, key, ca] = args[++i].split(",");
    tls = { cert, key, ca };
  }
}
const print = (o: Record<string, unknown>) => process.stdout.write(JSON.stringify(o) + "\n");

type CounterMsg = { type: "inc"; replyTo: ActorRef<number> };
const counter = (n = 0): Behavior<CounterMsg> =>
  Behaviors.receive<CounterMsg>((_ctx, msg) => {
    msg.replyTo.tell(n + 1);
    return counter(n + 1);
  });

const node = await ClusteredActorSystem.start({
  name,
  host: "127.0.0.1",
  port,
  seedNodes: seeds,
  roles,
  secret,
  tls,
  http: httpPort === undefined ? undefined : { port: httpPort },
  downing: stableAfter === undefined ? undefined : { stableAfter },
  // Quick detection keeps the kill scenarios short.
  failureDetector: { acceptableHeartbeatPause: 1000 },
  logLevel: "error",
});
const counters = node.spawn(
  Behaviors.sharded((_id: string) => counter(), { numShards: 12 }),
  "counters",
);
const self = `127.0.0.1:${node.selfAddress.port}`;
print({ event: "ready", port: node.selfAddress.port, http: managementPort(self) ?? null });

let last = "";
const view = () => {
  const up = node.members.filter((m) => m.status === "up").length;
  const line = JSON.stringify({ event: "view", up, members: node.members.length });
  if (line !== last) process.stdout.write((last = line) + "\n");
};
view();
const poll = setInterval(view, 100);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  clearInterval(poll);
  await node.shutdown();
  process.exit(0);
}
process.on("SIGTERM", () => void stop());
setTimeout(() => void stop(), 90_000).unref?.();

const lines = createInterface({ input: process.stdin });
lines.on("line", async (line) => {
  const cmd = JSON.parse(line) as { op: string; n?: number; tag?: string };
  if (cmd.op === "touch") {
    await Promise.all(
      Array.from({ length: cmd.n ?? 1 }, (_, i) =>
        node.ask<ShardEnvelope<CounterMsg>, number>(
          counters as unknown as ActorRef<ShardEnvelope<CounterMsg>>,
          (replyTo) => new ShardEnvelope(`c${i}`, { type: "inc", replyTo }),
          { timeout: 10_000 },
        )),
    );
    print({ event: "touched", tag: cmd.tag });
  }
});
lines.on("close", () => void stop());
