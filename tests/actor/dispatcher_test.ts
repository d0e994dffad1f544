import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ActorRef, ActorSystem, Behaviors, Mailbox } from "../../mod.ts";
import { waitFor } from "../_helpers/probe.ts";

// More actors than one chunk of the run queue (4096) and more steps (a start and a message
// each) than one batch of the dispatcher (65 536) before it yields to the event loop.
const N = 40_000;

describe("Dispatcher", () => {
  it("runs actors in the order they got work, across queue chunks and batches", async () => {
    await using system = new ActorSystem();
    const order: number[] = [];
    const refs: ActorRef<number>[] = [];
    for (let i = 0; i < N; i++) {
      refs.push(system.spawn(Behaviors.receive<number>((_c, n) => void order.push(n)), `a${i}`));
    }
    for (let i = 0; i < N; i++) refs[i].tell(i);
    // A callback queued now runs when the dispatcher yields between two batches, not after.
    let seenAtYield = -1;
    setImmediate(() => (seenAtYield = order.length));
    await waitFor(() => order.length === N, { timeout: 20_000 });
    assert.ok(seenAtYield > 0 && seenAtYield < N, `handled ${seenAtYield} of ${N} at the yield`);
    for (let i = 0; i < N; i++) if (order[i] !== i) assert.fail(`message ${order[i]} at ${i}`);
  });

  it("runs an actor that got work during a burst after those already waiting", async () => {
    await using system = new ActorSystem();
    const order: string[] = [];
    const late = system.spawn(Behaviors.receive<string>((_c, m) => void order.push(m)), "late");
    const refs: ActorRef<number>[] = [];
    for (let i = 0; i < 5_000; i++) {
      refs.push(system.spawn(
        Behaviors.receive<number>((_c, n) => {
          order.push(`early-${n}`);
          if (n === 0) late.tell("late");
        }),
        `e${i}`,
      ));
    }
    for (let i = 0; i < refs.length; i++) refs[i].tell(i);
    await waitFor(() => order.length === refs.length + 1, { timeout: 20_000 });
    assert.equal(order.indexOf("late"), refs.length, "the late actor ran last");
  });

  it("keeps a bounded mailbox bounded (its configuration is kept apart from the cell)", async () => {
    await using system = new ActorSystem();
    const seen: number[] = [];
    const ref = system.spawn(Behaviors.receive<number>((_c, n) => void seen.push(n)), "b", {
      mailbox: new Mailbox({ capacity: 2, overflow: "dropNew" }),
    });
    for (let i = 0; i < 5; i++) ref.tell(i);
    await waitFor(() => seen.length >= 2, { timeout: 5_000 });
    ref.tell(9);
    await waitFor(() => seen.length === 3, { timeout: 5_000 });
    assert.deepEqual(seen, [0, 1, 9]);
    assert.equal(ref.path, "/b");
  });
});
