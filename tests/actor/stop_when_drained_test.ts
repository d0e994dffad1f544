import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  type ActorContext,
  type ActorRef,
  ActorSystem,
  Behaviors,
  DeadLetter,
  Terminated,
} from "../../mod.ts";
import { stopWhenDrained } from "../../src/actor/internal.ts";
import { waitFor } from "../_helpers/probe.ts";

type ParentMsg =
  | { type: "burst"; n: number; then: "drain" | "drainThenStop" | "none" }
  | { type: "drain" }
  | { type: "stopNow" }
  | { type: "drainOther"; ref: ActorRef<never>; replyTo: ActorRef<string> }
  | Terminated;

/** A parent that sends its child bursts and asks it to stop; records what happens. */
function harness(
  system: ActorSystem,
  child: () => ReturnType<typeof Behaviors.receive<number>>,
  name = "parent",
) {
  const log: string[] = [];
  const parent = system.spawn(
    Behaviors.setup<ParentMsg>((ctx) => {
      const c = ctx.spawn(child(), "child");
      ctx.watch(c);
      return Behaviors.receive<ParentMsg>((_ctx, msg) => {
        if (msg instanceof Terminated) {
          log.push("terminated");
          return;
        }
        switch (msg.type) {
          case "burst":
            for (let i = 1; i <= msg.n; i++) c.tell(i);
            if (msg.then !== "none") {
              stopWhenDrained(ctx as ActorContext<unknown>, c as ActorRef<never>);
            }
            if (msg.then === "drainThenStop") ctx.stop(c as ActorRef<never>);
            return;
          case "drain":
            stopWhenDrained(ctx as ActorContext<unknown>, c as ActorRef<never>);
            return;
          case "stopNow":
            ctx.stop(c as ActorRef<never>);
            return;
          case "drainOther":
            try {
              stopWhenDrained(ctx as ActorContext<unknown>, msg.ref);
              msg.replyTo.tell("no error");
            } catch (err) {
              msg.replyTo.tell(`${(err as Error).name}: ${(err as Error).message}`);
            }
            return;
        }
      });
    }),
    name,
  );
  return { parent, log };
}

describe("stopWhenDrained (the actor layer's drain-then-stop)", () => {
  it("stops a child only after it handled every message already in its mailbox", async () => {
    await using system = new ActorSystem();
    const handled: number[] = [];
    const { parent, log } = harness(
      system,
      () => Behaviors.receive<number>((_ctx, n) => void handled.push(n)),
    );
    parent.tell({ type: "burst", n: 500, then: "drain" });
    await waitFor(() => log.includes("terminated"), { what: "the child to stop" });
    assert.deepEqual(handled, Array.from({ length: 500 }, (_, i) => i + 1));
    assert.deepEqual(log, ["terminated"]);
  });

  it("stops an idle child at once, and waits for a handler that is still running", async () => {
    await using system = new ActorSystem();
    let release: () => void = () => {};
    let started = false;
    const handled: number[] = [];
    const { parent, log } = harness(
      system,
      () =>
        Behaviors.receive<number>(async (_ctx, n) => {
          if (n === 1) {
            started = true;
            await new Promise<void>((r) => (release = r));
          }
          handled.push(n);
        }),
    );
    parent.tell({ type: "burst", n: 3, then: "none" });
    await waitFor(() => started, { what: "the first message" });
    parent.tell({ type: "drain" });
    // The child is busy with message 1 (and 2, 3 wait): it must not stop yet.
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(log.length, 0);
    release();
    await waitFor(() => log.includes("terminated"), { what: "the child to stop" });
    assert.deepEqual(handled, [1, 2, 3]);

    // An idle child: stops without any message.
    const idle = harness(system, () => Behaviors.receive<number>(() => {}), "idle");
    await new Promise((r) => setTimeout(r, 5));
    idle.parent.tell({ type: "drain" });
    await waitFor(() => idle.log.includes("terminated"), { what: "the idle child to stop" });
  });

  it("a later ctx.stop still stops at once; what was queued becomes dead letters", async () => {
    await using system = new ActorSystem();
    const dead: DeadLetter[] = [];
    system.eventStream.subscribe(DeadLetter, (d) => dead.push(d));
    const handled: number[] = [];
    const { parent, log } = harness(
      system,
      () => Behaviors.receive<number>((_ctx, n) => void handled.push(n)),
    );
    parent.tell({ type: "burst", n: 100, then: "drainThenStop" });
    await waitFor(() => log.includes("terminated"), { what: "the child to stop" });
    assert.equal(handled.length, 0);
    await waitFor(() => dead.length === 100, { what: "100 dead letters" });
    assert.deepEqual(dead.map((d) => d.message), Array.from({ length: 100 }, (_, i) => i + 1));
  });

  it("refuses an actor that is not a direct child", async () => {
    await using system = new ActorSystem();
    const other = system.spawn(Behaviors.ignore<number>(), "other");
    const { parent } = harness(system, () => Behaviors.ignore<number>());
    const reply = await system.ask<ParentMsg, string>(
      parent,
      (replyTo) => ({ type: "drainOther", ref: other as ActorRef<never>, replyTo }),
      { timeout: 3000 },
    );
    assert.equal(
      reply,
      'TypeError: Cannot stop "/other" from "/parent": only direct children can be stopped',
    );
  });
});
