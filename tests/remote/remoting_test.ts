import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  type ActorRef,
  Behaviors,
  type ClusteredActorSystem,
  DeadLetter,
  RemoteActorRef,
  SerializationError,
  type Terminated,
} from "../../mod.ts";
import { startLocalNode, waitFor } from "../_helpers/probe.ts";
import { runScript } from "../_helpers/process.ts";
import { tlsFixtures } from "../_helpers/tls_fixtures.ts";

const start = startLocalNode;

const uriOf = (node: ClusteredActorSystem, path: string) =>
  `casty://${node.name}@127.0.0.1:${node.selfAddress.port}${path}`;

type Ping = { text: string; replyTo: ActorRef<string> };

describe("ClusteredActorSystem remoting (two nodes in one process)", () => {
  it("binds port 0, reports the real port and gives refs casty://system@host:port URIs", async () => {
    await using a = await start();
    assert.ok(a.selfAddress.port > 0);
    const ref = a.spawn(Behaviors.ignore<string>(), "thing");
    assert.equal(ref.address, uriOf(a, "/thing"));
    assert.equal(a.lookup(uriOf(a, "/thing")), ref, "a URI of this node resolves to the local ref");
  });

  it("tells and asks a remote actor, with replyTo refs crossing the network", async () => {
    await using a = await start();
    await using b = await start();
    const seen: string[] = [];
    a.spawn(
      Behaviors.receive<Ping>((_c, msg) => {
        seen.push(msg.text);
        msg.replyTo.tell(msg.text.toUpperCase());
      }),
      "echo",
    );
    const remote = b.lookup<Ping>(uriOf(a, "/echo"))!;
    assert.ok(remote instanceof RemoteActorRef);
    assert.equal(
      await b.ask(remote, (replyTo) => ({ text: "hi", replyTo }), { timeout: 3000 }),
      "HI",
    );
    const answers = await Promise.all(
      Array.from(
        { length: 50 },
        (_, i) => b.ask(remote, (replyTo) => ({ text: `m${i}`, replyTo })),
      ),
    );
    assert.deepEqual(answers, Array.from({ length: 50 }, (_, i) => `M${i}`));
    assert.equal(seen.length, 51);
  });

  it("resolves a ref that comes back to its own node to the local actor", async () => {
    await using a = await start();
    await using b = await start();
    type Msg = { ref: ActorRef<string>; replyTo: ActorRef<ActorRef<string>> };
    b.spawn(Behaviors.receive<Msg>((_c, msg) => msg.replyTo.tell(msg.ref)), "mirror");
    const local = a.spawn(Behaviors.ignore<string>(), "local");
    const mirror = a.lookup<Msg>(uriOf(b, "/mirror"))!;
    const back = await a.ask(mirror, (replyTo) => ({ ref: local, replyTo }));
    assert.equal(back, local);
  });

  it("delivers to the actor now at a path: stopped, then spawned again under the same name", async () => {
    await using a = await start();
    await using b = await start();
    const got: string[] = [];
    const dead: DeadLetter[] = [];
    a.eventStream.subscribe(DeadLetter, (d) => dead.push(d));
    a.spawn(
      Behaviors.receive<string>((_c, m) => {
        if (m === "stop") return Behaviors.stopped();
        got.push(`first ${m}`);
      }),
      "box",
    );
    const remote = b.lookup<string>(uriOf(a, "/box"))!;
    remote.tell("1");
    remote.tell("2");
    await waitFor(() => got.length === 2);
    remote.tell("stop");
    await waitFor(() => a.lookup("/box") === undefined);
    remote.tell("3"); // nobody at /box now
    await waitFor(() => dead.length === 1);
    assert.equal(dead[0].reason, "unknownPath");
    a.spawn(Behaviors.receive<string>((_c, m) => void got.push(`second ${m}`)), "box");
    remote.tell("4");
    await waitFor(() => got.length === 3);
    assert.deepEqual(got, ["first 1", "first 2", "second 4"]);
  });

  it("dead-letters a message to an unknown path on the receiving node", async () => {
    await using a = await start();
    await using b = await start();
    const dead: DeadLetter[] = [];
    a.eventStream.subscribe(DeadLetter, (d) => dead.push(d));
    b.lookup<string>(uriOf(a, "/nobody"))!.tell("hello?");
    await waitFor(() => dead.length === 1);
    assert.equal(dead[0].reason, "unknownPath");
    assert.equal(dead[0].message, "hello?");
    assert.equal(dead[0].recipient, uriOf(a, "/nobody"));
  });

  it("throws SerializationError and publishes a DeadLetter for an unserializable message", async () => {
    await using a = await start();
    await using b = await start();
    const dead: DeadLetter[] = [];
    b.eventStream.subscribe(DeadLetter, (d) => dead.push(d));
    const remote = b.lookup<unknown>(uriOf(a, "/x"))!;
    assert.throws(() => remote.tell({ fn: () => 1 }), SerializationError);
    class Unregistered {
      x = 1;
    }
    assert.throws(() => remote.tell(new Unregistered()), SerializationError);
    assert.equal(dead.length, 2);
    assert.equal(dead[0].reason, "serialization");
  });

  it("delivers Terminated for a watched remote actor that stops, and for a path with no actor", async () => {
    await using a = await start();
    await using b = await start();
    const doomed = a.spawn(Behaviors.receive<string>(() => Behaviors.stopped()), "doomed");
    const got: string[] = [];
    b.spawn(
      Behaviors.setup<Terminated>((ctx) => {
        ctx.watch(b.lookup(uriOf(a, "/doomed"))!);
        ctx.watch(b.lookup(uriOf(a, "/never-existed"))!);
        return Behaviors.receive((_c, t) => void got.push(t.ref.path));
      }),
      "watcher",
    );
    await waitFor(() => got.includes("/never-existed"), { what: "Terminated for a missing path" });
    doomed.tell("bye");
    await waitFor(() => got.includes("/doomed"), { what: "Terminated for a stopped actor" });
    assert.deepEqual(got.sort(), ["/doomed", "/never-existed"]);
  });

  it("refuses a node with another system name; the message becomes a DeadLetter", async () => {
    await using a = await start("one");
    await using b = await start("two");
    const dead: DeadLetter[] = [];
    b.eventStream.subscribe(DeadLetter, (d) => dead.push(d));
    const ref = b.remoting.refAt<string>(a.selfAddress, "/x");
    ref.tell("hello");
    await waitFor(() => dead.length === 1, { timeout: 8000 });
    assert.equal(dead[0].reason, "undeliverable");
    assert.equal(dead[0].detail, "refused");
    assert.equal(dead[0].message, "hello");
  });
});

