/**
 * Cluster members: addresses, incarnations and the member lifecycle.
 *
 * @module
 */

import { compareNodeAddresses, formatNodeAddress, type NodeAddress } from "../remote/address.ts";

export type { NodeAddress };

/**
 * One incarnation of a node: its address plus the id it picked at start. A restarted node
 * keeps its address but gets a new id, which is how the cluster tells the two apart.
 *
 * @example
 * ```ts
 * import type { UniqueNode } from "./member.ts";
 * import assert from "node:assert/strict";
 * const n: UniqueNode = { address: { host: "10.0.0.1", port: 25520 }, id: "0lx2k3a4b5c6-9f8e7d6c" };
 * assert.ok(n.id.length > 0);
 * ```
 */
export interface UniqueNode {
  /** Where the node listens. */
  readonly address: NodeAddress;
  /** The incarnation id, new at every start, opaque (compared for equality only). */
  readonly id: string;
}

/**
 * The lifecycle of a member, in order. A member only ever moves forward:
 * `joining → up → leaving → exiting → removed`, or to `down → removed` from any live state.
 *
 * @example
 * ```ts
 * import type { MemberStatus } from "./member.ts";
 * import assert from "node:assert/strict";
 * const s: MemberStatus = "up";
 * assert.ok(s === "up");
 * ```
 */
export type MemberStatus = "joining" | "up" | "leaving" | "exiting" | "down" | "removed";

/**
 * A member of the cluster as recorded in the gossiped state.
 *
 * @example
 * ```ts
 * import type { Member } from "./member.ts";
 * import assert from "node:assert/strict";
 * const m: Member = {
 *   address: { host: "127.0.0.1", port: 25520 },
 *   status: "up",
 *   roles: ["worker"],
 *   id: "0lx2k3a4b5c6-9f8e7d6c",
 *   upNumber: 1,
 * };
 * assert.ok(m.roles.includes("worker"));
 * ```
 */
export interface Member {
  /** The node's address. */
  readonly address: NodeAddress;
  /** Where the member is in its lifecycle. */
  readonly status: MemberStatus;
  /** Roles the node advertises, sorted. */
  readonly roles: readonly string[];
  /** The incarnation id (unique per node start). */
  readonly id: string;
  /** Order in which members became `up` (1 for the first); absent while joining. */
  readonly upNumber?: number;
}

const STATUS_RANK: Readonly<Record<MemberStatus, number>> = {
  joining: 0,
  up: 1,
  leaving: 2,
  exiting: 3,
  down: 4,
  removed: 5,
};

/**
 * The precedence of a status when two views of one member disagree: a later lifecycle state
 * wins, so `down` beats `exiting`, which beats `leaving`, `up` and `joining`.
 *
 * @param status The status to rank.
 * @returns 0 for `joining` up to 5 for `removed`.
 * @example
 * ```ts
 * import { statusRank } from "./member.ts";
 * import assert from "node:assert/strict";
 * assert.ok(statusRank("down") > statusRank("exiting"));
 * ```
 */
export function statusRank(status: MemberStatus): number {
  return STATUS_RANK[status];
}

/**
 * The key that identifies one incarnation: `host:port#id`.
 *
 * @param node The node (a {@linkcode Member} works too).
 * @returns The key.
 * @example
 * ```ts
 * import { nodeKey } from "./member.ts";
 * import assert from "node:assert/strict";
 * assert.ok(nodeKey({ address: { host: "h", port: 1 }, id: "x" }) === "h:1#x");
 * ```
 */
export function nodeKey(node: UniqueNode): string {
  return `${formatNodeAddress(node.address)}#${node.id}`;
}

/**
 * Orders incarnations by address, then id.
 *
 * @param a First node.
 * @param b Second node.
 * @returns Negative, zero or positive.
 * @example
 * ```ts
 * import { compareNodes } from "./member.ts";
 * import assert from "node:assert/strict";
 * const h = { host: "h", port: 1 };
 * assert.ok(compareNodes({ address: h, id: "a" }, { address: h, id: "b" }) < 0);
 * ```
 */
export function compareNodes(a: UniqueNode, b: UniqueNode): number {
  const c = compareNodeAddresses(a.address, b.address);
  if (c !== 0) return c;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * Whether incarnation id `a` sorts after `b`. Only a deterministic tie-break: incarnation ids
 * are opaque, and their order says nothing about which incarnation started later (a restarted
 * node's clock may be behind). The cluster never uses it to decide which incarnation is newer:
 * the member that admits a new incarnation downs the previous ones at its address.
 *
 * @deprecated Ids are opaque; compare them for equality only.
 * @param a One id.
 * @param b Another id.
 * @returns `true` when `a` sorts after `b`.
 * @example
 * ```ts
 * import { isNewerIncarnation } from "./member.ts";
 * import assert from "node:assert/strict";
 * assert.ok(isNewerIncarnation("b", "a"));
 * ```
 */
export function isNewerIncarnation(a: string, b: string): boolean {
  return a > b;
}

/**
 * Makes a fresh incarnation id: the start time (12 base-36 digits) and 8 random base-36 digits.
 * The cluster treats ids as opaque strings (equality only): a node restarted with its clock
 * set back gets an id that sorts *before* its previous one and still rejoins.
 *
 * @param wallNow Wall-clock milliseconds at start, e.g. `clock.wallNow()`.
 * @param random Source of randomness in [0, 1).
 * @default {Math.random}
 * @returns An id such as `"00000lx2k3a4-9f8e7d6c"`.
 * @example
 * ```ts
 * import { newMemberId } from "./member.ts";
 * import assert from "node:assert/strict";
 * assert.ok(newMemberId(Date.now()).length === 21);
 * ```
 */
export function newMemberId(wallNow: number, random: () => number = Math.random): string {
  const time = Math.max(0, Math.floor(wallNow)).toString(36).padStart(12, "0");
  let tail = "";
  for (let i = 0; i < 8; i++) tail += Math.floor(random() * 36).toString(36);
  return `${time}-${tail}`;
}
