import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  ActorEvent,
  ActorStarted,
  ActorStopped,
  ActorSystem,
  Behaviors,
  DeadLetter,
  EventStream,
} from "../../mod.ts";
import { memoryLogger, probe, waitFor } from "../_helpers/probe.ts";

describe("EventStream", () => {
  it("matches subclasses and stops after unsubscribe", () => {
    const stream = new EventStream();
    const got: string[] = [];
    const ref = { path: "/x" } as never;
    const off = stream.subscribe(ActorEvent, (e) => got.push(e.constructor.name));
    const offStarted = stream.subscribe(ActorStarted, () => got.push("started-only"));
    stream.publish(new ActorStarted(ref));
    stream.publish(new ActorStopped(ref));
    off();
    stream.publish(new ActorStopped(ref));
    offStarted();
    stream.publish(new ActorStarted(ref));
    assert.deepEqual(got, ["ActorStarted", "started-only", "ActorStopped"]);
    assert.equal(stream.size, 0);
  });

  it("keeps delivering to others when a subscriber throws", () => {
    const logger = memoryLogger();
    const stream = new EventStream(logger);
    const got: unknown[] = [];
    stream.subscribe(DeadLetter, () => {
      throw new Error("bad subscriber");
    });
    stream.subscribe(DeadLetter, (d) => got.push(d.message));
    stream.publish(new DeadLetter("m", "/p", "unknownPath"));
    assert.deepEqual(got, ["m"]);
    assert.ok(logger.lines.some((l) => l.includes("bad subscriber")));
  });

  it("delivers to an actor ref subscriber", async () => {
    await using system = new ActorSystem();
    const p = probe<DeadLetter>(system);
    system.eventStream.subscribe(DeadLetter, p.ref);
    system.eventStream.publish(new DeadLetter(1, "/nobody", "unknownPath"));
    const [d] = await p.expect(1);
    assert.equal(d.message, 1);
  });

  it("receives ActorStarted and ActorStopped for real actors, and DeadLetters for tells to stopped ones", async () => {
    await using system = new ActorSystem();
    const events: string[] = [];
    system.eventStream.subscribe(ActorStarted, (e) => events.push(`started ${e.ref.path}`));
    system.eventStream.subscribe(ActorStopped, (e) => events.push(`stopped ${e.ref.path}`));
    system.eventStream.subscribe(
      DeadLetter,
      (d) => events.push(`dead ${String(d.message)} ${d.reason}`),
    );
    const ref = system.spawn(Behaviors.receive<string>(() => Behaviors.stopped()), "short");
    ref.tell("bye");
    await waitFor(() => events.length >= 2);
    ref.tell("ghost");
    assert.deepEqual(events, ["started /short", "stopped /short", "dead ghost stopped"]);
  });
});
