/**
 * The `Behaviors` of the root entry (`@casty/casty`): every factory of
 * `@casty/casty/actor` (local actors and event sourcing) plus those of the cluster features,
 * `singleton`, `broadcasted` and `discoverable`. It lives here, above the layers those come
 * from.
 *
 * @module
 */
import type { Behavior } from "../actor/behaviors.ts";
import type { BroadcastedBehavior } from "../cluster/broadcast_ref.ts";
import { discoverable, type ServiceKey } from "../cluster/receptionist.ts";
import { Behaviors as localBehaviors, type CastyBehaviors } from "../persistence/behaviors.ts";
import { broadcasted } from "./broadcast.ts";
import { singleton, type SingletonOptions } from "./singleton.ts";

/** Every behavior factory of casty: local actors, event sourcing and the cluster features. */
export interface ClusterBehaviors extends CastyBehaviors {
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
}

/**
 * Factories for behaviors: `receive`, `setup`, `same`, `stopped`, `unhandled`, `restart`,
 * `ignore`, `withLifecycle`, `supervise`, `spy`, `persisted`, `eventSourced`, and for a
 * cluster `singleton`, `broadcasted` and `discoverable`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ActorSystem, Behaviors } from "@casty/casty";
 * await using system = new ActorSystem({ logLevel: "warn" });
 * const got: string[] = [];
 * const greeter = system.spawn(Behaviors.receive<string>((_ctx, name) => void got.push(name)), "greeter");
 * greeter.tell("Alice");
 * await new Promise((r) => setTimeout(r, 10));
 * assert.deepEqual(got, ["Alice"]);
 * assert.equal(typeof Behaviors.singleton, "function");
 * ```
 */
export const Behaviors: ClusterBehaviors = {
  ...localBehaviors,
  singleton,
  broadcasted,
  discoverable,
};
