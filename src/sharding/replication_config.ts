/**
 * The replication settings of a sharded type, and the seam through which the replication layer
 * (src/replication/, which stands on sharding) plugs into the regions.
 *
 * @module
 */
import type { Behavior } from "../actor/behaviors.ts";
import type { ClusterExtensionContext } from "../cluster/extension.ts";
import type { ReplicationSettings } from "../config/casty_config.ts";
import type { NodeAddress } from "../remote/address.ts";

/**
 * Replication of a sharded event-sourced type (`Behaviors.sharded(factory, { replication })`,
 * or `[defaults.replication]` / `[actors."<name>"] replication` in `casty.toml`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ReplicationConfig } from "@casty/casty/sharding";
 * const r: ReplicationConfig = { replicas: 2, minAcks: 1, ackTimeout: 2000 };
 * assert.ok(r.minAcks! <= r.replicas);
 * ```
 */
export interface ReplicationConfig {
  /** Nodes other than the primary that keep a copy of each entity's events. */
  readonly replicas: number;
  /**
   * Replica acknowledgements a command waits for before its `reply` runs; at most `replicas`.
   * With 0 the events are shipped without waiting: a write acknowledged just before its primary's
   * node is lost can be missing after failover.
   * @default {0}
   */
  readonly minAcks?: number;
  /**
   * How long (ms) a command waits for `minAcks` acknowledgements before it fails with
   * `QuorumNotReachedError`; also bounds each step of a promotion.
   * @default {5000}
   */
  readonly ackTimeout?: number;
}

/**
 * Checks a {@linkcode ReplicationConfig} and fills in its defaults.
 *
 * @param config The configuration.
 * @returns The settings with every field set.
 * @throws {RangeError} when a field is out of range or `minAcks > replicas`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { resolveReplication } from "@casty/casty/sharding";
 * assert.deepEqual(resolveReplication({ replicas: 2 }), { replicas: 2, minAcks: 0, ackTimeout: 5000 });
 * assert.throws(() => resolveReplication({ replicas: 1, minAcks: 2 }), RangeError);
 * ```
 */
export function resolveReplication(config: ReplicationConfig): ReplicationSettings {
  const replicas = config.replicas;
  const minAcks = config.minAcks ?? 0;
  const ackTimeout = config.ackTimeout ?? 5000;
  if (!Number.isInteger(replicas) || replicas < 0) {
    throw new RangeError(`replication.replicas must be a non-negative integer, got ${replicas}`);
  }
  if (!Number.isInteger(minAcks) || minAcks < 0 || minAcks > replicas) {
    throw new RangeError(
      `replication.minAcks must be an integer from 0 to replicas (${replicas}), got ${minAcks}`,
    );
  }
  if (!(ackTimeout > 0)) {
    throw new RangeError(
      `replication.ackTimeout must be a positive number of ms, got ${ackTimeout}`,
    );
  }
  return { replicas, minAcks, ackTimeout };
}

/**
 * What a region needs to run replicated entities of one type on this node.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ReplicatedType } from "@casty/casty/sharding";
 * const t: ReplicatedType<never> = { factory: () => { throw new Error("unused"); }, replicasOf: () => [] };
 * assert.deepEqual(t.replicasOf({ host: "h", port: 1 }), []);
 * ```
 */
export interface ReplicatedType<M> {
  /** The factory to give the region: the user's, wrapped with promotion and shipping. */
  readonly factory: (entityId: string) => Behavior<M>;
  /** The replicas of a shard whose primary is `primary`, in this node's view. */
  replicasOf(primary: NodeAddress): NodeAddress[];
  /** To be told when an entity of this node has stopped. */
  entityStopped?(entityId: string): void;
  /** To be told when a wake (see {@linkcode ReplicaPlacement.wake}) could not be delivered. */
  wakeLost?(entityId: string): void;
}

/**
 * What the replication layer sees of a type's shards, to refill the logs of idle entities after
 * a node that held them was lost: where each shard is, and a way to start an entity.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ReplicaPlacement } from "@casty/casty/sharding";
 * const woken: string[] = [];
 * const p: ReplicaPlacement = {
 *   shardOf: () => 3,
 *   table: () => undefined,
 *   ownerOf: () => undefined,
 *   wake: (id) => woken.push(id),
 * };
 * p.wake("alice");
 * assert.deepEqual(woken, ["alice"]);
 * ```
 */
export interface ReplicaPlacement {
  /** The shard of an entity id. */
  shardOf(entityId: string): number;
  /** The allocation table (a new object whenever it changes). */
  table(): unknown;
  /** The node a shard is allocated to, `undefined` while it is not. */
  ownerOf(shard: number): NodeAddress | undefined;
  /**
   * Starts entity `entityId` wherever its shard is (having it allocated first if need be),
   * without giving it a message; nothing happens to a live entity.
   */
  wake(entityId: string): void;
}

/**
 * Starts replication of one sharded type on a node (see src/replication/). `hosts` gives the
 * member ids of the nodes that host the type, as the allocation table says (`undefined` while
 * the table does not say): replicas are placed among them only.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ReplicationStarter } from "@casty/casty/sharding";
 * const none: ReplicationStarter | undefined = undefined;
 * assert.equal(none, undefined);
 * ```
 */
export type ReplicationStarter = <M>(
  ctx: ClusterExtensionContext,
  name: string,
  factory: (entityId: string) => Behavior<M>,
  settings: ReplicationSettings,
  role: string | undefined,
  hosts?: () => readonly string[] | undefined,
  placement?: ReplicaPlacement,
) => ReplicatedType<M>;

let starter: ReplicationStarter | undefined;

/**
 * Installs the replication layer (done by src/replication/ when it is loaded, as every entry
 * that exports sharding loads it).
 *
 * @param start The starter.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { replicationStarter } from "@casty/casty/sharding";
 * assert.equal(typeof replicationStarter(), "function");
 * ```
 */
export function provideReplication(start: ReplicationStarter): void {
  starter = start;
}

/**
 * The installed replication layer, if any.
 *
 * @returns The starter, or `undefined`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { replicationStarter } from "@casty/casty/sharding";
 * assert.ok(replicationStarter() !== undefined);
 * ```
 */
export function replicationStarter(): ReplicationStarter | undefined {
  return starter;
}
