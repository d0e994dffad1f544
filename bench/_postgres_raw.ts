// The raw baseline of the PostgreSQL benches: one multi-row INSERT of pre-serialized bytes in the
// journal's own statement shape (one JSON text parameter unpacked by json_to_recordset).
import type { SqlClient } from "../src/postgres/mod.ts";

/** Inserts `batch` rows `entity-0…` with sequence number `n` into `raw_events`. */
export async function insertRawJson(
  sql: SqlClient,
  batch: number,
  n: number,
  base64: string,
): Promise<void> {
  const rows = [];
  for (let i = 0; i < batch; i++) rows.push({ i: `entity-${i}`, s: n, t: Date.now(), b: base64 });
  await sql.query(
    "INSERT INTO raw_events (entity_id, sequence_nr, timestamp, event) " +
      "SELECT i, s, t, decode(b, 'base64') FROM json_to_recordset($1::text::json) " +
      "AS x(i text, s int8, t float8, b text)",
    [JSON.stringify(rows)],
  );
}
