// The mailbox keeps its first message in a slot of the cell and makes its ring only when a second
// one comes: order, `undefined` messages, bounded overflow and dead letters across that switch.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ActorRef, ActorSystem, Behaviors, DeadLetter, Mailbox } from "../../mod.ts";
import { waitFor } from "../_helpers/probe.ts";

/** The path of a dead letter's recipient. */
const pathOf = (d: DeadLetter): string =>
  typeof d.recipient === "string" ? d.recipient : d.recipient.path;

type Msg = number | undefined | { readonly reply: ActorRef<unknown[]> };

/** An actor that records what it gets, blocked on a gate until `open()`. */
function recorder(system: ActorSystem, name: string, mailbox?: Mailbox) {
  const gate = Promise.withResolvers<void>();
  const seen: unknown[] = [];
  const ref = system.spawn(
    Behaviors.setup<Msg>(async () => {
      await gate.promise;
      return Behaviors.receive((_c, msg) => {
        if (typeof msg === "object" && msg !== null) msg.reply.tell([...seen]);
        else seen.push(msg);
      });
    }),
    name,
    { mailbox },
  );
  return { ref, seen, open: () => gate.resolve() };
}

describe("Mailbox one-message slot", () => {
  it("keeps order when messages come one at a time, then in bursts, then one again", async () => {
    await using system = new ActorSystem();
    const seen: number[] = [];
    const ref = system.spawn(Behaviors.receive<number>((_c, n) => void seen.push(n)), "r");
    let next = 0;
    for (const burst of [1, 1, 5, 1, 2, 1, 300, 1]) {
      for (let i = 0; i < burst; i++) ref.tell(next++);
      const want = next;
      await waitFor(() => seen.length === want, { what: `${want} messages` });
    }
    assert.deepEqual(seen, Array.from({ length: next }, (_, i) => i));
  });

  it("delivers undefined as a message, alone and behind others", async () => {
    await using system = new ActorSystem();
    const { ref, open } = recorder(system, "u");
    ref.tell(undefined);
    ref.tell(1);
    ref.tell(undefined);
    open();
    assert.deepEqual(await system.ask(ref, (reply) => ({ reply })), [undefined, 1, undefined]);
    ref.tell(undefined);
    assert.deepEqual(await system.ask(ref, (reply) => ({ reply })), [
      undefined,
      1,
      undefined,
      undefined,
    ]);
  });

  it("capacity 1: dropOldest replaces the slot's message, dropNew keeps it", async () => {
    await using system = new ActorSystem();
    const dead: DeadLetter[] = [];
    system.eventStream.subscribe(DeadLetter, (d) => dead.push(d));
    const oldest = recorder(system, "o", new Mailbox({ capacity: 1, overflow: "dropOldest" }));
    const newest = recorder(system, "n", new Mailbox({ capacity: 1, overflow: "dropNew" }));
    for (const n of [1, 2, 3]) {
      oldest.ref.tell(n);
      newest.ref.tell(n);
    }
    assert.deepEqual(
      dead.map((d) => [pathOf(d), d.message]),
      [["/o", 1], ["/n", 2], ["/o", 2], ["/n", 3]],
    );
    oldest.open();
    newest.open();
    await waitFor(() => oldest.seen.length === 1 && newest.seen.length === 1);
    assert.deepEqual([oldest.seen, newest.seen], [[3], [1]]);
  });

  it("dead-letters the slot and the ring in order when the actor stops", async () => {
    await using system = new ActorSystem();
    const dead: unknown[] = [];
    system.eventStream.subscribe(DeadLetter, (d) => {
      if (pathOf(d) === "/s") dead.push(d.message);
    });
    const stopper = system.spawn(
      Behaviors.setup<number>(async () => {
        await new Promise<void>((r) => setTimeout(r, 0));
        return Behaviors.stopped();
      }),
      "s",
    );
    for (let i = 0; i < 4; i++) stopper.tell(i);
    await waitFor(() => dead.length === 4, { what: "4 dead letters" });
    assert.deepEqual(dead, [0, 1, 2, 3]);
  });
});
