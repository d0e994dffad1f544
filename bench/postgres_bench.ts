// PostgresJournal throughput and recovery against a throwaway local PostgreSQL server (fsync on),
// through the npm client `pg`, compared with raw batched INSERTs through the same client in the
// same run. The journal keeps up to two group-commit statements at the server (two groups of
// entities, on two connections of the pool); raw is measured both ways: one statement at a time,
// awaited before the next, as a hand-written batching loop would, and two loops at once.
//
//   deno run -A bench/postgres_bench.ts [seconds per measurement, default 2]
//   bun bench/postgres_bench.ts
//
// Env: PG_ROUNDS (alternating raw/journal rounds per comparison, default 3).
//
// Needs the Debian package postgresql (see tests/_helpers/postgres_server.ts).
import { Buffer } from "node:buffer";
import process from "node:process";
import pg from "pg";
import { type ActorRef, ActorSystem, Behaviors, TaggedJsonSerializer } from "../mod.ts";
import { PostgresJournal, type SqlClient } from "../src/postgres/mod.ts";
import { postgresBinDir, startPostgres } from "../tests/_helpers/postgres_server.ts";
import { insertRawJson } from "./_postgres_raw.ts";

const seconds = Number(process.argv[2] ?? 2);
const runtime = "Deno" in globalThis ? "Deno" : "Bun";
const event = { type: "deposited", amount: 100, currency: "EUR", note: "bench" };

await using server = await startPostgres({ fsync: true });
const pool = new pg.Pool({ connectionString: server.url, max: 8 });
pool.on("error", () => {});
// Time during which at least one statement is under way (from the call to the rows), to tell
// the server's share of a run from the JavaScript's: the rest is time with no statement at the
// server. Statements may overlap (the journal keeps two at the server), so this counts the
// union of their intervals.
let inStatementsMs = 0;
let underWay = 0;
let busySince = 0;
const sql: SqlClient = {
  query: (text, params) => {
    if (underWay++ === 0) busySince = performance.now();
    const done = () => {
      if (--underWay === 0) inStatementsMs += performance.now() - busySince;
    };
    return pool.query(text, params).then((r) => {
      done();
      return r.rows;
    }, (err) => {
      done();
      throw err;
    });
  },
};

const results: { name: string; value: string }[] = [];
const report = (name: string, value: string) => {
  results.push({ name, value });
  console.log(`${name}: ${value}`);
};

/** Runs `workers` loops of `step` for `seconds`; returns operations per second. */
async function timed(workers: number, step: (worker: number, i: number) => Promise<number>) {
  // A timer ends the run: reading the clock in every worker's every step (1,000 workers) would
  // charge the harness's own cost to the journal.
  let running = true;
  const timer = setTimeout(() => (running = false), seconds * 1000);
  const started = performance.now();
  let done = 0;
  await Promise.all(Array.from({ length: workers }, async (_, w) => {
    for (let i = 0; running; i++) {
      const n = await step(w, i); // not `done += await …`: that reads `done` before the await
      done += n;
    }
  }));
  clearTimeout(timer);
  return done / ((performance.now() - started) / 1000);
}

// --- durable events per second through the journal (each "entity" awaits its own persist) ---
async function journalRate(entities: number, round: number): Promise<number> {
  const journal = new PostgresJournal({ sql, schema: `j_${entities}_${round}` });
  await journal.persist("warm-up", [{ sequenceNr: 1, event, timestamp: 0 }]); // creates tables
  const seq = new Array(entities).fill(0);
  const waitedBefore = inStatementsMs;
  const started = performance.now();
  const rate = await timed(entities, async (w) => {
    const n = ++seq[w];
    await journal.persist(`entity-${w}`, [{ sequenceNr: n, event, timestamp: Date.now() }]);
    return 1;
  });
  await journal.close();
  const elapsed = performance.now() - started;
  const { transactions, eventsWritten } = journal.stats;
  const js = (elapsed - (inStatementsMs - waitedBefore)) / transactions;
  console.log(
    `  journal, ${entities} entities: ${Math.round(rate)} events/s, ` +
      `${Math.round(eventsWritten / transactions)} events per statement, ` +
      `${js.toFixed(2)} ms per statement with none at the server`,
  );
  return rate;
}

