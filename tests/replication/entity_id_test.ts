// Replication of an entity whose event-sourced `entityId` (its key in the journal) is not its
// sharding id: the replicas must hold its events under the journal key the entity recovers from.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ActorRef, Behaviors } from "../../mod.ts";
import { InMemoryJournal } from "../../src/persistence/mod.ts";
import { testCluster } from "../../src/testing/mod.ts";
import { termRecordId } from "../../src/replication/terms.ts";
import { placement } from "./_fixtures.ts";

type Cmd =
  | { type: "deposit"; amount: number; replyTo: ActorRef<number> }
  | { type: "get"; replyTo: ActorRef<number> };

const account = (journal: InMemoryJournal) => (id: string) =>
  Behaviors.eventSourced<Cmd, number, number>({
    entityId: `account-${id}`, // not the sharding id
    journal,
    initialState: 0,
    onEvent: (balance, amount) => balance + amount,
    onCommand: (_ctx, balance, cmd) => {
      if (cmd.type === "get") return void cmd.replyTo.tell(balance);
      return Behaviors.persisted([cmd.amount], { reply: (b: number) => cmd.replyTo.tell(b) });
    },
  });

describe("replication: an entityId other than the sharding id", () => {
  it("keeps the replicas under the entity's journal key, and the promoted replica has every acknowledged write", async () => {
    await using cluster = await testCluster(3, { seed: 21, downing: { stableAfter: 2000 } });
    const journals = cluster.nodes.map(() => new InMemoryJournal());
    const regions = cluster.nodes.map((node, i) =>
      node.spawn(
        Behaviors.sharded(account(journals[i]), {
          numShards: 10,
          replication: { replicas: 1, minAcks: 1, ackTimeout: 1000 },
        }),
        "accounts",
      )
    );
    const deposit = (via: number, amount: number) =>
      cluster.run(
        cluster.nodes[via].entityAsk<Cmd, number>(
          regions[via],
          "acc",
          (replyTo) => ({ type: "deposit", amount, replyTo }),
        ),
      );
    assert.equal(await deposit(0, 10), 10);
    const p = (await placement(cluster, 0, "acc"))!;
    const other = [0, 1, 2].find((i) => i !== p.primary)!;
    assert.equal(await deposit(other, 5), 15);
    // Acknowledged with minAcks 1: the replica's journal has both events, under the entity's key.
    const replica = journals[p.replicas[0]];
    assert.deepEqual((await replica.load("account-acc")).map((e) => e.event), [10, 5]);
    assert.deepEqual(await replica.load("acc"), [], "nothing under the sharding id");

    await cluster.run(cluster.kill(p.primary));
    // Reads until the shard is served again (an ask sent to the dead node is lost).
    let balance: number | undefined;
    for (let i = 0; balance === undefined && i < 60; i++) {
      balance = await cluster.run(
        cluster.nodes[other].entityAsk<Cmd, number>(
          regions[other],
          "acc",
          (replyTo) => ({ type: "get", replyTo }),
          { timeout: 2000 },
        ).catch(() => undefined),
      );
    }
    assert.equal(balance, 15, "the promoted replica recovered both acknowledged deposits");
    assert.deepEqual(
      (await journals[other].load("account-acc")).map((e) => e.event),
      [10, 5],
      "the new primary's own journal holds the log under the entity's key",
    );
    // Its term record (durable terms) also follows the entity's key.
    assert.ok(await journals[other].loadSnapshot(termRecordId("account-acc")), "term record");
    assert.equal(await journals[other].loadSnapshot(termRecordId("acc")), undefined);
  });
});
