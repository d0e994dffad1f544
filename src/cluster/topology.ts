/**
 * The topology actor protocol (seed 003): subscribe to cluster topology snapshots, resolve a
 * node id to its address. The actor lives at the well-known path `/_cluster/_topology` on every
 * node and pushes a {@linkcode TopologySnapshot} to each subscriber on every change.
 *
 * @module
 */
import type { ActorRef } from "../actor/actor_ref.ts";
import { type Behavior, Behaviors } from "../actor/behaviors.ts";
import type { Terminated } from "../actor/events.ts";
import type { Member, NodeAddress } from "./member.ts";

/** The well-known path of the topology actor. */
export const TOPOLOGY_PATH = "/_cluster/_topology";

/** Where one shard lives: a primary and its replicas (filled in by sharding). */
export interface ShardAllocation {
  /** The node that serves the shard. */
  readonly primary: NodeAddress;
  /** Nodes that hold replicas. */
  readonly replicas: readonly NodeAddress[];
  /**
   * `true` while the shard is handed off from `primary` to a new owner (absent otherwise): a
   * message sent to `primary` now waits there and is then forwarded, so a cluster client holds
   * it until the new owner shows up instead.
   */
  readonly handoff?: boolean;
}

/** A service registered with the receptionist (filled in by the receptionist). */
export interface ServiceEntry {
  /** The service key name. */
  readonly key: string;
  /** The node hosting the instance. */
  readonly node: NodeAddress;
  /** The actor's path on that node. */
  readonly path: string;
}

/**
 * The cluster as one node sees it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ClusteredActorSystem } from "@casty/casty";
 * await using node = await ClusteredActorSystem.start({ name: "t", host: "127.0.0.1", port: 0 });
 * await node.waitFor(1, { timeout: 5000 });
 * const state = await node.getClusterState();
 * assert.ok(state.members.length === 1 && state.leader?.port === node.selfAddress.port);
 * ```
 */
export class TopologySnapshot {
  /** Discriminant. */
  readonly type = "topologySnapshot" as const;
  /**
   * Creates a TopologySnapshot.
   *
   * @param members Every known member with its status, roles and incarnation id.
   * @param leader The leader, if any.
   * @param unreachable Members this node's failure detector (or gossip) marks unreachable.
   * @param allocations Shard allocations per sharded type (`{}` until sharding allocates).
   * @param allocationEpoch Increases with every allocation change.
   * @param registry Receptionist entries.
   * @param leaderEpoch The latest leader epoch this node knows (see `Membership.leaderEpoch`).
   */
  constructor(
    readonly members: readonly Member[],
    readonly leader: NodeAddress | undefined,
    readonly unreachable: readonly NodeAddress[],
    readonly allocations: Readonly<Record<string, Readonly<Record<number, ShardAllocation>>>> = {},
    readonly allocationEpoch: number = 0,
    readonly registry: readonly ServiceEntry[] = [],
    readonly leaderEpoch: number = 0,
  ) {}
}

/**
 * Subscribe to topology snapshots: the current one at once, then one per change. A
 * subscriber that stops (or whose node goes away) is removed.
 *
 * @example
 * ```ts
 * import { SubscribeTopology, TOPOLOGY_PATH, type ClusteredActorSystem, type TopologySnapshot } from "@casty/casty";
 * function follow(node: ClusteredActorSystem) {
 *   const subscriber = node.spawn(
 *     Behaviors.receive<TopologySnapshot>((_c, s) => console.log(s.members.length)),
 *     "follower",
 *   );
 *   node.lookup(TOPOLOGY_PATH)!.tell(new SubscribeTopology(subscriber));
 * }
 * import { Behaviors } from "@casty/casty";
 * ```
 */
export class SubscribeTopology {
  /** Discriminant. */
  readonly type = "subscribeTopology" as const;
  /**
   * Creates a SubscribeTopology.
   *
   * @param replyTo Receives the snapshots.
   */
  constructor(readonly replyTo: ActorRef<TopologySnapshot>) {}
}

/**
 * Stop receiving topology snapshots.
 *
 * @example
 * ```ts
 * import { Behaviors, ClusteredActorSystem, SubscribeTopology, TOPOLOGY_PATH, UnsubscribeTopology, type TopologySnapshot } from "@casty/casty";
 * await using node = await ClusteredActorSystem.start({ name: "t", host: "127.0.0.1", port: 0, logLevel: "warn" });
 * const me = node.spawn(Behaviors.ignore<TopologySnapshot>(), "me");
 * const topology = node.lookup(TOPOLOGY_PATH)!;
 * topology.tell(new SubscribeTopology(me));
 * topology.tell(new UnsubscribeTopology(me));
 * ```
 */
