// A child process for the event-sourcing crash test (deno run -A / bun).
// Usage: es_account_writer.ts <db path> <accounts> <seconds>
// Runs event-sourced bank accounts on a SqliteJournal and deposits into them concurrently
// through asks; after each acknowledged command it prints "ack <account> <sequenceNr> <balance>".
// It stops on its own after <seconds>, so a test that fails to kill it leaves nothing behind.
import process from "node:process";
import { type ActorRef, ActorSystem, Behaviors, SqliteJournal } from "../../mod.ts";

type State = { balance: number; seq: number };
type Cmd = { type: "deposit"; amount: number; replyTo: ActorRef<State> };

const [path, accountsArg = "4", secondsArg = "30"] = process.argv.slice(2);
const deadline = Date.now() + Number(secondsArg) * 1000;
const journal = new SqliteJournal({ path });
const system = new ActorSystem({ name: "crash", logLevel: "error" });

const account = (id: string) =>
  Behaviors.eventSourced<Cmd, { amount: number }, State>({
    entityId: id,
    journal,
    initialState: { balance: 0, seq: 0 },
    onEvent: (s, e) => ({ balance: s.balance + e.amount, seq: s.seq + 1 }),
    onCommand: (_ctx, _s, cmd) =>
      Behaviors.persisted([{ amount: cmd.amount }], { reply: (s) => cmd.replyTo.tell(s) }),
  });

async function drive(id: string): Promise<void> {
  const ref = system.spawn(account(id), id);
  let amount = 1;
  while (Date.now() < deadline) {
    const s = await system.ask(ref, (replyTo) => ({ type: "deposit", amount, replyTo }), {
      timeout: 10_000,
    });
    process.stdout.write(`ack ${id} ${s.seq} ${s.balance}\n`);
    amount++;
  }
}

await Promise.all(Array.from({ length: Number(accountsArg) }, (_, i) => drive(`acc-${i}`)));
await system.shutdown();
await journal.close();
