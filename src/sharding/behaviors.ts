/**
 * `Behaviors` with `sharded`: the one `Behaviors` object of casty (see
 * `src/persistence/behaviors.ts`), to which the sharding layer adds its factory. The layers
 * below cannot import sharding, so it is added here, to the same object: `Behaviors` from
 * `@casty/casty`, `@casty/casty/actor` and `@casty/casty/sharding` stay one object.
 *
 * @module
 */
import type { Behavior } from "../actor/behaviors.ts";
import { Behaviors as castyBehaviors, type CastyBehaviors } from "../persistence/behaviors.ts";
import { sharded, type ShardedOptions } from "./sharded.ts";
import type { ShardEnvelope } from "./shard_envelope.ts";

/**
 * Every behavior factory of casty, `sharded` included.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Behaviors, type ShardingBehaviors } from "@casty/casty/sharding";
 * const b: ShardingBehaviors = Behaviors;
 * assert.equal(typeof b.sharded, "function");
 * ```
 */
export interface ShardingBehaviors extends CastyBehaviors {
  /** A sharded entity type (see {@linkcode sharded}); spawn it on a `ClusteredActorSystem`. */
  sharded<M>(
    factory: (entityId: string) => Behavior<M>,
    options?: ShardedOptions,
  ): Behavior<ShardEnvelope<M>>;
}

/**
 * Factories for behaviors: every local and event-sourcing factory, plus `sharded`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Behaviors } from "@casty/casty";
 * import { Behaviors as FromActor } from "@casty/casty/actor";
 * assert.equal(Behaviors, FromActor);
 * assert.equal(typeof Behaviors.sharded, "function");
 * ```
 */
export const Behaviors: ShardingBehaviors = Object.assign(castyBehaviors, { sharded });
