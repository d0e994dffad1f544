/**
 * The JSON answers of the management endpoints, shaped like Akka Management's: `/cluster/members`
 * (self, leader, oldest, unreachable, members with status and roles) and `/cluster/shards`
 * (per sharded type, the regions with their shards and entity counts), and the snapshot the
 * dashboard renders.
 *
 * @module
 */
import type { Member } from "../cluster/member.ts";
import type { TopologySnapshot } from "../cluster/topology.ts";
import { formatNodeAddress, type NodeAddress } from "../remote/address.ts";
import { type NodeStats, startedAt } from "./node_stats.ts";

/** A member in `GET /cluster/members`. */
export interface MemberJson {
  /** `"host:port"`. */
  readonly node: string;
  /** The incarnation id. */
  readonly nodeUid: string;
  /** Akka's spelling: `"Joining"`, `"Up"`, `"Leaving"`, `"Exiting"`, `"Down"`, `"Removed"`. */
  readonly status: string;
  /** Roles. */
  readonly roles: readonly string[];
  /** Whether this node's failure detector reaches it. */
  readonly reachable: boolean;
  /** When the node started (ISO 8601, from its incarnation id), if known. */
  readonly upSince?: string;
  /** Order in which it became up (1 for the first), if up. */
  readonly upNumber?: number;
}

/** `GET /cluster/members`. */
export interface MembersJson {
  /** This node. */
  readonly selfNode: string;
  /** The leader, if any. */
  readonly leader: string | null;
  /** The member up the longest (lowest `upNumber`), if any. */
  readonly oldest: string | null;
  /** Every known member. */
  readonly members: readonly MemberJson[];
  /** Members this node cannot reach, with who observes it (this node). */
  readonly unreachable: readonly {
    readonly node: string;
    readonly observedBy: readonly string[];
  }[];
}

/** `GET /cluster/shards`. */
export interface ShardsJson {
  /** Increases with every allocation change. */
  readonly allocationEpoch: number;
  /** Per sharded type. */
  readonly types: Readonly<Record<string, { readonly regions: readonly RegionJson[] }>>;
}

/** One node's part of one sharded type. */
export interface RegionJson {
  /** The node, `"host:port"`. */
  readonly node: string;
  /** How many shards it serves as primary. */
  readonly numShards: number;
  /** Live entities it hosts, when it answered in time. */
  readonly numEntities?: number;
  /** The shards, each with its replicas. */
  readonly shards: readonly { readonly shardId: string; readonly replicas: readonly string[] }[];
}

/**
 * Akka Management's spelling of each member status, in lifecycle order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AKKA_STATUS } from "./cluster_json.ts";
 * assert.equal(AKKA_STATUS.up, "Up");
 * ```
 */
export const AKKA_STATUS: Readonly<Record<Member["status"], string>> = {
  joining: "Joining",
  up: "Up",
  leaving: "Leaving",
  exiting: "Exiting",
  down: "Down",
  removed: "Removed",
};

function same(a: NodeAddress, b: NodeAddress): boolean {
  return a.host === b.host && a.port === b.port;
}

/**
 * `GET /cluster/members` from a topology snapshot.
 *
 * @param snapshot The cluster as this node sees it.
 * @param self This node.
 * @returns The answer.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TopologySnapshot } from "@casty/casty";
 * import { membersJson } from "./cluster_json.ts";
 * const a = { host: "127.0.0.1", port: 25520 };
 * const m = { address: a, status: "up" as const, roles: [], id: "000000000001-abcdefgh", upNumber: 1 };
 * const json = membersJson(new TopologySnapshot([m], a, []), a);
 * assert.equal(json.members[0].status, "Up");
 * assert.equal(json.leader, "127.0.0.1:25520");
 * ```
 */
export function membersJson(snapshot: TopologySnapshot, self: NodeAddress): MembersJson {
  const selfNode = formatNodeAddress(self);
  const up = snapshot.members.filter((m) => m.upNumber !== undefined)
    .sort((a, b) => a.upNumber! - b.upNumber!);
  return {
    selfNode,
    leader: snapshot.leader ? formatNodeAddress(snapshot.leader) : null,
    oldest: up.length > 0 ? formatNodeAddress(up[0].address) : null,
    members: [...snapshot.members]
      .sort((a, b) => formatNodeAddress(a.address).localeCompare(formatNodeAddress(b.address)))
      .map((m) => {
        const since = startedAt(m.id);
        return {
          node: formatNodeAddress(m.address),
          nodeUid: m.id,
          status: AKKA_STATUS[m.status],
          roles: m.roles,
          reachable: !snapshot.unreachable.some((u) => same(u, m.address)),
          ...(since === undefined ? {} : { upSince: new Date(since).toISOString() }),
          ...(m.upNumber === undefined ? {} : { upNumber: m.upNumber }),
        };
      }),
    unreachable: snapshot.unreachable.map((u) => ({
      node: formatNodeAddress(u),
      observedBy: [selfNode],
    })),
  };
}

