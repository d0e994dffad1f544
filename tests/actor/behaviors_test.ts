import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  type ActorRef,
  ActorRestarted,
  ActorSystem,
  type Behavior,
  Behaviors,
  UnhandledMessage,
} from "../../mod.ts";
import { memoryLogger, probe, waitFor } from "../_helpers/probe.ts";

type Msg = { type: "add"; n: number } | { type: "get"; replyTo: ActorRef<number> } | {
  type: "other";
};

describe("Behaviors", () => {
  it("keeps the behavior when a handler returns undefined or same()", async () => {
    await using system = new ActorSystem();
    let total = 0;
    const ref = system.spawn(
      Behaviors.receive<Msg>((_ctx, msg) => {
        if (msg.type === "add") {
          total += msg.n;
          return msg.n % 2 === 0 ? Behaviors.same() : undefined;
        }
        if (msg.type === "get") msg.replyTo.tell(total);
      }),
      "acc",
    );
    for (let i = 1; i <= 4; i++) ref.tell({ type: "add", n: i });
    assert.equal(await system.ask(ref, (replyTo) => ({ type: "get", replyTo })), 10);
  });

  it("stops the actor on stopped() and dead-letters later messages", async () => {
    await using system = new ActorSystem();
    const seen: string[] = [];
    const ref = system.spawn(
      Behaviors.receive<string>((_ctx, msg) => {
        seen.push(msg);
        if (msg === "stop") return Behaviors.stopped();
      }),
      "stopper",
    );
    ref.tell("a");
    ref.tell("stop");
    ref.tell("after");
    await waitFor(() => system.lookup("/stopper") === undefined);
    assert.deepEqual(seen, ["a", "stop"]);
  });

  it("publishes UnhandledMessage for unhandled() and keeps going", async () => {
    await using system = new ActorSystem();
    const unhandled: UnhandledMessage[] = [];
    system.eventStream.subscribe(UnhandledMessage, (u) => unhandled.push(u));
    const ref = system.spawn(
      Behaviors.receive<Msg>((_ctx, msg) => {
        if (msg.type === "get") {
          msg.replyTo.tell(unhandled.length);
          return;
        }
        return Behaviors.unhandled();
      }),
      "picky",
    );
    ref.tell({ type: "other" });
    assert.equal(await system.ask(ref, (replyTo) => ({ type: "get", replyTo })), 1);
    assert.deepEqual(unhandled[0].message, { type: "other" });
    assert.equal(unhandled[0].ref, ref);
  });

  it("ignore() swallows everything", async () => {
    await using system = new ActorSystem();
    const ref = system.spawn(Behaviors.ignore<string>(), "void");
    ref.tell("x");
    await new Promise((r) => setTimeout(r, 5));
    assert.ok(system.lookup("/void"));
  });

  it("restart() resets state, re-runs setup and publishes ActorRestarted without error", async () => {
    await using system = new ActorSystem();
    const restarted: ActorRestarted[] = [];
    system.eventStream.subscribe(ActorRestarted, (e) => restarted.push(e));
    let setups = 0;
    const counter = (n: number): Behavior<Msg> =>
      Behaviors.receive((_ctx, msg) => {
        if (msg.type === "add") return counter(n + msg.n);
        if (msg.type === "get") msg.replyTo.tell(n);
        else return Behaviors.restart();
      });
    const ref = system.spawn(Behaviors.setup<Msg>(() => (setups++, counter(0))), "c");
    ref.tell({ type: "add", n: 5 });
    assert.equal(await system.ask(ref, (replyTo) => ({ type: "get", replyTo })), 5);
    ref.tell({ type: "other" });
    assert.equal(await system.ask(ref, (replyTo) => ({ type: "get", replyTo })), 0);
    assert.equal(setups, 2);
    assert.equal(restarted.length, 1);
    assert.equal(restarted[0].error, undefined);
  });

  it("processes async handlers one message at a time, in order", async () => {
    await using system = new ActorSystem();
    const log: string[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const done = probe<string>(system);
    const ref = system.spawn(
      Behaviors.receive<number>(async (_ctx, n) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        log.push(`start ${n}`);
        await new Promise((r) => setTimeout(r, n % 2 === 0 ? 3 : 1));
        log.push(`end ${n}`);
        inFlight--;
        if (n === 3) done.ref.tell("done");
      }),
      "async",
    );
    for (let i = 0; i < 4; i++) ref.tell(i);
    await done.expect(1);
    assert.equal(maxInFlight, 1);
    assert.deepEqual(log, [
      "start 0",
      "end 0",
      "start 1",
      "end 1",
      "start 2",
      "end 2",
      "start 3",
      "end 3",
    ]);
  });

  it("keeps messages that arrive during an async setup and handles them afterwards", async () => {
    await using system = new ActorSystem();
    const ready = Promise.withResolvers<void>();
    const ref = system.spawn(
      Behaviors.setup<Msg>(async () => {
        await ready.promise;
        let n = 100;
        return Behaviors.receive((_ctx, msg) => {
          if (msg.type === "add") n += msg.n;
          if (msg.type === "get") msg.replyTo.tell(n);
        });
      }),
      "slow-start",
    );
    ref.tell({ type: "add", n: 1 });
    ref.tell({ type: "add", n: 2 });
    const answer = system.ask(ref, (replyTo) => ({ type: "get", replyTo }));
    setTimeout(() => ready.resolve(), 10);
    assert.equal(await answer, 103);
  });

  it("fails the actor when a handler returns something that is not a behavior", async () => {
    const logger = memoryLogger();
    await using system = new ActorSystem({ logger });
    const ref = system.spawn(Behaviors.receive<string>(() => 42 as never), "bad");
    ref.tell("x");
    await waitFor(() => system.lookup("/bad") === undefined);
    assert.ok(logger.lines.some((l) => l.includes("/bad") && l.startsWith("error")));
  });

  it("refuses persisted() outside an event-sourced behavior", async () => {
    const logger = memoryLogger();
    await using system = new ActorSystem({ logger });
    system.spawn(Behaviors.persisted<string>([1]), "p");
    await waitFor(() => system.lookup("/p") === undefined);
    assert.ok(logger.lines.some((l) => l.includes("event-sourced")));
  });
});

