// PostgresJournal against a real, throwaway PostgreSQL server (tests/_helpers/postgres_server.ts),
// through the npm client `pg`.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Socket } from "node:net";
import pg from "pg";
import {
  JournalConflictError,
  JournalError,
  SerializationError,
  TaggedJsonSerializer,
} from "../../mod.ts";
import { PostgresJournal, type SqlClient } from "../../src/postgres/mod.ts";
import { groupCommitCases } from "../persistence/_group_commit_cases.ts";
import { events, journalContract } from "../persistence/_journal_contract.ts";
import { type PostgresServer, startPostgres } from "../_helpers/postgres_server.ts";

let server: PostgresServer;
let pool: pg.Pool;
let sql: SqlClient;
let schemas = 0;
const freshSchema = (): string => `t_${++schemas}`;

before(async () => {
  server = await startPostgres();
  pool = new pg.Pool({ connectionString: server.url, max: 4 });
  pool.on("error", () => {}); // idle clients die when the server restarts; the pool replaces them
  sql = { query: (text, params) => pool.query(text, params).then((r) => r.rows) };
});

after(async () => {
  await pool?.end();
  await server?.destroy();
});

journalContract("PostgresJournal", () => new PostgresJournal({ sql, schema: freshSchema() }));

class Deposited {
  constructor(readonly amount: bigint, readonly at: Date) {}
}