/**
 * `GET /cluster/shards` from a topology snapshot and the nodes' stats (for entity counts).
 *
 * @param snapshot The cluster as this node sees it.
 * @param stats Stats per node (`"host:port"`), for those that answered.
 * @returns The answer.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TopologySnapshot } from "@casty/casty";
 * import { shardsJson } from "./cluster_json.ts";
 * const a = { host: "127.0.0.1", port: 25520 };
 * const s = new TopologySnapshot([], a, [], { accounts: { 0: { primary: a, replicas: [] } } }, 3);
 * const json = shardsJson(s, new Map());
 * assert.equal(json.types.accounts.regions[0].numShards, 1);
 * ```
 */
export function shardsJson(
  snapshot: TopologySnapshot,
  stats: ReadonlyMap<string, NodeStats>,
): ShardsJson {
  const types: Record<string, { regions: RegionJson[] }> = {};
  for (const type of Object.keys(snapshot.allocations).sort()) {
    const byNode = new Map<string, { shardId: string; replicas: string[] }[]>();
    for (const [shard, a] of Object.entries(snapshot.allocations[type])) {
      const node = formatNodeAddress(a.primary);
      let list = byNode.get(node);
      if (list === undefined) byNode.set(node, list = []);
      list.push({ shardId: shard, replicas: a.replicas.map(formatNodeAddress) });
    }
    for (const [node, s] of stats) {
      if (s.entities[type] !== undefined && !byNode.has(node)) byNode.set(node, []);
    }
    types[type] = {
      regions: [...byNode.keys()].sort().map((node) => {
        const entities = stats.get(node)?.entities[type];
        return {
          node,
          numShards: byNode.get(node)!.length,
          ...(entities === undefined ? {} : { numEntities: entities }),
          shards: byNode.get(node)!,
        };
      }),
    };
  }
  return { allocationEpoch: snapshot.allocationEpoch, types };
}

/** What the dashboard and `GET /events` get: the cluster and every node's load. */
export interface DashboardSnapshot {
  /** `GET /cluster/members`. */
  readonly members: MembersJson;
  /** Shards (primaries) per node and type: `{ "127.0.0.1:25520": { accounts: 34 } }`. */
  readonly shardsPerNode: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** The latest stats of each node that answered. */
  readonly nodes: Readonly<Record<string, NodeStats>>;
  /** When this snapshot was made, wall-clock ms. */
  readonly at: number;
}

/**
 * The dashboard's snapshot.
 *
 * @param snapshot The cluster as this node sees it.
 * @param self This node.
 * @param stats Stats per node that answered.
 * @param at Wall-clock ms now.
 * @returns The snapshot.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TopologySnapshot } from "@casty/casty";
 * import { dashboardSnapshot } from "./cluster_json.ts";
 * const a = { host: "127.0.0.1", port: 25520 };
 * const s = new TopologySnapshot([], a, [], { accounts: { 0: { primary: a, replicas: [] } } }, 3);
 * assert.deepEqual(dashboardSnapshot(s, a, new Map(), 0).shardsPerNode, { "127.0.0.1:25520": { accounts: 1 } });
 * ```
 */
export function dashboardSnapshot(
  snapshot: TopologySnapshot,
  self: NodeAddress,
  stats: ReadonlyMap<string, NodeStats>,
  at: number,
): DashboardSnapshot {
  const shardsPerNode: Record<string, Record<string, number>> = {};
  for (const [type, shards] of Object.entries(snapshot.allocations)) {
    for (const a of Object.values(shards)) {
      const row = shardsPerNode[formatNodeAddress(a.primary)] ??= {};
      row[type] = (row[type] ?? 0) + 1;
    }
  }
  return {
    members: membersJson(snapshot, self),
    shardsPerNode,
    nodes: Object.fromEntries(stats),
    at,
  };
}
