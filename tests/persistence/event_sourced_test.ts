import { afterEach, beforeEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type ActorRef,
  ActorSystem,
  Behaviors,
  type EventJournal,
  InMemoryJournal,
  JournalConflictError,
  OneForOneStrategy,
  type PersistedEvent,
  type Snapshot,
  SnapshotEvery,
  SqliteJournal,
} from "../../mod.ts";
import { memoryLogger, waitFor } from "../_helpers/probe.ts";
import { runScript } from "../_helpers/process.ts";

// --- the seed's bank account, as plain-object messages ---
type AccountState = { balance: number; txCount: number };
type AccountEvent = { type: "deposited"; amount: number } | { type: "withdrawn"; amount: number };
type AccountCommand =
  | { type: "deposit"; amount: number; replyTo?: ActorRef<AccountState> }
  | { type: "withdraw"; amount: number; replyTo: ActorRef<string> }
  | { type: "getBalance"; replyTo: ActorRef<AccountState> }
  | { type: "close"; replyTo: ActorRef<string> };

const onEvent = (state: AccountState, event: AccountEvent): AccountState => {
  switch (event.type) {
    case "deposited":
      return { balance: state.balance + event.amount, txCount: state.txCount + 1 };
    case "withdrawn":
      return { balance: state.balance - event.amount, txCount: state.txCount + 1 };
  }
};

function bankAccount(
  entityId: string,
  journal: EventJournal,
  extra: { snapshotEvery?: number; pageSize?: number } = {},
) {
  return Behaviors.eventSourced<AccountCommand, AccountEvent, AccountState>({
    entityId,
    journal,
    initialState: { balance: 0, txCount: 0 },
    onEvent,
    onCommand: (_ctx, state, cmd) => {
      switch (cmd.type) {
        case "deposit":
          return Behaviors.persisted([{ type: "deposited", amount: cmd.amount }], {
            reply: (s: AccountState) => cmd.replyTo?.tell(s),
          });
        case "withdraw":
          if (state.balance >= cmd.amount) {
            return Behaviors.persisted([{ type: "withdrawn", amount: cmd.amount }], {
              reply: () => cmd.replyTo.tell("ok"),
            });
          }
          cmd.replyTo.tell(`insufficient funds (balance=${state.balance})`);
          return Behaviors.same();
        case "getBalance":
          cmd.replyTo.tell(state);
          return Behaviors.same();
        case "close":
          return Behaviors.persisted([], {
            reply: () => cmd.replyTo.tell("closed"),
            then: Behaviors.stopped(),
          });
      }
    },
    snapshotPolicy: extra.snapshotEvery ? new SnapshotEvery(extra.snapshotEvery) : undefined,
    replayPageSize: extra.pageSize,
  });
}

let dir = "";
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "casty-es-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const journals: [string, () => Required<EventJournal>][] = [
  ["InMemoryJournal", () => new InMemoryJournal()],
  ["SqliteJournal", () => new SqliteJournal({ path: join(dir, "journal.db") })],
];

