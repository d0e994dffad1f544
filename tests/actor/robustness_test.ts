// Nothing a timer, a promise callback or a subscriber runs may kill the process: each failure
// becomes a DeadLetter or a logged error. These run on the real clock on purpose: a throw
// inside a runtime timer or promise callback is an uncaught error that fails the test run.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  type ActorRef,
  ActorSystem,
  AskTimeoutError,
  Behaviors,
  type Cancellable,
  type Clock,
  ClusteredActorSystem,
  DeadLetter,
  Mailbox,
  realClock,
} from "../../mod.ts";
import { SimulatedClock } from "../../src/testing/mod.ts";
import { memoryLogger, waitFor } from "../_helpers/probe.ts";

const MAX_TIMER = 2 ** 31 - 1;
const DAY = 24 * 60 * 60 * 1000;

/** An actor with a one-message `backpressure` mailbox that stays busy until `open()`. */
function gated(system: ActorSystem, name: string) {
  const { promise: gate, resolve: open } = Promise.withResolvers<void>();
  const received: string[] = [];
  const ref = system.spawn(
    Behaviors.receive<string>(async (_ctx, msg) => {
      received.push(msg);
      await gate;
    }),
    name,
    { mailbox: new Mailbox({ capacity: 1, overflow: "backpressure" }) },
  );
  return { ref, received, open };
}

function deadLetters(system: ActorSystem): DeadLetter[] {
  const seen: DeadLetter[] = [];
  system.eventStream.subscribe(DeadLetter, (d) => seen.push(d));
  return seen;
}

describe("Nothing a timer or promise callback runs kills the process", () => {
  it("turns ticks and schedules into a full backpressure mailbox into DeadLetters", async () => {
    await using system = new ActorSystem({ logger: memoryLogger() });
    const dead = deadLetters(system);
    const target = gated(system, "busy");
    target.ref.tell("first");
    await waitFor(() => target.received.length === 1, { what: "the first message" });
    target.ref.tell("queued"); // fills the one-message mailbox
    assert.throws(() => target.ref.tell("direct"), { name: "MailboxFullError" });
    system.tick("ticks", target.ref, "tick", 5);
    system.schedule("once", target.ref, "scheduled", 5);
    const fromTimers = () => dead.filter((d) => d.message === "tick" || d.message === "scheduled");
    await waitFor(
      () =>
        fromTimers().filter((d) => d.message === "tick").length >= 3 &&
        fromTimers().some((d) => d.message === "scheduled"),
      { what: "DeadLetters for three ticks and the schedule" },
    );
    system.cancelSchedule("ticks");
    for (const d of fromTimers()) {
      assert.equal(d.reason, "mailboxFull");
      assert.equal((d.recipient as ActorRef<never>).path, "/busy");
      assert.match(d.detail ?? "", /mailbox full \(capacity 1\)/);
    }
    target.open();
    await waitFor(() => target.received.includes("queued"), { what: "the queued message" });
    assert.ok(!target.received.includes("tick"), "no tick got past the full mailbox");
  });

  it("turns pipeToSelf results into a full backpressure mailbox into DeadLetters", async () => {
    await using system = new ActorSystem({ logger: memoryLogger() });
    const dead = deadLetters(system);
    const { promise: gate, resolve: open } = Promise.withResolvers<void>();
    const received: string[] = [];
    const ref = system.spawn(
      Behaviors.receive<string>(async (ctx, msg) => {
        received.push(msg);
        if (msg !== "start") return;
        ctx.self.tell("filler"); // the mailbox (capacity 1) is now full
        for (let i = 0; i < 3; i++) ctx.pipeToSelf(Promise.resolve(i), (n) => `piped-${n}`);
        ctx.pipeToSelf(Promise.reject(new Error("no")), () => "never", () => "failed-piped");
        await gate;
      }),
      "piper",
      { mailbox: new Mailbox({ capacity: 1, overflow: "backpressure" }) },
    );
    ref.tell("start");
    const piped = () => dead.filter((d) => /piped/.test(String(d.message)));
    await waitFor(() => piped().length === 4, { what: "four piped DeadLetters" });
    assert.deepEqual(
      piped().map((d) => [d.message, d.reason]),
      [
        ["piped-0", "mailboxFull"],
        ["piped-1", "mailboxFull"],
        ["piped-2", "mailboxFull"],
        ["failed-piped", "mailboxFull"],
      ],
    );
    open();
    await waitFor(() => received.includes("filler"), { what: "the filler message" });
    assert.deepEqual(received, ["start", "filler"]);
  });

  it("logs a failing internal timer callback and keeps running the others", async () => {
    const logger = memoryLogger();
    await using system = new ActorSystem({ logger });
    let later = false;
    system.scheduler.internal(() => {
      throw new Error("boom in a timer");
    }, 1);
    system.scheduler.internal(() => later = true, 5);
    await waitFor(() => later, { what: "the timer after the failing one" });
    assert.ok(
      logger.lines.some((l) => /^error A scheduled callback failed boom in a timer$/.test(l)),
      logger.lines.join("\n"),
    );
  });

  it("turns a scheduled tell of an unserializable message to a remote ref into a DeadLetter", async () => {
    await using node = await ClusteredActorSystem.start({
      name: "robust",
      host: "127.0.0.1",
      port: 0,
      logger: memoryLogger(),
    });
    const dead = deadLetters(node);
    const remote = node.lookup<unknown>("casty://robust@127.0.0.1:1/far/away")!;
    node.schedule("bad", remote, { callback: () => {} }, 1);
    await waitFor(() => dead.length > 0, { what: "a DeadLetter for the scheduled tell" });
    assert.equal(dead.length, 1);
    assert.equal(dead[0].reason, "serialization");
    assert.match(dead[0].detail ?? "", /functions are not serializable/);
  });
});

