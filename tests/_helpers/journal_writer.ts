// A child process for the journal crash test, runnable with `deno run -A` and with `bun`.
//
// Usage: journal_writer.ts <db path> <entities> <seconds>
// Each entity persists batches of 1–3 events in a loop (entities run concurrently, so their
// calls share group commits) and prints "<entity> <last sequence number>" after every
// acknowledged persist. It stops on its own after <seconds>, so a test that fails to kill it
// leaves nothing behind for long.

import process from "node:process";
import { SqliteJournal } from "../../src/persistence/sqlite_journal.ts";

const [path, entitiesArg = "4", secondsArg = "60"] = process.argv.slice(2);
if (!path) {
  console.error("usage: journal_writer.ts <db path> [entities] [seconds]");
  process.exit(2);
}
const deadline = Date.now() + Number(secondsArg) * 1000;
const journal = new SqliteJournal({ path });

async function write(entityId: string): Promise<void> {
  let next = (await journal.highestSequenceNr(entityId)) + 1;
  while (Date.now() < deadline) {
    const size = (next % 3) + 1;
    const batch = [];
    for (let i = 0; i < size; i++) {
      const sequenceNr = next + i;
      batch.push({ sequenceNr, event: { n: sequenceNr, at: new Date() }, timestamp: Date.now() });
    }
    await journal.persist(entityId, batch);
    next += size;
    process.stdout.write(`${entityId} ${next - 1}\n`);
  }
}

const entities = Array.from({ length: Number(entitiesArg) }, (_, i) => `entity-${i}`);
await Promise.all(entities.map(write));
await journal.close();
