// The README's "Testing your actors on a simulated cluster" example, verbatim except for the
// imports (`@casty/casty` and `@casty/casty/testing` in the README).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ActorRef, type Behavior, Behaviors, DeadLetter } from "../../mod.ts";
import { testCluster } from "../../src/testing/mod.ts";

type CounterMsg =
  | { type: "inc" }
  | { type: "get"; replyTo: ActorRef<number> };

const counter = (n = 0): Behavior<CounterMsg> =>
  Behaviors.receive((_ctx, msg) => {
    switch (msg.type) {
      case "inc":
        return counter(n + 1);
      case "get":
        msg.replyTo.tell(n);
        return Behaviors.same();
    }
  });

describe("my counter on a 3-node cluster", () => {
  it("answers across nodes, and survives a partition and a kill", async () => {
    await using cluster = await testCluster(3, { seed: 42 });
    const [a, b] = cluster.nodes;
    a.spawn(counter(), "counter");
    const uri = `casty://test@${a.selfAddress.host}:${a.selfAddress.port}/counter`;
    const ref = b.lookup<CounterMsg>(uri)!;
    ref.tell({ type: "inc" });
    ref.tell({ type: "inc" });
    // Time only moves when the test moves it: run() advances it until the ask settles.
    assert.equal(await cluster.run(b.ask(ref, (replyTo) => ({ type: "get", replyTo }))), 2);

    // Cut node 2 off: the majority (0 and 1) downs it after downing.stableAfter, and node 2,
    // alone in its minority, shuts itself down.
    cluster.partition([0, 1], 2);
    await cluster.until(() => cluster.nodes[2].isShutdown, { timeout: 60_000 });
    await cluster.until(() => cluster.isConverged(2), { timeout: 60_000 });
    cluster.heal();

    // Kill the counter's node like SIGKILL: messages to it become dead letters, not silence.
    const dead: DeadLetter[] = [];
    b.eventStream.subscribe(DeadLetter, (d) => dead.push(d));
    await cluster.kill(0);
    ref.tell({ type: "inc" });
    await cluster.until(() => dead.length > 0, { timeout: 60_000 });
    assert.equal(dead[0].reason, "undeliverable");
  });
});
