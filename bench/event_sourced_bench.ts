// Event-sourced actors on SQLite: `Behaviors.eventSourced` + `SqliteJournal` (temp files,
// synchronous "full", the default) against raw node:sqlite and against the journal alone,
// all measured in the same run.
//
//   deno run -A bench/event_sourced_bench.ts
//   bun bench/event_sourced_bench.ts
//
// Env: BENCH_SEQUENTIAL (default 1,000 commands), BENCH_ENTITIES (1,000), BENCH_COMMANDS (20
// per entity), BENCH_RECOVERY_EVENTS (100,000), BENCH_RECOVERIES (3 per variant), BENCH_ONLY
// (one case, for profiling: raw, seqJournal, seqActor, conJournal, conActors,
// conActorsTell, recovery).
//
// - baseline: raw node:sqlite, ENTITIES × COMMANDS prepared INSERTs of JSON bytes, one
//   transaction per 1,000 events, on the journal's schema and pragmas (WAL, FULL, 16 KiB pages).
// - (a) 1 entity, sequential asks, each command persisting one event; next to it the journal
//   alone (`persist` + await, one event at a time).
// - (b) ENTITIES entities, COMMANDS asks each, all in flight (each actor handles one command at
//   a time; group commit batches the entities); next to it the journal alone in the same shape
//   (every entity awaits its own persists in sequence, all entities concurrently).
// - (c) recovery of a 100,000-event entity: spawn + first ask, with no snapshot and with a
//   snapshot at 99,900; next to it the journal alone (paged `load` + fold).

import process from "node:process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ActorRef, ActorSystem, Behaviors, SqliteJournal } from "../mod.ts";
import { DatabaseSync } from "../src/persistence/_sqlite.ts";
import type { PersistedEvent } from "../src/persistence/journal.ts";
import { detectRuntime } from "../src/runtime/select.ts";

const SEQUENTIAL = Number(process.env.BENCH_SEQUENTIAL ?? 1_000);
const ENTITIES = Number(process.env.BENCH_ENTITIES ?? 1_000);
const COMMANDS = Number(process.env.BENCH_COMMANDS ?? 20);
const RECOVERY_EVENTS = Number(process.env.BENCH_RECOVERY_EVENTS ?? 100_000);
const RECOVERIES = Number(process.env.BENCH_RECOVERIES ?? 3);
const TIMEOUT = 600_000;

const dir = mkdtempSync(join(tmpdir(), "casty-es-bench-"));
const cleanup = () => rmSync(dir, { recursive: true, force: true });
process.on("exit", cleanup);

type State = { balance: number; txCount: number };
type Event = { type: "deposited"; amount: number; note: string; at: Date };
type Command =
  | { type: "deposit"; amount: number; replyTo: ActorRef<State> }
  | { type: "get"; replyTo: ActorRef<State> };

const event = (n: number): Event => ({
  type: "deposited",
  amount: n,
  note: "coffee",
  at: new Date(n),
});
const onEvent = (s: State, e: Event): State => ({
  balance: s.balance + e.amount,
  txCount: s.txCount + 1,
});

const account = (journal: SqliteJournal, entityId: string) =>
  Behaviors.eventSourced<Command, Event, State>({
    entityId,
    journal,
    initialState: { balance: 0, txCount: 0 },
    onEvent,
    onCommand: (_ctx, state, cmd) => {
      if (cmd.type === "get") {
        cmd.replyTo.tell(state);
        return Behaviors.same();
      }
      return Behaviors.persisted<Command, State>([event(cmd.amount)], {
        reply: (s) => cmd.replyTo.tell(s),
      });
    },
  });

const rate = (events: number, ms: number) => events / (ms / 1000);
let fileNo = 0;
const freshJournal = () => new SqliteJournal({ path: join(dir, `j${fileNo++}.db`) });

