/**
 * Cluster sharding: entities spread over the nodes of a cluster by shard, routed
 * transparently, moved when nodes join or leave, reallocated when a node is lost.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { entityShard, ShardEnvelope } from "@casty/casty/sharding";
 * assert.equal(entityShard("alice", 100), 70);
 * assert.equal(new ShardEnvelope("alice", 1).entityId, "alice");
 * ```
 *
 * @module
 */
export { Behaviors, type ClusterBehaviors } from "./behaviors.ts";
export { singleton, type SingletonOptions } from "./singleton.ts";
export { broadcasted } from "./broadcast.ts";
export { ShardEnvelope } from "./shard_envelope.ts";
export { entityShard } from "./entity_shard.ts";
export { sharded, type ShardedOptions, shardingExtension } from "./sharded.ts";
export { leastShardNode, rebalanceMoves, type ShardMove } from "./allocation_strategy.ts";
export { type PendingMessage, ShardBuffers } from "./shard_proxy.ts";
export {
  type AllocationTable,
  COORDINATOR_PATH,
  type ShardEntry,
  type ShardingTuning,
} from "./shard_coordinator.ts";
export { EntityWake, HandoffMarker, ShardForward } from "./shard_region.ts";
export {
  provideReplication,
  type ReplicaPlacement,
  type ReplicatedType,
  type ReplicationConfig,
  type ReplicationStarter,
  replicationStarter,
  resolveReplication,
} from "./replication_config.ts";
// Loading the replication layer installs it (it stands on sharding).
export { replicaNodes, ReplicateEvents, ReplicateEventsAck } from "../replication/replication.ts";
export type { TermHistory } from "../replication/terms.ts";
