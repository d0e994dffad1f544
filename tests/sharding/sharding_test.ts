import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Behaviors, ShardEnvelope } from "../../mod.ts";
import { testCluster } from "../../src/testing/mod.ts";
import { account, type AccountMsg, Ledger } from "./_fixtures.ts";

describe("Behaviors.sharded() on a simulated cluster", () => {
  it("runs the seed's bank example: deposits through two nodes reach one entity", async () => {
    await using cluster = await testCluster(2, { seed: 7 });
    const ledger = new Ledger();
    const [node1, node2] = cluster.nodes;
    const accounts1 = node1.spawn(
      Behaviors.sharded(account(ledger, "n1"), { numShards: 100 }),
      "accounts",
    );
    const accounts2 = node2.spawn(
      Behaviors.sharded(account(ledger, "n2"), { numShards: 100 }),
      "accounts",
    );
    await cluster.advance(300); // the seed's asyncio.sleep(0.3) steps, in simulated time
    accounts1.tell(new ShardEnvelope("alice", { type: "deposit", amount: 100 }));
    accounts1.tell(new ShardEnvelope("bob", { type: "deposit", amount: 200 }));
    await cluster.advance(300);
    accounts2.tell(new ShardEnvelope("alice", { type: "deposit", amount: 50 }));
    await cluster.advance(300);
    const balance = await cluster.run(
      node1.ask<ShardEnvelope<AccountMsg>, number>(
        accounts1,
        (r) => new ShardEnvelope("alice", { type: "getBalance", replyTo: r }),
        { timeout: 2000 },
      ),
    );
    assert.equal(balance, 150);
    const bob = await cluster.run(
      node2.entityAsk<AccountMsg, number>(accounts2, "bob", (replyTo) => ({
        type: "getBalance",
        replyTo,
      })),
    );
    assert.equal(bob, 200);
    assert.equal(ledger.duplicate, undefined);
  });
});
