/**
 * The compact wire form of a {@linkcode GossipState}: members as tuples, node keys replaced by
 * member indexes, `seen` as a bitset.
 *
 * @module
 */

import { type Member, type MemberStatus, nodeKey, statusRank } from "./member.ts";
import { keyOf, rememberKey } from "./_keys.ts";
import { addSeen, derived, type GossipState, membersByKey, normalize } from "./gossip_state.ts";

const STATUS_CODES: readonly MemberStatus[] = [
  "joining",
  "up",
  "leaving",
  "exiting",
  "down",
  "removed",
];

/**
 * A member on the wire: `[host, port, id, status index, upNumber or 0, roles]`.
 *
 * @example
 * ```ts
 * import type { WireMember } from "@casty/casty/cluster";
 * const w: WireMember = ["127.0.0.1", 25520, "id", 1, 1, []];
 * console.assert(w[3] === 1);
 * ```
 */
export type WireMember = readonly [string, number, string, number, number, readonly string[]];

/**
 * The compact JSON form of a {@linkcode GossipState}: members as tuples, and node keys
 * elsewhere replaced by member indexes where possible; `seen` is a bitset over `members`.
 *
 * @example
 * ```ts
 * import { emptyGossip, encodeGossip, type WireGossip } from "@casty/casty/cluster";
 * const w: WireGossip = encodeGossip(emptyGossip());
 * console.assert(w.m.length === 0);
 * ```
 */
export interface WireGossip {
  /** Members. */
  readonly m: readonly WireMember[];
  /** Version entries `[member index or node key, counter]`. */
  readonly v: readonly (readonly [number | string, number])[];
  /** `seen` bitset (base64) over `m`. */
  readonly s: string;
  /** Reachability rows `[observer, version, unreachable subjects]`. */
  readonly r: readonly (readonly [number | string, number, readonly (number | string)[]])[];
  /** Tombstones `[host, port, id, removedAt]`. */
  readonly t: readonly (readonly [string, number, string, number])[];
}

function indexOfKeys(members: readonly Member[]): Map<string, number> {
  const index = new Map<string, number>();
  members.forEach((m, i) => index.set(keyOf(m), i));
  return index;
}

/**
 * Encodes `seen` as a base64 bitset over the (sorted) members: about N/6 characters.
 *
 * @param state The state.
 * @returns The bitset.
 * @example
 * ```ts
 * import { emptyGossip, encodeSeen } from "@casty/casty/cluster";
 * console.assert(encodeSeen(emptyGossip()) === "");
 * ```
 */