for (const [label, makeJournal] of journals) {
  describe(`Behaviors.eventSourced() with ${label}`, () => {
    it("runs the seed's bank account: phase 1, then recovery in a new system (phase 2)", async () => {
      const journal = makeJournal();
      {
        await using system = new ActorSystem({ name: "bank" });
        const account = system.spawn(
          bankAccount("acc-001", journal, { snapshotEvery: 100 }),
          "account",
        );
        account.tell({ type: "deposit", amount: 1000 });
        account.tell({ type: "deposit", amount: 500 });
        const state = await system.ask(account, (replyTo) => ({ type: "getBalance", replyTo }), {
          timeout: 2000,
        });
        assert.deepEqual(state, { balance: 1500, txCount: 2 });
        const w = await system.ask(
          account,
          (replyTo) => ({ type: "withdraw", amount: 2000, replyTo }),
        );
        assert.equal(w, "insufficient funds (balance=1500)");
      }
      {
        await using system = new ActorSystem({ name: "bank" });
        const account = system.spawn(bankAccount("acc-001", journal), "account");
        const state = await system.ask(account, (replyTo) => ({ type: "getBalance", replyTo }), {
          timeout: 2000,
        });
        assert.deepEqual(
          state,
          { balance: 1500, txCount: 2 },
          "recovered balance and transactions",
        );
      }
      await journal.close();
    });

    it("replies only after the events are in the journal", async () => {
      const journal = makeJournal();
      await using system = new ActorSystem();
      const account = system.spawn(bankAccount("acc-2", journal), "account");
      const s = await system.ask(account, (replyTo) => ({ type: "deposit", amount: 7, replyTo }));
      assert.equal((s as AccountState).balance, 7);
      const events = await journal.load("acc-2");
      assert.deepEqual(events.map((e) => [e.sequenceNr, e.event]), [[1, {
        type: "deposited",
        amount: 7,
      }]]);
      assert.equal(typeof events[0].timestamp, "number");
      await system.shutdown();
      await journal.close();
    });

    it("recovers from a snapshot plus the events after it, paging through the log", async () => {
      const journal = makeJournal();
      {
        await using system = new ActorSystem();
        const account = system.spawn(
          bankAccount("acc-3", journal, { snapshotEvery: 10 }),
          "account",
        );
        for (let i = 1; i <= 25; i++) account.tell({ type: "deposit", amount: i });
        const s = await system.ask(account, (replyTo) => ({ type: "getBalance", replyTo }));
        assert.deepEqual(s, { balance: 325, txCount: 25 });
      }
      const snap = await journal.loadSnapshot("acc-3");
      assert.equal(snap?.sequenceNr, 20);
      assert.deepEqual(snap?.state, { balance: 210, txCount: 20 });
      // Recover with a tiny page size: snapshot at 20, then 21..25 in pages of 2.
      const loads: number[] = [];
      const spying: EventJournal = {
        persist: (id, ev) => journal.persist(id, ev),
        load: (id, from, opts) => {
          loads.push(from ?? 1);
          return journal.load(id, from, opts);
        },
        highestSequenceNr: (id) => journal.highestSequenceNr(id),
        saveSnapshot: (id, s) => journal.saveSnapshot(id, s),
        loadSnapshot: (id) => journal.loadSnapshot(id),
        close: () => journal.close(),
      };
      await using system = new ActorSystem();
      const account = system.spawn(bankAccount("acc-3", spying, { pageSize: 2 }), "account");
      const s = await system.ask(account, (replyTo) => ({ type: "getBalance", replyTo }));
      assert.deepEqual(s, { balance: 325, txCount: 25 });
      assert.deepEqual(loads, [21, 23, 25]);
      await system.shutdown();
      await journal.close();
    });

    it("keeps commands that arrive during recovery and handles them in order afterwards", async () => {
      const journal = makeJournal();
      for (let i = 1; i <= 300; i++) {
        await journal.persist("acc-4", [{
          sequenceNr: i,
          event: { type: "deposited", amount: 1 },
          timestamp: 0,
        }]);
      }
      await using system = new ActorSystem();
      const account = system.spawn(bankAccount("acc-4", journal, { pageSize: 7 }), "account");
      account.tell({ type: "deposit", amount: 1000 });
      const w1 = system.ask(account, (replyTo) => ({ type: "withdraw", amount: 1300, replyTo }));
      const w2 = system.ask(account, (replyTo) => ({ type: "withdraw", amount: 1, replyTo }));
      assert.equal(await w1, "ok");
      assert.equal(await w2, "insufficient funds (balance=0)");
      await system.shutdown();
      await journal.close();
    });

    it("stops after persisting when then is Behaviors.stopped()", async () => {
      const journal = makeJournal();
      await using system = new ActorSystem();
      const account = system.spawn(bankAccount("acc-5", journal), "account");
      assert.equal(await system.ask(account, (replyTo) => ({ type: "close", replyTo })), "closed");
      await waitFor(() => system.lookup("/account") === undefined);
      await system.shutdown();
      await journal.close();
    });
  });
}