// --- raw batched INSERTs of the same bytes through the same client ---
const serializer = new TaggedJsonSerializer();
const bytes = serializer.serialize(event);
await pool.query(
  "CREATE TABLE raw_events (entity_id text, sequence_nr int8, timestamp float8, event bytea, " +
    "PRIMARY KEY (entity_id, sequence_nr))",
);
let rawSeq = 0;
const base64 = Buffer.from(bytes).toString("base64");
// Three ways a user would batch by hand: a multi-row VALUES list with 4 parameters a row and the
// journal's own statement shape (one JSON text parameter unpacked by json_to_recordset), one
// statement per batch awaited before the next; and that JSON shape from two loops at once, so two
// statements are at the server together, as the journal does ("json2"). The fastest is the
// baseline, so the journal's own concurrency is not what makes it look good.
async function rawRate(batch: number, shape: "values" | "json" | "json2"): Promise<number> {
  const waitedBefore = inStatementsMs;
  const started = performance.now();
  let statements = 0;
  const rate = await timed(shape === "json2" ? 2 : 1, async () => {
    statements++;
    const n = ++rawSeq;
    if (shape !== "values") {
      await insertRawJson(sql, batch, n, base64);
      return batch;
    }
    const params: unknown[] = [];
    const values: string[] = [];
    for (let i = 0; i < batch; i++) {
      const p = params.length;
      values.push(`($${p + 1}, $${p + 2}, $${p + 3}, $${p + 4})`);
      params.push(`entity-${i}`, n, Date.now(), bytes);
    }
    await pool.query(
      `INSERT INTO raw_events (entity_id, sequence_nr, timestamp, event) VALUES ${
        values.join(",")
      }`,
      params,
    );
    return batch;
  });
  if (shape === "json2") {
    console.log(`  raw json, two at the server, ${batch} rows: ${Math.round(rate)} rows/s`);
  } else if (shape === "json") {
    const js = (performance.now() - started - (inStatementsMs - waitedBefore)) / statements;
    console.log(
      `  raw json, ${batch} rows: ${Math.round(rate)} rows/s, ${
        js.toFixed(2)
      } ms per statement with none at the server`,
    );
  }
  return rate;
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
// The machine may be shared: each comparison alternates raw and journal rounds in the same run
// and reports the medians, so load that comes and goes hits both sides alike.
const rounds = Math.max(1, Number(process.env.PG_ROUNDS ?? 3));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pct = (a: number, b: number) => `${Math.round((a / b) * 100)}%`;

const raw1s: number[] = [];
const ones: number[] = [];
for (let r = 0; r < rounds; r++) {
  raw1s.push(await rawRate(1, "values"));
  ones.push(await journalRate(1, r));
}
const raw1 = median(raw1s);
const one = median(ones);
report("raw INSERT, 1 row per statement", `${fmt(raw1)} rows/s`);
report("PostgresJournal, 1 entity", `${fmt(one)} events/s (${pct(one, raw1)} of raw)`);

const rawValuesRuns: number[] = [];
const rawJsonRuns: number[] = [];
const rawJson2Runs: number[] = [];
const manyRuns: number[] = [];
const roundRatios: number[] = [];
for (let r = 0; r < 5; r++) {
  await pool.query("TRUNCATE raw_events");
  rawValuesRuns.push(await rawRate(1000, "values"));
  await pool.query("TRUNCATE raw_events");
  rawJsonRuns.push(await rawRate(1000, "json"));
  await pool.query("TRUNCATE raw_events");
  rawJson2Runs.push(await rawRate(1000, "json2"));
  manyRuns.push(await journalRate(1000, r));
  roundRatios.push(
    manyRuns[r] / Math.max(rawValuesRuns[r], rawJsonRuns[r], rawJson2Runs[r]),
  );
}
const rawValues = median(rawValuesRuns);
const rawJson = median(rawJsonRuns);
const rawJson2 = median(rawJson2Runs);
const raw1000 = Math.max(rawValues, rawJson, rawJson2);
const many = median(manyRuns);
report("raw INSERT … VALUES, 1,000 rows per statement", `${fmt(rawValues)} rows/s`);
report("raw INSERT … json_to_recordset, 1,000 rows per statement", `${fmt(rawJson)} rows/s`);
report(
  "raw INSERT … json_to_recordset, 1,000 rows, two statements at the server",
  `${fmt(rawJson2)} rows/s`,
);
report(
  "PostgresJournal, 1,000 entities",
  `${fmt(many)} events/s (${pct(many, raw1000)} of the faster raw; ` +
    `median of the rounds' own ratios ${Math.round(median(roundRatios) * 100)}%)`,
);

// --- recovery of a 100,000-event entity, with and without a snapshot ---
type State = { balance: number; count: number };
type Cmd = { type: "get"; replyTo: ActorRef<State> };
const journal = new PostgresJournal({ sql, schema: "recovery" });
const total = 100_000;
for (let from = 1; from <= total; from += 1000) {
  await journal.persist(
    "long",
    Array.from({ length: 1000 }, (_, i) => ({ sequenceNr: from + i, event, timestamp: 0 })),
  );
}
await using system = new ActorSystem({ name: "bench", logLevel: "error" });
let incarnation = 0;
async function recover(entityId: string, replayPageSize = 1000): Promise<[number, State]> {
  const started = performance.now();
  const ref = system.spawn(
    Behaviors.eventSourced<Cmd, typeof event, State>({
      entityId,
      journal,
      initialState: { balance: 0, count: 0 },
      onEvent: (s, e) => ({ balance: s.balance + e.amount, count: s.count + 1 }),
      onCommand: (_ctx, state, cmd) => {
        cmd.replyTo.tell(state);
        return Behaviors.same();
      },
      replayPageSize,
    }),
    `recover-${++incarnation}`,
  );
  const state = await system.ask(ref, (replyTo) => ({ type: "get", replyTo }), {
    timeout: 120_000,
  });
  return [performance.now() - started, state];
}
const [fullMs, full] = await recover("long");
if (full.count !== total) throw new Error(`replayed ${full.count} events, expected ${total}`);
report("recovery of 100,000 events, no snapshot (pages of 1,000)", `${Math.round(fullMs)} ms`);
const [bigPagesMs, bigPages] = await recover("long", 10_000);
if (bigPages.count !== total) throw new Error("replay in pages of 10,000 lost events");
report("recovery of 100,000 events, no snapshot (pages of 10,000)", `${Math.round(bigPagesMs)} ms`);
await journal.saveSnapshot("long", { sequenceNr: total, state: full, timestamp: 0 });
const [snapMs, fromSnapshot] = await recover("long");
if (fromSnapshot.count !== total) throw new Error("snapshot recovery lost events");
report("recovery of 100,000 events, snapshot at 100,000", `${Math.round(snapMs)} ms`);

console.log(
  `\n| ${runtime}, PostgreSQL ${
    postgresBinDir().split("/").at(-2)
  } (fsync on), pg client | result |`,
);
console.log("|---|---|");
for (const r of results) console.log(`| ${r.name} | ${r.value} |`);
await journal.close();
await pool.end();
