import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  type ActorRef,
  ActorSystem,
  Behaviors,
  DeadLetter,
  Mailbox,
  MailboxFullError,
} from "../../mod.ts";
import { waitFor } from "../_helpers/probe.ts";

type Msg = number | { replyTo: ActorRef<number[]> };

/** An actor that blocks on a gate before handling anything, so its mailbox fills up. */
function gated(system: ActorSystem, mailbox: Mailbox) {
  const gate = Promise.withResolvers<void>();
  const seen: number[] = [];
  const ref = system.spawn(
    Behaviors.setup<Msg>(async () => {
      await gate.promise;
      return Behaviors.receive((_c, msg) => {
        if (typeof msg === "number") seen.push(msg);
        else msg.replyTo.tell([...seen]);
      });
    }),
    "gated",
    { mailbox },
  );
  return { ref, seen, open: () => gate.resolve() };
}

describe("Mailbox", () => {
  it("is unbounded by default", async () => {
    await using system = new ActorSystem();
    const { ref, open } = gated(system, Mailbox.unbounded);
    for (let i = 0; i < 10_000; i++) ref.tell(i);
    open();
    const seen = await system.ask(ref, (replyTo) => ({ replyTo }));
    assert.equal(seen.length, 10_000);
    assert.equal(seen[9_999], 9_999);
  });

  it("dropNew drops incoming messages as DeadLetters", async () => {
    await using system = new ActorSystem();
    const dead: DeadLetter[] = [];
    system.eventStream.subscribe(DeadLetter, (d) => dead.push(d));
    const { ref, open, seen } = gated(system, new Mailbox({ capacity: 3, overflow: "dropNew" }));
    for (let i = 0; i < 5; i++) ref.tell(i);
    assert.deepEqual(dead.map((d) => [d.message, d.reason]), [[3, "mailboxFull"], [
      4,
      "mailboxFull",
    ]]);
    open();
    await waitFor(() => seen.length === 3);
    assert.deepEqual(await system.ask(ref, (replyTo) => ({ replyTo })), [0, 1, 2]);
  });

  it("dropOldest evicts the head as a DeadLetter", async () => {
    await using system = new ActorSystem();
    const dead: DeadLetter[] = [];
    system.eventStream.subscribe(DeadLetter, (d) => dead.push(d));
    const { ref, open } = gated(system, new Mailbox({ capacity: 3, overflow: "dropOldest" }));
    for (let i = 0; i < 5; i++) ref.tell(i);
    assert.deepEqual(dead.map((d) => d.message), [0, 1]);
    open();
    // The ask itself evicts 2 from the full mailbox: the survivors are 3 and 4.
    assert.deepEqual(await system.ask(ref, (replyTo) => ({ replyTo })), [3, 4]);
  });

  it("backpressure: tell throws MailboxFullError and send() waits for room", async () => {
    await using system = new ActorSystem();
    const { ref, open, seen } = gated(
      system,
      new Mailbox({ capacity: 2, overflow: "backpressure" }),
    );
    ref.tell(0);
    ref.tell(1);
    assert.throws(() => ref.tell(2), (err: unknown) => {
      assert.ok(err instanceof MailboxFullError);
      assert.equal(err.unsent, 2);
      assert.equal(err.capacity, 2);
      assert.equal(err.message, 'Cannot tell actor "/gated": mailbox full (capacity 2)');
      return true;
    });
    let sent = false;
    const pending = ref.send(2).then(() => (sent = true));
    await new Promise((r) => setTimeout(r, 5));
    assert.equal(sent, false, "send waits while the mailbox is full");
    open();
    await pending;
    assert.equal(sent, true);
    await waitFor(() => seen.length === 3);
    const got = await system.ask(ref, (replyTo) => ({ replyTo }));
    assert.deepEqual(got, [0, 1, 2]);
  });

  it("validates its options", () => {
    assert.throws(() => new Mailbox({ capacity: 0 }), RangeError);
    assert.throws(() => new Mailbox({ capacity: 1.5 }), RangeError);
    assert.throws(() => new Mailbox({ overflow: "reject" as never }), TypeError);
  });

  it("dead-letters messages left in the mailbox when the actor stops", async () => {
    await using system = new ActorSystem();
    const dead: DeadLetter[] = [];
    system.eventStream.subscribe(DeadLetter, (d) => dead.push(d));
    const ref = system.spawn(
      Behaviors.receive<string>((_c, m) => (m === "stop" ? Behaviors.stopped() : undefined)),
      "s",
    );
    ref.tell("stop");
    ref.tell("lost-1");
    ref.tell("lost-2");
    await waitFor(() => dead.length === 2);
    assert.deepEqual(dead.map((d) => [d.message, d.reason, d.recipient]), [[
      "lost-1",
      "stopped",
      ref,
    ], ["lost-2", "stopped", ref]]);
    ref.tell("later");
    assert.equal(dead.length, 3);
  });
});
