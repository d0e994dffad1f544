import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Behaviors, parseConfig, ShardEnvelope } from "../../mod.ts";
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

describe("Behaviors.sharded() and casty.toml", () => {
  it('takes num_shards from [actors."name"] sharding, and an explicit option wins', async () => {
    const config = await parseConfig(`
[defaults.sharding]
num_shards = 50

[actors."accounts"]
sharding = { num_shards = 7 }
`);
    await using cluster = await testCluster(1, { seed: 3, config });
    const node = cluster.nodes[0];
    const ledger = new Ledger();
    const accounts = node.spawn(Behaviors.sharded(account(ledger, "n0")), "accounts");
    const orders = node.spawn(Behaviors.sharded(account(ledger, "n0")), "orders");
    const wide = node.spawn(Behaviors.sharded(account(ledger, "n0"), { numShards: 300 }), "wide");
    const ids = Array.from({ length: 200 }, (_, i) => `id-${i}`);
    for (const ref of [accounts, orders, wide]) {
      for (const id of ids) ref.tell(new ShardEnvelope(id, { type: "deposit", amount: 1 }));
    }
    await cluster.until(() => [...ledger.handled.values()].flat().length === 600);
    const state = await node.getClusterState();
    const shardsOf = (t: string) => Object.keys(state.allocations[t] ?? {}).map(Number);
    assert.equal(new Set(shardsOf("accounts")).size, 7);
    assert.ok(shardsOf("accounts").every((s) => s < 7));
    assert.ok(shardsOf("orders").every((s) => s < 50));
    assert.ok(shardsOf("orders").some((s) => s >= 7));
    assert.ok(shardsOf("wide").some((s) => s >= 50));
  });
});

describe("node.regionRef() and entityAsk()", () => {
  it("spawns the type once and returns the same region afterwards", async () => {
    await using cluster = await testCluster(2, { seed: 8 });
    const ledger = new Ledger();
    const [a, b] = cluster.nodes;
    const ra = a.regionRef<AccountMsg>("accounts", account(ledger, "n0"), { numShards: 10 });
    assert.equal(a.regionRef<AccountMsg>("accounts", account(ledger, "n0")), ra);
    const rb = b.regionRef<AccountMsg>("accounts", account(ledger, "n1"), { numShards: 10 });
    ra.tell(new ShardEnvelope("carol", { type: "deposit", amount: 7 }));
    await cluster.advance(200);
    const n = await cluster.run(
      b.entityAsk<AccountMsg, number>(rb, "carol", (replyTo) => ({ type: "getBalance", replyTo }), {
        timeout: 3000,
      }),
    );
    assert.equal(n, 7);
  });
});

describe("Behaviors.sharded() spawned with different shard counts", () => {
  it("is reported as an error by the leader", async () => {
    const errors: string[] = [];
    const silent = () => {};
    await using cluster = await testCluster(2, {
      seed: 12,
      logger: { debug: silent, info: silent, warn: silent, error: (m: string) => errors.push(m) },
    });
    const ledger = new Ledger();
    cluster.nodes[0].spawn(Behaviors.sharded(account(ledger, "n0"), { numShards: 100 }), "acc");
    cluster.nodes[1].spawn(Behaviors.sharded(account(ledger, "n1"), { numShards: 50 }), "acc");
    await cluster.until(() => errors.some((e) => e.includes('Sharded type "acc" has numShards')));
    assert.match(errors.find((e) => e.includes("numShards"))!, /100 on node .* but 50 on node/);
  });
});
