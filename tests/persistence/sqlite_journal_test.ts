import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import process from "node:process";
import { ACTOR_REF, type ActorRef } from "../../src/actor/actor_ref.ts";
import { SerializationError } from "../../src/serialization/errors.ts";
import { JournalError } from "../../src/persistence/journal.ts";
import { SqliteJournal } from "../../src/persistence/sqlite_journal.ts";
import { DatabaseSync } from "../../src/persistence/_sqlite.ts";
import { TaggedJsonSerializer } from "../../src/serialization/serialization.ts";
import { groupCommitCases } from "./_group_commit_cases.ts";
import { events, journalContract } from "./_journal_contract.ts";

const dir = mkdtempSync(join(tmpdir(), "casty-sqlite-journal-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let fileCounter = 0;
const freshPath = (): string => join(dir, `journal-${++fileCounter}.db`);

journalContract("SqliteJournal", () => new SqliteJournal({ path: freshPath() }));

class Deposited {
  constructor(readonly amount: bigint, readonly at: Date) {}
  get cents(): bigint {
    return this.amount * 100n;
  }
}

function serializer(): TaggedJsonSerializer {
  return new TaggedJsonSerializer({ classes: [Deposited] });
}

async function openError(path: string): Promise<JournalError> {
  try {
    await new SqliteJournal({ path }).close();
  } catch (err) {
    assert.ok(err instanceof JournalError, `expected JournalError, got ${err}`);
    return err;
  }
  assert.fail("opening did not throw");
}

describe("SqliteJournal durability", () => {
  it("keeps Dates, bigints, Maps, Sets and registered classes across a reopen", async () => {
    const path = freshPath();
    const event = {
      deposit: new Deposited(12345678901234567890n, new Date("2024-01-02T03:04:05.678Z")),
      tags: new Set(["a", "b"]),
      meta: new Map<string, unknown>([["undefined", undefined], ["bytes", new Uint8Array([9])]]),
    };
    const state = { balances: new Map([["eur", 10n ** 20n]]), opened: new Date(0) };
    {
      await using journal = new SqliteJournal({ path, serializer: serializer() });
      await journal.persist("acc-1", [{ sequenceNr: 1, event, timestamp: 1_700_000_000_123 }]);
      await journal.saveSnapshot("acc-1", { sequenceNr: 1, state, timestamp: 5 });
    }
    await using reopened = new SqliteJournal({ path, serializer: serializer() });
    const [loaded] = await reopened.load("acc-1");
    assert.equal(loaded.sequenceNr, 1);
    assert.equal(loaded.timestamp, 1_700_000_000_123);
    const got = loaded.event as typeof event;
    assert.ok(got.deposit instanceof Deposited);
    assert.equal(got.deposit.cents, 1234567890123456789000n);
    assert.equal(got.deposit.at.toISOString(), "2024-01-02T03:04:05.678Z");
    assert.deepEqual(got.tags, event.tags);
    assert.deepEqual(got.meta, event.meta);
    const snapshot = await reopened.loadSnapshot("acc-1");
    assert.deepEqual(snapshot, { sequenceNr: 1, state, timestamp: 5 });
    assert.equal(await reopened.highestSequenceNr("acc-1"), 1);
  });

  it("stores the value at call time, not after later mutation", async () => {
    await using journal = new SqliteJournal({ path: freshPath() });
    const event = { amount: 1 };
    const pending = journal.persist("e", [{ sequenceNr: 1, event, timestamp: 0 }]);
    event.amount = 999;
    await pending;
    assert.deepEqual((await journal.load("e"))[0].event, { amount: 1 });
  });

  it("commits queued writes on close, then rejects new ones", async () => {
    const path = freshPath();
    const journal = new SqliteJournal({ path });
    const pending = [journal.persist("a", events(1, 3)), journal.persist("b", events(1, 1))];
    const snap = journal.saveSnapshot("a", { sequenceNr: 3, state: "s", timestamp: 0 });
    await journal.close();
    await Promise.all([...pending, snap]);
    await assert.rejects(journal.persist("a", events(4, 4)), { code: "JOURNAL_CLOSED" });
    await using reopened = new SqliteJournal({ path });
    assert.equal(await reopened.highestSequenceNr("a"), 3);
    assert.equal(await reopened.highestSequenceNr("b"), 1);
    assert.equal((await reopened.loadSnapshot("a"))?.state, "s");
  });

  it("uses WAL, the primary key (entity_id, sequence_nr) and schema version 1", async () => {
    const path = freshPath();
    await new SqliteJournal({ path, synchronous: "normal" }).close();
    const db = new DatabaseSync(path);
    try {
      assert.equal(db.prepare("PRAGMA journal_mode").get()?.journal_mode, "wal");
      assert.equal(db.prepare("PRAGMA user_version").get()?.user_version, 1);
      const pk = db.prepare(
        "SELECT name, pk FROM pragma_table_info('casty_events') WHERE pk > 0 ORDER BY pk",
      )
        .all().map((r) => r.name);
      assert.deepEqual(pk, ["entity_id", "sequence_nr"]);
    } finally {
      db.close();
    }
  });
});

describe("SqliteJournal group commit", () => {
  groupCommitCases(() => new SqliteJournal({ path: freshPath() }));

  it("writes 1,000 entities persisting in one tick in far fewer transactions", async () => {
    await using journal = new SqliteJournal({ path: freshPath() });
    const before = journal.stats.transactions;
    const calls = [];
    for (let i = 0; i < 1000; i++) calls.push(journal.persist(`entity-${i}`, events(1, 2)));
    await Promise.all(calls);
    const stats = journal.stats;
    assert.ok(stats.transactions - before <= 2, `${stats.transactions - before} transactions`);
    assert.equal(stats.persistCalls, 1000);
    assert.equal(stats.eventsWritten, 2000);
    assert.equal(await journal.highestSequenceNr("entity-999"), 2);
  });

  it("rejects only the call whose event cannot be serialized", async () => {
    await using journal = new SqliteJournal({ path: freshPath() });
    const results = await Promise.allSettled([
      journal.persist("a", events(1, 1)),
      journal.persist("b", [{ sequenceNr: 1, event: { fn: () => 1 }, timestamp: 0 }]),
      journal.saveSnapshot("c", { sequenceNr: 1, state: Symbol("x"), timestamp: 0 }),
    ]);
    assert.equal(results[0].status, "fulfilled");
    const reason = (results[1] as PromiseRejectedResult).reason;
    assert.ok(reason instanceof SerializationError);
    assert.equal(
      reason.message,
      'Cannot persist events for "b": event 1 is not serializable: Cannot serialize value at "value.fn": functions are not serializable',
    );
    assert.ok((results[2] as PromiseRejectedResult).reason instanceof SerializationError);
    assert.equal(await journal.highestSequenceNr("b"), 0);
  });
});

describe("SqliteJournal decoding", () => {
  it("fails clearly on a stored class that is no longer registered", async () => {
    const path = freshPath();
    {
      await using journal = new SqliteJournal({ path, serializer: serializer() });
      await journal.persist("acc-1", [{
        sequenceNr: 1,
        event: new Deposited(1n, new Date(0)),
        timestamp: 0,
      }]);
    }
    await using plain = new SqliteJournal({ path });
    await assert.rejects(plain.load("acc-1"), (err: unknown) => {
      assert.ok(err instanceof SerializationError);
      assert.match(
        err.message,
        /^Cannot decode event 1 of "acc-1" from journal ".*": .*"Deposited"/,
      );
      return true;
    });
  });

  it("resolves stored actor refs with resolveRef", async () => {
    const path = freshPath();
    const ref = (address: string): ActorRef<unknown> => ({
      [ACTOR_REF]: true,
      path: "/x",
      address,
      tell: () => {},
      send: () => Promise.resolve(),
    });
    {
      await using journal = new SqliteJournal({ path });
      await journal.persist("e", [{
        sequenceNr: 1,
        event: { replyTo: ref("casty://s/x") },
        timestamp: 0,
      }]);
      await assert.rejects(journal.load("e"), SerializationError);
    }
    await using journal = new SqliteJournal({ path, resolveRef: ref });
    const [loaded] = await journal.load("e");
    assert.equal((loaded.event as { replyTo: ActorRef<unknown> }).replyTo.address, "casty://s/x");
  });
});

describe("SqliteJournal opening", () => {
  it("fails with JOURNAL_OPEN naming the path of a file that is not a database", async () => {
    const path = join(dir, "not-a-db.txt");
    writeFileSync(path, "this is certainly not a SQLite database file\n".repeat(100));
    const err = await openError(path);
    assert.equal(err.code, "JOURNAL_OPEN");
    assert.equal(err.message, `Cannot open journal "${path}": file is not a database`);
  });

  it("fails with JOURNAL_OPEN on a schema version newer than supported", async () => {
    const path = freshPath();
    await new SqliteJournal({ path }).close();
    const db = new DatabaseSync(path);
    db.exec("PRAGMA user_version = 99");
    db.close();
    const err = await openError(path);
    assert.equal(err.code, "JOURNAL_OPEN");
    assert.equal(
      err.message,
      `Cannot open journal "${path}": schema version 99 is newer than the supported version 1`,
    );
  });

  it("fails with JOURNAL_OPEN when the directory does not exist", async () => {
    const path = join(dir, "missing", "dir", "journal.db");
    const err = await openError(path);
    assert.equal(err.code, "JOURNAL_OPEN");
    assert.ok(err.message.startsWith(`Cannot open journal "${path}": `));
  });

  it("rejects bad options", () => {
    assert.throws(() => new SqliteJournal({ path: "" }), TypeError);
    assert.throws(
      () => new SqliteJournal({ path: freshPath(), synchronous: "off" as "full" }),
      TypeError,
    );
  });
});

describe("SqliteJournal crash safety", () => {
  const script = join(
    dirname(fileURLToPath(import.meta.url)),
    "..",
    "_helpers",
    "journal_writer.ts",
  );

  /** Runs the writer until it acknowledged `minAcks` persists, then SIGKILLs it. */
  function runAndKill(path: string, minAcks: number): Promise<Map<string, number[]>> {
    const isDeno = "Deno" in globalThis;
    const args = isDeno ? ["run", "-A", script, path, "4", "60"] : [script, path, "4", "60"];
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    const acks = new Map<string, number[]>();
    let count = 0;
    let buffered = "";
    let stderr = "";
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        reject(new Error(`writer acknowledged only ${count} persists in 30 s; stderr: ${stderr}`));
      }, 30_000);
      child.stderr.on("data", (chunk) => stderr += chunk);
      child.stdout.on("data", (chunk) => {
        buffered += chunk;
        const lines = buffered.split("\n");
        buffered = lines.pop()!;
        for (const line of lines) {
          const [entity, seq] = line.split(" ");
          const list = acks.get(entity) ?? [];
          list.push(Number(seq));
          acks.set(entity, list);
          count++;
        }
        if (count >= minAcks && child.exitCode === null && !child.killed) child.kill("SIGKILL");
      });
      child.on("exit", (code, signal) => {
        clearTimeout(timer);
        if (signal === "SIGKILL") resolve(acks);
        else reject(new Error(`writer exited with ${code} before being killed; stderr: ${stderr}`));
      });
    });
  }

  async function checkLog(path: string, acks: Map<string, number[]>): Promise<Map<string, number>> {
    const highest = new Map<string, number>();
    const db = new DatabaseSync(path);
    try {
      assert.equal(db.prepare("PRAGMA integrity_check").get()?.integrity_check, "ok");
    } finally {
      db.close();
    }
    await using journal = new SqliteJournal({ path });
    for (const [entity, acked] of acks) {
      const seqs: number[] = [];
      let from = 1;
      for (let page = 0; page < 10_000; page++) {
        const events = await journal.load(entity, from, { max: 500 });
        if (events.length === 0) break;
        for (const e of events) {
          assert.equal((e.event as { n: number }).n, e.sequenceNr);
          assert.ok((e.event as { at: unknown }).at instanceof Date);
          seqs.push(e.sequenceNr);
        }
        from = events[events.length - 1].sequenceNr + 1;
      }
      seqs.forEach((seq, i) => assert.equal(seq, i + 1, `${entity}: gap or duplicate at ${i + 1}`));
      const last = acked[acked.length - 1];
      assert.ok(seqs.length >= last, `${entity}: acknowledged ${last}, found ${seqs.length}`);
      for (let i = 1; i < acked.length; i++) assert.ok(acked[i] > acked[i - 1]);
      highest.set(entity, seqs.length);
    }
    return highest;
  }

  it("keeps every acknowledged event after SIGKILL, and continues after a restart", async () => {
    const path = freshPath();
    const first = await runAndKill(path, 400);
    const highest = await checkLog(path, first);
    assert.equal(first.size, 4);

    const second = await runAndKill(path, 400);
    for (const [entity, acked] of second) {
      // The restarted writer continued right after what the first run left in the file.
      const firstBatch = acked[0];
      assert.ok(firstBatch > highest.get(entity)!, `${entity} restarted at ${firstBatch}`);
      assert.ok(firstBatch <= highest.get(entity)! + 3);
    }
    await checkLog(path, second);
  });
});
