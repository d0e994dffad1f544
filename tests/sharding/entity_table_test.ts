// The region's child registry is its one table of entities (no map of its own), and the region
// ref's fast path delivers to live entities and spawns new ones itself. These tests pin what that
// must keep: an id is never confused with another id whose escaped child name it spells, and the
// messages of an id whose entity is stopping wait for it and reach the next incarnation in order,
// whichever way (fast path or region mailbox) they come in.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ActorRef, Behaviors, ShardEnvelope } from "../../mod.ts";
import { entityChildName } from "../../src/sharding/shard_region.ts";
import { testCluster } from "../../src/testing/mod.ts";

type Msg = { type: "add"; n: number } | { type: "get"; replyTo: ActorRef<[string, number[]]> };

describe("the region's entity table", () => {
  it("keeps ids apart whose escaped child name another id spells", async () => {
    await using cluster = await testCluster(1, { seed: 11 });
    const node = cluster.nodes[0];
    const entity = (id: string) =>
      Behaviors.setup<Msg>((ctx) => {
        const got: number[] = [];
        return Behaviors.receive<Msg>((_ctx, msg) => {
          if (msg.type === "add") got.push(msg.n);
          else msg.replyTo.tell([`${ctx.self.path}|${id}`, got]);
        });
      });
    const region = node.spawn(Behaviors.sharded(entity, { numShards: 10 }), "t");
    // "a b" is the child "a%0020b"; the id "a%0020b" is the child "a%00250020b". Likewise "" is
    // the child "%" and "%" the child "%0025", and "%0025" another name again.
    const ids = ["a b", "a%0020b", "", "%", "%0025", "plain"];
    // Two rounds: the first spawns (through the region or the fast path), the second finds them.
    for (let round = 0; round < 2; round++) {
      ids.forEach((id, i) =>
        region.tell(new ShardEnvelope(id, { type: "add", n: 10 * i + round }))
      );
      await cluster.advance(10);
    }
    for (const [i, id] of ids.entries()) {
      const [where, got] = await cluster.run(
        node.entityAsk<Msg, [string, number[]]>(
          region,
          id,
          (replyTo) => ({ type: "get", replyTo }),
        ),
      );
      assert.equal(where, `/t/${entityChildName(id)}|${id}`);
      assert.deepEqual(got, [10 * i, 10 * i + 1], JSON.stringify(id));
    }
  });

  it("holds the messages of a stopping entity and hands them in order to its next incarnation", async () => {
    await using cluster = await testCluster(1, { seed: 12 });
    const node = cluster.nodes[0];
    const log: [number, number][] = []; // [incarnation, n]
    let incarnations = 0;
    let stopping!: () => void;
    const stopped = new Promise<void>((resolve) => (stopping = resolve));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const entity = (_id: string) =>
      Behaviors.setup<Msg>(() => {
        const me = ++incarnations;
        return Behaviors.withLifecycle(
          Behaviors.receive<Msg>((_ctx, msg) => {
            if (msg.type === "add") log.push([me, msg.n]);
            else msg.replyTo.tell(["", log.filter(([i]) => i === me).map(([, n]) => n)]);
          }),
          {
            // The first incarnation takes its time to stop, until the test lets it go.
            postStop: () => {
              if (me !== 1) return;
              stopping();
              return gate;
            },
          },
        );
      });
    const region = node.spawn(
      Behaviors.sharded(entity, { numShards: 10, passivateAfter: 1000 }),
      "s",
    );
    const add = (n: number) => region.tell(new ShardEnvelope("e", { type: "add", n }));
    const get = () =>
      cluster.run(
        node.entityAsk<Msg, [string, number[]]>(
          region,
          "e",
          (replyTo) => ({ type: "get", replyTo }),
        ),
      );
    add(0);
    assert.deepEqual((await get())[1], [0]);
    // Idle past passivateAfter: the region stops it; its postStop now waits for the gate.
    await cluster.advance(3000);
    await cluster.run(stopped);
    for (let n = 1; n <= 50; n++) add(n);
    await cluster.advance(10);
    assert.equal(incarnations, 1, "no second incarnation while the first is stopping");
    release();
    // One message per microtask turn while the first incarnation finishes stopping and leaves
    // the registry, before the region has handled its Terminated: all still in order.
    for (let n = 51; n <= 100; n++) {
      add(n);
      await Promise.resolve();
    }
    const [, second] = await get();
    assert.equal(incarnations, 2);
    assert.deepEqual(second, Array.from({ length: 100 }, (_, i) => i + 1));
    assert.deepEqual(log.filter(([i]) => i === 1).map(([, n]) => n), [0]);
  });
});
