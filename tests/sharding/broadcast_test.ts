import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  type ActorRef,
  AskTimeoutError,
  type Behavior,
  Behaviors,
  type BroadcastRef,
  type ClusteredActorSystem,
} from "../../mod.ts";
import { testCluster } from "../../src/testing/mod.ts";

type Msg =
  | { type: "note"; text: string }
  | { type: "notes"; replyTo: ActorRef<{ port: number; notes: string[] }> };

function notebook(port: number): Behavior<Msg> {
  return Behaviors.setup<Msg>(() => {
    const notes: string[] = [];
    return Behaviors.receive<Msg>((_ctx, msg) => {
      if (msg.type === "note") notes.push(msg.text);
      else msg.replyTo.tell({ port, notes: [...notes] });
    });
  });
}

const spawn = (n: ClusteredActorSystem): BroadcastRef<Msg> =>
  n.spawn(Behaviors.broadcasted(notebook(n.selfAddress.port)), "notes");

describe("Behaviors.broadcasted", () => {
  it("tell reaches the instance on every node; ask collects every node's reply", async () => {
    await using c = await testCluster(3, { seed: 11 });
    const refs = c.nodes.map(spawn);
    refs[1].tell({ type: "note", text: "a" });
    refs[1].tell({ type: "note", text: "b" });
    await c.advance(100);
    const replies = await c.run(
      c.nodes[0].ask(refs[0], (replyTo) => ({ type: "notes", replyTo }), { timeout: 1000 }),
    );
    assert.deepEqual(replies.map((r) => r.port), [25520, 25521, 25522]);
    assert.deepEqual(replies.from.map((a) => a.port), [25520, 25521, 25522]);
    for (const r of replies) assert.deepEqual(r.notes, ["a", "b"]); // in the order sent
    assert.deepEqual(replies.missing, []);
  });

  it("reports the nodes that did not answer in time instead of hiding them", async () => {
    await using c = await testCluster(3, { seed: 12 });
    const refs = [spawn(c.nodes[0]), spawn(c.nodes[1])]; // node 2 never spawns it
    await c.advance(50);
    const replies = await c.run(
      c.nodes[0].ask(refs[0], (replyTo) => ({ type: "notes", replyTo }), { timeout: 500 }),
    );
    assert.deepEqual([...replies].map((r) => r.port), [25520, 25521]);
    assert.equal(replies.missing.length, 1);
    assert.equal(replies.missing[0].node.port, 25522);
    assert.ok(replies.missing[0].error instanceof AskTimeoutError);

    // A killed node that is not yet removed is missing too; the others still answer.
    await c.kill(1);
    const after = await c.run(
      c.nodes[0].ask(refs[0], (replyTo) => ({ type: "notes", replyTo }), { timeout: 500 }),
    );
    assert.deepEqual(after.map((r) => r.port), [25520]);
    assert.deepEqual(after.missing.map((m) => m.node.port).sort(), [25521, 25522]);
  });

  it("a node that joins later and spawns it gets broadcasts too", async () => {
    await using c = await testCluster(2, { seed: 13 });
    const refs = c.nodes.map(spawn);
    const late = await c.start(2);
    await c.until(() => c.isConverged(3), { timeout: 60_000 });
    spawn(late);
    refs[0].tell({ type: "note", text: "hello" });
    await c.advance(50);
    const replies = await c.run(
      c.nodes[1].ask(refs[1], (replyTo) => ({ type: "notes", replyTo }), { timeout: 500 }),
    );
    assert.deepEqual(replies.map((r) => [r.port, r.notes]), [
      [25520, ["hello"]],
      [25521, ["hello"]],
      [25522, ["hello"]],
    ]);
  });

  it("a plain ask on an instance still answers with one reply", async () => {
    await using c = await testCluster(2, { seed: 14 });
    c.nodes.map(spawn);
    await c.advance(10);
    const one = c.nodes[0].lookup<Msg>("/notes/instance")!;
    const r = await c.run(c.nodes[0].ask(one, (replyTo) => ({ type: "notes", replyTo })));
    assert.equal(r.port, 25520);
  });
});