describe("EventStream subscriptions by actors", () => {
  it("ends an actor's subscriptions when it stops: one undeliverable message is one DeadLetter", async () => {
    await using system = new ActorSystem({ logger: memoryLogger() });
    const subscriber = system.spawn(
      Behaviors.setup<DeadLetter | "stop">((ctx) => {
        system.eventStream.subscribe(DeadLetter, ctx.self as ActorRef<DeadLetter>);
        return Behaviors.receive((_c, msg) => msg === "stop" ? Behaviors.stopped() : undefined);
      }),
      "dead-letter-listener",
    );
    await waitFor(() => system.eventStream.size === 1, { what: "the actor's subscription" });
    const seen = deadLetters(system);
    subscriber.tell("stop");
    await waitFor(() => system.lookup("/dead-letter-listener") === undefined, {
      what: "the subscriber to stop",
    });
    assert.equal(system.eventStream.size, 1, "only the function subscriber is left");
    system.eventStream.publish(new DeadLetter("lost", "/nobody", "unknownPath"));
    assert.equal(seen.length, 1);
    assert.equal(seen[0].message, "lost");
  });

  it("logs a DeadLetter about a DeadLetter instead of publishing it", async () => {
    const logger = memoryLogger();
    await using system = new ActorSystem({ logger });
    const { promise: gate, resolve: open } = Promise.withResolvers<void>();
    const got: DeadLetter[] = [];
    // A slow subscriber whose bounded mailbox overflows: each overflow is a DeadLetter whose
    // message is a DeadLetter, which would feed the same subscriber again.
    const slow = system.spawn(
      Behaviors.receive<DeadLetter>(async (_c, d) => {
        got.push(d);
        await gate;
      }),
      "slow",
      { mailbox: new Mailbox({ capacity: 1, overflow: "dropNew" }) },
    );
    system.eventStream.subscribe(DeadLetter, slow);
    const seen = deadLetters(system);
    system.eventStream.publish(new DeadLetter("m1", "/nobody", "unknownPath"));
    await waitFor(() => got.length === 1, { what: "the slow subscriber to take one" });
    system.eventStream.publish(new DeadLetter("m2", "/nobody", "unknownPath"));
    system.eventStream.publish(new DeadLetter("m3", "/nobody", "unknownPath"));
    system.eventStream.publish(new DeadLetter("m4", "/nobody", "unknownPath"));
    assert.deepEqual(seen.map((d) => d.message), ["m1", "m2", "m3", "m4"]);
    const dropped = logger.lines.filter((l) => l.startsWith("warn Dropped a DeadLetter"));
    assert.equal(dropped.length, 2, logger.lines.join("\n"));
    assert.match(dropped[0], /\(unknownPath, for "\/nobody"\) that subscriber "\/slow" could not/);
    assert.match(dropped[0], /\(mailboxFull: Cannot tell|\(mailboxFull\)/);
    open();
    await waitFor(() => got.length === 2, { what: "the queued DeadLetter" });
    assert.deepEqual(got.map((d) => d.message), ["m1", "m2"]);
  });

  it("keeps function subscriptions and ends only the stopped actor's", async () => {
    await using system = new ActorSystem({ logger: memoryLogger() });
    const stopOnAny = () => Behaviors.receive<unknown>(() => Behaviors.stopped());
    const a = system.spawn(stopOnAny(), "a");
    const b = system.spawn(stopOnAny(), "b");
    system.eventStream.subscribe(DeadLetter, a);
    system.eventStream.subscribe(DeadLetter, a);
    const unsubscribeB = system.eventStream.subscribe(DeadLetter, b);
    system.eventStream.subscribe(DeadLetter, () => {});
    assert.equal(system.eventStream.size, 4);
    a.tell("stop");
    await waitFor(() => system.eventStream.size === 2, { what: "a's two subscriptions to end" });
    unsubscribeB();
    assert.equal(system.eventStream.size, 1);
    assert.equal(system.eventStream.unsubscribeRef(b as ActorRef<never>), 0, "b has none left");
    unsubscribeB();
    assert.equal(system.eventStream.size, 1, "unsubscribing twice removes nothing else");
  });
});

/** A clock that counts and records the runtime timers armed through it. */
class CountingClock implements Clock {
  readonly delays: number[] = [];
  constructor(readonly inner: Clock) {}
  now(): number {
    return this.inner.now();
  }
  wallNow(): number {
    return this.inner.wallNow();
  }
  setTimeout(callback: () => void, delayMs: number): Cancellable {
    this.delays.push(delayMs);
    return this.inner.setTimeout(callback, delayMs);
  }
}

describe("Timers of any length", () => {
  it("times out a 35-day ask at 35 days, arming two timers no longer than 2^31-1 ms", async () => {
    const sim = new SimulatedClock();
    const clock = new CountingClock(sim);
    await using system = new ActorSystem({ clock, logger: memoryLogger() });
    const silent = system.spawn(Behaviors.ignore<{ replyTo: ActorRef<string> }>(), "silent");
    const result: { outcome?: unknown } = {};
    const pending = () => result.outcome === undefined;
    system.ask(silent, (replyTo) => ({ replyTo }), { timeout: 35 * DAY }).then(
      (v) => result.outcome = v,
      (e) => result.outcome = e,
    );
    sim.advance(34 * DAY);
    await Promise.resolve();
    assert.ok(pending(), "still pending after 34 days");
    sim.advance(DAY - 1);
    await Promise.resolve();
    assert.ok(pending(), "still pending 1 ms before 35 days");
    sim.advance(1);
    await waitFor(() => result.outcome !== undefined, { what: "the ask to time out" });
    assert.ok(result.outcome instanceof AskTimeoutError, String(result.outcome));
    assert.equal(clock.delays.length, 2, `arms: ${clock.delays.join(", ")}`);
    for (const d of clock.delays) assert.ok(d <= MAX_TIMER, `delay ${d} > 2^31-1`);
  });

  it("does not spin on the real clock while a 35-day ask is pending", async () => {
    const clock = new CountingClock(realClock);
    await using system = new ActorSystem({ clock, logger: memoryLogger() });
    const silent = system.spawn(Behaviors.ignore<{ replyTo: ActorRef<string> }>(), "silent");
    const controller = new AbortController();
    const long = system.ask(silent, (replyTo) => ({ replyTo }), {
      timeout: 35 * DAY,
      signal: controller.signal,
    });
    long.catch(() => {});
    // A short ask times out meanwhile; by then a spinning timer would have re-armed dozens of
    // times (it fired about every 2 ms).
    await assert.rejects(
      system.ask(silent, (replyTo) => ({ replyTo }), { timeout: 60 }),
      AskTimeoutError,
    );
    // Expected: the long one, the short one, the long one again after the short fired; a
    // runtime may fire a timer a fraction of a millisecond early, which costs one re-arm more.
    assert.ok(clock.delays.length <= 5, `arms: ${clock.delays.join(", ")}`);
    for (const d of clock.delays) assert.ok(d <= MAX_TIMER, `delay ${d} > 2^31-1`);
    controller.abort(new Error("done"));
    await assert.rejects(long, /done/);
  });

  it("realClock does not fire a timer longer than 2^31-1 ms early", async () => {
    let longFired = false;
    const long = realClock.setTimeout(() => longFired = true, MAX_TIMER + 1000);
    let shortFired = false;
    realClock.setTimeout(() => shortFired = true, 30);
    try {
      await waitFor(() => shortFired, { what: "the 30 ms timer" });
      assert.equal(longFired, false);
    } finally {
      long.cancel();
    }
  });

  it("schedules a message 40 days ahead on the simulated clock", async () => {
    const clock = new SimulatedClock();
    await using system = new ActorSystem({ clock, logger: memoryLogger() });
    const got: string[] = [];
    const ref = system.spawn(Behaviors.receive<string>((_c, m) => void got.push(m)), "later");
    system.schedule("far", ref, "now", 40 * DAY);
    clock.advance(40 * DAY - 1);
    await new Promise((r) => setTimeout(r, 0));
    assert.deepEqual(got, []);
    clock.advance(1);
    await waitFor(() => got.length === 1, { what: "the scheduled message" });
  });
});

describe("Ask reply paths", () => {
  it("are /_ask/<n>-<128-bit token>, distinct per ask, and only the exact path routes", async () => {
    await using system = new ActorSystem({ logger: memoryLogger() });
    const paths: string[] = [];
    const echo = system.spawn(
      Behaviors.receive<{ replyTo: ActorRef<string> }>((_c, m) => {
        paths.push(m.replyTo.path);
        assert.equal(system.lookup(m.replyTo.path), m.replyTo, "the exact path resolves");
        const [, n, token] = /^\/_ask\/(\d+)-([0-9a-f]{32})$/.exec(m.replyTo.path)!;
        const flipped = token.slice(0, -1) + (token.endsWith("0") ? "1" : "0");
        assert.equal(system.lookup(`/_ask/${n}-${flipped}`), undefined, "a wrong token");
        assert.equal(system.lookup(`/_ask/${n}`), undefined, "no token");
        assert.equal(system.lookup(`/_ask/${Number(n) + 1}-${token}`), undefined);
        m.replyTo.tell("ok");
      }),
      "echo",
    );
    for (let i = 0; i < 20; i++) {
      assert.equal(await system.ask(echo, (replyTo) => ({ replyTo })), "ok");
    }
    assert.equal(paths.length, 20);
    for (const p of paths) assert.match(p, /^\/_ask\/\d+-[0-9a-f]{32}$/);
    const tokens = new Set(paths.map((p) => p.slice(p.indexOf("-") + 1)));
    assert.equal(tokens.size, 20, "every ask has its own token");
  });
});
