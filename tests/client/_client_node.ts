// A cluster node in its own process for the cluster client tests (deno run -A / bun).
// Usage: _client_node.ts <port> [--seed host:port]... [--secret s] [--tls node1|node2]
// Spawns Behaviors.sharded(account, { numShards: 30 }) as "accounts": an entity answers
// {"balance":…,"node":<port>} to {type:"getBalance"|"deposit", replyTo}. It counts the
// ShardForward messages that reach it from other regions (a message that did not go straight
// to its shard's owner) by wrapping the serializer. Reads JSON commands on stdin:
//   {"op":"stats","tag":"t1"} → {"event":"stats","tag":"t1","forwards":N,"deposits":N,"members":[ports],
//                                 "leader":port}
//   {"op":"ask","id":"x","tag":"t3"} → {"event":"reply","tag":"t3","balance":…,"node":port}
//   {"op":"distributed","tag":"t2"} → {"event":"distributed","tag":"t2"} (node.distributed())
// and prints {"event":"ready","port":P} and {"event":"view","up":[ports]} after each change.
// Short failure detection (heartbeat 200 ms, pause 800 ms, stableAfter 3000 ms). Lives at
// most 60 s; closing stdin makes it exit.
import process from "node:process";
import { createInterface } from "node:readline";
import {
  type ActorRef,
  type Behavior,
  Behaviors,
  ClusteredActorSystem,
  ShardForward,
  TaggedJsonSerializer,
} from "../../mod.ts";
import { tlsFixtures } from "../_helpers/tls_fixtures.ts";
import "./_spawnables.ts"; // the behaviors clients may spawn here by key

type Reply = { balance: number; node: number };
type AccountMsg =
  | { type: "deposit"; amount: number; replyTo?: ActorRef<Reply> }
  | { type: "getBalance"; replyTo: ActorRef<Reply> };

const args = process.argv.slice(2);
const port = Number(args[0] ?? 0);
const seeds: string[] = [];
let secret: string | undefined;
let tls: { cert: string; key: string; ca: string } | undefined;
for (let i = 1; i < args.length; i++) {
  if (args[i] === "--seed") seeds.push(args[++i]);
  else if (args[i] === "--secret") secret = args[++i];
  else if (args[i] === "--tls") {
    const which = args[++i] as "node1" | "node2";
    tls = { ...tlsFixtures[which], ca: tlsFixtures.ca };
  }
}
const print = (o: Record<string, unknown>) => process.stdout.write(JSON.stringify(o) + "\n");

let forwards = 0;
let deposits = 0; // every deposit handled by an entity here (entities that move start at 0)
class CountingSerializer extends TaggedJsonSerializer {
  override deserialize(bytes: Uint8Array, resolveRef?: (uri: string) => unknown): unknown {
    const value = super.deserialize(bytes, resolveRef as never);
    if (value instanceof ShardForward) forwards++;
    return value;
  }
}

const node = await ClusteredActorSystem.start({
  name: "bank",
  host: "127.0.0.1",
  port,
  seedNodes: seeds,
  secret,
  tls,
  serializer: new CountingSerializer(),
  heartbeat: { interval: 200 },
  failureDetector: { acceptableHeartbeatPause: 800, firstHeartbeatEstimate: 200 },
  // A sharding lease is half of stableAfter and rides out a stall of three quarters of it: 3000 ms
  // lets a node ride out a ~1.1 s event-loop stall, which a CI machine running two suites at once
  // can cause (with 1000 and 1500 ms, lapsed leases restarted entities and lost a deposit).
  downing: { stableAfter: 3000 },
  logLevel: "error",
});
const self = node.selfAddress.port;

const account = (_id: string): Behavior<AccountMsg> => {
  const active = (balance: number): Behavior<AccountMsg> =>
    Behaviors.receive((_ctx, msg) => {
      if (msg.type === "deposit") {
        deposits++;
        msg.replyTo?.tell({ balance: balance + msg.amount, node: self });
        return active(balance + msg.amount);
      }
      msg.replyTo.tell({ balance, node: self });
      return Behaviors.same();
    });
  return active(0);
};
const accounts = node.spawn(Behaviors.sharded(account, { numShards: 30 }), "accounts");

let lastView = "";
setInterval(() => {
  const up = node.members.filter((m) => m.status === "up").map((m) => m.address.port).sort();
  if (JSON.stringify(up) !== lastView) print({ event: "view", up });
  lastView = JSON.stringify(up);
}, 50);
print({ event: "ready", port: self });

const rl = createInterface({ input: process.stdin });
rl.on("line", (line) => {
  const cmd = JSON.parse(line) as { op: string; tag?: string };
  if (cmd.op === "stats") {
    print({
      event: "stats",
      tag: cmd.tag,
      forwards,
      deposits,
      members: node.members.map((m) => m.address.port).sort(),
      leader: node.leader?.port,
    });
  } else if (cmd.op === "ask") {
    node.entityAsk<AccountMsg, Reply>(
      accounts,
      (cmd as { id?: string }).id ?? "",
      (replyTo) => ({ type: "getBalance", replyTo }),
      { timeout: 20_000 },
    ).then(
      (r) => print({ event: "reply", tag: cmd.tag, ...r }),
      (err) => print({ event: "error", tag: cmd.tag, message: String(err) }),
    );
  } else if (cmd.op === "distributed") {
    node.distributed();
    print({ event: "distributed", tag: cmd.tag });
  }
});
rl.on("close", () => process.exit(0));
setTimeout(() => process.exit(3), 60_000).unref?.();