describe("PostgresJournal storage", () => {
  it("keeps tagged-JSON values byte for byte, NUL characters and key order included", async () => {
    const schema = freshSchema();
    const serializer = new TaggedJsonSerializer({ classes: [Deposited] });
    const event = {
      zeta: "a\u0000b",
      alpha: new Deposited(12345678901234567890n, new Date("2024-01-02T03:04:05.678Z")),
      tags: new Set(["x"]),
      meta: new Map<string, unknown>([["u", undefined], ["bytes", new Uint8Array([0, 255])]]),
    };
    {
      await using journal = new PostgresJournal({ sql, schema, serializer });
      await journal.persist("acc-1", [{ sequenceNr: 1, event, timestamp: 1_700_000_000_123 }]);
      await journal.saveSnapshot("acc-1", { sequenceNr: 1, state: event, timestamp: 5 });
    }
    await using reopened = new PostgresJournal({ sql, schema, serializer });
    const [loaded] = await reopened.load("acc-1");
    assert.equal(loaded.timestamp, 1_700_000_000_123);
    const got = loaded.event as typeof event;
    assert.ok(got.alpha instanceof Deposited);
    assert.deepEqual(got, event);
    assert.deepEqual(Object.keys(got), ["zeta", "alpha", "tags", "meta"]);
    assert.deepEqual((await reopened.loadSnapshot("acc-1"))?.state, event);
    const [row] = (await pool.query(
      `SELECT event FROM ${schema}.casty_events WHERE entity_id = 'acc-1'`,
    )).rows;
    assert.deepEqual(new Uint8Array(row.event), serializer.serialize(event));
  });

  it("stores exactly the serializer's bytes for every kind of value, in one batch", async () => {
    // ASCII and non-ASCII JSON, escapes, NUL, a lone surrogate, null and undefined, with the
    // default serializer and with a subclass that overrides serialize(): the table holds the
    // very bytes serialize() returns.
    class Upper extends TaggedJsonSerializer {
      override serialize(value: unknown): Uint8Array {
        return super.serialize(typeof value === "string" ? value.toUpperCase() : value);
      }
    }
    const values: unknown[] = [
      { type: "deposited", amount: 100, note: 'say "hi"\\ \n\t/' },
      [1.5e300, -0.000001, true, false, {}, []],
      "",
      null,
      undefined,
      "nul \u0000 and lone \ud800 surrogate",
      "ünïcödé 🎉",
      { bigint: 1n, date: new Date(0), nan: NaN },
    ];
    for (const serializer of [new TaggedJsonSerializer(), new Upper()]) {
      const schema = freshSchema();
      await using journal = new PostgresJournal({ sql, schema, serializer });
      await Promise.all(values.map((event, i) =>
        journal.persist(`e-${i}`, [
          { sequenceNr: 1, event, timestamp: i },
          { sequenceNr: 2, event: [event], timestamp: i },
        ])
      ));
      assert.equal(journal.stats.transactions, 1, "one statement carried them all");
      const { rows } = await pool.query(
        `SELECT entity_id, sequence_nr, event FROM ${schema}.casty_events`,
      );
      assert.equal(rows.length, values.length * 2);
      for (const row of rows) {
        const value = values[Number(String(row.entity_id).slice(2))];
        const event = Number(row.sequence_nr) === 1 ? value : [value];
        assert.deepEqual(new Uint8Array(row.event), serializer.serialize(event), row.entity_id);
      }
      const [first, second] = await journal.load("e-6");
      assert.equal(first.event, serializer instanceof Upper ? "ÜNÏCÖDÉ 🎉" : "ünïcödé 🎉");
      assert.deepEqual(second.event, ["ünïcödé 🎉"]); // Upper changes top-level strings only
    }
  });

  it("stores exact bytes in a LATIN1 database too, also for calls queued before set-up", async () => {
    // Events travel as JSON text only to a UTF8 server; a LATIN1 database cannot hold "🎉" as
    // text, so there they travel as bytes, including the calls made before the journal learned
    // the server's encoding (the first batch).
    await pool.query(
      "CREATE DATABASE latin ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0",
    );
    const latin = new pg.Pool({ connectionString: server.url.replace(/\/postgres$/, "/latin") });
    latin.on("error", () => {});
    try {
      const latinSql: SqlClient = {
        query: (text, params) => latin.query(text, params).then((r) => r.rows),
      };
      const serializer = new TaggedJsonSerializer();
      const values = ["ünïcödé 🎉", { note: 'say "hi" 🎉', n: 1n }, "plain"];
      await using journal = new PostgresJournal({ sql: latinSql, schema: "l", serializer });
      await Promise.all(
        values.map((event, i) =>
          journal.persist(`e-${i}`, [{ sequenceNr: 1, event, timestamp: i }])
        ),
      );
      for (let i = 0; i < values.length; i++) {
        await journal.persist(`e-${i}`, [{ sequenceNr: 2, event: [values[i]], timestamp: 9 }]);
      }
      const { rows } = await latin.query(
        "SELECT entity_id, sequence_nr, event FROM l.casty_events ORDER BY entity_id, sequence_nr",
      );
      assert.equal(rows.length, values.length * 2);
      for (const row of rows) {
        const value = values[Number(String(row.entity_id).slice(2))];
        const event = Number(row.sequence_nr) === 1 ? value : [value];
        assert.deepEqual(new Uint8Array(row.event), serializer.serialize(event), row.entity_id);
      }
      assert.deepEqual((await journal.load("e-1")).map((e) => e.event), [values[1], [values[1]]]);
    } finally {
      await latin.end();
    }
  });

  it("creates versioned tables keyed by (entity_id, sequence_nr) and refuses a newer version", async () => {
    const schema = freshSchema();
    const journal = new PostgresJournal({ sql, schema });
    await journal.persist("e", events(1, 1));
    await journal.close();
    const pk = await pool.query(
      `SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid
       AND a.attnum = ANY(i.indkey) WHERE i.indrelid = '${schema}.casty_events'::regclass
       AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)`,
    );
    assert.deepEqual(pk.rows.map((r) => r.attname), ["entity_id", "sequence_nr"]);
    assert.deepEqual(
      (await pool.query(`SELECT version FROM ${schema}.casty_journal_version`)).rows,
      [
        { version: 1 },
      ],
    );
    await pool.query(`UPDATE ${schema}.casty_journal_version SET version = 7`);
    const newer = new PostgresJournal({ sql, schema });
    for (const call of [newer.persist("e", events(2, 2)), newer.load("e")]) {
      await assert.rejects(call, (err: unknown) => {
        assert.ok(err instanceof JournalError);
        assert.equal(err.code, "JOURNAL_OPEN");
        assert.equal(
          err.message,
          `Cannot open journal in PostgreSQL schema "${schema}": schema version 7 is newer than the supported version 1`,
        );
        return true;
      });
    }
    await newer.close();
  });

  it("sets up the tables once when many journals start together", async () => {
    const schema = freshSchema();
    const journals = Array.from({ length: 6 }, () => new PostgresJournal({ sql, schema }));
    await Promise.all(journals.map((j, i) => j.persist(`e-${i}`, events(1, 2))));
    const rows = (await pool.query(`SELECT count(*)::int AS n FROM ${schema}.casty_events`)).rows;
    assert.equal(rows[0].n, 12);
    await Promise.all(journals.map((j) => j.close()));
  });

  it("rejects bad options and entity ids PostgreSQL cannot store", async () => {
    assert.throws(() => new PostgresJournal({ sql: {} as SqlClient }), TypeError);
    assert.throws(() => new PostgresJournal({ sql, schema: 'x"; DROP TABLE y; --' }), TypeError);
    assert.throws(() => new PostgresJournal({ sql, timeout: 0 }), RangeError);
    await using journal = new PostgresJournal({ sql, schema: freshSchema() });
    await assert.rejects(journal.persist("a\u0000b", events(1, 1)), TypeError);
    await journal.persist("ok", events(1, 1));
    assert.equal(await journal.highestSequenceNr("ok"), 1);
  });
});

