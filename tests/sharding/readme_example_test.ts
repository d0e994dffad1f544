// The README's sharding example (NOTES-sharding.md), verbatim except for the imports
// (`@casty/casty` in the README) and the test wrapper.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  type ActorRef,
  type Behavior,
  Behaviors,
  ClusteredActorSystem,
  ShardEnvelope,
} from "../../mod.ts";

describe("README: cluster sharding", () => {
  it("runs the bank example on two nodes", { timeout: 30_000 }, async () => {
    type AccountMsg =
      | { type: "deposit"; amount: number }
      | { type: "getBalance"; replyTo: ActorRef<number> };

    const account = (_entityId: string): Behavior<AccountMsg> => {
      const active = (balance: number): Behavior<AccountMsg> =>
        Behaviors.receive((_ctx, msg) => {
          switch (msg.type) {
            case "deposit":
              return active(balance + msg.amount);
            case "getBalance":
              msg.replyTo.tell(balance);
              return Behaviors.same();
          }
        });
      return active(0);
    };

    await using node1 = await ClusteredActorSystem.start({
      name: "bank",
      host: "127.0.0.1",
      port: 0,
    });
    await using node2 = await ClusteredActorSystem.start({
      name: "bank",
      host: "127.0.0.1",
      port: 0,
      seedNodes: [node1.selfAddress],
    });
    await node1.waitFor(2);

    // Every node spawns the same type under the same name; each gets a region.
    const accounts1 = node1.spawn(Behaviors.sharded(account, { numShards: 100 }), "accounts");
    const accounts2 = node2.spawn(Behaviors.sharded(account, { numShards: 100 }), "accounts");

    accounts1.tell(new ShardEnvelope("alice", { type: "deposit", amount: 100 }));
    accounts1.tell(new ShardEnvelope("bob", { type: "deposit", amount: 200 }));
    // Routed to whichever node owns alice's shard.
    const balance = await node1.entityAsk<AccountMsg, number>(
      accounts1,
      "alice",
      (replyTo) => ({ type: "getBalance", replyTo }),
      { timeout: 5000 },
    );
    assert.equal(balance, 100);

    accounts2.tell(new ShardEnvelope("alice", { type: "deposit", amount: 50 }));
    const ask = () =>
      node2.entityAsk<AccountMsg, number>(accounts2, "alice", (replyTo) => ({
        type: "getBalance",
        replyTo,
      }));
    assert.equal(await ask(), 150); // one sender (node 2): its deposit comes before its ask

    const state = await node1.getClusterState();
    // alice is in shard 70 (MD5, as in the Python library), allocated to one of the two nodes
    assert.ok([node1.selfAddress.port, node2.selfAddress.port].includes(
      state.allocations.accounts[70].primary.port,
    ));
  });
});
