// The cluster extension point, proved by a tiny extension registered without touching the
// internals of ActorSystem or ClusteredActorSystem: a system actor that answers on every node
// with a registered message class, a membership listener, and a special behavior routed by its
// marker.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ActorRef, ActorSystem, Behaviors, MemberUp, type NodeAddress } from "../../mod.ts";
import type { ClusterExtension, ClusterView } from "../../src/cluster/extension.ts";
import { markerBehavior } from "../../src/cluster/extension.ts";
import { testCluster } from "../../src/testing/mod.ts";
import { memoryLogger, waitFor } from "../_helpers/probe.ts";

/** Registered with the serializer by the extension: arrives as an instance on the other node. */
class EchoReply {
  constructor(readonly port: number, readonly incarnation: string, readonly upSeen: number) {}
}

type EchoMsg = { readonly replyTo: ActorRef<EchoReply> };

/** `Behaviors.twice(b)`: spawns `b` under `name` and `name-2`; only the extension knows how. */
const twice = <M>(behavior: ReturnType<typeof Behaviors.receive<M>>) =>
  markerBehavior<M>("twice", "Behaviors.twice()", behavior);

const stopped: string[] = [];

const echoExtension: ClusterExtension = {
  name: "echo",
  start(ctx) {
    let upSeen = 0;
    const unsubscribe = ctx.subscribe((e) => {
      if (e instanceof MemberUp) upSeen++;
    });
    ctx.registerSerializable(EchoReply, "test.EchoReply");
    ctx.spawnSystemActor(
      Behaviors.receive<EchoMsg>((_c, msg) => {
        msg.replyTo.tell(new EchoReply(ctx.selfAddress.port, ctx.incarnation, upSeen));
      }),
    );
    ctx.registerSpawnHandler("twice", (behavior, name, options) => {
      const node = ctx.node;
      const inner = (behavior.payload as { data: typeof behavior }).data;
      node.spawn(inner, `${name}-2`, options);
      return node.spawn(inner, name, options);
    });
    return () => {
      unsubscribe();
      stopped.push(ctx.view().self.port.toString());
    };
  },
};

describe("Cluster extensions", () => {
  it("start on every node: a system actor at /_cluster/_echo answers from each", async () => {
    stopped.length = 0;
    const c = await testCluster(3, { seed: 5, extensions: [echoExtension] });
    try {
      const [a] = c.nodes;
      for (let i = 0; i < 3; i++) {
        const target = a.remoting.refAt<EchoMsg>(c.address(i), "/_cluster/_echo");
        const reply = await c.run(a.ask(target, (replyTo) => ({ replyTo })));
        assert.ok(reply instanceof EchoReply, "the registered class survives the wire");
        assert.equal(reply.port, c.address(i).port);
        assert.equal(reply.incarnation, c.nodes[i].memberId, "one identity per node");
        assert.ok(reply.upSeen >= 1, "the extension's listener saw membership events");
      }
      const view: ClusterView = c.nodes[1].view;
      assert.equal(view.members.length, 3);
      assert.deepEqual(view.leader, c.nodes[0].leader);
      assert.equal(view.incarnation, c.nodes[1].memberId);
    } finally {
      await c.shutdown();
    }
    assert.deepEqual(stopped.sort(), ["25520", "25521", "25522"], "stopped on every node");
  });

  it("routes the spawn of a marker behavior to the extension that registered it", async () => {
    await using c = await testCluster(1, { extensions: [echoExtension] });
    const node = c.nodes[0];
    const got: string[] = [];
    const ref = node.spawn(twice(Behaviors.receive<string>((_c, m) => void got.push(m))), "pair");
    assert.equal(ref.path, "/pair");
    assert.ok(node.lookup("/pair-2"), "the extension spawned its second copy");
    ref.tell("hi");
    await c.advance(10);
    assert.deepEqual(got, ["hi"]);
  });

  it("a marker behavior fails clearly where no extension handles it", async () => {
    const logger = memoryLogger();
    await using system = new ActorSystem({ logger });
    const ref = system.spawn(twice(Behaviors.receive<string>(() => {})), "alone");
    await waitFor(() => system.lookup(ref.path) === undefined, { what: "the actor to stop" });
    assert.ok(
      logger.lines.some((l) =>
        l.includes("Behaviors.twice() can only be spawned on a ClusteredActorSystem")
      ),
      logger.lines.join("\n"),
    );
  });

  it("refuses a second extension with the same name and names outside /_cluster", async () => {
    await assert.rejects(
      testCluster(1, { extensions: [echoExtension, echoExtension], waitForUp: false }),
      /Cannot start cluster extension "echo": it is started/,
    );
    const bad: ClusterExtension = {
      name: "bad",
      start(ctx) {
        ctx.spawnSystemActor(Behaviors.ignore(), "user-visible");
      },
    };
    await assert.rejects(
      testCluster(1, { extensions: [bad], waitForUp: false }),
      /names under \/_cluster start with "_"/,
    );
  });
});

void ({} as NodeAddress);
