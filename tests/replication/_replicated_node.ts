// A node with replicated sharded accounts in its own process (deno run -A / bun), for the
// replication process tests. Usage: _replicated_node.ts <port> <journal path> [--seed host:port]...
//   [--stable-after ms] [--replicas n] [--min-acks n] [--ack-timeout ms]
//   [--bind-port n] (listen there, advertise <port>: behind a PartitionProxy)
//   [--fast] (quick failure detection: heartbeats every 200 ms, unreachable after ~1 s)
// Each node writes to its own SqliteJournal. Reads JSON commands on stdin, one per line:
//   {"op":"deposit","id":"a1","dep":"d1","tag":"t0"}
//        → {"event":"ack","tag":"t0","dep":"d1","node":P} once acknowledged (minAcks replicas)
//          or {"event":"error","tag":"t0","message":…}
//   {"op":"balance","id":"a1","tag":"t1"} → {"event":"balance","tag":"t1","node":P,"deps":[…]}
// and prints {"event":"ready","port":P}, {"event":"view","up":[ports]} and
// {"event":"hosts","ports":[ports hosting "accounts" in its table]} after each change,
// {"event":"ShutdownSelf"} when downing shuts it down.
// Lives at most 60 s; closing stdin exits.
import process from "node:process";
import { createInterface } from "node:readline";
import {
  type ActorRef,
  Behaviors,
  ClusteredActorSystem,
  ShardEnvelope,
  ShutdownSelf,
  SqliteJournal,
} from "../../mod.ts";
import { printHosts } from "../_helpers/print_views.ts";

type Reply = { ok: true; node: number; deps: string[] } | { ok: false; message: string };
type Cmd =
  | { type: "deposit"; dep: string; replyTo: ActorRef<Reply> }
  | { type: "get"; replyTo: ActorRef<Reply> };

const args = process.argv.slice(2);
const port = Number(args[0]);
const journal = new SqliteJournal({ path: args[1] });
const seeds: string[] = [];
let bindPort: number | undefined;
let fast = false;
let stableAfter = 1000;
const replication = { replicas: 1, minAcks: 1, ackTimeout: 1000 };
for (let i = 2; i < args.length; i++) {
  if (args[i] === "--seed") seeds.push(args[++i]);
  else if (args[i] === "--stable-after") stableAfter = Number(args[++i]);
  else if (args[i] === "--replicas") replication.replicas = Number(args[++i]);
  else if (args[i] === "--min-acks") replication.minAcks = Number(args[++i]);
  else if (args[i] === "--ack-timeout") replication.ackTimeout = Number(args[++i]);
  else if (args[i] === "--bind-port") bindPort = Number(args[++i]);
  else if (args[i] === "--fast") fast = true;
}
const print = (o: Record<string, unknown>) => process.stdout.write(JSON.stringify(o) + "\n");

const node = await ClusteredActorSystem.start({
  name: "replicated",
  host: "127.0.0.1",
  port,
  bindPort,
  seedNodes: seeds,
  downing: { stableAfter },
  logLevel: "error",
  ...(fast
    ? {
      heartbeat: { interval: 200, availabilityCheckInterval: 500 },
      failureDetector: { acceptableHeartbeatPause: 600 },
    }
    : {}),
});
node.eventStream.subscribe(ShutdownSelf, () => print({ event: "ShutdownSelf" }));
const self = node.selfAddress.port;

const account = (entityId: string) =>
  Behaviors.eventSourced<Cmd, string, string[]>({
    entityId,
    journal,
    initialState: [],
    onEvent: (deps, dep) => [...deps, dep],
    onCommand: (_ctx, deps, cmd) => {
      if (cmd.type === "get") {
        cmd.replyTo.tell({ ok: true, node: self, deps });
        return undefined;
      }
      return Behaviors.persisted([cmd.dep], {
        reply: (next: string[]) => cmd.replyTo.tell({ ok: true, node: self, deps: next }),
        onFailure: (err) => cmd.replyTo.tell({ ok: false, message: err.message }),
      });
    },
  });
const accounts = node.spawn(
  Behaviors.sharded(account, { numShards: 30, replication }),
  "accounts",
);

let lastView = "";
setInterval(() => {
  const up = node.members.filter((m) => m.status === "up").map((m) => m.address.port).sort();
  if (JSON.stringify(up) !== lastView) print({ event: "view", up });
  lastView = JSON.stringify(up);
}, 100);
printHosts(node, "accounts", print);
print({ event: "ready", port: self });

createInterface({ input: process.stdin }).on("line", (line) => {
  const cmd = JSON.parse(line) as { op: string; id: string; dep?: string; tag: string };
  const make = (replyTo: ActorRef<Reply>): Cmd =>
    cmd.op === "deposit" ? { type: "deposit", dep: cmd.dep!, replyTo } : { type: "get", replyTo };
  node.ask<ShardEnvelope<Cmd>, Reply>(
    accounts,
    (replyTo) => new ShardEnvelope(cmd.id, make(replyTo)),
    { timeout: 3000 },
  ).then(
    (r) => {
      if (!r.ok) print({ event: "error", tag: cmd.tag, message: r.message });
      else if (cmd.op === "deposit") {
        print({ event: "ack", tag: cmd.tag, dep: cmd.dep, node: r.node });
      } else print({ event: "balance", tag: cmd.tag, node: r.node, deps: r.deps });
    },
    (err) => print({ event: "error", tag: cmd.tag, message: String(err) }),
  );
}).on("close", () => process.exit(0));
setTimeout(() => process.exit(3), 60_000).unref?.();
