// Distributed structures are replicated when the cluster's replication defaults say so: each
// node keeps its own journal, and a structure survives the loss of the node that hosted it.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { entityShard, InMemoryJournal } from "../../mod.ts";
import { defaultConfig } from "../../src/config/casty_config.ts";
import type { CastyConfig } from "../../src/config/mod.ts";
import { testCluster } from "../../src/testing/mod.ts";

function withReplication(replicas: number, minAcks: number): CastyConfig {
  const base = defaultConfig();
  return {
    ...base,
    defaults: { ...base.defaults, replication: { replicas, minAcks, ackTimeout: 2000 } },
  };
}

describe("replicated distributed structures ([defaults.replication])", () => {
  it("a counter and a lock survive the loss of their node, each node with its own journal", async () => {
    await using cluster = await testCluster(3, {
      seed: 91,
      config: withReplication(1, 1),
      downing: { stableAfter: 2000 },
    });
    const journals = cluster.nodes.map(() => new InMemoryJournal());
    const d = cluster.nodes.map((n, i) => n.distributed({ journal: journals[i] }));
    const run = <T>(p: Promise<T>) => cluster.run(p, { timeout: 30_000 });

    // Where the counter lives.
    await run(d[0].counter("c").increment());
    const shard = entityShard("_dd:counter:c", 100);
    const placed = (await run(cluster.nodes[0].getClusterState())).allocations[
      "casty-distributed-100"
    ][shard];
    const port0 = cluster.nodes[0].selfAddress.port;
    const primary = placed.primary.port - port0;
    const replica = placed.replicas[0].port - port0;
    assert.notEqual(primary, replica);
    const writer = [0, 1, 2].find((i) => i !== primary)!;

    for (let k = 0; k < 19; k++) await run(d[writer].counter("c").increment());
    // minAcks 1: every acknowledged increment is in the replica's own journal too.
    const copied = await journals[replica].load("_dd:counter:c");
    assert.equal(copied.length, 20, "the replica's journal holds all 20 increments");

    // A lock (same sharded type): its grants are replicated as well.
    const lock = d[writer].lock("l", { lease: 1500 });
    const t1 = await run(lock.acquire());
    await run(lock.release());

    await cluster.run(cluster.kill(primary));
    // Until the shard has moved, a request may go to the dead node: ask again (bounded).
    let value: number | undefined;
    for (let attempt = 0; attempt < 10 && value === undefined; attempt++) {
      value = await run(d[writer].counter("c", { timeout: 3000 }).get()).catch(() => undefined);
    }
    assert.equal(value, 20, "nothing lost");
    assert.equal(await run(d[writer].counter("c").increment()), 21);
    const t2 = await run(lock.acquire());
    assert.ok(t2 > t1, `fencing tokens keep growing after the failover (${t1} → ${t2})`);
  });
});
