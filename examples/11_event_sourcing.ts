/**
 * Event sourcing: a bank account whose state is the fold of its events, stored in SQLite. A
 * command is validated against the state, its events are written durably, and only then does
 * the reply go out. A new system on the same journal replays the events: the balance survives
 * the restart.
 *
 * Run: `deno run -A examples/11_event_sourcing.ts` or `bun examples/11_event_sourcing.ts`
 *
 * @module
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type ActorRef,
  ActorSystem,
  Behaviors,
  type EventJournal,
  SnapshotEvery,
  SqliteJournal,
} from "../mod.ts";

type AccountCommand =
  | { readonly type: "deposit"; readonly amount: number; readonly replyTo: ActorRef<string> }
  | { readonly type: "withdraw"; readonly amount: number; readonly replyTo: ActorRef<string> }
  | { readonly type: "balance"; readonly replyTo: ActorRef<number> };
type AccountEvent =
  | { readonly type: "deposited"; readonly amount: number }
  | { readonly type: "withdrawn"; readonly amount: number };
interface AccountState {
  readonly balance: number;
  readonly txCount: number;
}

const bankAccount = (entityId: string, journal: EventJournal) =>
  Behaviors.eventSourced<AccountCommand, AccountEvent, AccountState>({
    entityId,
    journal,
    initialState: { balance: 0, txCount: 0 },
    onEvent: (state, event) => ({
      balance: state.balance + (event.type === "deposited" ? event.amount : -event.amount),
      txCount: state.txCount + 1,
    }),
    onCommand: (_ctx, state, cmd) => {
      switch (cmd.type) {
        case "deposit":
          return Behaviors.persisted([{ type: "deposited", amount: cmd.amount }], {
            // Runs only once the event is durable.
            reply: (s: AccountState) => cmd.replyTo.tell(`deposited ${cmd.amount}: ${s.balance}`),
          });
        case "withdraw":
          if (cmd.amount > state.balance) {
            cmd.replyTo.tell(`rejected ${cmd.amount}: only ${state.balance}`);
            return Behaviors.same();
          }
          return Behaviors.persisted([{ type: "withdrawn", amount: cmd.amount }], {
            reply: (s: AccountState) => cmd.replyTo.tell(`withdrew ${cmd.amount}: ${s.balance}`),
          });
        case "balance":
          cmd.replyTo.tell(state.balance);
          return Behaviors.same();
      }
    },
    snapshotPolicy: new SnapshotEvery(100),
  });

const dir = await mkdtemp(join(tmpdir(), "casty-es-"));
const path = join(dir, "bank.db");
try {
  {
    const journal = new SqliteJournal({ path });
    await using system = new ActorSystem({ name: "bank" });
    const alice = system.spawn(bankAccount("alice", journal), "alice");
    for (
      const cmd of [
        { type: "deposit", amount: 100 },
        { type: "withdraw", amount: 30 },
        { type: "withdraw", amount: 500 },
      ] as const
    ) {
      console.log(await system.ask(alice, (replyTo) => ({ ...cmd, replyTo })));
    }
    await system.shutdown();
    await journal.close();
    console.log("system and journal closed");
  }
  {
    const journal = new SqliteJournal({ path });
    await using system = new ActorSystem({ name: "bank" });
    const alice = system.spawn(bankAccount("alice", journal), "alice");
    const balance = await system.ask(alice, (replyTo) => ({ type: "balance", replyTo }));
    assert.equal(balance, 70);
    console.log(`recovered from the journal: ${balance}`);
    const events = await journal.load("alice");
    console.log(`events on disk: ${events.map((e) => e.sequenceNr).join(", ")}`);
    await system.shutdown();
    await journal.close();
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
