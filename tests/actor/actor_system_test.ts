import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  ActorNameTakenError,
  type ActorRef,
  ActorSystem,
  AskTimeoutError,
  type Behavior,
  Behaviors,
  CastyError,
  DeadLetter,
} from "../../mod.ts";
import { memoryLogger, probe, waitFor } from "../_helpers/probe.ts";

type AccountMsg =
  | { type: "deposit"; amount: number }
  | { type: "getBalance"; replyTo: ActorRef<number> };

const account = (balance = 0): Behavior<AccountMsg> =>
  Behaviors.receive((_ctx, msg) => {
    switch (msg.type) {
      case "deposit":
        return account(balance + msg.amount);
      case "getBalance":
        msg.replyTo.tell(balance);
        return Behaviors.same();
    }
  });

describe("ActorSystem.spawn()", () => {
  it("runs the API.md quick start", async () => {
    await using system = new ActorSystem({ name: "bank" });
    const ref = system.spawn(account(), "account");
    ref.tell({ type: "deposit", amount: 100 });
    ref.tell({ type: "deposit", amount: 50 });
    const balance = await system.ask(ref, (replyTo) => ({ type: "getBalance", replyTo }), {
      timeout: 2000,
    });
    assert.equal(balance, 150);
    assert.equal(ref.path, "/account");
    assert.equal(ref.address, "casty://bank/account");
  });

  it("rejects a duplicate root name with ActorNameTakenError", async () => {
    await using system = new ActorSystem();
    system.spawn(account(), "a");
    assert.throws(() => system.spawn(account(), "a"), ActorNameTakenError);
    assert.throws(() => system.spawn(account(), "a"), {
      name: "ActorNameTakenError",
      code: "ACTOR_NAME_TAKEN",
    });
  });

  it("frees a root name once the actor has stopped", async () => {
    await using system = new ActorSystem();
    const ref = system.spawn(Behaviors.receive<string>(() => Behaviors.stopped()), "once");
    ref.tell("stop");
    await waitFor(() => system.lookup("/once") === undefined);
    const again = system.spawn(account(), "once");
    assert.equal(again.path, "/once");
  });

  it("rejects invalid names", async () => {
    await using system = new ActorSystem();
    assert.throws(() => system.spawn(account(), ""), TypeError);
    assert.throws(() => system.spawn(account(), "a/b"), TypeError);
    assert.throws(() => system.spawn(account(), "a b"), TypeError);
  });

  it("refuses to spawn after shutdown", async () => {
    const system = new ActorSystem();
    await system.shutdown();
    assert.throws(() => system.spawn(account(), "late"), { code: "SYSTEM_TERMINATED" });
  });
});

