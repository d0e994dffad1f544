// A journal written to the four methods of the API (persist, load, saveSnapshot, loadSnapshot)
// compiles as an EventJournal and works with event-sourced actors; the optional extras have
// fallbacks built on the four.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  type ActorRef,
  ActorSystem,
  Behaviors,
  closeJournal,
  type EventJournal,
  highestSequenceNrOf,
  JournalConflictError,
  loadEvents,
  type PersistedEvent,
  type Snapshot,
  SnapshotEvery,
} from "../../mod.ts";

/** The smallest honest journal a user might write: no paging, no highestSequenceNr, no close. */
class FourMethodJournal implements EventJournal {
  readonly logs = new Map<string, PersistedEvent[]>();
  readonly snapshots = new Map<string, Snapshot>();
  loads = 0;

  persist(entityId: string, events: readonly PersistedEvent[]): Promise<void> {
    const log = this.logs.get(entityId) ?? [];
    for (let i = 0; i < events.length; i++) {
      if (events[i].sequenceNr !== log.length + 1 + i) {
        return Promise.reject(
          new JournalConflictError(entityId, events[i].sequenceNr, log.length + 1 + i),
        );
      }
    }
    this.logs.set(entityId, [...log, ...structuredClone(events)]);
    return Promise.resolve();
  }

  // Ignores any paging options on purpose: everything from `fromSequenceNr` on.
  load(entityId: string, fromSequenceNr = 1): Promise<PersistedEvent[]> {
    this.loads++;
    const log = this.logs.get(entityId) ?? [];
    return Promise.resolve(structuredClone(log.filter((e) => e.sequenceNr >= fromSequenceNr)));
  }

  saveSnapshot(entityId: string, snapshot: Snapshot): Promise<void> {
    const prior = this.snapshots.get(entityId);
    if (!prior || prior.sequenceNr <= snapshot.sequenceNr) {
      this.snapshots.set(entityId, structuredClone(snapshot));
    }
    return Promise.resolve();
  }

  loadSnapshot(entityId: string): Promise<Snapshot | undefined> {
    return Promise.resolve(structuredClone(this.snapshots.get(entityId)));
  }
}

type State = { balance: number; count: number };
type Cmd =
  | { type: "deposit"; amount: number; replyTo: ActorRef<State> }
  | { type: "get"; replyTo: ActorRef<State> };

const account = (entityId: string, journal: EventJournal, snapshotEvery?: number) =>
  Behaviors.eventSourced<Cmd, { amount: number }, State>({
    entityId,
    journal,
    initialState: { balance: 0, count: 0 },
    onEvent: (s, e) => ({ balance: s.balance + e.amount, count: s.count + 1 }),
    onCommand: (_ctx, state, cmd) => {
      if (cmd.type === "get") {
        cmd.replyTo.tell(state);
        return undefined;
      }
      return Behaviors.persisted([{ amount: cmd.amount }], { reply: (s) => cmd.replyTo.tell(s) });
    },
    snapshotPolicy: snapshotEvery ? new SnapshotEvery(snapshotEvery) : undefined,
    replayPageSize: 10,
  });

describe("A journal written to the four methods", () => {
  it("runs event-sourced actors and recovers them, paging or not", async () => {
    const journal = new FourMethodJournal();
    await using system = new ActorSystem({ name: "four", logLevel: "error" });
    const first = system.spawn(account("acc-1", journal), "acc-1-a");
    for (let n = 1; n <= 35; n++) {
      const s = await system.ask(first, (replyTo) => ({ type: "deposit", amount: n, replyTo }));
      assert.equal(s.count, n);
    }
    // A second incarnation replays 35 events in pages of 10 from a journal that ignores `max`.
    const loadsBefore = journal.loads;
    const second = system.spawn(account("acc-1", journal), "acc-1-b");
    const recovered = await system.ask(second, (replyTo) => ({ type: "get", replyTo }));
    assert.deepEqual(recovered, { balance: (35 * 36) / 2, count: 35 });
    assert.equal(journal.loads - loadsBefore, 4, "pages 1-10, 11-20, 21-30, 31-35");
  });

  it("recovers from its snapshot plus the later events", async () => {
    const journal = new FourMethodJournal();
    await using system = new ActorSystem({ name: "four-snap", logLevel: "error" });
    const ref = system.spawn(account("acc-2", journal, 5), "acc-2-a");
    for (let n = 1; n <= 12; n++) {
      await system.ask(ref, (replyTo) => ({ type: "deposit", amount: 1, replyTo }));
    }
    assert.equal(journal.snapshots.get("acc-2")?.sequenceNr, 10);
    // Tamper with the events the snapshot covers: recovery must not read them.
    const log = journal.logs.get("acc-2")!;
    for (let i = 0; i < 10; i++) log[i] = { ...log[i], event: { amount: 1000 } };
    const again = system.spawn(account("acc-2", journal, 5), "acc-2-b");
    const s = await system.ask(again, (replyTo) => ({ type: "get", replyTo }));
    assert.deepEqual(s, { balance: 12, count: 12 });
  });

  it("gets highestSequenceNr, bounded loads and close from the fallbacks", async () => {
    const journal = new FourMethodJournal();
    const events = Array.from({ length: 2500 }, (_, i) => ({
      sequenceNr: i + 1,
      event: i + 1,
      timestamp: 0,
    }));
    await journal.persist("long", events);
    assert.equal(await highestSequenceNrOf(journal, "long"), 2500);
    assert.equal(await highestSequenceNrOf(journal, "nobody"), 0);
    const page = await loadEvents(journal, "long", 7, { toSequenceNr: 9 });
    assert.deepEqual(page.map((e) => e.sequenceNr), [7, 8, 9]);
    assert.deepEqual((await loadEvents(journal, "long", 2499, { max: 5 })).map((e) => e.event), [
      2499,
      2500,
    ]);
    assert.equal((await loadEvents(journal, "long", 1, { max: 3 })).length, 3);
    await closeJournal(journal); // no close method: nothing to do, and no error
    await assert.rejects(journal.persist("long", events.slice(0, 1)), JournalConflictError);
  });
});
