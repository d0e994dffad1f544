// Entities are the region's children named after their ids (`/<type>/<id>`), with "%", "/" and
// white space escaped; the region finds a stopped entity again from its child name (no map of
// refs, no watch per entity), so passivation and re-activation work for any id.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ActorRef, Behaviors, ShardEnvelope } from "../../mod.ts";
import { entityChildName, entityIdOfChild } from "../../src/sharding/shard_region.ts";
import { testCluster } from "../../src/testing/mod.ts";

type Msg = { type: "add"; n: number } | { type: "get"; replyTo: ActorRef<[string, number]> };

describe("entity child names", () => {
  it("are the id when it is a valid actor name, escaped otherwise, and always reversible", () => {
    assert.equal(entityChildName("alice"), "alice");
    assert.equal(entityChildName("user-42"), "user-42");
    assert.equal(entityChildName("é🙂"), "é🙂");
    assert.equal(entityChildName("a/b"), "a%002fb");
    assert.equal(entityChildName("a b\tc"), "a%0020b%0009c");
    assert.equal(entityChildName("100%"), "100%0025");
    assert.equal(entityChildName(""), "%");
    const ids = [
      "alice",
      "a/b",
      "a b",
      "%",
      "%0025",
      "100%",
      "",
      "/",
      " ",
      "x%002fy",
      "é/🙂",
      "\n",
    ];
    const names = ids.map(entityChildName);
    assert.equal(new Set(names).size, ids.length, "no two ids share a name");
    for (const name of names) assert.ok(!/[/\s]/.test(name) && name.length > 0, name);
    assert.deepEqual(names.map(entityIdOfChild), ids);
  });

  it("passivate and come back for ids that need escaping, with paths under the region", async () => {
    await using cluster = await testCluster(1, { seed: 7 });
    const node = cluster.nodes[0];
    let starts = 0;
    const counter = (id: string) =>
      Behaviors.setup<Msg>((ctx) => {
        starts++;
        let n = 0;
        return Behaviors.receive<Msg>((_ctx, msg) => {
          if (msg.type === "add") n += msg.n;
          else msg.replyTo.tell([`${ctx.self.path}|${id}`, n]);
        });
      });
    const region = node.spawn(
      Behaviors.sharded(counter, { numShards: 10, passivateAfter: 1000 }),
      "counters",
    );
    const ids = ["plain", "a/b", "with space", "50%", ""];
    const ask = (id: string) =>
      cluster.run(
        node.entityAsk<Msg, [string, number]>(region, id, (replyTo) => ({ type: "get", replyTo })),
      );
    for (const id of ids) region.tell(new ShardEnvelope(id, { type: "add", n: 2 }));
    for (const id of ids) {
      const [where, n] = await ask(id);
      assert.equal(n, 2, id);
      assert.equal(where, `/counters/${entityChildName(id)}|${id}`);
    }
    assert.equal(starts, ids.length);
    // Idle for longer than passivateAfter: every entity stops, then comes back fresh.
    await cluster.advance(5000);
    for (const id of ids) {
      const [, n] = await ask(id);
      assert.equal(n, 0, `${id}: a new incarnation after passivation`);
    }
    assert.equal(starts, 2 * ids.length);
  });
});
