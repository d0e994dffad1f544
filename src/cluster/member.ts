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
 * import assert from "node:assert/strict";
 * import type { UniqueNode } from "./member.ts";
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
 * import assert from "node:assert/strict";
 * import type { MemberStatus } from "./member.ts";
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
 * import assert from "node:assert/strict";
 * import type { Member } from "./member.ts";
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
 * import assert from "node:assert/strict";
 * import { statusRank } from "./member.ts";
 * assert.ok(statusRank("down") > statusRank("exiting"));
 * ```
 */
export function statusRank(status: MemberStatus): number {
  return STATUS_RANK[status];
}

/**
 * Orders addresses by host (as strings), then port: the order that picks the leader and breaks
 * split-brain ties.
 *
 * @param a First address.
 * @param b Second address.
 * @returns Negative if `a` sorts first, positive if `b` does, 0 if equal.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compareAddresses } from "./member.ts";
 * const a = { host: "10.0.0.1", port: 2552 };
 * const b = { host: "10.0.0.1", port: 2551 };
 * assert.ok(compareAddresses(a, b) > 0);
 * ```
 */
export function compareAddresses(a: NodeAddress, b: NodeAddress): number {
  if (a.host !== b.host) return a.host < b.host ? -1 : 1;
  return a.port - b.port;
}

/**
 * Whether two addresses are the same.
 *
 * @param a First address.
 * @param b Second address.
 * @returns `true` when host and port match.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { addressEquals } from "./member.ts";
 * assert.ok(addressEquals({ host: "h", port: 1 }, { host: "h", port: 1 }));
 * ```
 */
export function addressEquals(a: NodeAddress, b: NodeAddress): boolean {
  return a.host === b.host && a.port === b.port;
}

/**
 * The `host:port` form of an address (IPv6 hosts are bracketed).
 *
 * @param address The address.
 * @returns A string usable as a map key.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { addressToString } from "./member.ts";
 * assert.equal(addressToString({ host: "127.0.0.1", port: 25520 }), "127.0.0.1:25520");
 * ```
 */
export function addressToString(address: NodeAddress): string {
  return address.host.includes(":")
    ? `[${address.host}]:${address.port}`
    : `${address.host}:${address.port}`;
}

/**
 * Parses `host:port` (or `[v6]:port`).
 *
 * @param text The address text.
 * @returns The address.
 * @throws {TypeError} When the text has no valid port.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseAddress } from "./member.ts";
 * assert.equal(parseAddress("127.0.0.1:25520").port, 25520);
 * ```
 */
export function parseAddress(text: string): NodeAddress {
  const at = text.lastIndexOf(":");
  const port = Number(text.slice(at + 1));
  let host = text.slice(0, at);
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  if (at <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new TypeError(`Cannot parse node address "${text}": expected host:port`);
  }
  return { host, port };
}

/**
 * The key that identifies one incarnation: `host:port#id`.
 *
 * @param node The node (a {@linkcode Member} works too).
 * @returns The key.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nodeKey } from "./member.ts";
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
 * import assert from "node:assert/strict";
 * import { compareNodes } from "./member.ts";
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
 * import assert from "node:assert/strict";
 * import { newMemberId } from "./member.ts";
 * assert.ok(newMemberId(Date.now()).length === 21);
 * ```
 */
export function newMemberId(wallNow: number, random: () => number = Math.random): string {
  const time = Math.max(0, Math.floor(wallNow)).toString(36).padStart(12, "0");
  let tail = "";
  for (let i = 0; i < 8; i++) tail += Math.floor(random() * 36).toString(36);
  return `${time}-${tail}`;
}
