import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ActorRef, ActorSystem, AskTimeoutError, Behaviors } from "../../mod.ts";
import { SimulatedClock } from "../../src/testing/mod.ts";
import { probe, settle } from "../_helpers/probe.ts";

describe("Scheduler (simulated clock)", () => {
  it("ticks at every interval, schedules once, and cancels by key", async () => {
    const clock = new SimulatedClock();
    await using system = new ActorSystem({ clock });
    const p = probe<string>(system);
    system.tick("report", p.ref, "tick", 100);
    system.schedule("once", p.ref, "once", 250);
    clock.advance(99);
    await settle();
    assert.deepEqual(p.messages, []);
    clock.advance(1);
    await settle();
    assert.deepEqual(p.messages, ["tick"]);
    clock.advance(100);
    await settle();
    assert.deepEqual(p.messages, ["tick", "tick"]);
    clock.advance(50);
    await settle();
    assert.deepEqual(p.messages, ["tick", "tick", "once"]);
    clock.advance(50);
    await settle();
    assert.deepEqual(p.messages, ["tick", "tick", "once", "tick"]);
    assert.equal(system.cancelSchedule("report"), true);
    assert.equal(system.cancelSchedule("once"), false, "a fired one-shot is gone");
    clock.advance(1000);
    await settle();
    assert.equal(p.messages.length, 4);
  });

  it("replaces a schedule that uses the same key", async () => {
    const clock = new SimulatedClock();
    await using system = new ActorSystem({ clock });
    const p = probe<string>(system);
    system.schedule("k", p.ref, "first", 100);
    system.schedule("k", p.ref, "second", 200);
    clock.advance(1000);
    await settle();
    assert.deepEqual(p.messages, ["second"]);
  });

  it("keeps internal timers out of reach of user keys, and cancels all at shutdown", async () => {
    const clock = new SimulatedClock();
    const system = new ActorSystem({ clock });
    const p = probe<string>(system);
    let internalFired = 0;
    system.scheduler.internal(() => internalFired++, 100);
    assert.equal(system.cancelSchedule("gossip"), false);
    system.tick("gossip", p.ref, "user", 50);
    clock.advance(100);
    assert.equal(internalFired, 1);
    system.scheduler.internal(() => internalFired++, 100);
    system.tick("t2", p.ref, "x", 10);
    await system.shutdown();
    assert.equal(system.scheduler.size, 0);
    assert.equal(clock.pending, 0);
    clock.advance(1000);
    assert.equal(internalFired, 1);
  });

  it("times out an ask deterministically on the simulated clock", async () => {
    const clock = new SimulatedClock();
    await using system = new ActorSystem({ clock });
    const silent = system.spawn(Behaviors.ignore<{ replyTo: ActorRef<number> }>(), "silent");
    let outcome = "pending";
    const p = system.ask(silent, (replyTo) => ({ replyTo }), { timeout: 500 }).catch((e) => {
      outcome = e instanceof AskTimeoutError ? "timeout" : "other";
    });
    clock.advance(499);
    await settle();
    assert.equal(outcome, "pending");
    clock.advance(1);
    await p;
    assert.equal(outcome, "timeout");
  });

  it("validates intervals and delays", async () => {
    await using system = new ActorSystem();
    const p = probe<string>(system);
    assert.throws(() => system.tick("a", p.ref, "x", 0), RangeError);
    assert.throws(() => system.schedule("b", p.ref, "x", -1), RangeError);
  });
});