describe("PostgresJournal group commit", () => {
  groupCommitCases(() => new PostgresJournal({ sql, schema: freshSchema() }));

  it("writes 1,000 entities persisting in one tick in one statement", async () => {
    await using journal = new PostgresJournal({ sql, schema: freshSchema() });
    await journal.persist("warm-up", events(1, 1));
    const before = journal.stats.transactions;
    const calls = [];
    for (let i = 0; i < 1000; i++) calls.push(journal.persist(`entity-${i}`, events(1, 2)));
    await Promise.all(calls);
    const stats = journal.stats;
    assert.equal(stats.transactions - before, 1);
    assert.equal(stats.persistCalls, 1001);
    assert.equal(stats.eventsWritten, 2001);
    assert.equal(await journal.highestSequenceNr("entity-999"), 2);
  });

  it("lets exactly one of two journals (two processes' worth) win a sequence number", async () => {
    const schema = freshSchema();
    await using a = new PostgresJournal({ sql, schema });
    await using b = new PostgresJournal({ sql, schema });
    await a.persist("shared", events(1, 2));
    await b.persist("shared", events(3, 3)); // b reads the truth on first use
    // a's cache says 2: its write of 3 is a stale-cache duplicate the primary key refuses.
    const results = await Promise.allSettled([
      a.persist("shared", events(3, 4)),
      a.persist("other", events(1, 1)),
    ]);
    assert.equal(results[0].status, "rejected");
    const reason = (results[0] as PromiseRejectedResult).reason;
    assert.ok(reason instanceof JournalConflictError, String(reason));
    assert.equal(reason.expectedSequenceNr, 4);
    assert.equal(results[1].status, "fulfilled");
    await a.persist("shared", events(4, 4));
    assert.deepEqual((await b.load("shared")).map((e) => e.sequenceNr), [1, 2, 3, 4]);
  });

  it("rejects only the call whose event cannot be serialized", async () => {
    await using journal = new PostgresJournal({ sql, schema: freshSchema() });
    const results = await Promise.allSettled([
      journal.persist("a", events(1, 1)),
      journal.persist("b", [{ sequenceNr: 1, event: { fn: () => 1 }, timestamp: 0 }]),
    ]);
    assert.equal(results[0].status, "fulfilled");
    assert.ok((results[1] as PromiseRejectedResult).reason instanceof SerializationError);
    assert.equal(await journal.highestSequenceNr("b"), 0);
  });

  it("waits for queued writes on close and leaves the client open", async () => {
    const schema = freshSchema();
    const journal = new PostgresJournal({ sql, schema });
    const pending = [journal.persist("a", events(1, 3)), journal.persist("b", events(1, 1))];
    await journal.close();
    await Promise.all(pending);
    await assert.rejects(journal.persist("a", events(4, 4)), { code: "JOURNAL_CLOSED" });
    await using reopened = new PostgresJournal({ sql, schema });
    assert.equal(await reopened.highestSequenceNr("a"), 3);
  });
});