describe("Behaviors.eventSourced() failures", () => {
  it("never replies when persist fails, and the supervisor's restart recovers the durable state", async () => {
    const inner = new InMemoryJournal();
    let failNext = false;
    const flaky: EventJournal = {
      persist: (id, ev) => {
        if (failNext) {
          failNext = false;
          return Promise.reject(new Error("disk full"));
        }
        return inner.persist(id, ev);
      },
      load: (id, from, opts) => inner.load(id, from, opts),
      highestSequenceNr: (id) => inner.highestSequenceNr(id),
      saveSnapshot: (id, s) => inner.saveSnapshot(id, s),
      loadSnapshot: (id) => inner.loadSnapshot(id),
      close: () => inner.close(),
    };
    await using system = new ActorSystem({ logger: memoryLogger() });
    const account = system.spawn(
      Behaviors.supervise(bankAccount("f-1", flaky), new OneForOneStrategy()),
      "account",
    );
    assert.equal(
      (await system.ask<AccountCommand, AccountState>(
        account,
        (replyTo) => ({ type: "deposit", amount: 10, replyTo }),
      )).balance,
      10,
    );
    failNext = true;
    await assert.rejects(
      system.ask(account, (replyTo) => ({ type: "deposit", amount: 5, replyTo }), { timeout: 200 }),
      { name: "AskTimeoutError" },
    );
    const s = await system.ask(account, (replyTo) => ({ type: "getBalance", replyTo }));
    assert.deepEqual(s, { balance: 10, txCount: 1 }, "the failed event was never applied");
  });

  it("lets only one of two writers for the same entity succeed", async () => {
    const journal = new InMemoryJournal();
    const logger = memoryLogger();
    await using system = new ActorSystem({ logger });
    const a = system.spawn(bankAccount("twin", journal), "a");
    const b = system.spawn(bankAccount("twin", journal), "b");
    // Both recover at sequence 0 and both try to write sequence 1.
    await Promise.all([
      system.ask(a, (replyTo) => ({ type: "getBalance", replyTo })),
      system.ask(b, (replyTo) => ({ type: "getBalance", replyTo })),
    ]);
    const results = await Promise.allSettled([
      system.ask(a, (replyTo) => ({ type: "deposit", amount: 1, replyTo }), { timeout: 300 }),
      system.ask(b, (replyTo) => ({ type: "deposit", amount: 2, replyTo }), { timeout: 300 }),
    ]);
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
    const events = await journal.load("twin");
    assert.equal(events.length, 1);
    // The losing writer fails loudly with the journal's conflict error.
    const conflict = new JournalConflictError("twin", 1, 2).message;
    await waitFor(() => logger.lines.some((l) => l.startsWith("error") && l.includes(conflict)), {
      describe: () => `an error logging "${conflict}" in:\n${logger.lines.join("\n")}`,
    });
  });

  it("rejects an empty entity id and a bad page size", () => {
    const journal = new InMemoryJournal();
    assert.throws(() => bankAccount("", journal), TypeError);
    assert.throws(() => bankAccount("x", journal, { pageSize: 0 }), RangeError);
  });
});

describe("Behaviors.eventSourced() crash recovery (real process, SIGKILL)", () => {
  it("keeps every acknowledged event, in order, without gaps or duplicates", async () => {
    const path = join(dir, "crash.db");
    const script = new URL("../_helpers/es_account_writer.ts", import.meta.url).pathname;
    const child = runScript(script, [path, "4", "30"]);
    // Wait for a good number of acknowledgements, then kill it mid-stream.
    await waitFor(() => child.lines.length >= 200, {
      timeout: 20_000,
      what: "200 acks from the child",
    });
    await child.kill("SIGKILL");
    const acked = new Map<string, { seq: number; balance: number }>();
    for (const line of child.lines) {
      const m = /^ack (\S+) (\d+) (\d+)$/.exec(line);
      if (!m) continue;
      acked.set(m[1], { seq: Number(m[2]), balance: Number(m[3]) });
    }
    assert.equal(acked.size, 4);
    const journal = new SqliteJournal({ path });
    try {
      for (const [id, last] of acked) {
        const events = await journal.load(id);
        assert.ok(
          events.length >= last.seq,
          `${id}: ${events.length} events < acknowledged ${last.seq}`,
        );
        events.forEach((e: PersistedEvent, i: number) => {
          assert.equal(e.sequenceNr, i + 1, `${id}: no gaps or duplicates`);
          assert.deepEqual(e.event, { amount: i + 1 }, `${id}: events in order`);
        });
        // Recover the actor on the same file: its state covers everything acknowledged.
        await using system = new ActorSystem({ name: "crash" });
        type Cmd = { type: "get"; replyTo: ActorRef<{ balance: number; seq: number }> };
        const ref = system.spawn(
          Behaviors.eventSourced<Cmd, { amount: number }, { balance: number; seq: number }>({
            entityId: id,
            journal,
            initialState: { balance: 0, seq: 0 },
            onEvent: (s, e) => ({ balance: s.balance + e.amount, seq: s.seq + 1 }),
            onCommand: (_c, s, cmd) => void cmd.replyTo.tell(s),
          }),
          id,
        );
        const s = await system.ask(ref, (replyTo) => ({ type: "get", replyTo }));
        assert.equal(s.seq, events.length);
        assert.ok(s.balance >= last.balance);
      }
    } finally {
      await journal.close();
    }
    const snap: Snapshot | undefined = undefined;
    void snap;
  });
});
