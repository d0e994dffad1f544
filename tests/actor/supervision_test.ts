import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  type ActorRef,
  ActorRestarted,
  ActorSystem,
  type Behavior,
  Behaviors,
  OneForOneStrategy,
} from "../../mod.ts";
import { SimulatedClock } from "../../src/testing/mod.ts";
import { memoryLogger, probe, settle, waitFor } from "../_helpers/probe.ts";

type Msg = { type: "crash"; error?: Error } | { type: "add"; n: number } | {
  type: "get";
  replyTo: ActorRef<number>;
};

const counter = (n = 0): Behavior<Msg> =>
  Behaviors.receive((_ctx, msg) => {
    switch (msg.type) {
      case "crash":
        throw msg.error ?? new Error("boom");
      case "add":
        return counter(n + msg.n);
      case "get":
        msg.replyTo.tell(n);
    }
  });

describe("OneForOneStrategy", () => {
  it("restarts with fresh state, keeps the mailbox, and reports the real error", async () => {
    await using system = new ActorSystem({ logger: memoryLogger() });
    const restarts: ActorRestarted[] = [];
    system.eventStream.subscribe(ActorRestarted, (e) => restarts.push(e));
    const ref = system.spawn(Behaviors.supervise(counter(), new OneForOneStrategy()), "w");
    ref.tell({ type: "add", n: 5 });
    const error = new RangeError("transient");
    ref.tell({ type: "crash", error });
    ref.tell({ type: "add", n: 2 });
    assert.equal(await system.ask(ref, (replyTo) => ({ type: "get", replyTo })), 2);
    assert.equal(restarts.length, 1);
    assert.equal(restarts[0].error, error);
  });

  it("stops the actor once restarts exceed maxRestarts within the window", async () => {
    const clock = new SimulatedClock();
    await using system = new ActorSystem({ logger: memoryLogger(), clock });
    const ref = system.spawn(
      Behaviors.supervise(counter(), new OneForOneStrategy({ maxRestarts: 2, within: 1000 })),
      "fragile",
    );
    ref.tell({ type: "crash" });
    ref.tell({ type: "crash" });
    await settle();
    assert.ok(system.lookup("/fragile"), "two restarts are allowed");
    ref.tell({ type: "crash" });
    await waitFor(() => system.lookup("/fragile") === undefined, {
      what: "stop after third failure",
    });
  });

  it("forgets restarts older than the sliding window", async () => {
    const clock = new SimulatedClock();
    await using system = new ActorSystem({ logger: memoryLogger(), clock });
    const ref = system.spawn(
      Behaviors.supervise(counter(), new OneForOneStrategy({ maxRestarts: 1, within: 1000 })),
      "w",
    );
    for (let i = 0; i < 5; i++) {
      ref.tell({ type: "crash" });
      await settle(2);
      clock.advance(1001);
    }
    assert.ok(system.lookup("/w"), "one restart per window never exceeds the limit");
    ref.tell({ type: "crash" });
    ref.tell({ type: "crash" });
    await waitFor(() => system.lookup("/w") === undefined);
  });

  it("stops when the decider says stop", async () => {
    await using system = new ActorSystem({ logger: memoryLogger() });
    const ref = system.spawn(
      Behaviors.supervise(
        counter(),
        new OneForOneStrategy({ decider: (e) => (e instanceof TypeError ? "stop" : "restart") }),
      ),
      "w",
    );
    ref.tell({ type: "crash", error: new RangeError("ok to restart") });
    ref.tell({ type: "add", n: 1 });
    assert.equal(await system.ask(ref, (replyTo) => ({ type: "get", replyTo })), 1);
    ref.tell({ type: "crash", error: new TypeError("fatal") });
    await waitFor(() => system.lookup("/w") === undefined);
  });

  it("stops an unsupervised actor on failure", async () => {
    await using system = new ActorSystem({ logger: memoryLogger() });
    const ref = system.spawn(counter(), "plain");
    ref.tell({ type: "crash" });
    await waitFor(() => system.lookup("/plain") === undefined);
  });

  it("escalates to the parent, which restarts and so restarts its children", async () => {
    await using system = new ActorSystem({ logger: memoryLogger() });
    const setups = probe<string>(system, "setups");
    const restarts: string[] = [];
    system.eventStream.subscribe(
      ActorRestarted,
      (e) => restarts.push(`${e.ref.path}:${(e.error as Error).message}`),
    );
    type P = { type: "forward"; msg: Msg };
    const parent = Behaviors.supervise(
      Behaviors.setup<P>((ctx) => {
        setups.ref.tell("parent");
        const child = ctx.spawn(
          Behaviors.supervise(
            Behaviors.setup<Msg>(() => {
              setups.ref.tell("child");
              return counter();
            }),
            new OneForOneStrategy({ decider: () => "escalate" }),
          ),
          "child",
        );
        return Behaviors.receive((_c, m) => child.tell(m.msg));
      }),
      new OneForOneStrategy(),
    );
    const ref = system.spawn(parent, "parent");
    await setups.expect(2);
    ref.tell({ type: "forward", msg: { type: "crash", error: new Error("child broke") } });
    await setups.expect(4);
    assert.deepEqual(setups.messages, ["parent", "child", "parent", "child"]);
    assert.deepEqual(restarts, ["/parent:child broke"]);
  });

  it("stops a root actor that escalates, since it has no parent", async () => {
    await using system = new ActorSystem({ logger: memoryLogger() });
    const ref = system.spawn(
      Behaviors.supervise(counter(), new OneForOneStrategy({ decider: () => "escalate" })),
      "r",
    );
    ref.tell({ type: "crash" });
    await waitFor(() => system.lookup("/r") === undefined);
  });

  it("waits the backoff before restarting, keeping messages meanwhile", async () => {
    const clock = new SimulatedClock();
    await using system = new ActorSystem({ logger: memoryLogger(), clock });
    const restarts: ActorRestarted[] = [];
    system.eventStream.subscribe(ActorRestarted, (e) => restarts.push(e));
    const strategy = new OneForOneStrategy({
      maxRestarts: 10,
      backoff: { min: 100, max: 1000, randomFactor: 0 },
    });
    assert.equal(strategy.restartDelay(1), 100);
    assert.equal(strategy.restartDelay(2), 200);
    assert.equal(strategy.restartDelay(10), 1000);
    const ref = system.spawn(Behaviors.supervise(counter(), strategy), "b");
    ref.tell({ type: "crash" });
    ref.tell({ type: "add", n: 3 });
    await settle();
    assert.equal(restarts.length, 0, "no restart before the backoff");
    clock.advance(99);
    await settle();
    assert.equal(restarts.length, 0);
    clock.advance(1);
    await settle();
    assert.equal(restarts.length, 1);
    const answer = system.ask(ref, (replyTo) => ({ type: "get", replyTo }), { timeout: 1000 });
    await settle();
    assert.equal(await answer, 3, "the message sent during backoff was kept");
  });

  it("validates its options", () => {
    assert.throws(() => new OneForOneStrategy({ maxRestarts: -1 }), RangeError);
    assert.throws(() => new OneForOneStrategy({ within: 0 }), RangeError);
    assert.throws(() => new OneForOneStrategy({ backoff: { min: 10, max: 5 } }), RangeError);
  });
});

