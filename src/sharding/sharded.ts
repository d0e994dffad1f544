/**
 * `Behaviors.sharded` and the sharding extension that every `ClusteredActorSystem` starts.
 *
 * @module
 */
import type { ActorRef } from "../actor/actor_ref.ts";
import type { Behavior } from "../actor/behaviors.ts";
import { resolveActorConfig } from "../config/resolve_actor_config.ts";
import {
  addDefaultExtension,
  type ClusterExtension,
  markerBehavior,
  markerOf,
} from "../cluster/extension.ts";
import type { ShardAllocation } from "../cluster/topology.ts";
import { ShardCoordinator, type ShardingTuning } from "./shard_coordinator.ts";
import { ShardEnvelope } from "./shard_envelope.ts";
import {
  type ReplicatedType,
  type ReplicationConfig,
  replicationStarter,
  resolveReplication,
} from "./replication_config.ts";
import { entityShard } from "./entity_shard.ts";
import {
  EntityWake,
  HandoffMarker,
  noFastPath,
  regionBehavior,
  type RegionFastPath,
  ShardForward,
  ShardRegionRef,
} from "./shard_region.ts";

/**
 * Options of {@linkcode sharded}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ShardedOptions } from "@casty/casty/sharding";
 * const o: ShardedOptions = { numShards: 256, role: "worker", passivateAfter: 60_000 };
 * assert.equal(o.numShards, 256);
 * ```
 */
export interface ShardedOptions {
  /**
   * Number of shards; fixed for the life of the type, and the same on every node.
   * @default {`[actors."<name>"] sharding.num_shards`, else `[defaults.sharding]`, else 100}
   */
  readonly numShards?: number;
  /** Only nodes with this role host entities; the others only route. */
  readonly role?: string;
  /** An entity idle this long (ms) is stopped, and comes back on its next message. */
  readonly passivateAfter?: number;
  /**
   * Replicate each entity's events to other nodes (the factory must return
   * `Behaviors.eventSourced(...)`).
   * @default {`[actors."<name>"] replication`, else `[defaults.replication]` (no replicas)}
   */
  readonly replication?: ReplicationConfig;
}

interface ShardedSpec<M> extends ShardedOptions {
  readonly factory: (entityId: string) => Behavior<M>;
}

const MARKER = "sharded";

/**
 * A sharded entity type: spawned on a `ClusteredActorSystem` under a name, it returns the
 * region's `ActorRef<ShardEnvelope<M>>`; `ref.tell(new ShardEnvelope(id, msg))` reaches entity
 * `id` (made by `factory(id)` on first use) wherever the cluster placed its shard. Spawn the same
 * type under the same name on every node that should route or host it. Also available as
 * `Behaviors.sharded` from `@casty/casty`.
 *
 * @param factory Builds the behavior of one entity from its id.
 * @param options Shard count, role, passivation.
 * @returns A behavior that only a `ClusteredActorSystem` can spawn.
 * @throws {RangeError} on a bad `numShards`, `passivateAfter` or `replication`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ActorRef, Behaviors, ShardEnvelope, sharded } from "@casty/casty";
 * import { testCluster } from "@casty/casty/testing";
 * type Msg = { type: "add"; n: number } | { type: "get"; replyTo: ActorRef<number> };
 * const counter = (_id: string, n = 0): ReturnType<typeof Behaviors.receive<Msg>> =>
 *   Behaviors.receive<Msg>((_ctx, msg) => {
 *     if (msg.type === "add") return counter(_id, n + msg.n);
 *     msg.replyTo.tell(n);
 *   });
 * await using cluster = await testCluster(2);
 * const [a, b] = cluster.nodes.map((node) => node.spawn(sharded((id) => counter(id)), "counters"));
 * a.tell(new ShardEnvelope("x", { type: "add", n: 2 }));
 * b.tell(new ShardEnvelope("x", { type: "add", n: 3 }));
 * await cluster.advance(500); // two senders: let both arrive before asking
 * const n = await cluster.run(
 *   cluster.nodes[0].entityAsk<Msg, number>(a, "x", (replyTo) => ({ type: "get", replyTo })),
 * );
 * assert.equal(n, 5);
 * ```
 */
export function sharded<M>(
  factory: (entityId: string) => Behavior<M>,
  options: ShardedOptions = {},
): Behavior<ShardEnvelope<M>> {
  if (typeof factory !== "function") {
    throw new TypeError("Behaviors.sharded() needs a factory function (entityId) => Behavior");
  }
  if (
    options.numShards !== undefined &&
    (!Number.isInteger(options.numShards) || options.numShards < 1)
  ) {
    throw new RangeError(`numShards must be a positive integer, got ${options.numShards}`);
  }
  if (options.passivateAfter !== undefined && !(options.passivateAfter > 0)) {
    throw new RangeError(
      `passivateAfter must be a positive number of ms, got ${options.passivateAfter}`,
    );
  }
  if (options.replication !== undefined) resolveReplication(options.replication);
  const spec: ShardedSpec<M> = { ...options, factory };
  return markerBehavior<ShardEnvelope<M>>(MARKER, "Behaviors.sharded()", spec);
}

