// A node of the seed's bank example in its own process (deno run -A / bun), for the sharding
// and PostgreSQL process tests. Usage: sharded_bank_node.ts <port> [--seed host:port]...
//   [--journal path] [--postgres url schema] [--stable-after ms] [--trace] [--bind-port N]
// (<port> is the advertised one; with --bind-port it listens there instead, behind a proxy).
// Spawns Behaviors.sharded(account, { numShards: 100 }) as "accounts" (event-sourced on a
// SqliteJournal when --journal is given, on a PostgresJournal through the npm client pg when
// --postgres is), then reads JSON commands on stdin, one per line:
//   {"op":"deposit","id":"alice","amount":100[,"dep":"d0"]}  (fire and forget)
//   {"op":"deposit","id":"alice","amount":100,"dep":"d1","tag":"t0"}
//        → {"event":"ack","tag":"t0","id":…,"dep":"d1","balance":…,"node":P} once persisted
//          or {"event":"error","tag":"t0","message":…}
//   {"op":"balance","id":"alice","tag":"t1"}  → {"event":"balance","tag":"t1","balance":150,"node":P,
//                                                "deps":[deposit ids in log order]}
//                                                or {"event":"error","tag":"t1","message":…}
// and prints {"event":"ready","port":P}, {"event":"view","up":[ports],"unreachable":[ports],
// "leader":P} and {"event":"hosts","ports":[ports hosting "accounts" in its table]} after each
// change (polled every 100 ms) and
// {"event":"journal-error","message":…} whenever its journal rejects a call; with --trace, an
// account prints {"event":"handled","id":…,"dep":…,"node":P,"at":wall ms} for every deposit it
// applies (an event-sourced one once the event is persisted).
//   {"op":"freeze","ms":N} → {"event":"frozen"}, N ms of a blocked event loop, {"event":"thawed"}
//   {"op":"down","port":P} → {"event":"downing","port":P,"at":wall ms}, then node.down(127.0.0.1:P)
// {"event":"ShutdownSelf","reason":…,"at":wall ms} when the cluster shuts this node down.
// Lives at most 90 s; closing stdin or SIGTERM makes it leave the cluster and exit.
import process from "node:process";
import { createInterface } from "node:readline";
import {
  type ActorRef,
  type Behavior,
  Behaviors,
  ClusteredActorSystem,
  type EventJournal,
  ShardEnvelope,
  ShutdownSelf,
  SqliteJournal,
} from "../../mod.ts";
import { printHosts, printViews } from "./print_views.ts";

type Reply = { balance: number; node: number; deps: string[] };
type AccountMsg =
  | { type: "deposit"; amount: number; dep?: string; replyTo?: ActorRef<Reply> }
  | { type: "getBalance"; replyTo: ActorRef<Reply> };
type Account = { balance: number; deps: string[] };

const args = process.argv.slice(2);
const port = Number(args[0] ?? 0);
const seeds: string[] = [];
let journalPath: string | undefined;
let postgres: { url: string; schema: string } | undefined;
let stableAfter: number | undefined;
let trace = false;
let bindPort: number | undefined;
for (let i = 1; i < args.length; i++) {
  if (args[i] === "--seed") seeds.push(args[++i]);
  else if (args[i] === "--journal") journalPath = args[++i];
  else if (args[i] === "--postgres") postgres = { url: args[++i], schema: args[++i] };
  else if (args[i] === "--stable-after") stableAfter = Number(args[++i]);
  else if (args[i] === "--trace") trace = true;
  else if (args[i] === "--bind-port") bindPort = Number(args[++i]);
}
const print = (o: Record<string, unknown>) => process.stdout.write(JSON.stringify(o) + "\n");

const node = await ClusteredActorSystem.start({
  name: "bank",
  host: "127.0.0.1",
  port,
  bindPort,
  seedNodes: seeds,
  downing: stableAfter === undefined ? undefined : { stableAfter },
  logLevel: "error",
});
const self = node.selfAddress.port;
let journal: EventJournal | undefined;
let closePool = async (): Promise<void> => {};
// Every rejection is printed, so a test can tell why the commands of an entity failed (two
// processes writing one entity's events collide on its sequence numbers).
const printed = <T>(p: Promise<T>): Promise<T> =>
  p.catch((err) => {
    print({ event: "journal-error", message: String(err?.message ?? err) });
    throw err;
  });