describe("Behaviors.withLifecycle()", () => {
  it("runs hooks in the documented order across a restart and a stop", async () => {
    await using system = new ActorSystem({ logger: memoryLogger() });
    const events: string[] = [];
    const ref = system.spawn(
      Behaviors.supervise(
        Behaviors.withLifecycle(
          Behaviors.setup<Msg | "stop">(() => {
            events.push("setup");
            return Behaviors.receive((_c, msg) => {
              if (msg === "stop") return Behaviors.stopped();
              if (msg.type === "crash") throw new Error("x");
              events.push(`msg ${msg.type}`);
            });
          }),
          {
            preStart: () => void events.push("preStart"),
            preRestart: (_c, err) => void events.push(`preRestart ${(err as Error).message}`),
            postRestart: async () => {
              await Promise.resolve();
              events.push("postRestart");
            },
            postStop: () => void events.push("postStop"),
          },
        ),
        new OneForOneStrategy(),
      ),
      "hooks",
    );
    ref.tell({ type: "add", n: 1 });
    ref.tell({ type: "crash" });
    ref.tell({ type: "add", n: 2 });
    ref.tell("stop");
    await waitFor(() => system.lookup("/hooks") === undefined);
    assert.deepEqual(events, [
      "preStart",
      "setup",
      "msg add",
      "preRestart x",
      "postRestart",
      "setup",
      "msg add",
      "postStop",
    ]);
  });

  it("runs postStop and preStart around a restart when no restart hooks are given", async () => {
    await using system = new ActorSystem({ logger: memoryLogger() });
    const events: string[] = [];
    const ref = system.spawn(
      Behaviors.supervise(
        Behaviors.withLifecycle(counter(), {
          preStart: () => void events.push("preStart"),
          postStop: () => void events.push("postStop"),
        }),
        new OneForOneStrategy(),
      ),
      "res",
    );
    ref.tell({ type: "crash" });
    assert.equal(await system.ask(ref, (replyTo) => ({ type: "get", replyTo })), 0);
    assert.deepEqual(events, ["preStart", "postStop", "preStart"]);
  });
});