/**
 * The sharding extension with its tuning (the default one, with default settings, is started
 * on every `ClusteredActorSystem`; pass this one in `extensions` to tune it).
 *
 * @param settings Lease, hand-off, rebalancing and buffer tuning.
 * @returns The extension.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { shardingExtension } from "@casty/casty/sharding";
 * assert.equal(shardingExtension({ rebalanceThreshold: 2 }).name, "sharding");
 * ```
 */
export function shardingExtension(settings: ShardingTuning = {}): ClusterExtension {
  return {
    name: "sharding",
    start(ctx) {
      ctx.registerSerializable(ShardEnvelope, "casty.ShardEnvelope");
      ctx.registerSerializable(ShardForward, "casty.ShardForward");
      ctx.registerSerializable(HandoffMarker, "casty.HandoffMarker");
      ctx.registerSerializable(EntityWake, "casty.EntityWake");
      const replicated = new Map<string, ReplicatedType<unknown>>();
      const coordinator = new ShardCoordinator(ctx, settings, () => ctx.topologyChanged());
      const regions = new Map<string, ActorRef<never>>();
      const spawnRegion = (name: string, spec: ShardedSpec<unknown>): ActorRef<never> => {
        const existing = regions.get(name);
        if (existing !== undefined && !ctx.node.isShutdown) {
          throw new TypeError(`Cannot spawn sharded type "${name}": it is already spawned here`);
        }
        const config = ctx.node.config;
        const numShards = spec.numShards ??
          (config ? resolveActorConfig(config, name).sharding.numShards : 100);
        const replication = spec.replication
          ? resolveReplication(spec.replication)
          : config
          ? resolveActorConfig(config, name).replication
          : undefined;
        let factory = spec.factory;
        // The region's own ref, once spawned below (replication wakes entities through it).
        const wakeVia: { region?: ActorRef<ShardEnvelope<EntityWake>> } = {};
        if (replication !== undefined && replication.replicas > 0) {
          const start = replicationStarter();
          if (start === undefined) {
            throw new TypeError(
              `Cannot replicate sharded type "${name}": the replication layer is not loaded ` +
                '(import "@casty/casty/sharding" or "@casty/casty")',
            );
          }
          const r = start(
            ctx,
            name,
            factory,
            replication,
            spec.role,
            () => coordinator.table.hosts?.get(name),
            {
              shardOf: (id) => entityShard(id, numShards),
              table: () => coordinator.table,
              ownerOf: (shard) => coordinator.entry(name, shard)?.address,
              // Through the region's own ref (not the fast path): it routes, allocates and
              // forwards a wake as it would a message.
              wake: (id) => wakeVia.region?.tell(new ShardEnvelope(id, new EntityWake())),
            },
          );
          replicated.set(name, r);
          factory = r.factory;
        }
        const fast: RegionFastPath = { tryLocal: noFastPath };
        const region = ctx.node.spawn(
          regionBehavior(ctx, coordinator, {
            name,
            factory,
            numShards,
            passivateAfter: spec.passivateAfter,
            eligible: spec.role === undefined || ctx.node.roles.includes(spec.role),
            bufferSize: settings.bufferSize ?? 10_000,
            bufferTimeout: settings.bufferTimeout ?? 10_000,
            entityStopped: replicated.get(name)?.entityStopped,
            wakeLost: replicated.get(name)?.wakeLost,
          }, fast),
          name,
        ) as unknown as ActorRef<never>;
        wakeVia.region = region as unknown as ActorRef<ShardEnvelope<EntityWake>>;
        const ref = new ShardRegionRef(region, fast) as unknown as ActorRef<never>;
        regions.set(name, ref);
        return ref;
      };
      ctx.registerSpawnHandler(MARKER, (behavior, name) => {
        return spawnRegion(name, markerOf(behavior)!.data as ShardedSpec<unknown>);
      });
      ctx.provideSharding({
        regionRef: (name, factory, options) =>
          regions.get(name) ?? spawnRegion(name, {
            ...(options as ShardedOptions),
            factory: factory as (entityId: string) => Behavior<unknown>,
          }),
        envelope: (entityId, message) => new ShardEnvelope(entityId, message),
        allocations: () => {
          const t = coordinator.table;
          const allocations: Record<string, Record<number, ShardAllocation>> = {};
          for (const [type, m] of t.types) {
            const r: Record<number, ShardAllocation> = {};
            for (const [s, e] of [...m].sort((a, b) => a[0] - b[0])) {
              const replicas = replicated.get(type)?.replicasOf(e.address) ?? [];
              r[s] = e.handoff
                ? { primary: e.address, replicas, handoff: true }
                : { primary: e.address, replicas };
            }
            allocations[type] = r;
          }
          return { allocations, epoch: t.epoch };
        },
      });
      ctx.onLeave(() => coordinator.drain());
      return () => coordinator.stop();
    },
  };
}

addDefaultExtension(shardingExtension());