// The client of the pipelining tests: the pool, watched. It records every INSERT into the
// events table (which rows it carries, whether it has returned or failed), how many were at the
// server at once, and any entity that was in two of them at the server at once. With
// `replyLatency` (ms), each INSERT's reply reaches the journal that much later, as across a
// network: on loopback a statement can return before the journal's next macrotask, so whether
// two ever overlap would depend on the machine's load rather than on how the journal schedules.
function watched(schema: string, replyLatency = 0) {
  const inserts: { rows: Set<string>; done: boolean; failed: boolean }[] = [];
  const entitiesAtServer = new Set<string>();
  const twice: string[] = [];
  let atServer = 0;
  let mostAtServer = 0;
  const client: SqlClient = {
    query: async (text, params) => {
      if (!text.startsWith(`INSERT INTO "${schema}".casty_events`)) {
        return (await pool.query(text, params)).rows;
      }
      const rows = JSON.parse(params[0] as string) as { i: string; s: number }[];
      const insert = {
        rows: new Set(rows.map((r) => `${r.i}/${r.s}`)),
        done: false,
        failed: false,
      };
      inserts.push(insert);
      const ids = new Set(rows.map((r) => r.i));
      for (const id of ids) {
        if (entitiesAtServer.has(id)) twice.push(id);
        entitiesAtServer.add(id);
      }
      mostAtServer = Math.max(mostAtServer, ++atServer);
      try {
        const { rows } = await pool.query(text, params);
        if (replyLatency > 0) await new Promise((r) => setTimeout(r, replyLatency));
        return rows;
      } catch (err) {
        insert.failed = true;
        throw err;
      } finally {
        atServer--;
        for (const id of ids) entitiesAtServer.delete(id);
        insert.done = true;
      }
    },
  };
  return { client, inserts, twice, mostAtServer: () => mostAtServer };
}

// `entities` callers, each awaiting its own persist as an actor does, until each has `count`
// acknowledged events; a failed call is retried with the same number. Checks, at each
// acknowledgement, that a statement carrying that event has returned without failing.
async function awaitingCallers(
  journal: PostgresJournal,
  watch: ReturnType<typeof watched>,
  entities: number,
  count: number,
): Promise<{ failures: Map<string, unknown> }> {
  const failures = new Map<string, unknown>();
  await Promise.all(Array.from({ length: entities }, async (_, e) => {
    const id = `entity-${e}`;
    for (let n = 1; n <= count;) {
      try {
        await journal.persist(id, events(n, n));
      } catch (err) {
        failures.set(`${id}/${n}`, err);
        continue;
      }
      const key = `${id}/${n}`;
      assert.ok(
        watch.inserts.some((s) => s.done && !s.failed && s.rows.has(key)),
        `${key} acknowledged before its statement committed`,
      );
      n++;
    }
  }));
  return { failures };
}

async function assertLogs(schema: string, entities: number, count: number): Promise<void> {
  const { rows } = await pool.query(
    `SELECT entity_id, array_agg(sequence_nr::int ORDER BY sequence_nr) AS nrs ` +
      `FROM ${schema}.casty_events WHERE entity_id LIKE 'entity-%' GROUP BY entity_id`,
  );
  assert.equal(rows.length, entities);
  const expected = Array.from({ length: count }, (_, i) => i + 1);
  for (const row of rows) assert.deepEqual(row.nrs, expected, row.entity_id);
}

// A journal on a fresh schema through a watched client, its tables already set up.
async function watchedJournal(timeout?: number, replyLatency = 0) {
  const schema = freshSchema();
  const watch = watched(schema, replyLatency);
  const journal = new PostgresJournal({ sql: watch.client, schema, timeout });
  await journal.persist("warm-up", events(1, 1));
  return { schema, watch, journal, [Symbol.asyncDispose]: () => journal.close() };
}

// A real server-side fault: a BEFORE INSERT trigger on the schema's events table running `body`
// (PL/pgSQL statements that may use NEW), with a sequence `<schema>.once` for faults that fire once.
async function addTrigger(schema: string, name: string, body: string): Promise<void> {
  await pool.query(`CREATE SEQUENCE ${schema}.once`);
  await pool.query(
    `CREATE FUNCTION ${schema}.${name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
      ${body}
      RETURN NEW;
    END $$`,
  );
  await pool.query(
    `CREATE TRIGGER ${name} BEFORE INSERT ON ${schema}.casty_events ` +
      `FOR EACH ROW EXECUTE FUNCTION ${schema}.${name}()`,
  );
}

