/**
 * The extension point of the cluster layer: how sharding, singleton, broadcast, receptionist,
 * replication and distributed data plug into a {@linkcode ClusteredActorSystem} without editing
 * its internals. An extension registers its system actors (under `/_cluster/<name>`), its
 * serializable classes, its membership listeners, and the spawn of its special behaviors
 * (`node.spawn(Behaviors.sharded(...), "accounts")` is routed to the sharding extension by the
 * behavior's marker).
 *
 * Internal to the library: the cluster features use it; users pass extensions only in tests.
 *
 * @module
 */
import type { ActorRef } from "../actor/actor_ref.ts";
import type { SpawnOptions } from "../actor/actor_context.ts";
import { Behavior } from "../actor/behaviors.ts";
import type { Clock } from "../actor/clock.ts";
import type { Logger } from "../actor/logger.ts";
import type { NodeAddress } from "../remote/address.ts";
import type { SerializableClass } from "../serialization/serialization.ts";
import type { SystemMessageHandler } from "../remote/remoting.ts";
import type {
  ClusteredActorSystem,
  ClusteredActorSystemOptions,
} from "./clustered_actor_system.ts";
import type { MembershipEvent } from "./events.ts";
import type { Member } from "./member.ts";
import type { ShardAllocation } from "./topology.ts";
import type { DistributedProvider } from "./distributed_api.ts";

/** The reserved root of every cluster system actor: `/_cluster/_topology`, `/_cluster/<name>`. */
export const CLUSTER_SYSTEM_ROOT = "/_cluster";

/**
 * The cluster as this node sees it, independent of the transport.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ClusterView } from "./extension.ts";
 * const view: ClusterView = {
 *   self: { host: "127.0.0.1", port: 1 },
 *   incarnation: "x",
 *   members: [],
 *   leader: undefined,
 *   unreachable: [],
 * };
 * assert.equal(view.members.length, 0);
 * ```
 */
export interface ClusterView {
  /** This node's address. */
  readonly self: NodeAddress;
  /** This node's incarnation (opaque; new at every start). */
  readonly incarnation: string;
  /** Members, in this node's view. */
  readonly members: readonly Member[];
  /** The leader, if any. */
  readonly leader: NodeAddress | undefined;
  /** Members this node's failure detector considers unreachable. */
  readonly unreachable: readonly NodeAddress[];
}

/**
 * Spawns a special behavior on behalf of an extension: gets the marker behavior and the name and
 * options given to `node.spawn`, returns the ref the caller receives.
 */
export type SpawnHandler = (
  behavior: Behavior<never>,
  name: string,
  options: SpawnOptions,
) => ActorRef<never>;

/**
 * What an extension may do on the node it is started on. Everything it registers is undone when
 * the node shuts down.
 */
export interface ClusterExtensionContext {
  /** The node the extension runs on. */
  readonly node: ClusteredActorSystem;
  /** The options the node started with (config merged in; `secret` from the environment). */
  readonly options: Readonly<ClusteredActorSystemOptions>;
  /** This node's address. */
  readonly selfAddress: NodeAddress;
  /** This node's incarnation (the one identity the transport and membership share). */
  readonly incarnation: string;
  /** The node's clock (simulated in `testCluster`): use it for every timer. */
  readonly clock: Clock;
  /** The node's logger. */
  readonly log: Logger;
  /** The system name. */
  readonly systemName: string;
  /**
   * Spawns a system actor at `/_cluster/<name>` (default: the extension's name); it stops after
   * user actors at shutdown and its messages travel on the transport's control lane.
   *
   * @throws {ActorNameTakenError} when that path is taken.
   */
  spawnSystemActor<M>(behavior: Behavior<M>, name?: string): ActorRef<M>;
  /**
   * Registers a class with the node's serializer under a wire name (when the serializer has a
   * `register` method, as `TaggedJsonSerializer` does; registering the same pair twice is fine).
   */
  registerSerializable(cls: SerializableClass, tag: string): void;
  /** Calls `listener` with every membership event (leader changes included); returns an unsubscribe. */
  subscribe(listener: (event: MembershipEvent) => void): () => void;
  /** The cluster as this node sees it now. */
  view(): ClusterView;
  /** A ref to `path` on `node` (a local ref when `node` is this one and the actor lives). */
  refAt<M>(node: NodeAddress, path: string): ActorRef<M>;
  /**
   * Routes raw messages for a reserved path (under `/_cluster/`) to `handler`, without an actor
   * (for protocols that must answer at once, like membership).
   */
  registerHandler(path: string, handler: SystemMessageHandler): void;
  /** Sends `message` to a reserved path on `node` (control lane under `/_cluster/`). */
  sendSystem(node: NodeAddress, path: string, message: unknown): void;
  /**
   * Routes `node.spawn(b, name)` for marker behaviors made with {@linkcode markerBehavior} and
   * this `marker` to `handler`.
   *
   * @throws {Error} when another extension handles that marker.
   */
  registerSpawnHandler(marker: string, handler: SpawnHandler): void;
  /**
   * How long the downing strategy waits before it downs an unreachable side, in ms: a feature
   * that must stop before the other side takes over (sharding) stops well within it.
   */
  readonly stableAfter: number;
  /**
   * Runs `hook` at the start of a graceful leave (`node.leave()` or `shutdown()` with peers),
   * before the node announces that it leaves: time to hand work over. Bounded by `leaveTimeout`.
   */
  onLeave(hook: () => Promise<void>): void;
  /** Makes `node.regionRef` and `node.entityAsk` work (the sharding extension provides it). */
  provideSharding(port: ShardingPort): void;
  /** Makes `node.distributed()` work (the distributed extension provides it). */
  provideDistributed(provider: DistributedProvider): void;
  /** Pushes a new topology snapshot to the topology subscribers (allocations changed). */
  topologyChanged(): void;
}

