import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { InMemoryJournal } from "../../src/persistence/in_memory_journal.ts";
import { journalContract } from "./_journal_contract.ts";

journalContract("InMemoryJournal", () => new InMemoryJournal());

describe("InMemoryJournal", () => {
  it("keeps event and state values as given", async () => {
    await using journal = new InMemoryJournal();
    const event = { at: new Date(0), fn: () => 1 };
    const state = new Map([["k", 1n]]);
    await journal.persist("e", [{ sequenceNr: 1, event, timestamp: 0 }]);
    await journal.saveSnapshot("e", { sequenceNr: 1, state, timestamp: 0 });
    assert.equal((await journal.load("e"))[0].event, event);
    assert.equal((await journal.loadSnapshot("e"))?.state, state);
  });
});