describe("PostgresJournal pipelining (two statements at the server, no entity in both)", () => {
  it("keeps two statements at the server when every entity awaits its own persist", async () => {
    await using setup = await watchedJournal(undefined, 10);
    const { schema, watch, journal } = setup;
    const before = journal.stats.transactions;
    const { failures } = await awaitingCallers(journal, watch, 600, 5);
    assert.equal(failures.size, 0);
    // The first round goes as one statement (600 calls of one tick); its callers are told in
    // two halves, which then make two groups whose statements are at the server together.
    const sizes = watch.inserts.slice(1).map((s) => s.rows.size);
    assert.deepEqual(sizes.slice(0, 3), [600, 300, 300], `statement sizes ${sizes}`);
    assert.ok(sizes.slice(1).every((n) => n <= 300), `statement sizes ${sizes}`); // never merged
    assert.equal(sizes.reduce((a, b) => a + b), 3000);
    assert.equal(journal.stats.transactions - before, sizes.length);
    assert.equal(watch.mostAtServer(), 2);
    assert.deepEqual(watch.twice, []);
    await assertLogs(schema, 600, 5);
  });

  it("works through a single connection, where the second statement waits in the client", async () => {
    const schema = freshSchema();
    const one = new pg.Client({ connectionString: server.url });
    await one.connect();
    try {
      await using journal = new PostgresJournal({
        sql: { query: (text, params) => one.query(text, params).then((r) => r.rows) },
        schema,
      });
      await Promise.all(Array.from({ length: 400 }, async (_, e) => {
        for (let n = 1; n <= 3; n++) await journal.persist(`entity-${e}`, events(n, n));
      }));
      assert.ok(journal.stats.transactions >= 5, `${journal.stats.transactions} statements`);
      await assertLogs(schema, 400, 3);
    } finally {
      await one.end();
    }
  });

  it("holds back a call whose entity is at the server; a gap after a failure conflicts", async () => {
    await using setup = await watchedJournal();
    const { schema, watch, journal } = setup;
    // x's first event stays 300 ms at the server, then fails there.
    await addTrigger(
      schema,
      "slow_fail",
      "IF NEW.entity_id = 'x' THEN PERFORM pg_sleep(0.3); RAISE EXCEPTION 'x refused'; END IF;",
    );
    const order: string[] = [];
    const x1 = journal.persist("x", events(1, 1)).then(() => order.push("x1"), (err) => {
      order.push("x1 failed");
      return err;
    });
    await new Promise((resolve) => setTimeout(resolve, 50)); // x/1 is at the server now
    const x2 = journal.persist("x", events(2, 2)).then(() => order.push("x2"), (err) => {
      order.push("x2 failed");
      return err;
    });
    await journal.persist("y", events(1, 1)); // a second statement, not held up by x
    order.push("y1");
    const [x1Error, x2Error] = await Promise.all([x1, x2]);
    assert.deepEqual(order, ["y1", "x1 failed", "x2 failed"]);
    assert.ok(x1Error instanceof JournalError && /x refused/.test(x1Error.message));
    // x/2 was never sent with x/1 at the server; once x/1 failed, it is a gap.
    assert.ok(x2Error instanceof JournalConflictError, String(x2Error));
    assert.equal(x2Error.expectedSequenceNr, 1);
    assert.equal(watch.mostAtServer(), 2);
    assert.deepEqual(watch.twice, []);
    assert.equal(await journal.highestSequenceNr("x"), 0);
    assert.equal(await journal.highestSequenceNr("y"), 1);
  });

  it("fails exactly the calls of a failed statement while the other group commits", async () => {
    await using setup = await watchedJournal();
    const { schema, watch, journal } = setup;
    // A real server-side failure, once: a trigger refuses event 3 of entity-0 the first time.
    await addTrigger(
      schema,
      "poison",
      `IF NEW.entity_id = 'entity-0' AND NEW.sequence_nr = 3 THEN
        IF nextval('${schema}.once') = 1 THEN
          RAISE EXCEPTION 'poisoned event %/%', NEW.entity_id, NEW.sequence_nr;
        END IF;
      END IF;`,
    );
    const { failures } = await awaitingCallers(journal, watch, 600, 5);
    const failed = watch.inserts.filter((s) => s.failed);
    assert.equal(failed.length, 1);
    assert.ok(failed[0].rows.has("entity-0/3"));
    // Exactly the calls that statement carried failed, with the server's error; the other
    // group's statements before and after it committed.
    assert.deepEqual([...failures.keys()].sort(), [...failed[0].rows].sort());
    assert.ok(failures.size <= 300, `${failures.size} calls failed`);
    // The other group's event 3 committed in a statement of its own.
    assert.ok(
      watch.inserts.some((s) =>
        s.done && !s.failed && [...s.rows].some((r) => r.endsWith("/3") && !failures.has(r))
      ),
    );
    for (const err of failures.values()) {
      assert.ok(err instanceof JournalError, String(err));
      assert.equal(err.code, "JOURNAL_WRITE");
      assert.match(
        err.message,
        /^Cannot persist events for "entity-\d+" in PostgreSQL schema "t_\d+": poisoned event entity-0\/3$/,
      );
    }
    assert.deepEqual(watch.twice, []);
    // The retries of the same numbers worked, so the failed statement left nothing behind.
    await assertLogs(schema, 600, 5);
  });

  it("fails the calls in flight when the connection is killed, and the next ones work", async () => {
    await using setup = await watchedJournal(10_000);
    const { schema, watch, journal } = setup;
    // The statement that carries event 3 of entity-0 sleeps at the server (once); the test
    // kills its connection meanwhile, as a network failure or a server restart would.
    await addTrigger(
      schema,
      "stall",
      `IF NEW.entity_id = 'entity-0' AND NEW.sequence_nr = 3 THEN
        IF nextval('${schema}.once') = 1 THEN PERFORM pg_sleep(30); END IF;
      END IF;`,
    );
    let killed = 0;
    const killer = (async () => {
      const deadline = Date.now() + 20_000;
      while (killed === 0 && Date.now() < deadline) {
        const { rows } = await pool.query(
          "SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity " +
            "WHERE wait_event = 'PgSleep' AND pid <> pg_backend_pid()",
        );
        killed = rows.filter((r) => r.done).length;
        if (killed === 0) await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    const { failures } = await awaitingCallers(journal, watch, 600, 5);
    await killer;
    assert.equal(killed, 1);
    const failed = watch.inserts.filter((s) => s.failed);
    assert.equal(failed.length, 1);
    assert.deepEqual([...failures.keys()].sort(), [...failed[0].rows].sort());
    for (const err of failures.values()) {
      assert.ok(err instanceof JournalError, String(err));
      assert.equal(err.code, "JOURNAL_WRITE");
      assert.match(err.message, /terminating connection due to administrator command/);
    }
    await assertLogs(schema, 600, 5);
  });
});

describe("PostgresJournal with a server that never answers", () => {
  it("fails the calls after timeout, without blocking the event loop", async () => {
    // A real TCP listener that accepts and stays silent, as a hung server or a dead link would.
    const sockets = new Set<Socket>();
    const blackHole = createServer((socket) => {
      sockets.add(socket);
      socket.on("error", () => {});
    });
    await new Promise<void>((resolve) => blackHole.listen(0, "127.0.0.1", resolve));
    const { port } = blackHole.address() as { port: number };
    const silent = new pg.Pool({ connectionString: `postgres://x@127.0.0.1:${port}/x`, max: 1 });
    silent.on("error", () => {});
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 10);
    try {
      const journal = new PostgresJournal({
        sql: { query: (text, params) => silent.query(text, params).then((r) => r.rows) },
        timeout: 300,
      });
      const started = performance.now();
      await assert.rejects(journal.persist("e", events(1, 1)), (err: unknown) => {
        assert.ok(err instanceof JournalError);
        assert.equal(err.code, "JOURNAL_OPEN");
        assert.equal(
          err.message,
          'Cannot open journal in PostgreSQL schema "public": no answer from the server after 300 ms',
        );
        return true;
      });
      const waited = performance.now() - started;
      assert.ok(waited >= 290 && waited < 3000, `failed after ${waited} ms`);
      assert.ok(ticks >= 10, `only ${ticks} timer ticks while waiting`);
      await journal.close();
    } finally {
      clearInterval(ticker);
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => blackHole.close(resolve));
      await silent.end().catch(() => {});
    }
  });
});