describe("RemoteActorRef flow control", () => {
  it("dead-letters tells that overflow the outbound queue, while send() waits for room", async () => {
    await using a = await start("flow", { transport: { outboundQueueLimit: 500 } });
    await using b = await start("flow");
    let received = 0;
    b.spawn(Behaviors.receive<number>(() => void received++), "sink");
    const dead: DeadLetter[] = [];
    a.eventStream.subscribe(DeadLetter, (d) => dead.push(d));
    const sink = a.lookup<number>(uriOf(b, "/sink"))!;
    // A burst of tells in one tick overflows the 500-envelope queue: the excess is not lost
    // silently, it is published as dead letters.
    for (let i = 0; i < 5_000; i++) sink.tell(i);
    await waitFor(() => received + dead.length === 5_000, { timeout: 10_000 });
    assert.ok(dead.length > 0, "an overflowing burst produces dead letters");
    assert.ok(dead.every((d) => d.reason === "undeliverable" && d.detail === "queue-overflow"));
    // The same burst through send() waits whenever the queue is half full: nothing is lost.
    received = 0;
    dead.length = 0;
    for (let i = 0; i < 5_000; i++) await sink.send(i);
    await waitFor(() => received === 5_000, { timeout: 10_000 });
    assert.equal(dead.length, 0);
  });
});