// ---- baseline: raw node:sqlite, one transaction per 1,000 events ----------------------------
async function rawBaseline(total: number): Promise<number> {
  const path = join(dir, `raw${fileNo++}.db`);
  await new SqliteJournal({ path }).close(); // creates the schema (and the 16 KiB page size)
  const db = new DatabaseSync(path);
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA temp_store = MEMORY");
  const insert = db.prepare(
    "INSERT INTO casty_events (entity_id, sequence_nr, timestamp, event) VALUES (?, ?, ?, ?)",
  );
  const begin = db.prepare("BEGIN IMMEDIATE");
  const commit = db.prepare("COMMIT");
  const encoder = new TextEncoder();
  const start = performance.now();
  let n = 0;
  for (let round = 1; n < total; round++) {
    begin.run();
    for (let i = 0; i < 1_000 && n < total; i++, n++) {
      insert.run(`entity-${i}`, round, Date.now(), encoder.encode(JSON.stringify(event(round))));
    }
    commit.run();
  }
  const ms = performance.now() - start;
  db.close();
  return rate(total, ms);
}

// ---- (a) one entity, sequential -------------------------------------------------------------
async function sequentialJournal(): Promise<number> {
  const journal = freshJournal();
  await journal.persist("e", [{ sequenceNr: 1, event: event(0), timestamp: Date.now() }]);
  const start = performance.now();
  for (let i = 0; i < SEQUENTIAL; i++) {
    await journal.persist("e", [{ sequenceNr: i + 2, event: event(i), timestamp: Date.now() }]);
  }
  const ms = performance.now() - start;
  await journal.close();
  return rate(SEQUENTIAL, ms);
}

async function sequentialActor(): Promise<number> {
  const journal = freshJournal();
  const system = new ActorSystem({ name: "es-bench", logLevel: "error" });
  try {
    const ref = system.spawn(account(journal, "e"), "e");
    const deposit = (amount: number) =>
      system.ask(ref, (replyTo) => ({ type: "deposit", amount, replyTo }), { timeout: TIMEOUT });
    await deposit(0); // recovery + first write
    const start = performance.now();
    for (let i = 0; i < SEQUENTIAL; i++) await deposit(i);
    const ms = performance.now() - start;
    const s = await system.ask(ref, (replyTo) => ({ type: "get", replyTo }));
    if (s.txCount !== SEQUENTIAL + 1) throw new Error(`lost events: ${s.txCount}`);
    return rate(SEQUENTIAL, ms);
  } finally {
    await system.shutdown();
    await journal.close();
  }
}

// ---- (b) many entities, concurrent ----------------------------------------------------------
interface Concurrent {
  rate: number;
  transactions: number;
}

async function concurrentJournal(): Promise<Concurrent> {
  const journal = freshJournal();
  const one = (id: string, seq: number) =>
    journal.persist(id, [{ sequenceNr: seq, event: event(seq), timestamp: Date.now() }]);
  await Promise.all(Array.from({ length: ENTITIES }, (_, i) => one(`entity-${i}`, 1)));
  const before = journal.stats.transactions;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: ENTITIES }, async (_, i) => {
      for (let c = 0; c < COMMANDS; c++) await one(`entity-${i}`, c + 2);
    }),
  );
  const ms = performance.now() - start;
  const transactions = journal.stats.transactions - before;
  await journal.close();
  return { rate: rate(ENTITIES * COMMANDS, ms), transactions };
}

async function concurrentActors(): Promise<Concurrent & { spawnMs: number }> {
  const journal = freshJournal();
  const system = new ActorSystem({ name: "es-bench", logLevel: "error" });
  try {
    const t0 = performance.now();
    const refs = Array.from(
      { length: ENTITIES },
      (_, i) => system.spawn(account(journal, `entity-${i}`), `entity-${i}`),
    );
    const deposit = (ref: ActorRef<Command>, amount: number) =>
      system.ask(ref, (replyTo) => ({ type: "deposit", amount, replyTo }), { timeout: TIMEOUT });
    // Recovery of every (empty) entity + one warm-up write each.
    await Promise.all(refs.map((ref) => deposit(ref, 0)));
    const spawnMs = performance.now() - t0;
    const before = journal.stats.transactions;
    const start = performance.now();
    const asks: Promise<State>[] = [];
    for (let c = 0; c < COMMANDS; c++) {
      for (const ref of refs) asks.push(deposit(ref, c));
    }
    const states = await Promise.all(asks);
    const ms = performance.now() - start;
    const transactions = journal.stats.transactions - before;
    if (states.length !== ENTITIES * COMMANDS) throw new Error("missing replies");
    return { rate: rate(ENTITIES * COMMANDS, ms), transactions, spawnMs };
  } finally {
    await system.shutdown();
    await journal.close();
  }
}

