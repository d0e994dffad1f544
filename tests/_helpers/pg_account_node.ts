// A child process for the PostgreSQL multi-process tests (deno run -A / bun).
// Usage: pg_account_node.ts <postgres url> <schema>
// Runs event-sourced bank accounts on a PostgresJournal (through the npm client pg) and takes
// commands on stdin, one per line:
//   drive <id>   spawn the account (recovering it) and deposit into it without end: deposit k is
//                seq + 1, so a correct log always has balance = seq * (seq + 1) / 2
//   get <id>     spawn the account if needed and print its recovered state
// It prints JSON lines: {"event":"ready"}, {"event":"ack",id,seq,balance} after each
// acknowledged deposit, {"event":"fail",id,error} when a command failed (the journal's own error
// when it has one), {"event":"state",id,seq,balance}. Closing stdin shuts it down.
import process from "node:process";
import { createInterface } from "node:readline";
import pg from "pg";
import { type ActorRef, ActorSystem, Behaviors } from "../../mod.ts";
import type { EventJournal, PersistedEvent, Snapshot } from "../../src/persistence/journal.ts";
import { PostgresJournal } from "../../src/postgres/mod.ts";

type State = { balance: number; seq: number };
type Cmd =
  | { type: "deposit"; amount: number; replyTo: ActorRef<State> }
  | { type: "get"; replyTo: ActorRef<State> };

const [url, schema] = process.argv.slice(2);
const pool = new pg.Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 2000 });
pool.on("error", () => {}); // idle connections die when the server restarts
const journal = new PostgresJournal({
  sql: { query: (text, params) => pool.query(text, params).then((r) => r.rows) },
  schema,
  timeout: 5000,
});
// The last error the journal gave an actor, so a failed command can say why.
let lastJournalError = "";
const observed: EventJournal = {
  persist: (id: string, events: readonly PersistedEvent[]) =>
    journal.persist(id, events).catch((err) => {
      lastJournalError = String(err?.message ?? err);
      throw err;
    }),
  load: (id: string, from?: number) =>
    journal.load(id, from).catch((err) => {
      lastJournalError = String(err?.message ?? err);
      throw err;
    }),
  saveSnapshot: (id: string, s: Snapshot) => journal.saveSnapshot(id, s),
  loadSnapshot: (id: string) =>
    journal.loadSnapshot(id).catch((err) => {
      lastJournalError = String(err?.message ?? err);
      throw err;
    }),
};
const system = new ActorSystem({ name: "pg-bank", logLevel: "error" });
const print = (e: Record<string, unknown>) => process.stdout.write(JSON.stringify(e) + "\n");

const account = (entityId: string) =>
  Behaviors.eventSourced<Cmd, { amount: number }, State>({
    entityId,
    journal: observed,
    initialState: { balance: 0, seq: 0 },
    onEvent: (s, e) => ({ balance: s.balance + e.amount, seq: s.seq + 1 }),
    onCommand: (_ctx, state, cmd) => {
      if (cmd.type === "get") {
        cmd.replyTo.tell(state);
        return undefined;
      }
      return Behaviors.persisted([{ amount: cmd.amount }], { reply: (s) => cmd.replyTo.tell(s) });
    },
  });

const refs = new Map<string, ActorRef<Cmd>>();
let generation = 0;
// A failed persist stops the actor (its supervisor's default); the next command spawns a new
// incarnation under a new name, which recovers the entity from the journal.
function refOf(id: string, fresh = false): ActorRef<Cmd> {
  let ref = refs.get(id);
  if (ref === undefined || fresh) {
    ref = system.spawn(account(id), `${id}-${++generation}`);
    refs.set(id, ref);
  }
  return ref;
}

async function get(id: string, fresh = false): Promise<State> {
  return await system.ask(refOf(id, fresh), (replyTo) => ({ type: "get", replyTo }), {
    timeout: 1500,
  });
}

let stopping = false;
async function drive(id: string): Promise<void> {
  let state: State | undefined;
  while (!stopping) {
    try {
      const before: State = state ?? await get(id, true);
      const amount = before.seq + 1;
      const after: State = await system.ask(
        refOf(id),
        (replyTo) => ({ type: "deposit", amount, replyTo }),
        { timeout: 1500 },
      );
      state = after;
      print({ event: "ack", id, seq: after.seq, balance: after.balance });
    } catch (err) {
      print({ event: "fail", id, error: lastJournalError || String(err) });
      lastJournalError = "";
      state = undefined; // the deposit may or may not have committed: recover to find out
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

const drivers: Promise<void>[] = [];
const lines = createInterface({ input: process.stdin });
lines.on("line", (line) => {
  const [command, id] = line.trim().split(" ");
  if (command === "drive") drivers.push(drive(id));
  if (command === "get") {
    get(id, true).then(
      (s) => print({ event: "state", id, seq: s.seq, balance: s.balance }),
      (err) => print({ event: "fail", id, error: lastJournalError || String(err) }),
    );
  }
});
lines.on("close", async () => {
  stopping = true;
  await Promise.allSettled(drivers);
  await system.shutdown();
  await journal.close();
  await pool.end();
  process.exit(0);
});
print({ event: "ready" });
