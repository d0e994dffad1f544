/**
 * casty: an actor framework and cluster for TypeScript on Deno and Bun, with no Redis, etcd or
 * Kafka behind it.
 *
 * Behaviors are values, refs are typed, failures are supervised, and state can be
 * event-sourced into a durable journal (SQLite, PostgreSQL or your own four-method store). The
 * same actors run in a cluster: gossip membership with a phi-accrual failure detector and
 * split-brain resolution, sharded entities placed and moved by the cluster, replicated
 * event-sourced state that loses no acknowledged write when a node dies, singletons, a
 * receptionist, distributed counters, maps, sets, queues, locks (with fencing tokens),
 * semaphores and barriers, and a `ClusterClient` for processes that send work without joining.
 * Every cluster port authenticates its peers (a shared secret or mutual TLS).
 *
 * This entry re-exports every runtime-neutral entry point; `Behaviors` here carries the
 * factories of all of them (`eventSourced`, `sharded`, `singleton` included). The entries:
 *
 * | entry | what it has |
 * | --- | --- |
 * | `@casty/casty/actor` | `ActorSystem`, `Behaviors`, refs, ask, supervision, the event stream |
 * | `@casty/casty/persistence` | event sourcing, `InMemoryJournal`, `SqliteJournal`, the journal contract |
 * | `@casty/casty/postgres` | `PostgresJournal` over your own PostgreSQL client |
 * | `@casty/casty/remote` | TCP transport, serialization, remote refs |
 * | `@casty/casty/cluster` | `ClusteredActorSystem`, membership, downing, receptionist |
 * | `@casty/casty/sharding` | sharded entities, singletons, broadcast, replication settings |
 * | `@casty/casty/distributed` | counters, maps, sets, queues, locks, semaphores, barriers |
 * | `@casty/casty/client` | `ClusterClient` |
 * | `@casty/casty/management` | management HTTP, Prometheus metrics, the live dashboard |
 * | `@casty/casty/config` | `loadConfig` for `casty.toml` |
 * | `@casty/casty/testing` | `testCluster` on a simulated clock, real node processes, a partition proxy |
 * | `@casty/casty/cli` | the `casty` command: `node`, `status`, `cert` |
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ActorSystem, Behaviors, type ActorRef, type Behavior } from "@casty/casty";
 *
 * type AccountMsg =
 *   | { type: "deposit"; amount: number }
 *   | { type: "getBalance"; replyTo: ActorRef<number> };
 *
 * const account = (balance = 0): Behavior<AccountMsg> =>
 *   Behaviors.receive((_ctx, msg) => {
 *     switch (msg.type) {
 *       case "deposit": return account(balance + msg.amount);
 *       case "getBalance": msg.replyTo.tell(balance); return Behaviors.same();
 *     }
 *   });
 *
 * await using system = new ActorSystem({ name: "bank" });
 * const ref = system.spawn(account(), "account");
 * ref.tell({ type: "deposit", amount: 100 });
 * const balance = await system.ask(ref, (replyTo) => ({ type: "getBalance", replyTo }), { timeout: 2000 });
 * assert.equal(balance, 100);
 * ```
 *
 * @module
 */
// Each entry exports an explicit list; they share the one `Behaviors` object
// (src/persistence/behaviors.ts), so re-exporting them all names each symbol once.
export * from "./src/actor/mod.ts";
export * from "./src/persistence/mod.ts";
export * from "./src/config/mod.ts";
export * from "./src/remote/mod.ts";
export * from "./src/cluster/mod.ts";
export * from "./src/sharding/mod.ts";
export * from "./src/distributed/mod.ts";
export * from "./src/client/mod.ts";
export * from "./src/management/mod.ts";
// The root `Behaviors` also has the cluster features' factories (this explicit export wins over
// the one the entries above re-export); it is the same object as theirs.
export { Behaviors, type ClusterBehaviors } from "./src/sharding/mod.ts";
