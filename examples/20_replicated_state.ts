/**
 * State without external storage (seed "Casty as a Cluster Backend"): event sourcing plus
 * replication keeps durable state with no database server. Three nodes over loopback TCP, in one
 * process, each with its own SQLite file; accounts are sharded event-sourced entities whose events
 * the primary ships to one replica and a deposit is acknowledged only once the replica has it
 * (`minAcks: 1`). Then the primary's node is downed (what the failure detector and the
 * split-brain resolver do after a crash): the shard's new primary takes the history from the
 * replica (the node with the highest sequence number) under a new term, and no acknowledged
 * deposit is lost.
 *
 * Run: `deno run -A examples/20_replicated_state.ts` or `bun examples/20_replicated_state.ts`
 *
 * @module
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type ActorRef,
  Behaviors,
  ClusteredActorSystem,
  entityShard,
  MemberRemoved,
  SqliteJournal,
} from "../mod.ts";

type Cmd =
  | { type: "deposit"; amount: number; replyTo: ActorRef<number | string> }
  | { type: "balance"; replyTo: ActorRef<number> };

const dir = mkdtempSync(join(tmpdir(), "casty-replicated-"));
const nodes: ClusteredActorSystem[] = [];
const journals: SqliteJournal[] = [];
const label = (port: number) => "ABC"[nodes.findIndex((n) => n.selfAddress.port === port)];

// The entity: a balance rebuilt from its deposits, in this node's own journal.
const account = (journal: SqliteJournal) => (entityId: string) =>
  Behaviors.eventSourced<Cmd, number, number>({
    entityId,
    journal,
    initialState: 0,
    onEvent: (balance, amount) => balance + amount,
    onCommand: (_ctx, balance, cmd) => {
      if (cmd.type === "balance") {
        cmd.replyTo.tell(balance);
        return Behaviors.same();
      }
      return Behaviors.persisted([cmd.amount], {
        reply: (after: number) => cmd.replyTo.tell(after), // after 1 replica has the event
        onFailure: (err) => cmd.replyTo.tell(err.message), // QuorumNotReachedError
      });
    },
  });

try {
  for (let i = 0; i < 3; i++) {
    const journal = new SqliteJournal({ path: join(dir, `node-${"ABC"[i]}.db`) });
    journals.push(journal);
    nodes.push(
      await ClusteredActorSystem.start({
        name: "bank",
        host: "127.0.0.1",
        port: 0,
        seedNodes: i === 0 ? [] : [nodes[0].selfAddress],
        logLevel: "error",
      }),
    );
  }
  await Promise.all(nodes.map((n) => n.waitFor(3, { timeout: 20_000 })));
  console.log("3 nodes up: A, B, C, each with its own SQLite journal");

  const replication = { replicas: 1, minAcks: 1, ackTimeout: 5000 };
  const accounts = nodes.map((n, i) =>
    n.spawn(Behaviors.sharded(account(journals[i]), { numShards: 10, replication }), "accounts")
  );

  // Where alice lives: her shard's primary and its replica.
  const shard = entityShard("alice", 10);
  const deposit = (via: number, amount: number) =>
    nodes[via].entityAsk<Cmd, number | string>(
      accounts[via],
      "alice",
      (replyTo) => ({ type: "deposit", amount, replyTo }),
      { timeout: 15_000 },
    );
  assert.equal(await deposit(0, 10), 10);
  const placed = (await nodes[0].getClusterState()).allocations.accounts[shard];
  const primary = nodes.findIndex((n) => n.selfAddress.port === placed.primary.port);
  const replica = label(placed.replicas[0].port);
  console.log(`alice's primary: ${label(placed.primary.port)}, replica: ${replica}`);

  // Nine more deposits from a node that will survive; each is acknowledged after replication.
  const writer = (primary + 1) % 3;
  let acknowledged = 10;
  for (let k = 0; k < 9; k++) {
    const after = await deposit(writer, 10);
    assert.equal(typeof after, "number", `deposit ${k} failed: ${after}`);
    acknowledged += 10;
  }
  console.log(`acknowledged deposits: ${acknowledged}`);

  // The primary's node is downed; it shuts itself down, and alice's shard moves.
  const removed = Promise.withResolvers<void>();
  nodes[writer].eventStream.subscribe(MemberRemoved, (e) => {
    if (e.member.address.port === placed.primary.port) removed.resolve();
  });
  nodes[writer].down(nodes[primary].selfAddress);
  await removed.promise;
  console.log(`${label(placed.primary.port)} was downed and removed`);

  // The new primary copied alice's events from the replica into its own journal and recovered
  // from it: nothing acknowledged was lost.
  const balance = await nodes[writer].entityAsk<Cmd, number>(
    accounts[writer],
    "alice",
    (replyTo) => ({ type: "balance", replyTo }),
    { timeout: 20_000 },
  );
  assert.equal(balance, acknowledged);
  const now = (await nodes[writer].getClusterState()).allocations.accounts[shard];
  assert.notEqual(now.primary.port, placed.primary.port);
  console.log(`alice's balance on ${label(now.primary.port)}: ${balance} (none lost)`);
  assert.equal(await deposit(writer, 5), acknowledged + 5);
  console.log("and she takes deposits again");
} finally {
  await Promise.allSettled(nodes.map((n) => n.shutdown()));
  for (const j of journals) j.close();
  rmSync(dir, { recursive: true, force: true });
}