/** (b) with tells instead of asks: replies go to one collector actor (no promise or timer per command). */
async function concurrentActorsTell(): Promise<Concurrent> {
  const journal = freshJournal();
  const system = new ActorSystem({ name: "es-bench", logLevel: "error" });
  try {
    const refs = Array.from(
      { length: ENTITIES },
      (_, i) => system.spawn(account(journal, `entity-${i}`), `entity-${i}`),
    );
    let expected = 0;
    let replies = 0;
    let done: () => void = () => {};
    const collector = system.spawn(
      Behaviors.receive<State>(() => {
        if (++replies === expected) done();
      }),
      "collector",
    );
    const round = (perEntity: number) => {
      replies = 0;
      expected = ENTITIES * perEntity;
      const finished = new Promise<void>((resolve) => done = resolve);
      for (let c = 0; c < perEntity; c++) {
        for (const ref of refs) ref.tell({ type: "deposit", amount: c, replyTo: collector });
      }
      return finished;
    };
    await round(1); // recovery + one warm-up write each
    const before = journal.stats.transactions;
    const start = performance.now();
    await round(COMMANDS);
    const ms = performance.now() - start;
    return {
      rate: rate(ENTITIES * COMMANDS, ms),
      transactions: journal.stats.transactions - before,
    };
  } finally {
    await system.shutdown();
    await journal.close();
  }
}

// ---- (c) recovery ---------------------------------------------------------------------------
async function recovery(): Promise<{ none: number[]; snap: number[]; journal: number[] }> {
  const journal = freshJournal();
  for (const id of ["big", "big-snap"]) {
    for (let from = 1; from <= RECOVERY_EVENTS; from += 10_000) {
      const events: PersistedEvent[] = [];
      for (let n = from; n < from + 10_000 && n <= RECOVERY_EVENTS; n++) {
        events.push({ sequenceNr: n, event: event(n), timestamp: Date.now() });
      }
      await journal.persist(id, events);
    }
  }
  let state: State = { balance: 0, txCount: 0 };
  for (let n = 1; n <= RECOVERY_EVENTS - 100; n++) state = onEvent(state, event(n));
  await journal.saveSnapshot("big-snap", {
    sequenceNr: RECOVERY_EVENTS - 100,
    state,
    timestamp: Date.now(),
  });
  const expected = RECOVERY_EVENTS * (RECOVERY_EVENTS + 1) / 2;

  const out = { none: [] as number[], snap: [] as number[], journal: [] as number[] };
  const system = new ActorSystem({ name: "es-bench", logLevel: "error" });
  try {
    let k = 0;
    for (let r = 0; r < RECOVERIES; r++) {
      // Journal alone: paged load + fold, as the actor does it.
      let t = performance.now();
      let s: State = { balance: 0, txCount: 0 };
      let from = 1;
      for (;;) {
        const page = await journal.load("big", from, { max: 1_000 });
        for (const e of page) s = onEvent(s, e.event as Event);
        if (page.length < 1_000) break;
        from = page[page.length - 1].sequenceNr + 1;
      }
      out.journal.push(performance.now() - t);
      if (s.balance !== expected) throw new Error("bad replay");

      for (const [id, into] of [["big", out.none], ["big-snap", out.snap]] as const) {
        t = performance.now();
        const ref = system.spawn(account(journal, id), `r${k++}`);
        const got = await system.ask(ref, (replyTo) => ({ type: "get", replyTo }), {
          timeout: TIMEOUT,
        });
        into.push(performance.now() - t);
        if (got.balance !== expected || got.txCount !== RECOVERY_EVENTS) {
          throw new Error(`bad recovery of ${id}: ${JSON.stringify(got)}`);
        }
      }
    }
    return out;
  } finally {
    await system.shutdown();
    await journal.close();
  }
}