/**
 * What the sharding extension gives the node, so that `node.regionRef` and `node.entityAsk`
 * exist on {@linkcode ClusteredActorSystem} without the cluster layer importing sharding.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ShardingPort } from "@casty/casty/cluster";
 * const port: Pick<ShardingPort, "envelope"> = { envelope: (entityId, message) => ({ entityId, message }) };
 * assert.equal(port.envelope("a", 1).entityId, "a");
 * ```
 */
export interface ShardingPort {
  /** Spawns (or returns the already spawned) sharded type `name`. */
  regionRef(
    name: string,
    factory: (entityId: string) => Behavior<never>,
    options: Readonly<Record<string, unknown>>,
  ): ActorRef<never>;
  /** Wraps a message for one entity (a `ShardEnvelope`). */
  envelope(entityId: string, message: unknown): EntityEnvelope<unknown>;
  /** The allocations this node knows, for the topology snapshot. */
  allocations(): {
    readonly allocations: Readonly<Record<string, Readonly<Record<number, ShardAllocation>>>>;
    readonly epoch: number;
  };
}

/**
 * The shape of a `ShardEnvelope`: a message for one entity of a sharded type.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { EntityEnvelope } from "@casty/casty/cluster";
 * const e: EntityEnvelope<number> = { entityId: "a", message: 1 };
 * assert.equal(e.message, 1);
 * ```
 */
export interface EntityEnvelope<M> {
  /** The entity id. */
  readonly entityId: string;
  /** The message. */
  readonly message: M;
}

const defaults: ClusterExtension[] = [];

/**
 * Adds a feature to the extensions every {@linkcode ClusteredActorSystem} starts (the sharding
 * module adds itself when it is loaded; `options.extensions` with the same name replaces it).
 *
 * @param extension The feature.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { addDefaultExtension, defaultExtensions } from "./extension.ts";
 * const ext = { name: "demo-default", start() {} };
 * addDefaultExtension(ext);
 * addDefaultExtension(ext);
 * assert.equal(defaultExtensions().filter((e) => e.name === "demo-default").length, 1);
 * ```
 */
export function addDefaultExtension(extension: ClusterExtension): void {
  if (!defaults.some((e) => e.name === extension.name)) defaults.push(extension);
}

/**
 * The features every node starts by default, in order.
 *
 * @returns A copy of the list.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultExtensions } from "./extension.ts";
 * assert.ok(Array.isArray(defaultExtensions()));
 * ```
 */
export function defaultExtensions(): ClusterExtension[] {
  return [...defaults];
}

/** What stops an extension on one node. */
export type ExtensionStop = () => void | Promise<void>;

/**
 * A cluster feature: one definition, started on every node it is given to (keep per-node state
 * inside `start`). `start` runs once the node's transport, remoting and membership exist, before
 * membership starts joining; the function it may return runs at shutdown, after the node's actors
 * have stopped and before the network closes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ClusterExtension } from "./extension.ts";
 * const names: string[] = [];
 * const ext: ClusterExtension = { name: "hello", start: (ctx) => void names.push(ctx.systemName) };
 * assert.equal(ext.name, "hello");
 * ```
 */
export interface ClusterExtension {
  /** A unique name (`[a-z][a-z0-9-]*`); its default system actor is `/_cluster/<name>`. */
  readonly name: string;
  /** Starts the extension on a node; may return what stops it there. */
  start(
    ctx: ClusterExtensionContext,
  ): void | ExtensionStop | Promise<void | ExtensionStop>;
}

/** The payload of a marker behavior. */
export interface MarkerPayload {
  /** Which extension spawns it (see {@linkcode ClusterExtensionContext.registerSpawnHandler}). */
  readonly marker: string;
  /** How the behavior is called in error messages, such as `"Behaviors.sharded()"`. */
  readonly name: string;
  /** The extension's own data (factory, options, …). */
  readonly data: unknown;
}

/**
 * A behavior that only an extension can spawn: on a plain `ActorSystem` spawning it fails with
 * "`name` can only be spawned on a ClusteredActorSystem"; on a node, `node.spawn` hands it to the
 * extension that registered `marker`.
 *
 * @param marker The extension's marker.
 * @param name The public name, for error messages.
 * @param data The extension's data.
 * @returns The behavior.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { markerBehavior, markerOf } from "./extension.ts";
 * const b = markerBehavior<string>("demo", "Behaviors.demo()", { n: 1 });
 * assert.equal(markerOf(b)?.marker, "demo");
 * ```
 */
export function markerBehavior<M>(marker: string, name: string, data: unknown): Behavior<M> {
  const payload: MarkerPayload = { marker, name, data };
  return new Behavior<M>("marker", payload);
}

/**
 * The marker payload of a behavior made by {@linkcode markerBehavior}, else `undefined`.
 *
 * @param behavior Any behavior.
 * @returns Its payload, or `undefined`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Behaviors } from "../actor/behaviors.ts";
 * import { markerOf } from "./extension.ts";
 * assert.equal(markerOf(Behaviors.ignore()), undefined);
 * ```
 */
export function markerOf<M>(behavior: Behavior<M>): MarkerPayload | undefined {
  if (behavior.kind !== "marker") return undefined;
  const p = behavior.payload as Partial<MarkerPayload> | undefined;
  return typeof p?.marker === "string" ? p as MarkerPayload : undefined;
}