describe("ClusteredActorSystem with mutual TLS", () => {
  it("talks to a node with a CA-signed certificate and refuses one from another CA", async () => {
    const good = (n: "node1" | "node2") => ({ ...tlsFixtures[n], ca: tlsFixtures.ca });
    await using a = await start("tls", { tls: good("node1") });
    await using b = await start("tls", { tls: good("node2") });
    a.spawn(Behaviors.receive<Ping>((_c, m) => m.replyTo.tell(m.text)), "echo");
    const remote = b.lookup<Ping>(uriOf(a, "/echo"))!;
    assert.equal(
      await b.ask(remote, (replyTo) => ({ text: "secure", replyTo }), { timeout: 5000 }),
      "secure",
    );

    await using rogue = await start("tls", {
      tls: { ...tlsFixtures.rogue, ca: tlsFixtures.rogueCa },
    });
    const dead: DeadLetter[] = [];
    rogue.eventStream.subscribe(DeadLetter, (d) => dead.push(d));
    const fromRogue = rogue.lookup<Ping>(uriOf(a, "/echo"))!;
    await assert.rejects(
      rogue.ask(fromRogue, (replyTo) => ({ text: "let me in", replyTo }), { timeout: 1500 }),
      { name: "AskTimeoutError" },
    );
  });
});

describe("ClusteredActorSystem across real processes", () => {
  const script = new URL("../_helpers/actor_node.ts", import.meta.url).pathname;

  it("delivers 100,000 ordered messages and answers asks", async () => {
    const child = runScript(script, ["proc", "0"]);
    try {
      const port = Number((await child.waitForLine((l) => l.startsWith("ready "))).split(" ")[1]);
      await using me = await start("proc");
      const counter = me.lookup<
        { type: "n"; seq: number } | {
          type: "report";
          replyTo: ActorRef<{ count: number; inOrder: boolean }>;
        }
      >(
        `casty://proc@127.0.0.1:${port}/counter`,
      )!;
      const N = 100_000;
      for (let i = 1; i <= N; i++) {
        counter.tell({ type: "n", seq: i });
        if (i % 5000 === 0) await new Promise((r) => setTimeout(r, 0));
      }
      let report = { count: 0, inOrder: false };
      const deadline = Date.now() + 30_000;
      while (report.count < N && Date.now() < deadline) {
        report = await me.ask(counter, (replyTo) => ({ type: "report", replyTo }), {
          timeout: 10_000,
        }) as typeof report;
        if (report.count < N) await new Promise((r) => setTimeout(r, 50));
      }
      assert.deepEqual(report, { count: N, inOrder: true });
      const echo = me.lookup<Ping>(`casty://proc@127.0.0.1:${port}/echo`)!;
      const replies = await Promise.all(
        Array.from(
          { length: 200 },
          (_, i) => me.ask(echo, (replyTo) => ({ text: String(i), replyTo })),
        ),
      );
      assert.deepEqual(replies, Array.from({ length: 200 }, (_, i) => String(i)));
    } finally {
      await child.kill();
    }
  });

  it("survives a SIGKILLed peer: watchers get Terminated when it restarts, and traffic resumes", async () => {
    let child = runScript(script, ["proc", "0"]);
    try {
      const port = Number((await child.waitForLine((l) => l.startsWith("ready "))).split(" ")[1]);
      await using me = await start("proc");
      const echo = me.lookup<Ping>(`casty://proc@127.0.0.1:${port}/echo`)!;
      assert.equal(
        await me.ask(echo, (replyTo) => ({ text: "before", replyTo }), { timeout: 5000 }),
        "before",
      );
      const terminated: string[] = [];
      me.spawn(
        Behaviors.setup<Terminated>((ctx) => {
          ctx.watch(echo);
          return Behaviors.receive((_c, t) => void terminated.push(t.ref.path));
        }),
        "watcher",
      );
      await new Promise((r) => setTimeout(r, 100));
      await child.kill("SIGKILL");
      child = runScript(script, ["proc", String(port)]);
      await child.waitForLine((l) => l.startsWith("ready "));
      let answer = "";
      const deadline = Date.now() + 20_000;
      while (!answer && Date.now() < deadline) {
        answer = await me.ask(echo, (replyTo) => ({ text: "after", replyTo }), { timeout: 1000 })
          .catch(() => "");
      }
      assert.equal(answer, "after");
      await waitFor(() => terminated.length === 1, {
        timeout: 5000,
        what: "Terminated after the restart",
      });
      assert.deepEqual(terminated, ["/echo"]);
    } finally {
      await child.kill();
    }
  });
});
