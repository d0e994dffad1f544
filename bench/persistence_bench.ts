// Journal-level persistence benchmarks: `deno bench -A bench/persistence_bench.ts`.
//
// Every write benchmark writes 1,000 events per iteration with synchronous=FULL (each commit
// fsyncs), so the group ratios compare durable events per second directly. The baseline is raw
// node:sqlite on the journal's own schema and pragmas: 1,000 prepared INSERTs of JSON bytes in
// one transaction, the floor any journal on this file layout pays.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "../src/persistence/_sqlite.ts";
import { SqliteJournal } from "../src/persistence/sqlite_journal.ts";
import type { PersistedEvent } from "../src/persistence/journal.ts";

const dir = mkdtempSync(join(tmpdir(), "casty-persistence-bench-"));
globalThis.addEventListener("unload", () => rmSync(dir, { recursive: true, force: true }));

const BATCH = 1_000;
const event = (n: number) => ({ type: "deposited", amount: n, note: "coffee", at: new Date(n) });

// Raw baseline: the journal creates the schema, then we bypass it.
const rawPath = join(dir, "raw.db");
await new SqliteJournal({ path: rawPath }).close();
const raw = new DatabaseSync(rawPath);
raw.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA temp_store = MEMORY");
const rawInsert = raw.prepare(
  "INSERT INTO casty_events (entity_id, sequence_nr, timestamp, event) VALUES (?, ?, ?, ?)",
);
const rawBegin = raw.prepare("BEGIN IMMEDIATE");
const rawCommit = raw.prepare("COMMIT");
const encoder = new TextEncoder();
let rawRound = 0;

const concurrent = new SqliteJournal({ path: join(dir, "concurrent.db") });
let concurrentRound = 0;
const relaxed = new SqliteJournal({ path: join(dir, "relaxed.db"), synchronous: "normal" });
let relaxedRound = 0;
const sequential = new SqliteJournal({ path: join(dir, "sequential.db") });
let sequentialNext = 1;
const bulk = new SqliteJournal({ path: join(dir, "bulk.db") });
let bulkNext = 1;

Deno.bench({
  name: "raw node:sqlite, 1,000 inserts in one transaction",
  group: "write 1,000 durable events",
  baseline: true,
  fn: () => {
    rawRound++;
    rawBegin.run();
    for (let i = 0; i < BATCH; i++) {
      const bytes = encoder.encode(JSON.stringify(event(rawRound)));
      rawInsert.run(`entity-${i}`, rawRound, Date.now(), bytes);
    }
    rawCommit.run();
  },
});

Deno.bench({
  name: "SqliteJournal.persist, 1,000 entities concurrently (group commit)",
  group: "write 1,000 durable events",
  fn: async () => {
    const seq = ++concurrentRound;
    const calls: Promise<void>[] = new Array(BATCH);
    for (let i = 0; i < BATCH; i++) {
      calls[i] = concurrent.persist(`entity-${i}`, [
        { sequenceNr: seq, event: event(seq), timestamp: Date.now() },
      ]);
    }
    await Promise.all(calls);
  },
});

Deno.bench({
  name: 'same, synchronous: "normal" (no fsync per commit)',
  group: "write 1,000 durable events",
  fn: async () => {
    const seq = ++relaxedRound;
    const calls: Promise<void>[] = new Array(BATCH);
    for (let i = 0; i < BATCH; i++) {
      calls[i] = relaxed.persist(`entity-${i}`, [
        { sequenceNr: seq, event: event(seq), timestamp: Date.now() },
      ]);
    }
    await Promise.all(calls);
  },
});

Deno.bench({
  name: "SqliteJournal.persist, 1 entity, one call of 1,000 events",
  group: "write 1,000 durable events",
  fn: async () => {
    const events: PersistedEvent[] = new Array(BATCH);
    for (let i = 0; i < BATCH; i++) {
      events[i] = { sequenceNr: bulkNext + i, event: event(i), timestamp: Date.now() };
    }
    bulkNext += BATCH;
    await bulk.persist("entity-0", events);
  },
});

Deno.bench({
  name: "SqliteJournal.persist, 1 entity, 1,000 sequential awaits",
  group: "write 1,000 durable events",
  n: 5,
  warmup: 1,
  fn: async () => {
    for (let i = 0; i < BATCH; i++) {
      const sequenceNr = sequentialNext++;
      await sequential.persist("entity-0", [
        { sequenceNr, event: event(sequenceNr), timestamp: Date.now() },
      ]);
    }
  },
});

// Recovery of one 100,000-event entity.
const RECOVERY_EVENTS = 100_000;
const recovery = new SqliteJournal({ path: join(dir, "recovery.db") });
for (let from = 1; from <= RECOVERY_EVENTS; from += 10_000) {
  const events: PersistedEvent[] = [];
  for (let n = from; n < from + 10_000; n++) {
    events.push({ sequenceNr: n, event: event(n), timestamp: Date.now() });
  }
  await recovery.persist("big", events);
}
await recovery.saveSnapshot("big", {
  sequenceNr: RECOVERY_EVENTS - 100,
  state: { balance: 123_456, txCount: RECOVERY_EVENTS - 100, since: new Date(0) },
  timestamp: Date.now(),
});

async function replay(from: number): Promise<number> {
  let count = 0;
  for (let page = 0; page < 1_000; page++) {
    const events = await recovery.load("big", from, { max: 1_000 });
    if (events.length === 0) break;
    count += events.length;
    from = events[events.length - 1].sequenceNr + 1;
  }
  return count;
}

Deno.bench({
  name: "full replay of 100,000 events, pages of 1,000",
  group: "recover a 100,000-event entity",
  baseline: true,
  n: 20,
  fn: async () => {
    if ((await replay(1)) !== RECOVERY_EVENTS) throw new Error("short replay");
  },
});

Deno.bench({
  name: "snapshot at 99,900 + replay of the last 100 events",
  group: "recover a 100,000-event entity",
  fn: async () => {
    const snapshot = await recovery.loadSnapshot("big");
    if ((await replay(snapshot!.sequenceNr + 1)) !== 100) throw new Error("short replay");
  },
});
