/**
 * The cluster: {@linkcode ClusteredActorSystem} (an `ActorSystem` whose nodes find each other
 * through seed nodes, gossip their membership and detect failures), its membership events
 * (`MemberUp`, `MemberLeft`, …), the topology snapshot, and the cluster's errors.
 *
 * The membership engine underneath is transport-agnostic and clock-driven, so the same code
 * runs over TCP and in a deterministic simulation (`@casty/casty/testing`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ClusteredActorSystem, MemberUp } from "@casty/casty/cluster";
 * await using a = await ClusteredActorSystem.start({ name: "demo", host: "127.0.0.1", port: 0 });
 * const seed = `127.0.0.1:${a.selfAddress.port}`;
 * await using b = await ClusteredActorSystem.start({
 *   name: "demo", host: "127.0.0.1", port: 0, seedNodes: [seed],
 * });
 * await b.waitFor(2, { timeout: 10_000 });
 * const state = await b.getClusterState({ timeout: 10_000 }); // a converged view
 * assert.equal(state.members.filter((m) => m.status === "up").length, 2);
 * assert.equal(typeof MemberUp, "function");
 * ```
 *
 * @module
 */
// Explicit lists: only the public API leaves this folder. The engine's parts (gossip state and
// merge, vector clocks, the phi accrual detector, downing, address helpers) are internal; tests
// and the testing kit import them from their files.
export {
  ClusteredActorSystem,
  type ClusteredActorSystemOptions,
  type ClusterWaitOptions,
  type TransportFactorySettings,
  type TransportTuning,
} from "./clustered_actor_system.ts";
export type {
  ClusterExtension,
  ClusterExtensionContext,
  ClusterView,
  EntityEnvelope,
  ExtensionStop,
  ShardingPort,
  SpawnHandler,
} from "./extension.ts";
export type { Member, MemberStatus, UniqueNode } from "./member.ts";
export type {
  BarrierApi,
  CounterApi,
  DistributedApi,
  DistributedOptions,
  DistributedProvider,
  LeaseOptions,
  LockApi,
  MapApi,
  QueueApi,
  SemaphoreApi,
  SetApi,
  StructureOptions,
  WaitOptions,
} from "./distributed_api.ts";
export type { DowningOptions, DowningStrategy } from "./downing.ts";
// The engine is reachable from the public surface (`node.membership`, tuning options, the
// simulation in `@casty/casty/testing`), so its class and option types are exported too.
export {
  type LeaderAction,
  Membership,
  type MembershipMessage,
  type MembershipOptions,
} from "./membership.ts";
export type { ConfiguredStartOptions, ManagementHttpOptions } from "./start_options.ts";
export type { PhiAccrualOptions } from "./phi_accrual.ts";
export type {
  GossipState,
  LeaderEpoch,
  ReachabilityRow,
  Tombstone,
  WireGossip,
  WireMember,
} from "./gossip.ts";
export type { VectorClock } from "./vector_clock.ts";
export {
  LeaderChanged,
  MemberDowned,
  MemberExited,
  MemberJoined,
  MemberLeft,
  MemberRemoved,
  type MembershipEvent,
  MemberUp,
  ReachableMember,
  ShutdownSelf,
  UnreachableMember,
} from "./events.ts";
export {
  BarrierMismatchError,
  ClusterUnavailableError,
  LockNotHeldError,
  QuorumNotReachedError,
} from "./errors.ts";
export {
  GetTopology,
  ResolveNode,
  type ServiceEntry,
  type ShardAllocation,
  SubscribeTopology,
  TOPOLOGY_PATH,
  type TopologyMsg,
  TopologySnapshot,
  UnsubscribeTopology,
} from "./topology.ts";
export {
  Deregister,
  discoverable,
  Find,
  Listing,
  RECEPTIONIST_PATH,
  RECEPTIONIST_WIRE,
  type ReceptionistCommand,
  Register,
  type ServiceInstance,
  ServiceKey,
  Subscribe,
  Unsubscribe,
} from "./receptionist.ts";
export {
  RemoteSpawnError,
  type RemoteSpawnErrorCode,
  remoteSpawnExtension,
  spawnable,
  spawnableOf,
  type SpawnableTag,
} from "./spawnable.ts";
export {
  BROADCASTED,
  type BroadcastedBehavior,
  type BroadcastMissing,
  type BroadcastRef,
  type BroadcastReplies,
} from "./broadcast_ref.ts";
