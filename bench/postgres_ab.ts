// PostgresJournal of two source trees against raw batched INSERTs on one throwaway PostgreSQL
// server (fsync on), alternating raw / tree A / tree B round by round in one process, so load
// that comes and goes hits all three alike. 1,000 entities each awaiting its own persist; raw =
// one 1,000-row json_to_recordset INSERT of pre-serialized bytes, awaited before the next. The
// trees' order flips every round (ABBA): the first after raw was measured to gain.
//
//   deno run -A bench/postgres_ab.ts <treeA> [treeB]      (default: this tree)
//   bun bench/postgres_ab.ts /tmp/old .
//
// Env: ROUNDS (default 7), SECONDS (per measurement, default 1.5), ENTITIES (default 1,000).
import { Buffer } from "node:buffer";
import process from "node:process";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { TaggedJsonSerializer } from "../mod.ts";
import type { EventJournal } from "../src/persistence/journal.ts";
import type { SqlClient } from "../src/postgres/mod.ts";
import { startPostgres } from "../tests/_helpers/postgres_server.ts";
import { insertRawJson } from "./_postgres_raw.ts";

const ROUNDS = Number(process.env.ROUNDS ?? 7);
const SECONDS = Number(process.env.SECONDS ?? 1.5);
const ENTITIES = Number(process.env.ENTITIES ?? 1000);
const here = fileURLToPath(new URL("..", import.meta.url));
const trees = process.argv.length > 2 ? process.argv.slice(2) : [here];
type Ctor = new (o: { sql: SqlClient; schema: string }) => EventJournal & {
  close(): Promise<void>;
};
const journals: Ctor[] = [];
for (const tree of trees) {
  journals.push((await import(resolve(tree, "src/postgres/mod.ts"))).PostgresJournal as Ctor);
}

const event = { type: "deposited", amount: 100, currency: "EUR", note: "bench" };
await using server = await startPostgres({ fsync: true });
const pool = new pg.Pool({ connectionString: server.url, max: 8 });
pool.on("error", () => {});
const sql: SqlClient = { query: (text, params) => pool.query(text, params).then((r) => r.rows) };

async function timed(workers: number, step: (w: number) => Promise<number>): Promise<number> {
  let running = true;
  const timer = setTimeout(() => (running = false), SECONDS * 1000);
  const started = performance.now();
  let done = 0;
  await Promise.all(Array.from({ length: workers }, async (_, w) => {
    while (running) {
      const n = await step(w);
      done += n;
    }
  }));
  clearTimeout(timer);
  return done / ((performance.now() - started) / 1000);
}

let schemas = 0;
async function journalRate(Journal: Ctor): Promise<number> {
  const journal = new Journal({ sql, schema: `ab_${++schemas}` });
  await journal.persist("warm-up", [{ sequenceNr: 1, event, timestamp: 0 }]);
  const seq = new Array(ENTITIES).fill(0);
  const rate = await timed(ENTITIES, async (w) => {
    const n = ++seq[w];
    await journal.persist(`entity-${w}`, [{ sequenceNr: n, event, timestamp: Date.now() }]);
    return 1;
  });
  await journal.close();
  return rate;
}

await pool.query(
  "CREATE TABLE raw_events (entity_id text, sequence_nr int8, timestamp float8, event bytea, " +
    "PRIMARY KEY (entity_id, sequence_nr))",
);
const base64 = Buffer.from(new TaggedJsonSerializer().serialize(event)).toString("base64");
let rawSeq = 0;
function rawRate(): Promise<number> {
  return timed(1, async () => {
    await insertRawJson(sql, ENTITIES, ++rawSeq, base64);
    return ENTITIES;
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const raws: number[] = [];
const rates: number[][] = trees.map(() => []);
const ratios: number[][] = trees.map(() => []);
for (let r = 0; r < ROUNDS; r++) {
  const raw = await rawRate();
  raws.push(raw);
  // The tree that runs right after raw gains (measured): the order flips every round.
  for (let k = 0; k < trees.length; k++) {
    const t = r % 2 === 0 ? k : trees.length - 1 - k;
    const rate = await journalRate(journals[t]);
    rates[t].push(rate);
    ratios[t].push(rate / raw);
  }
  console.log(
    `round ${r + 1}: raw ${Math.round(raw)}/s, ` +
      trees.map((_, t) => `${Math.round(rates[t][r])}/s (${Math.round(ratios[t][r] * 100)}%)`)
        .join(", "),
  );
}
const runtime = "Deno" in globalThis ? "Deno" : "Bun";
const load = (await import("node:os")).loadavg().map((x) => x.toFixed(1)).join(" ");
console.log(`${runtime}, ${ENTITIES} entities, ${ROUNDS} rounds of ${SECONDS} s, load ${load}`);
console.log(`raw json_to_recordset: median ${Math.round(median(raws))} rows/s`);
for (let t = 0; t < trees.length; t++) {
  console.log(
    `${trees[t]}: median ${Math.round(median(rates[t]))} events/s, ` +
      `median of the rounds' ratios ${Math.round(median(ratios[t]) * 100)}%`,
  );
}
await pool.end();