const printing = (j: EventJournal): EventJournal => ({
  persist: (id, events) => printed(j.persist(id, events)),
  load: (id, from, options) => printed(j.load(id, from, options)),
  saveSnapshot: (id, s) => printed(j.saveSnapshot(id, s)),
  loadSnapshot: (id) => printed(j.loadSnapshot(id)),
  ...(j.highestSequenceNr
    ? { highestSequenceNr: (id: string) => printed(j.highestSequenceNr!(id)) }
    : {}),
  close: async () => await j.close?.(),
});
if (journalPath !== undefined) journal = printing(new SqliteJournal({ path: journalPath }));
if (postgres !== undefined) {
  // Loaded only here: the other bank tests need neither pg nor the PostgreSQL entry.
  const { default: pg } = await import("pg");
  const { PostgresJournal } = await import("../../src/postgres/mod.ts");
  const pool = new pg.Pool({
    connectionString: postgres.url,
    max: 4,
    connectionTimeoutMillis: 1000,
  });
  pool.on("error", () => {}); // idle connections die when the server restarts
  const pgJournal = new PostgresJournal({
    sql: { query: (text, params) => pool.query(text, params).then((r) => r.rows) },
    schema: postgres.schema,
    timeout: 3000,
  });
  journal = printing(pgJournal);
  closePool = () => pool.end();
}

// The seed's account entity, as written there (plain), or event-sourced on the shared journal.
const plainAccount = (id: string): Behavior<AccountMsg> => {
  const active = (a: Account): Behavior<AccountMsg> =>
    Behaviors.receive((_ctx, msg) => {
      switch (msg.type) {
        case "deposit": {
          const next = applyDeposit(a, msg);
          if (trace) {
            print({ event: "handled", id, dep: msg.dep ?? null, node: self, at: Date.now() });
          }
          msg.replyTo?.tell({ ...next, node: self });
          return active(next);
        }
        case "getBalance":
          msg.replyTo.tell({ ...a, node: self });
          return Behaviors.same();
      }
    });
  return active({ balance: 0, deps: [] });
};
const applyDeposit = (a: Account, e: { amount: number; dep?: string }): Account => ({
  balance: a.balance + e.amount,
  deps: e.dep === undefined ? a.deps : [...a.deps, e.dep],
});
const durableAccount = (id: string): Behavior<AccountMsg> =>
  Behaviors.eventSourced<AccountMsg, { amount: number; dep?: string }, Account>({
    entityId: `account-${id}`,
    journal: journal!,
    initialState: { balance: 0, deps: [] },
    onEvent: applyDeposit,
    onCommand: (_ctx, a, msg) => {
      if (msg.type === "deposit") {
        const event = msg.dep === undefined
          ? { amount: msg.amount }
          : { amount: msg.amount, dep: msg.dep };
        const replyTo = msg.replyTo;
        return Behaviors.persisted([event], {
          reply: (s) => {
            if (trace) {
              print({ event: "handled", id, dep: msg.dep ?? null, node: self, at: Date.now() });
            }
            replyTo?.tell({ ...s, node: self });
          },
        });
      }
      msg.replyTo.tell({ ...a, node: self });
      return Behaviors.same();
    },
  });

const accounts = node.spawn(
  Behaviors.sharded(journal ? durableAccount : plainAccount, { numShards: 100 }),
  "accounts",
);
printViews(node, print);
printHosts(node, "accounts", print);
node.eventStream.subscribe(
  ShutdownSelf,
  (e) => print({ event: "ShutdownSelf", reason: e.reason, at: Date.now() }),
);
print({ event: "ready", port: self });

const rl = createInterface({ input: process.stdin });
rl.on("line", (line) => {
  const cmd = JSON.parse(line) as {
    op: string;
    id: string;
    amount?: number;
    tag?: string;
    dep?: string;
    ms?: number;
    port?: number;
  };
  if (cmd.op === "freeze") {
    // A stalled event loop (a long GC pause, synchronous work): nothing runs for `ms`, while the
    // kernel keeps buffering what peers send.
    print({ event: "frozen" });
    const end = Date.now() + cmd.ms!;
    while (Date.now() < end) { /* busy */ }
    print({ event: "thawed" });
  } else if (cmd.op === "down") {
    print({ event: "downing", port: cmd.port, at: Date.now() });
    node.down({ host: "127.0.0.1", port: cmd.port! });
  } else if (cmd.op === "deposit" && cmd.tag === undefined) {
    accounts.tell(
      new ShardEnvelope(cmd.id, { type: "deposit", amount: cmd.amount!, dep: cmd.dep }),
    );
  } else if (cmd.op === "deposit") {
    node.ask<ShardEnvelope<AccountMsg>, Reply>(
      accounts,
      (replyTo) =>
        new ShardEnvelope(cmd.id, { type: "deposit", amount: cmd.amount!, dep: cmd.dep, replyTo }),
      { timeout: 2000 },
    ).then(
      (r) =>
        print({
          event: "ack",
          tag: cmd.tag,
          id: cmd.id,
          dep: cmd.dep,
          balance: r.balance,
          node: r.node,
        }),
      (err) => print({ event: "error", tag: cmd.tag, message: String(err) }),
    );
  } else if (cmd.op === "balance") {
    node.ask<ShardEnvelope<AccountMsg>, Reply>(
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
const leave = async () => {
  print({ event: "leaving" });
  try {
    await node.leave();
    print({ event: "left" });
    await journal?.close?.();
    await closePool();
    print({ event: "closed" });
  } catch (err) {
    print({ event: "error", message: String(err) });
  }
  process.exit(0);
};
process.on("SIGTERM", leave);
rl.on("close", leave);