describe("Behaviors.spy()", () => {
  it("reports every handled message, and children's with spyChildren", async () => {
    await using system = new ActorSystem();
    const spy = probe<{ actorPath: string; event: unknown }>(system, "spy");
    const ref = system.spawn(
      Behaviors.spy(
        Behaviors.setup<string>((ctx) => {
          const child = ctx.spawn(Behaviors.ignore<string>(), "kid");
          return Behaviors.receive((_c, msg) => child.tell(`${msg}!`));
        }),
        spy.ref,
        { spyChildren: true },
      ),
      "spied",
    );
    ref.tell("hello");
    const events = await spy.expect(2);
    const byPath = Object.fromEntries(events.map((e) => [e.actorPath, e.event]));
    assert.deepEqual(byPath, { "/spied": "hello", "/spied/kid": "hello!" });
  });
});

describe("ActorContext.pipeToSelf()", () => {
  it("delivers a resolved value and a mapped failure as messages", async () => {
    await using system = new ActorSystem();
    const out = probe<string>(system);
    type M = { type: "go"; p: Promise<number> } | { type: "ok"; v: number } | {
      type: "err";
      e: string;
    };
    const ref = system.spawn(
      Behaviors.receive<M>((ctx, msg) => {
        if (msg.type === "go") {
          ctx.pipeToSelf(
            msg.p,
            (v) => ({ type: "ok", v }),
            (e) => ({ type: "err", e: String((e as Error).message) }),
          );
        } else out.ref.tell(msg.type === "ok" ? `ok ${msg.v}` : `err ${msg.e}`);
      }),
      "piper",
    );
    ref.tell({ type: "go", p: Promise.resolve(7) });
    ref.tell({ type: "go", p: Promise.reject(new Error("nope")) });
    assert.deepEqual((await out.expect(2)).sort(), ["err nope", "ok 7"]);
  });

  it("fails the actor when the promise rejects without onFailure", async () => {
    const logger = memoryLogger();
    await using system = new ActorSystem({ logger });
    const ref = system.spawn(
      Behaviors.receive<{ p: Promise<number> } | number>((ctx, msg) => {
        if (typeof msg !== "number") ctx.pipeToSelf(msg.p, (v) => v);
      }),
      "unmapped",
    );
    ref.tell({ p: Promise.reject(new Error("lost")) });
    await waitFor(() => system.lookup("/unmapped") === undefined);
    assert.ok(logger.lines.some((l) => l.startsWith("error /unmapped")));
  });
});
