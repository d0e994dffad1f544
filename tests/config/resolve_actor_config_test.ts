import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { defaultConfig, parseConfig, resolveActorConfig } from "../../src/config/mod.ts";

const config = await parseConfig(String.raw`
[defaults.mailbox]
capacity = 1000
strategy = "drop_new"

[defaults.supervision]
strategy = "restart"
max_restarts = 5
within_seconds = 30

[defaults.sharding]
num_shards = 256

[defaults.replication]
replicas = 2
min_acks = 1
ack_timeout = 5.0

[actors.orders]
mailbox = { capacity = 5000 }
sharding = { num_shards = 512 }
replication = { replicas = 3, min_acks = 2 }

[actors.my-worker]
mailbox = { capacity = 5000, strategy = "backpressure" }
supervision = { strategy = "stop" }

[actors."child-\\d+"]
mailbox = { capacity = 100, strategy = "drop_oldest" }

[actors."child-[0-9]"]
mailbox = { capacity = 1 }

[actors."a.c"]
supervision = { max_restarts = 0 }

[actors.".*"]
supervision = { within_seconds = 1 }
`);

describe("resolveActorConfig()", () => {
  it("matches a plain name exactly", () => {
    const orders = resolveActorConfig(config, "orders");
    assert.equal(orders.matched, "orders");
    assert.equal(orders.mailbox.capacity, 5000);
    assert.equal(orders.sharding.numShards, 512);
    assert.equal(resolveActorConfig(config, "orders-2").matched, ".*");
    assert.equal(resolveActorConfig(config, "my-orders").matched, ".*");
  });

  it("merges an override over [defaults.*] field by field", () => {
    const orders = resolveActorConfig(config, "orders");
    assert.deepEqual(orders.mailbox, { capacity: 5000, strategy: "dropNew" });
    assert.deepEqual(orders.supervision, { strategy: "restart", maxRestarts: 5, within: 30_000 });
    assert.deepEqual(orders.replication, { replicas: 3, minAcks: 2, ackTimeout: 5_000 });
    const worker = resolveActorConfig(config, "my-worker");
    assert.deepEqual(worker.mailbox, { capacity: 5000, strategy: "backpressure" });
    assert.deepEqual(worker.supervision, { strategy: "stop", maxRestarts: 5, within: 30_000 });
    assert.deepEqual(worker.sharding, { numShards: 256 });
  });

  it("matches a regex against the whole name", () => {
    assert.equal(resolveActorConfig(config, "child-42").matched, "child-\\d+");
    assert.deepEqual(resolveActorConfig(config, "child-42").mailbox, {
      capacity: 100,
      strategy: "dropOldest",
    });
    assert.equal(resolveActorConfig(config, "child-42x").matched, ".*");
    assert.equal(resolveActorConfig(config, "xchild-42").matched, ".*");
    assert.equal(resolveActorConfig(config, "abc").matched, "a.c");
    assert.equal(resolveActorConfig(config, "axc").matched, "a.c");
  });

  it("lets the first matching pattern in file order win", () => {
    // "child-7" matches both child-\d+ and child-[0-9]; the first one is written first.
    assert.equal(resolveActorConfig(config, "child-7").matched, "child-\\d+");
    assert.equal(resolveActorConfig(config, "child-7").mailbox.capacity, 100);
  });

  it("resolves child actors by the last segment of their path", () => {
    assert.equal(resolveActorConfig(config, "/user/parent/child-3").matched, "child-\\d+");
    assert.equal(resolveActorConfig(config, "/orders").matched, "orders");
  });

  it("gives internal actors the built-in defaults, ignoring the file", () => {
    const internal = resolveActorConfig(config, "_receptionist");
    assert.equal(internal.matched, undefined);
    assert.deepEqual(internal, defaultConfig().defaults);
    assert.equal(internal.mailbox.capacity, undefined);
    assert.deepEqual(resolveActorConfig(config, "/system/_coordinator"), defaultConfig().defaults);
  });

  it("uses [defaults.*] when no pattern matches", async () => {
    const only = await parseConfig(
      "[defaults.mailbox]\ncapacity = 10\n[actors.orders]\nmailbox = { capacity = 1 }",
    );
    const billing = resolveActorConfig(only, "billing");
    assert.equal(billing.matched, undefined);
    assert.deepEqual(billing.mailbox, { capacity: 10, strategy: "dropNew" });
  });

  it("uses the built-in defaults without a file", () => {
    assert.deepEqual(resolveActorConfig(defaultConfig(), "anything"), defaultConfig().defaults);
  });

  it('lifts a default bound with capacity = "unbounded"', async () => {
    const c = await parseConfig(
      '[defaults.mailbox]\ncapacity = 10\nstrategy = "drop_oldest"\n[actors.hose]\nmailbox = { capacity = "unbounded" }',
    );
    assert.deepEqual(resolveActorConfig(c, "hose").mailbox, {
      capacity: undefined,
      strategy: "dropOldest",
    });
  });
});
