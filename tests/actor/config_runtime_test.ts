import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  type ActorRef,
  ActorSystem,
  type Behavior,
  Behaviors,
  DeadLetter,
  Mailbox,
  OneForOneStrategy,
  parseConfig,
} from "../../mod.ts";
import { memoryLogger, waitFor } from "../_helpers/probe.ts";

const toml = `
[system]
name = "configured"

[defaults.mailbox]
capacity = 1000
strategy = "drop_new"

[defaults.supervision]
strategy = "restart"
max_restarts = 2
within_seconds = 60.0

[actors.tiny]
mailbox = { capacity = 2 }

[actors."child-\\\\d+"]
mailbox = { capacity = 1, strategy = "drop_oldest" }

[actors.fragile]
supervision = { strategy = "stop" }
`;

type Msg = { type: "crash" } | { type: "get"; replyTo: ActorRef<number> } | { type: "inc" };

const counter = (n = 0): Behavior<Msg> =>
  Behaviors.receive<Msg>((_c, msg) => {
    if (msg.type === "crash") throw new Error("boom");
    if (msg.type === "get") msg.replyTo.tell(n);
    else return counter(n + 1);
  });

describe("ActorSystem({ config })", () => {
  it("takes the system name and per-actor mailboxes from the config, children included", async () => {
    const config = await parseConfig(toml);
    await using system = new ActorSystem({ config, logger: memoryLogger() });
    assert.equal(system.name, "configured");
    const dead: DeadLetter[] = [];
    system.eventStream.subscribe(DeadLetter, (d) => dead.push(d));
    const gate = Promise.withResolvers<void>();
    const blocked = (_name: string) =>
      Behaviors.setup<number>(async () => {
        await gate.promise;
        return Behaviors.ignore();
      });
    const tiny = system.spawn(blocked("tiny"), "tiny");
    for (let i = 0; i < 4; i++) tiny.tell(i);
    assert.deepEqual(
      dead.map((d) => d.message),
      [2, 3],
      "[actors.tiny] capacity 2, drop_new from defaults",
    );
    dead.length = 0;
    const parent = system.spawn(
      Behaviors.setup<number>((ctx) => {
        const child = ctx.spawn(blocked("child-7"), "child-7");
        return Behaviors.receive((_c, n) => child.tell(n));
      }),
      "parent",
    );
    for (let i = 0; i < 3; i++) parent.tell(i);
    await waitFor(() => dead.length === 2);
    assert.deepEqual(
      dead.map((d) => d.message),
      [0, 1],
      "child-\\d+ drops the oldest at capacity 1",
    );
    // An explicit mailbox wins over the file.
    const big = system.spawn(blocked("tiny"), "tiny2", { mailbox: new Mailbox({ capacity: 10 }) });
    dead.length = 0;
    for (let i = 0; i < 5; i++) big.tell(i);
    assert.equal(dead.length, 0);
    gate.resolve();
  });

  it("supervises actors as the config says, unless the code supervises them", async () => {
    const config = await parseConfig(toml);
    await using system = new ActorSystem({ config, logger: memoryLogger() });
    const worker = system.spawn(counter(), "worker");
    worker.tell({ type: "inc" });
    worker.tell({ type: "crash" });
    assert.equal(
      await system.ask(worker, (replyTo) => ({ type: "get", replyTo })),
      0,
      "restarted by [defaults.supervision]",
    );
    worker.tell({ type: "crash" });
    worker.tell({ type: "crash" });
    await waitFor(() => system.lookup("/worker") === undefined, {
      what: "stop after max_restarts = 2",
    });

    const fragile = system.spawn(counter(), "fragile");
    fragile.tell({ type: "crash" });
    await waitFor(() => system.lookup("/fragile") === undefined, {
      what: "[actors.fragile] stops",
    });

    const coded = system.spawn(
      Behaviors.supervise(counter(), new OneForOneStrategy({ maxRestarts: 10 })),
      "fragile",
    );
    for (let i = 0; i < 5; i++) coded.tell({ type: "crash" });
    assert.equal(
      await system.ask(coded, (replyTo) => ({ type: "get", replyTo })),
      0,
      "code wins over the file",
    );
  });

  it("stops a failing actor when there is no config", async () => {
    await using system = new ActorSystem({ logger: memoryLogger() });
    const worker = system.spawn(counter(), "worker");
    worker.tell({ type: "crash" });
    await waitFor(() => system.lookup("/worker") === undefined);
  });

  it("suppresses dead letters during shutdown when asked to", async () => {
    const config = await parseConfig("[system]\nsuppress_dead_letters_on_shutdown = true\n");
    const system = new ActorSystem({ config });
    const dead: DeadLetter[] = [];
    system.eventStream.subscribe(DeadLetter, (d) => dead.push(d));
    const gate = Promise.withResolvers<void>();
    const ref = system.spawn(Behaviors.receive<number>(async () => await gate.promise), "slow");
    ref.tell(1);
    ref.tell(2);
    ref.tell(3);
    const done = system.shutdown();
    gate.resolve();
    await done;
    assert.equal(dead.length, 0);
  });
});
