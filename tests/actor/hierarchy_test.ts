import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  ActorNameTakenError,
  type ActorRef,
  ActorStopped,
  ActorSystem,
  Behaviors,
  Terminated,
} from "../../mod.ts";
import { probe, waitFor } from "../_helpers/probe.ts";

type ParentMsg =
  | { type: "spawn"; name: string; replyTo: ActorRef<string> }
  | { type: "stop"; name: string }
  | { type: "stopSelf" }
  | { type: "children"; replyTo: ActorRef<string[]> }
  | Terminated;

describe("actor hierarchies", () => {
  it("keeps child names unique per parent and frees them when a child stops", async () => {
    await using system = new ActorSystem();
    const terminated = probe<string>(system, "terminated");
    const parent = system.spawn(
      Behaviors.receive<ParentMsg>((ctx, msg) => {
        switch (msg.type) {
          case "spawn":
            try {
              const c = ctx.spawn(Behaviors.ignore<string>(), msg.name);
              ctx.watch(c);
              msg.replyTo.tell(`spawned ${c.path}`);
            } catch (err) {
              msg.replyTo.tell(err instanceof ActorNameTakenError ? `taken ${err.path}` : "other");
            }
            return;
          case "stop":
            ctx.stop(ctx.child(msg.name)!);
            return;
          case "children":
            msg.replyTo.tell(ctx.children.map((c) => c.path).sort());
            return;
          case "terminated":
            terminated.ref.tell(msg.ref.path);
            return;
        }
      }),
      "parent",
    );
    const spawn = (name: string) =>
      system.ask(parent, (replyTo) => ({ type: "spawn", name, replyTo }));
    assert.equal(await spawn("a"), "spawned /parent/a");
    assert.equal(await spawn("a"), "taken /parent/a");
    assert.equal(await spawn("b"), "spawned /parent/b");
    assert.deepEqual(await system.ask(parent, (replyTo) => ({ type: "children", replyTo })), [
      "/parent/a",
      "/parent/b",
    ]);
    parent.tell({ type: "stop", name: "a" });
    assert.deepEqual(await terminated.expect(1), ["/parent/a"]);
    assert.equal(await spawn("a"), "spawned /parent/a");
  });

  it("stops children before their parent (post-order) and tells watchers", async () => {
    await using system = new ActorSystem();
    const order: string[] = [];
    const tracked = (kids: string[] = []): ReturnType<typeof Behaviors.withLifecycle<string>> =>
      Behaviors.withLifecycle(
        Behaviors.setup<string>((ctx) => {
          for (const k of kids) ctx.spawn(tracked(), k);
          return Behaviors.receive((_c, msg) => (msg === "stop" ? Behaviors.stopped() : undefined));
        }),
        { postStop: (ctx) => void order.push(ctx.self.path) },
      );
    const root = system.spawn(tracked(["x", "y"]), "root");
    const watcher = probe<Terminated>(system, "w");
    const stopped: string[] = [];
    system.eventStream.subscribe(ActorStopped, (e) => stopped.push(e.ref.path));
    const watcherActor = system.spawn(
      Behaviors.setup<Terminated>((ctx) => {
        ctx.watch(root);
        return Behaviors.receive((_c, msg) => watcher.ref.tell(msg));
      }),
      "watcher",
    );
    void watcherActor;
    await waitFor(() =>
      system.lookup("/root/y") !== undefined && system.lookup("/root/x") !== undefined
    );
    root.tell("stop");
    const [t] = await watcher.expect(1);
    assert.ok(t instanceof Terminated);
    assert.equal(t.ref, root);
    assert.equal(order.at(-1), "/root");
    assert.deepEqual(order.slice(0, 2).sort(), ["/root/x", "/root/y"]);
    assert.equal(stopped.at(-1), "/root");
  });

  it("delivers Terminated at once when watching an actor that already stopped", async () => {
    await using system = new ActorSystem();
    const dead = system.spawn(Behaviors.receive<string>(() => Behaviors.stopped()), "dead");
    dead.tell("x");
    await waitFor(() => system.lookup("/dead") === undefined);
    const out = probe<string>(system);
    system.spawn(
      Behaviors.setup<Terminated>((ctx) => {
        ctx.watch(dead);
        return Behaviors.receive((_c, msg) => out.ref.tell(msg.ref.path));
      }),
      "late-watcher",
    );
    assert.deepEqual(await out.expect(1), ["/dead"]);
  });

  it("delivers no Terminated after unwatch", async () => {
    await using system = new ActorSystem();
    const target = system.spawn(Behaviors.receive<string>(() => Behaviors.stopped()), "target");
    const got: unknown[] = [];
    const w = system.spawn(
      Behaviors.receive<Terminated | "watch" | "unwatch" | { replyTo: ActorRef<number> }>(
        (ctx, msg) => {
          if (msg === "watch") ctx.watch(target);
          else if (msg === "unwatch") ctx.unwatch(target);
          else if (msg instanceof Terminated) got.push(msg);
          else msg.replyTo.tell(got.length);
        },
      ),
      "w",
    );
    w.tell("watch");
    w.tell("unwatch");
    await system.ask(w, (replyTo) => ({ replyTo }));
    target.tell("bye");
    await waitFor(() => system.lookup("/target") === undefined);
    assert.equal(await system.ask(w, (replyTo) => ({ replyTo })), 0);
  });

  it("refuses to stop an actor that is not a child", async () => {
    await using system = new ActorSystem();
    const other = system.spawn(Behaviors.ignore<string>(), "other");
    const answer = probe<string>(system);
    const ref = system.spawn(
      Behaviors.receive<string>((ctx) => {
        try {
          ctx.stop(other);
          answer.ref.tell("stopped");
        } catch (err) {
          answer.ref.tell((err as Error).name);
        }
      }),
      "meddler",
    );
    ref.tell("go");
    assert.deepEqual(await answer.expect(1), ["TypeError"]);
    assert.ok(system.lookup("/other"));
  });

  it("exposes parent and the child's path", async () => {
    await using system = new ActorSystem();
    const out = probe<string>(system);
    system.spawn(
      Behaviors.setup<string>((ctx) => {
        ctx.spawn(
          Behaviors.setup<string>((c) => {
            out.ref.tell(`${c.parent?.path} -> ${c.self.path}`);
            return Behaviors.ignore();
          }),
          "kid",
        );
        return Behaviors.ignore();
      }),
      "mum",
    );
    assert.deepEqual(await out.expect(1), ["/mum -> /mum/kid"]);
  });
});

describe("death watch under pressure", () => {
  it("delivers Terminated even to a watcher whose bounded mailbox is full", async () => {
    const { Mailbox } = await import("../../mod.ts");
    await using system = new ActorSystem();
    const target = system.spawn(Behaviors.receive<string>(() => Behaviors.stopped()), "target");
    const gate = Promise.withResolvers<void>();
    const got: string[] = [];
    const watcher = system.spawn(
      Behaviors.setup<string | Terminated>(async (ctx) => {
        ctx.watch(target);
        await gate.promise;
        return Behaviors.receive((_c, msg) => {
          got.push(typeof msg === "string" ? msg : `terminated ${msg.ref.path}`);
        });
      }),
      "watcher",
      { mailbox: new Mailbox({ capacity: 1, overflow: "dropNew" }) },
    );
    watcher.tell("fills the mailbox");
    target.tell("stop");
    await waitFor(() => system.lookup("/target") === undefined);
    gate.resolve();
    await waitFor(() => got.length === 2);
    assert.deepEqual(got, ["fills the mailbox", "terminated /target"]);
  });
});
