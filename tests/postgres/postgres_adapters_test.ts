// The one-line adapters of the README for the npm clients `postgres` and `pg`, and for Bun.sql
// (on Bun only), each against a real server: values, conflicts, paging, snapshots, two
// group-commit statements at the server at once, and a server restart (calls fail with a JournalError while it is down, then work once the client reconnects).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import pg from "pg";
import postgres from "postgres";
import { JournalConflictError, JournalError, TaggedJsonSerializer } from "../../mod.ts";
import { PostgresJournal, type SqlClient } from "../../src/postgres/mod.ts";
import { type PostgresServer, startPostgres } from "../_helpers/postgres_server.ts";

let server: PostgresServer;
before(async () => {
  server = await startPostgres();
});
after(async () => {
  await server?.destroy();
});

interface Adapter {
  readonly sql: SqlClient;
  end(): Promise<void>;
}

class Deposited {
  constructor(readonly amount: bigint, readonly at: Date) {}
}

function adapterSuite(
  name: string,
  connect: (url: string) => Adapter,
  d: (name: string, fn: () => void) => unknown = describe,
): void {
  d(`PostgresJournal through ${name}`, () => {
    it("stores, pages, snapshots and refuses a duplicate", async () => {
      const adapter = connect(server.url);
      try {
        const serializer = new TaggedJsonSerializer({ classes: [Deposited] });
        const schema = `a_${name.replace(/\W/g, "_")}`;
        await using journal = new PostgresJournal({ sql: adapter.sql, schema, serializer });
        const at = new Date("2025-05-05T05:05:05.005Z");
        const events = Array.from({ length: 12 }, (_, i) => ({
          sequenceNr: i + 1,
          event: new Deposited(BigInt(i + 1) * 10n ** 18n, at),
          timestamp: 1_700_000_000_000 + i,
        }));
        await Promise.all([journal.persist("e", events), journal.persist("f", events.slice(0, 1))]);
        await assert.rejects(journal.persist("e", events.slice(11)), JournalConflictError);
        const page = await journal.load("e", 5, { max: 3 });
        assert.deepEqual(page.map((e) => e.sequenceNr), [5, 6, 7]);
        assert.ok(page[0].event instanceof Deposited);
        assert.equal((page[0].event as Deposited).amount, 5n * 10n ** 18n);
        assert.equal((page[0].event as Deposited).at.getTime(), at.getTime());
        assert.equal(page[0].timestamp, 1_700_000_000_004);
        assert.deepEqual((await journal.load("e", 11, { toSequenceNr: 11 })).length, 1);
        assert.equal(await journal.highestSequenceNr("e"), 12);
        await journal.saveSnapshot("e", {
          sequenceNr: 12,
          state: new Map([["b", 1n]]),
          timestamp: 9,
        });
        assert.deepEqual(await journal.loadSnapshot("e"), {
          sequenceNr: 12,
          state: new Map([["b", 1n]]),
          timestamp: 9,
        });
      } finally {
        await adapter.end();
      }
    });

    it("keeps 400 entities' logs whole with two group-commit statements at the server", async () => {
      const adapter = connect(server.url);
      try {
        const schema = `p_${name.replace(/\W/g, "_")}`;
        await using journal = new PostgresJournal({ sql: adapter.sql, schema });
        await journal.persist("warm-up", [{ sequenceNr: 1, event: 0, timestamp: 0 }]);
        const before = journal.stats.transactions;
        await Promise.all(Array.from({ length: 400 }, async (_, e) => {
          for (let n = 1; n <= 4; n++) {
            await journal.persist(`e-${e}`, [{ sequenceNr: n, event: n, timestamp: 0 }]);
          }
        }));
        // One statement for the first round, then (at least) two per round: two groups of
        // callers whose statements are at the server together.
        assert.ok(journal.stats.transactions - before >= 7, `${journal.stats.transactions}`);
        const rows = await adapter.sql.query(
          `SELECT count(*)::text AS events, count(DISTINCT entity_id)::text AS entities, ` +
            `sum(sequence_nr)::text AS total FROM "${schema}".casty_events WHERE entity_id <> $1`,
          ["warm-up"],
        );
        assert.deepEqual(rows[0], { events: "1600", entities: "400", total: "4000" });
        assert.deepEqual((await journal.load("e-399")).map((e) => e.event), [1, 2, 3, 4]);
      } finally {
        await adapter.end();
      }
    });

    it("fails calls while the server is down and works again after it restarts", async () => {
      const adapter = connect(server.url);
      try {
        const schema = `r_${name.replace(/\W/g, "_")}`;
        await using journal = new PostgresJournal({ sql: adapter.sql, schema, timeout: 5000 });
        await journal.persist("acc", [{ sequenceNr: 1, event: 1, timestamp: 0 }]);
        await server.stop("fast");
        try {
          await assert.rejects(
            journal.persist("acc", [{ sequenceNr: 2, event: 2, timestamp: 0 }]),
            (err: unknown) => {
              assert.ok(err instanceof JournalError, String(err));
              assert.equal(err.code, "JOURNAL_WRITE");
              assert.match(err.message, /^Cannot persist events for "acc" in PostgreSQL schema/);
              return true;
            },
          );
          await assert.rejects(journal.load("acc"), { code: "JOURNAL_READ" });
        } finally {
          await server.start();
        }
        // The client reconnects on its own; the journal needs nothing but the next call.
        const deadline = Date.now() + 15_000;
        let next = 2;
        for (let attempt = 1;; attempt++) {
          try {
            await journal.persist("acc", [{ sequenceNr: next, event: next, timestamp: 0 }]);
            break;
          } catch (err) {
            // A write that failed ambiguously may have committed: continue after it.
            if (err instanceof JournalConflictError) next = err.expectedSequenceNr;
            if (Date.now() > deadline) throw new Error(`${name} did not reconnect: ${err}`);
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
        }
        assert.deepEqual((await journal.load("acc")).map((e) => e.event), [1, 2]);
      } finally {
        await adapter.end();
      }
    });
  });
}

adapterSuite("postgres (npm)", (url) => {
  const sql = postgres(url, { max: 4, onnotice: () => {} });
  return {
    sql: { query: (text, params) => sql.unsafe(text, params) },
    end: () => sql.end({ timeout: 1 }),
  };
});

adapterSuite("pg (npm)", (url) => {
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  pool.on("error", () => {}); // an idle connection dies with the server; the pool replaces it
  return {
    sql: { query: (text, params) => pool.query(text, params).then((r) => r.rows) },
    end: () => pool.end(),
  };
});

// Bun.sql exists on Bun only; on Deno this one adapter is skipped.
interface BunSql {
  unsafe(text: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}
const bun = (globalThis as { Bun?: { SQL: new (url: string) => BunSql } }).Bun;
adapterSuite(
  "Bun.sql",
  (url) => {
    const sql = new bun!.SQL(url);
    return { sql: { query: (text, params) => sql.unsafe(text, params) }, end: () => sql.close() };
  },
  bun ? describe : describe.skip,
);
