import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { entityShard } from "../../src/sharding/entity_shard.ts";
import { md5 } from "../../src/sharding/_md5.ts";
import { ShardEnvelope } from "../../src/sharding/shard_envelope.ts";

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

describe("entityShard()", () => {
  it("gives the Python library's shard numbers (reference §9 golden values)", () => {
    assert.equal(entityShard("user-42", 100), 87);
    assert.equal(entityShard("alice", 100), 70);
    assert.equal(entityShard("", 100), 93);
    assert.equal(entityShard("entity-1", 10), 6);
    assert.equal(entityShard("user-42", 256), 7);
    assert.equal(entityShard("ünïcode", 100), 29);
  });

  it("gives the same answer from its cache as on first sight", () => {
    for (let i = 0; i < 3; i++) assert.equal(entityShard("user-42", 100), 87);
  });

  it("rejects a shard count that is not a positive integer", () => {
    assert.throws(() => entityShard("a", 0), RangeError);
    assert.throws(() => entityShard("a", 1.5), /numShards must be a positive integer, got 1.5/);
  });
});

describe("md5()", () => {
  it("matches node:crypto on inputs around every block boundary", () => {
    const enc = new TextEncoder();
    for (const n of [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 128, 1000]) {
      const s = "ab€ü".repeat(n).slice(0, n);
      const bytes = enc.encode(s);
      assert.equal(hex(md5(bytes)), createHash("md5").update(bytes).digest("hex"), `length ${n}`);
    }
  });
});

describe("ShardEnvelope", () => {
  it("carries an entity id and a message, and refuses a non-string id", () => {
    const e = new ShardEnvelope("bob", 1);
    assert.equal(e.entityId, "bob");
    assert.equal(e.message, 1);
    assert.throws(() => new ShardEnvelope(42 as unknown as string, 1), TypeError);
  });
});