export class UnsubscribeTopology {
  /** Discriminant. */
  readonly type = "unsubscribeTopology" as const;
  /**
   * Creates a UnsubscribeTopology.
   *
   * @param subscriber The ref given to {@linkcode SubscribeTopology}.
   */
  constructor(readonly subscriber: ActorRef<TopologySnapshot>) {}
}

/**
 * Resolve a member's incarnation id to its address (`undefined` when unknown).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ClusteredActorSystem, ResolveNode, TOPOLOGY_PATH, type NodeAddress } from "@casty/casty";
 * await using node = await ClusteredActorSystem.start({ name: "t", host: "127.0.0.1", port: 0, logLevel: "warn" });
 * const address = await node.ask<ResolveNode, NodeAddress | undefined>(
 *   node.lookup(TOPOLOGY_PATH)!,
 *   (replyTo) => new ResolveNode(node.memberId, replyTo),
 * );
 * assert.ok(address?.port === node.selfAddress.port);
 * ```
 */
export class ResolveNode {
  /** Discriminant. */
  readonly type = "resolveNode" as const;
  /**
   * Creates a ResolveNode.
   *
   * @param nodeId A member id (`Member.id`).
   * @param replyTo Receives the address or `undefined`.
   */
  constructor(readonly nodeId: string, readonly replyTo: ActorRef<NodeAddress | undefined>) {}
}

/**
 * Ask for the current snapshot once.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ClusteredActorSystem, GetTopology, TOPOLOGY_PATH, type TopologySnapshot } from "@casty/casty";
 * await using node = await ClusteredActorSystem.start({ name: "t", host: "127.0.0.1", port: 0, logLevel: "warn" });
 * const snapshot = await node.ask<GetTopology, TopologySnapshot>(
 *   node.lookup(TOPOLOGY_PATH)!,
 *   (replyTo) => new GetTopology(replyTo),
 * );
 * assert.equal(snapshot.members.length, 1);
 * ```
 */
export class GetTopology {
  /** Discriminant. */
  readonly type = "getTopology" as const;
  /**
   * Creates a GetTopology.
   *
   * @param replyTo Receives the snapshot.
   */
  constructor(readonly replyTo: ActorRef<TopologySnapshot>) {}
}

/** Messages the topology actor accepts. */
export type TopologyMsg =
  | SubscribeTopology
  | UnsubscribeTopology
  | ResolveNode
  | GetTopology
  | { readonly type: "topologyChanged" }
  | Terminated;

/** @internal The topology actor: serves snapshots built by `snapshot()`. */
export function topologyActor(snapshot: () => TopologySnapshot): Behavior<TopologyMsg> {
  return Behaviors.setup<TopologyMsg>(() => {
    const subscribers = new Map<string, ActorRef<TopologySnapshot>>();
    return Behaviors.receive<TopologyMsg>((ctx, msg) => {
      switch (msg.type) {
        case "subscribeTopology":
          if (!subscribers.has(msg.replyTo.address)) {
            subscribers.set(msg.replyTo.address, msg.replyTo);
            try {
              ctx.watch(msg.replyTo as ActorRef<never>);
            } catch {
              // a temporary (ask) ref cannot be watched; it is dropped when a push fails
            }
          }
          msg.replyTo.tell(snapshot());
          return;
        case "unsubscribeTopology": {
          const ref = subscribers.get(msg.subscriber.address);
          if (ref) {
            subscribers.delete(msg.subscriber.address);
            try {
              ctx.unwatch(ref as ActorRef<never>);
            } catch {
              // never watched
            }
          }
          return;
        }
        case "terminated":
          subscribers.delete(msg.ref.address);
          return;
        case "resolveNode": {
          const m = snapshot().members.find((x) => x.id === msg.nodeId);
          msg.replyTo.tell(m?.address);
          return;
        }
        case "getTopology":
          msg.replyTo.tell(snapshot());
          return;
        case "topologyChanged": {
          if (subscribers.size === 0) return;
          const s = snapshot();
          for (const ref of subscribers.values()) {
            try {
              ref.tell(s);
            } catch (err) {
              ctx.log.warn(`cannot push topology to ${ref.address}`, err);
            }
          }
          return;
        }
      }
    });
  });
}