describe("ActorSystem.ask()", () => {
  it("rejects with AskTimeoutError naming the actor and the timeout", async () => {
    await using system = new ActorSystem();
    const silent = system.spawn(Behaviors.ignore<{ replyTo: ActorRef<number> }>(), "silent");
    await assert.rejects(
      system.ask(silent, (replyTo) => ({ replyTo }), { timeout: 30 }),
      (err: unknown) => {
        assert.ok(err instanceof AskTimeoutError);
        assert.equal(err.message, 'Cannot ask actor "/silent": no reply after 30 ms');
        assert.equal(err.code, "ASK_TIMEOUT");
        return true;
      },
    );
  });

  it("publishes a late reply as a DeadLetter", async () => {
    await using system = new ActorSystem();
    const dead: DeadLetter[] = [];
    system.eventStream.subscribe(DeadLetter, (d) => dead.push(d));
    let captured: ActorRef<number> | undefined;
    const slow = system.spawn(
      Behaviors.receive<{ replyTo: ActorRef<number> }>((_ctx, msg) => {
        captured = msg.replyTo;
      }),
      "slow",
    );
    await assert.rejects(
      system.ask(slow, (replyTo) => ({ replyTo }), { timeout: 20 }),
      AskTimeoutError,
    );
    captured!.tell(42);
    assert.equal(dead.length, 1);
    assert.equal(dead[0].reason, "lateReply");
    assert.equal(dead[0].message, 42);
  });

  it("can be aborted with an AbortSignal", async () => {
    await using system = new ActorSystem();
    const silent = system.spawn(Behaviors.ignore<{ replyTo: ActorRef<number> }>(), "silent");
    const controller = new AbortController();
    const p = system.ask(silent, (replyTo) => ({ replyTo }), {
      timeout: 5000,
      signal: controller.signal,
    });
    controller.abort(new Error("no longer needed"));
    await assert.rejects(p, { message: "no longer needed" });
    await assert.rejects(
      system.ask(silent, (replyTo) => ({ replyTo }), {
        signal: AbortSignal.abort(new Error("already")),
      }),
      { message: "already" },
    );
  });

  it("rejects pending asks at shutdown and leaves no timers", async () => {
    const system = new ActorSystem();
    const silent = system.spawn(Behaviors.ignore<{ replyTo: ActorRef<number> }>(), "silent");
    const p = system.ask(silent, (replyTo) => ({ replyTo }), { timeout: 60_000 });
    system.tick("t", silent, { replyTo: silent as never }, 60_000);
    await system.shutdown();
    await assert.rejects(
      p,
      (err: unknown) => err instanceof CastyError && err.code === "SYSTEM_TERMINATED",
    );
    assert.equal(system.scheduler.size, 0);
  });

  it("propagates a throwing message factory as a rejection", async () => {
    await using system = new ActorSystem();
    const ref = system.spawn(account(), "acc");
    await assert.rejects(
      system.ask(ref, () => {
        throw new Error("factory failed");
      }),
      { message: "factory failed" },
    );
  });
});

describe("ActorSystem.lookup()", () => {
  it("finds roots and nested children by path and local URI", async () => {
    await using system = new ActorSystem({ name: "tree" });
    const parent = system.spawn(
      Behaviors.setup<string>((ctx) => {
        const child = ctx.spawn(
          Behaviors.setup<string>((c) => {
            c.spawn(Behaviors.ignore<string>(), "grandchild");
            return Behaviors.ignore();
          }),
          "child",
        );
        void child;
        return Behaviors.ignore();
      }),
      "parent",
    );
    await waitFor(() => system.lookup("/parent/child/grandchild") !== undefined);
    assert.equal(system.lookup("/parent"), parent);
    assert.equal(system.lookup("/parent/child")?.path, "/parent/child");
    assert.equal(
      system.lookup("casty://tree/parent/child/grandchild")?.path,
      "/parent/child/grandchild",
    );
    assert.equal(system.lookup("/parent/nope"), undefined);
    assert.equal(system.lookup("/missing"), undefined);
    assert.equal(system.lookup("casty://other/parent"), undefined);
  });
});

describe("ActorSystem.shutdown()", () => {
  it("stops user actors before system actors", async () => {
    const order: string[] = [];
    const logger = memoryLogger();
    const system = new ActorSystem({ logger });
    const tracked = (name: string) =>
      Behaviors.withLifecycle(Behaviors.ignore<string>(), {
        postStop: async () => {
          await new Promise((r) => setTimeout(r, 5));
          order.push(name);
        },
      });
    system.spawn(tracked("_internal"), "_internal");
    system.spawn(tracked("user-a"), "user-a");
    system.spawn(tracked("user-b"), "user-b");
    await waitFor(() => system.lookup("/user-b") !== undefined);
    await system.shutdown();
    assert.deepEqual(order.slice(2), ["_internal"]);
    assert.deepEqual(order.slice(0, 2).sort(), ["user-a", "user-b"]);
    assert.equal(system.lookup("/user-a"), undefined);
  });

  it("works with await using and is idempotent", async () => {
    const p = probe<string>;
    void p;
    let stopped = 0;
    {
      await using system = new ActorSystem();
      system.spawn(
        Behaviors.withLifecycle(Behaviors.ignore(), { postStop: () => void stopped++ }),
        "x",
      );
      await system.shutdown();
    }
    assert.equal(stopped, 1);
  });
});