export function encodeSeen(state: GossipState): string {
  const d = derived(state);
  const bytes = new Uint8Array(Math.ceil(state.members.length / 8));
  state.members.forEach((m, i) => {
    if (d.seen.has(keyOf(m))) bytes[i >> 3] |= 1 << (i & 7);
  });
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

/**
 * Decodes a bitset from {@linkcode encodeSeen} against a state at the same version.
 *
 * @param state A state with the same members as the encoder's.
 * @param bits The bitset.
 * @returns The node keys (empty when the bitset does not fit the members).
 * @example
 * ```ts
 * import { decodeSeen, emptyGossip } from "@casty/casty/cluster";
 * console.assert(decodeSeen(emptyGossip(), "").length === 0);
 * ```
 */
export function decodeSeen(state: GossipState, bits: string): string[] {
  let bin: string;
  try {
    bin = atob(bits);
  } catch {
    return [];
  }
  if (bin.length !== Math.ceil(state.members.length / 8)) return [];
  const out: string[] = [];
  state.members.forEach((m, i) => {
    if (bin.charCodeAt(i >> 3) & (1 << (i & 7))) out.push(keyOf(m));
  });
  return out;
}

/**
 * Encodes a state for the wire.
 *
 * @param state The state.
 * @returns Its compact JSON form.
 * @example
 * ```ts
 * import { decodeGossip, emptyGossip, encodeGossip } from "@casty/casty/cluster";
 * console.assert(decodeGossip(encodeGossip(emptyGossip())).members.length === 0);
 * ```
 */
export function encodeGossip(state: GossipState): WireGossip {
  let wire = wireCache.get(state);
  if (wire === undefined) {
    wire = encode(state);
    wireCache.set(state, wire);
  }
  return wire;
}

const wireCache = new WeakMap<GossipState, WireGossip>();

function encode(state: GossipState): WireGossip {
  const index = indexOfKeys(state.members);
  const ref = (k: string): number | string => index.get(k) ?? k;
  return {
    m: state.members.map((m) => [
      m.address.host,
      m.address.port,
      m.id,
      statusRank(m.status),
      m.upNumber ?? 0,
      m.roles,
    ]),
    v: Object.entries(state.version).map(([k, n]) => [ref(k), n] as const),
    s: encodeSeen(state),
    r: state.reachability.map((r) => [ref(r.observer), r.version, r.unreachable.map(ref)] as const),
    t: state.tombstones.map((
      t,
    ) => [t.node.address.host, t.node.address.port, t.node.id, t.removedAt] as const),
  };
}

/**
 * Decodes a state from its wire form, restoring canonical order.
 *
 * @param wire The compact form.
 * @param local The receiver's current state, if any: equal members reuse its objects.
 * @returns The state.
 * @throws {TypeError} When the input is malformed.
 * @example
 * ```ts
 * import { decodeGossip, emptyGossip, encodeGossip } from "@casty/casty/cluster";
 * console.assert(decodeGossip(encodeGossip(emptyGossip())).tombstones.length === 0);
 * ```
 */
export function decodeGossip(wire: WireGossip, local?: GossipState): GossipState {
  if (wire === null || typeof wire !== "object" || !Array.isArray(wire.m)) {
    throw new TypeError("Cannot decode gossip: malformed state");
  }
  // Members equal to ones the receiver already holds reuse its objects: merges then see
  // unchanged members by identity, and cached keys stay warm.
  const known = local === undefined ? undefined : membersByKey(local.members);
  const keys: string[] = [];
  const members: Member[] = wire.m.map(([host, port, id, status, upNumber, roles]) => {
    const s = STATUS_CODES[status];
    if (s === undefined) throw new TypeError(`Cannot decode gossip: bad status ${status}`);
    const key = nodeKey({ address: { host, port }, id });
    keys.push(key);
    const old = known?.get(key);
    if (
      old !== undefined && old.status === s && (old.upNumber ?? 0) === upNumber &&
      old.roles.length === roles.length && old.roles.every((r, i) => r === roles[i])
    ) return old;
    const m: Member = upNumber > 0
      ? { address: { host, port }, status: s, roles: [...roles], id, upNumber }
      : { address: { host, port }, status: s, roles: [...roles], id };
    rememberKey(m, key);
    return m;
  });
  const deref = (r: number | string): string => {
    if (typeof r === "string") return r;
    const k = keys[r];
    if (k === undefined) throw new TypeError(`Cannot decode gossip: bad member index ${r}`);
    return k;
  };
  const version: Record<string, number> = {};
  for (const [k, n] of wire.v) version[deref(k)] = n;
  const sorted: Record<string, number> = {};
  for (const k of Object.keys(version).sort()) sorted[k] = version[k];
  const base = normalize(
    members,
    sorted,
    [],
    wire.r.map(([o, v, u]) => ({
      observer: deref(o),
      version: v,
      unreachable: u.map(deref).sort(),
    })),
    wire.t.map(([host, port, id, removedAt]) => ({
      node: { address: { host, port }, id },
      removedAt,
    })),
  );
  // Seen was encoded against the encoder's members, which are the decoded ones before fencing.
  const seen: string[] = [];
  const bin = atob(wire.s);
  members.forEach((_, i) => {
    if (bin.charCodeAt(i >> 3) & (1 << (i & 7))) seen.push(keys[i]);
  });
  return addSeen(base, seen);
}
