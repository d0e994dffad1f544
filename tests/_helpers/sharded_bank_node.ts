// A node of the seed's bank example in its own process (deno run -A / bun), for the sharding
// process tests. Usage: sharded_bank_node.ts <port> [--seed host:port]... [--journal path]
//                        [--stable-after ms]
// Spawns Behaviors.sharded(account, { numShards: 100 }) as "accounts" (event-sourced on a
// SqliteJournal when --journal is given), then reads JSON commands on stdin, one per line:
//   {"op":"deposit","id":"alice","amount":100}
//   {"op":"balance","id":"alice","tag":"t1"}  → {"event":"balance","tag":"t1","balance":150,"node":P}
//                                                or {"event":"error","tag":"t1","message":…}
// and prints {"event":"ready","port":P} and {"event":"view","up":[ports]} after each change.
// Lives at most 90 s.
import process from "node:process";
import { createInterface } from "node:readline";
import {
  type ActorRef,
  type Behavior,
  Behaviors,
  ClusteredActorSystem,
  ShardEnvelope,
  SqliteJournal,
} from "../../mod.ts";

type AccountMsg =
  | { type: "deposit"; amount: number }
  | { type: "getBalance"; replyTo: ActorRef<{ balance: number; node: number }> };

const args = process.argv.slice(2);
const port = Number(args[0] ?? 0);
const seeds: string[] = [];
let journalPath: string | undefined;
let stableAfter: number | undefined;
for (let i = 1; i < args.length; i++) {
  if (args[i] === "--seed") seeds.push(args[++i]);
  else if (args[i] === "--journal") journalPath = args[++i];
  else if (args[i] === "--stable-after") stableAfter = Number(args[++i]);
}
const print = (o: Record<string, unknown>) => process.stdout.write(JSON.stringify(o) + "\n");

const node = await ClusteredActorSystem.start({
  name: "bank",
  host: "127.0.0.1",
  port,
  seedNodes: seeds,
  downing: stableAfter === undefined ? undefined : { stableAfter },
  logLevel: "error",
});
const self = node.selfAddress.port;
const journal = journalPath === undefined ? undefined : new SqliteJournal({ path: journalPath });

// The seed's account entity, as written there (plain), or event-sourced on the shared journal.
const plainAccount = (_id: string): Behavior<AccountMsg> => {
  const active = (balance: number): Behavior<AccountMsg> =>
    Behaviors.receive((_ctx, msg) => {
      switch (msg.type) {
        case "deposit":
          return active(balance + msg.amount);
        case "getBalance":
          msg.replyTo.tell({ balance, node: self });
          return Behaviors.same();
      }
    });
  return active(0);
};
const durableAccount = (id: string): Behavior<AccountMsg> =>
  Behaviors.eventSourced<AccountMsg, { amount: number }, number>({
    entityId: `account-${id}`,
    journal: journal!,
    initialState: 0,
    onEvent: (balance, e) => balance + e.amount,
    onCommand: (_ctx, balance, msg) => {
      if (msg.type === "deposit") return Behaviors.persisted([{ amount: msg.amount }]);
      msg.replyTo.tell({ balance, node: self });
      return Behaviors.same();
    },
  });

const accounts = node.spawn(
  Behaviors.sharded(journal ? durableAccount : plainAccount, { numShards: 100 }),
  "accounts",
);
let lastView = "";
const printView = () => {
  const up = node.members.filter((m) => m.status === "up").map((m) => m.address.port).sort();
  if (JSON.stringify(up) !== lastView) print({ event: "view", up });
  lastView = JSON.stringify(up);
};
setInterval(printView, 100);
print({ event: "ready", port: self });

const rl = createInterface({ input: process.stdin });
rl.on("line", (line) => {
  const cmd = JSON.parse(line) as { op: string; id: string; amount?: number; tag?: string };
  if (cmd.op === "deposit") {
    accounts.tell(new ShardEnvelope(cmd.id, { type: "deposit", amount: cmd.amount! }));
  } else if (cmd.op === "balance") {
    node.ask<ShardEnvelope<AccountMsg>, { balance: number; node: number }>(
      accounts,
      (replyTo) => new ShardEnvelope(cmd.id, { type: "getBalance", replyTo }),
      { timeout: 2000 },
    ).then(
      (r) => print({ event: "balance", tag: cmd.tag, id: cmd.id, ...r }),
      (err) => print({ event: "error", tag: cmd.tag, message: String(err) }),
    );
  }
});
setTimeout(() => process.exit(3), 90_000).unref?.();
process.on("SIGTERM", async () => {
  print({ event: "leaving" });
  try {
    await node.leave();
    print({ event: "left" });
    await journal?.close();
    print({ event: "closed" });
  } catch (err) {
    print({ event: "error", message: String(err) });
  }
  process.exit(0);
});
