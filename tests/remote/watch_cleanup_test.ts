// Clean-up on the remote side: watches of ask refs end with the ask (locally and across
// nodes), topology subscriptions made with an ask ref end with it, and a remote watch of a node
// that is not a member ends in Terminated once that node has been unreachable for the timeout.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  type ActorRef,
  ActorSystem,
  Behaviors,
  DeadLetter,
  MemberDowned,
  MemberRemoved,
  SubscribeTopology,
  Terminated,
  TOPOLOGY_PATH,
  type TopologySnapshot,
} from "../../mod.ts";
import { memoryLogger, startLocalNode, waitFor } from "../_helpers/probe.ts";
import { runScript } from "../_helpers/process.ts";
import { testCluster } from "../../src/testing/mod.ts";

type Watched = { replyTo: ActorRef<string> };

/** An actor that watches every reply ref it is asked with, replies, and records Terminated. */
function watcher(terminated: string[]) {
  return Behaviors.receive<Watched | Terminated>((ctx, msg) => {
    if (msg instanceof Terminated) {
      terminated.push(msg.ref.path);
      return;
    }
    ctx.watch(msg.replyTo as ActorRef<never>);
    msg.replyTo.tell("ok");
  });
}

const start = startLocalNode;

describe("Watching ask refs", () => {
  it("tells a local watcher Terminated when the ask ends, by reply or by timeout", async () => {
    await using system = new ActorSystem({ logger: memoryLogger() });
    const terminated: string[] = [];
    const w = system.spawn(watcher(terminated), "w");
    const silent = system.spawn(
      Behaviors.receive<Watched | Terminated>((ctx, msg) => {
        if (msg instanceof Terminated) terminated.push(`silent saw ${msg.ref.path}`);
        else ctx.watch(msg.replyTo as ActorRef<never>);
      }),
      "silent",
    );
    assert.equal(await system.ask(w, (replyTo) => ({ replyTo })), "ok");
    await waitFor(() => terminated.length === 1, { what: "Terminated of the answered ask" });
    assert.match(terminated[0], /^\/_ask\/\d+-[0-9a-f]{32}$/);
    await assert.rejects(system.ask(silent, (replyTo) => ({ replyTo }), { timeout: 20 }), {
      name: "AskTimeoutError",
    });
    await waitFor(() => terminated.length === 2, { what: "Terminated of the timed-out ask" });
    assert.match(terminated[1], /^silent saw \/_ask\//);
  });

  it("tells a watcher on another node Terminated when the ask ends", async () => {
    await using a = await start("cleanup");
    await using b = await start("cleanup");
    const terminated: string[] = [];
    b.spawn(watcher(terminated), "w");
    const remote = a.lookup<Watched>(`casty://cleanup@127.0.0.1:${b.selfAddress.port}/w`)!;
    for (let i = 0; i < 3; i++) {
      assert.equal(await a.ask(remote, (replyTo) => ({ replyTo }), { timeout: 3000 }), "ok");
    }
    await waitFor(() => terminated.length === 3, {
      describe: () => `three Terminated at the remote watcher, got ${terminated.length}`,
    });
    for (const p of terminated) assert.match(p, /^\/_ask\/\d+-[0-9a-f]{32}$/);
  });

  it("ends a topology subscription made with an ask ref when the ask ends", async () => {
    await using first = await start("topo");
    const lateReplies: DeadLetter[] = [];
    first.eventStream.subscribe(DeadLetter, (d) => {
      if (d.reason === "lateReply") lateReplies.push(d);
    });
    const topology = first.lookup<SubscribeTopology>(TOPOLOGY_PATH)!;
    const snapshot = await first.ask<SubscribeTopology, TopologySnapshot>(
      topology,
      (replyTo) => new SubscribeTopology(replyTo),
    );
    assert.equal(snapshot.members.length, 1);
    // A second member joins: every subscriber is pushed a new snapshot; a subscription that
    // outlived its ask would make each push a late reply.
    await using second = await start("topo", {
      seedNodes: [`127.0.0.1:${first.selfAddress.port}`],
    });
    await Promise.all([first.waitFor(2, { timeout: 20_000 }), second.waitFor(2)]);
    const seen = await first.ask<SubscribeTopology, TopologySnapshot>(
      topology,
      (replyTo) => new SubscribeTopology(replyTo),
    );
    assert.equal(seen.members.length, 2);
    assert.deepEqual(lateReplies, []);
  });
});

describe("Remote watch of a node that is not a member", () => {
  it("ends in Terminated when the node never answers", async () => {
    await using node = await start("lonely", { transport: { unreachableTimeout: 300 } });
    const terminated: string[] = [];
    node.spawn(
      Behaviors.setup<Terminated>((ctx) => {
        // Port 1 on loopback refuses every connection.
        ctx.watch(node.lookup<never>("casty://lonely@127.0.0.1:1/nobody")!);
        return Behaviors.receive((_c, msg) => void terminated.push(msg.ref.address));
      }),
      "watcher",
    );
    await waitFor(() => terminated.length === 1, {
      timeout: 10_000,
      what: "Terminated after the unreachable timeout",
    });
    assert.deepEqual(terminated, ["casty://lonely@127.0.0.1:1/nobody"]);
  });

  it("ends in Terminated once the node has been killed for the unreachable timeout", async () => {
    const script = fileURLToPath(new URL("../_helpers/actor_node.ts", import.meta.url));
    const child = runScript(script, ["loner", "0"]);
    try {
      const port = Number((await child.waitForLine((l) => l.startsWith("ready "))).slice(6));
      await using node = await start("loner", { transport: { unreachableTimeout: 300 } });
      const echo = node.lookup<{ text: string; replyTo: ActorRef<string> }>(
        `casty://loner@127.0.0.1:${port}/echo`,
      )!;
      const terminated: string[] = [];
      node.spawn(
        Behaviors.setup<Terminated>((ctx) => {
          ctx.watch(echo as ActorRef<never>);
          return Behaviors.receive((_c, msg) => void terminated.push(msg.ref.address));
        }),
        "watcher",
      );
      assert.equal(await node.ask(echo, (replyTo) => ({ text: "hi", replyTo })), "hi");
      assert.deepEqual(terminated, [], "the node is alive and the watch holds");
      const killedAt = performance.now();
      await child.kill("SIGKILL");
      await waitFor(() => terminated.length === 1, {
        timeout: 10_000,
        what: "Terminated after the kill",
      });
      assert.ok(performance.now() - killedAt >= 300, "not before the unreachable timeout");
      assert.deepEqual(terminated, [echo.address]);
    } finally {
      await child.kill("SIGKILL");
    }
  });
});

describe("Clean-up after a member leaves", () => {
  it("spares the watches of a new incarnation at the same address", async () => {
    await using c = await testCluster(3, { seed: 5 });
    const [a] = c.nodes;
    const oldId = c.nodes[2].memberId;
    const gone: string[] = [];
    const onGone = (e: MemberDowned | MemberRemoved) => {
      if (e.member.id === oldId) gone.push(e.constructor.name);
    };
    a.eventStream.subscribe(MemberDowned, onGone);
    a.eventStream.subscribe(MemberRemoved, onGone);
    const fresh = await c.restart(2);
    fresh.spawn(Behaviors.receive<string>(() => Behaviors.stopped()), "worker");
    // The new incarnation joins and fences the old one to down; the leader removes it later.
    await c.until(() => gone.length > 0, { timeout: 60_000 });
    assert.deepEqual(gone, ["MemberDowned"], "the old incarnation is not removed yet");
    // Watch an actor of the new incarnation in between.
    const worker = a.lookup<string>(`casty://test@127.0.0.1:${c.address(2).port}/worker`)!;
    const terminated: string[] = [];
    const watcher = a.spawn(
      Behaviors.receive<Terminated | Watched | "watch">((ctx, msg) => {
        if (msg === "watch") ctx.watch(worker as ActorRef<never>);
        else if (msg instanceof Terminated) terminated.push(msg.ref.path);
        else msg.replyTo.tell("ok");
      }),
      "watcher",
    );
    watcher.tell("watch");
    assert.equal(await c.run(a.ask(watcher, (replyTo) => ({ replyTo }))), "ok");
    await c.until(() => gone.includes("MemberRemoved"), { timeout: 60_000 });
    // A Terminated caused by the removal would be queued before this ask's message.
    assert.equal(await c.run(a.ask(watcher, (replyTo) => ({ replyTo }))), "ok");
    assert.deepEqual(terminated, [], "the new incarnation's watch survived the old one's removal");
    // And it still works: the worker stops, the watcher is told.
    worker.tell("stop");
    await c.until(() => terminated.length === 1, { timeout: 10_000 });
    assert.deepEqual(terminated, ["/worker"]);
  });
});