// ---- run ------------------------------------------------------------------------------------
const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
const runtime = `${detectRuntime()} ${g.Deno?.version.deno ?? g.Bun?.version ?? process.version}`;
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const pct = (a: number, b: number) => `${(a / b * 100).toFixed(0)}%`;
const ms = (xs: number[]) => xs.map((x) => x < 10 ? x.toFixed(2) : x.toFixed(0)).join(" / ");

const total = ENTITIES * COMMANDS;
const only = process.env.BENCH_ONLY;
if (only) {
  const cases: Record<string, () => Promise<unknown>> = {
    raw: () => rawBaseline(total),
    seqJournal: sequentialJournal,
    seqActor: sequentialActor,
    conJournal: concurrentJournal,
    conActors: concurrentActors,
    conActorsTell: concurrentActorsTell,
    recovery,
  };
  console.log(only, JSON.stringify(await cases[only]()));
  process.exit(0);
}
const base = await rawBaseline(total);
const seqJ = await sequentialJournal();
const seqA = await sequentialActor();
const conJ = await concurrentJournal();
const conA = await concurrentActors();
const conT = await concurrentActorsTell();
const rec = await recovery();

console.log(`runtime: ${runtime}, ${new Date().toISOString()}, dir ${dir}`);
console.log("| case | durable events/s | vs raw baseline | vs journal alone |");
console.log("| --- | ---: | ---: | ---: |");
console.log(
  `| raw node:sqlite, ${fmt(total)} inserts, 1 transaction per 1,000 (baseline) | ${
    fmt(base)
  } | 100% | |`,
);
console.log(
  `| journal alone, 1 entity, ${fmt(SEQUENTIAL)} sequential persists | ${fmt(seqJ)} | ${
    pct(seqJ, base)
  } | 100% |`,
);
console.log(
  `| (a) actor, 1 entity, ${fmt(SEQUENTIAL)} sequential asks | ${fmt(seqA)} | ${
    pct(seqA, base)
  } | ${pct(seqA, seqJ)} |`,
);
console.log(
  `| journal alone, ${fmt(ENTITIES)} entities × ${COMMANDS} sequential persists, concurrent | ${
    fmt(conJ.rate)
  } (${conJ.transactions} tx) | ${pct(conJ.rate, base)} | 100% |`,
);
console.log(
  `| (b) actors, ${fmt(ENTITIES)} entities × ${COMMANDS} asks, all in flight | ${
    fmt(conA.rate)
  } (${conA.transactions} tx) | ${pct(conA.rate, base)} | ${pct(conA.rate, conJ.rate)} |`,
);
console.log(
  `| (b') actors, same with tells, replies to one collector actor | ${
    fmt(conT.rate)
  } (${conT.transactions} tx) | ${pct(conT.rate, base)} | ${pct(conT.rate, conJ.rate)} |`,
);
console.log(
  `(b) spawn + recover + first write of ${fmt(ENTITIES)} entities: ${conA.spawnMs.toFixed(0)} ms`,
);
console.log(`| recovery of ${fmt(RECOVERY_EVENTS)} events (${RECOVERIES} runs) | ms |`);
console.log(`| journal alone: paged load + fold | ${ms(rec.journal)} |`);
console.log(`| (c) actor, no snapshot: spawn → first ask | ${ms(rec.none)} |`);
console.log(
  `| (c) actor, snapshot at ${fmt(RECOVERY_EVENTS - 100)}: spawn → first ask | ${ms(rec.snap)} |`,
);
