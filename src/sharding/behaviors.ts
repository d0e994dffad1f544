/**
 * The `Behaviors` of the root entry (`@casty/casty`): every factory of
 * `@casty/casty/actor` (local actors and event sourcing) plus those of the cluster features,
 * `sharded`, `singleton`, `broadcasted` and `discoverable`. It lives here, above the layers those
 * come from, and adds them to the one `Behaviors` object of `src/persistence/behaviors.ts`, so
 * `Behaviors` from `@casty/casty`, `@casty/casty/actor` and `@casty/casty/sharding` stay one
 * object.
 *
 * @module
 */
import type { Behavior } from "../actor/behaviors.ts";
import type { BroadcastedBehavior } from "../cluster/broadcast_ref.ts";
import { discoverable, type ServiceKey } from "../cluster/receptionist.ts";
import { spawnable } from "../cluster/spawnable.ts";
import { Behaviors as localBehaviors, type CastyBehaviors } from "../persistence/behaviors.ts";
import { broadcasted } from "./broadcast.ts";
import { sharded, type ShardedOptions } from "./sharded.ts";
import type { ShardEnvelope } from "./shard_envelope.ts";
import { singleton, type SingletonOptions } from "./singleton.ts";

/**
 * Every behavior factory of casty: local actors, event sourcing and the cluster features.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Behaviors, type ClusterBehaviors } from "@casty/casty";
 * const b: ClusterBehaviors = Behaviors;
 * assert.equal(typeof b.sharded, "function");
 * ```
 */
export interface ClusterBehaviors extends CastyBehaviors {
  /** A sharded entity type (see {@linkcode sharded}); spawn it on a `ClusteredActorSystem`. */
  sharded<M>(
    factory: (entityId: string) => Behavior<M>,
    options?: ShardedOptions,
  ): Behavior<ShardEnvelope<M>>;
  /**
   * One instance cluster-wide, on the oldest member (with the role): see {@linkcode singleton}.
   * Spawn it with the same name on every node (of the role).
   */
  singleton<M>(factory: Behavior<M> | (() => Behavior<M>), options?: SingletonOptions): Behavior<M>;
  /**
   * One instance per node; `node.spawn` returns a `BroadcastRef` whose `tell` reaches every
   * node and on which `node.ask` collects every reply: see {@linkcode broadcasted}.
   */
  broadcasted<M>(behavior: Behavior<M>): BroadcastedBehavior<M>;
  /**
   * Registered with the receptionist under `key` while it runs, on every node: see
   * {@linkcode discoverable}.
   */
  discoverable<M>(behavior: Behavior<M>, key: ServiceKey<M>): Behavior<M>;
  /**
   * Registers a behavior factory under a key so that a `ClusterClient` can spawn its behaviors
   * on a node by key and arguments: see {@linkcode spawnable}.
   */
  spawnable<A extends unknown[], M>(
    key: string,
    factory: (...args: A) => Behavior<M>,
  ): (...args: A) => Behavior<M>;
}

/**
 * Factories for behaviors: `receive`, `setup`, `same`, `stopped`, `unhandled`, `restart`,
 * `ignore`, `withLifecycle`, `supervise`, `spy`, `persisted`, `eventSourced`, and for a
 * cluster `sharded`, `singleton`, `broadcasted` and `discoverable`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ActorSystem, Behaviors } from "@casty/casty";
 * import { Behaviors as FromActor } from "@casty/casty/actor";
 * assert.equal(Behaviors, FromActor); // one object
 * await using system = new ActorSystem({ logLevel: "warn" });
 * const got: string[] = [];
 * const greeter = system.spawn(Behaviors.receive<string>((_ctx, name) => void got.push(name)), "greeter");
 * greeter.tell("Alice");
 * await new Promise((r) => setTimeout(r, 10));
 * assert.deepEqual(got, ["Alice"]);
 * assert.equal(typeof Behaviors.singleton, "function");
 * assert.equal(typeof Behaviors.sharded, "function");
 * ```
 */
export const Behaviors: ClusterBehaviors = Object.assign(localBehaviors, {
  sharded,
  singleton,
  broadcasted,
  discoverable,
  spawnable,
});
