/**
 * The compact wire form of a {@linkcode GossipState}: members as tuples, node keys replaced by
 * member indexes, `seen` as a bitset.
 *
 * @module
 */

import { type Member, type MemberStatus, type NodeAddress, nodeKey, statusRank } from "./member.ts";
import { keyOf, rememberKey } from "./_keys.ts";
import {
  addSeen,
  derived,
  type GossipState,
  type LeaderEpoch,
  membersByKey,
  normalize,
} from "./gossip_state.ts";

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
 * import type { WireMember } from "./gossip.ts";
 * import assert from "node:assert/strict";
 * const w: WireMember = ["127.0.0.1", 25520, "id", 1, 1, []];
 * assert.ok(w[3] === 1);
 * ```
 */
export type WireMember = readonly [string, number, string, number, number, readonly string[]];

/**
 * The compact JSON form of a {@linkcode GossipState}: members as tuples, and node keys
 * elsewhere replaced by member indexes where possible; `seen` is a bitset over `members`.
 *
 * @example
 * ```ts
 * import { emptyGossip, encodeGossip, type WireGossip } from "./gossip.ts";
 * import assert from "node:assert/strict";
 * const w: WireGossip = encodeGossip(emptyGossip());
 * assert.ok(w.m.length === 0);
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
  /** The leadership claim `[leader (member index or node key), epoch]`, when there is one. */
  readonly e?: readonly [number | string, number];
}

/**
 * Size limits a decoder enforces on membership and gossip messages: a message over any of
 * them is malformed and dropped.
 *
 * @example
 * ```ts
 * import { WIRE_LIMITS } from "./gossip.ts";
 * import assert from "node:assert/strict";
 * assert.ok(WIRE_LIMITS.members >= 1000);
 * ```
 */
export const WIRE_LIMITS: {
  readonly members: number;
  readonly entries: number;
  readonly host: number;
  readonly id: number;
  readonly roles: number;
  readonly role: number;
  readonly key: number;
} = {
  /** Members in one state. */
  members: 5_000,
  /** Version entries, reachability rows, subjects per row, tombstones. */
  entries: 50_000,
  /** Characters in a host name. */
  host: 255,
  /** Characters in an incarnation id. */
  id: 128,
  /** Roles of one member. */
  roles: 64,
  /** Characters in one role. */
  role: 128,
  /** Characters in a node key (`host:port#id`). */
  key: 400,
};

/**
 * A malformed membership or gossip message (wrong types, non-finite or out-of-range numbers,
 * sizes over {@linkcode WIRE_LIMITS}).
 *
 * @example
 * ```ts
 * import { decodeGossip, MalformedMessageError } from "./gossip.ts";
 * import assert from "node:assert/strict";
 * // deno-lint-ignore no-explicit-any
 * assert.throws(() => decodeGossip({ m: "x" } as any), MalformedMessageError);
 * ```
 */
export class MalformedMessageError extends TypeError {
  /** Stable code. */
  readonly code = "MALFORMED_MEMBERSHIP_MESSAGE" as const;
  /** The error's name. */
  override readonly name = "MalformedMessageError";
  /**
   * Creates a MalformedMessageError.
   *
   * @param message What is wrong.
   */
  constructor(message: string) {
    super(message);
  }
}

function bad(what: string): never {
  throw new MalformedMessageError(`Cannot decode membership message: ${what}`);
}

function arrayOf(x: unknown, max: number, what: string): unknown[] {
  if (!Array.isArray(x)) bad(`${what} is not an array`);
  if (x.length > max) bad(`${what} has ${x.length} entries, more than ${max}`);
  return x;
}

/** Checks a string field's type and length; returns it. */
export function wireString(x: unknown, max: number, what: string): string {
  if (typeof x !== "string") bad(`${what} is not a string`);
  if (x.length > max) bad(`${what} is longer than ${max} characters`);
  return x;
}

/** Checks an integer field's type and range; returns it. */
export function wireInt(x: unknown, min: number, max: number, what: string): number {
  if (typeof x !== "number" || !Number.isSafeInteger(x) || x < min || x > max) {
    bad(`${what} is not an integer in [${min}, ${max}]`);
  }
  return x;
}

/** Checks a finite, non-negative number (a timestamp); returns it. */
export function wireTime(x: unknown, what: string): number {
  if (typeof x !== "number" || !Number.isFinite(x) || x < 0) bad(`${what} is not a finite time`);
  return x;
}

/** Checks a host and port; returns the address. */
export function wireAddress(host: unknown, port: unknown, what: string): NodeAddress {
  const h = wireString(host, WIRE_LIMITS.host, `${what} host`);
  if (h.length === 0) bad(`${what} host is empty`);
  return { host: h, port: wireInt(port, 0, 65535, `${what} port`) };
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
 * import { emptyGossip, encodeSeen } from "./gossip.ts";
 * import assert from "node:assert/strict";
 * assert.ok(encodeSeen(emptyGossip()) === "");
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
 * import { decodeSeen, emptyGossip } from "./gossip.ts";
 * import assert from "node:assert/strict";
 * assert.ok(decodeSeen(emptyGossip(), "").length === 0);
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
 * import { decodeGossip, emptyGossip, encodeGossip } from "./gossip.ts";
 * import assert from "node:assert/strict";
 * assert.ok(decodeGossip(encodeGossip(emptyGossip())).members.length === 0);
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
    ...(state.leaderEpoch === undefined
      ? {}
      : { e: [ref(state.leaderEpoch.leader), state.leaderEpoch.epoch] as const }),
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
 * import { decodeGossip, emptyGossip, encodeGossip } from "./gossip.ts";
 * import assert from "node:assert/strict";
 * assert.ok(decodeGossip(encodeGossip(emptyGossip())).tombstones.length === 0);
 * ```
 */
export function decodeGossip(wire: WireGossip, local?: GossipState): GossipState {
  if (wire === null || typeof wire !== "object" || Array.isArray(wire)) {
    bad("gossip is not an object");
  }
  const L = WIRE_LIMITS;
  // Members equal to ones the receiver already holds reuse its objects: merges then see
  // unchanged members by identity, and cached keys stay warm.
  const known = local === undefined ? undefined : membersByKey(local.members);
  const keys: string[] = [];
  const seenKeys = new Set<string>();
  const members: Member[] = arrayOf(wire.m, L.members, "members").map((raw, i) => {
    const t = arrayOf(raw, 6, `member ${i}`);
    if (t.length !== 6) bad(`member ${i} is not a 6-tuple`);
    const address = wireAddress(t[0], t[1], `member ${i}`);
    const id = wireString(t[2], L.id, `member ${i} id`);
    const s = STATUS_CODES[wireInt(t[3], 0, STATUS_CODES.length - 1, `member ${i} status`)];
    const upNumber = wireInt(t[4], 0, Number.MAX_SAFE_INTEGER, `member ${i} upNumber`);
    const roles = arrayOf(t[5], L.roles, `member ${i} roles`).map((r) =>
      wireString(r, L.role, `member ${i} role`)
    );
    const key = nodeKey({ address, id });
    if (seenKeys.has(key)) bad(`member ${key} appears twice`);
    seenKeys.add(key);
    keys.push(key);
    const old = known?.get(key);
    if (
      old !== undefined && old.status === s && (old.upNumber ?? 0) === upNumber &&
      old.roles.length === roles.length && old.roles.every((r, i) => r === roles[i])
    ) return old;
    const m: Member = upNumber > 0
      ? { address, status: s, roles, id, upNumber }
      : { address, status: s, roles, id };
    rememberKey(m, key);
    return m;
  });
  const deref = (r: unknown, what: string): string => {
    if (typeof r === "string") return wireString(r, L.key, what);
    const k = keys[wireInt(r, 0, keys.length - 1, what)];
    return k;
  };
  const version: Record<string, number> = {};
  for (const raw of arrayOf(wire.v, L.entries, "version")) {
    const e = arrayOf(raw, 2, "version entry");
    version[deref(e[0], "version node")] = wireInt(
      e[1],
      0,
      Number.MAX_SAFE_INTEGER,
      "version counter",
    );
  }
  const sorted: Record<string, number> = {};
  for (const k of Object.keys(version).sort()) sorted[k] = version[k];
  const rows = arrayOf(wire.r, L.entries, "reachability").map((raw) => {
    const r = arrayOf(raw, 3, "reachability row");
    return {
      observer: deref(r[0], "observer"),
      version: wireInt(r[1], 0, Number.MAX_SAFE_INTEGER, "row version"),
      unreachable: arrayOf(r[2], L.entries, "subjects").map((x) => deref(x, "subject")).sort(),
    };
  });
  const tombstones = arrayOf(wire.t, L.entries, "tombstones").map((raw) => {
    const t = arrayOf(raw, 4, "tombstone");
    return {
      node: { address: wireAddress(t[0], t[1], "tombstone"), id: wireString(t[2], L.id, "id") },
      removedAt: wireTime(t[3], "removedAt"),
    };
  });
  let epoch: LeaderEpoch | undefined;
  if (wire.e !== undefined) {
    const e = arrayOf(wire.e, 2, "leader epoch");
    epoch = {
      leader: deref(e[0], "epoch leader"),
      epoch: wireInt(e[1], 1, Number.MAX_SAFE_INTEGER, "epoch"),
    };
  }
  const bits = wireString(wire.s, Math.ceil(L.members / 6) + 4, "seen");
  let bin: string;
  try {
    bin = atob(bits);
  } catch {
    bad("seen is not base64");
  }
  const base = normalize(members, sorted, [], rows, tombstones, [], epoch);
  // Seen was encoded against the encoder's members, which are the decoded ones before fencing.
  const seen: string[] = [];
  members.forEach((_, i) => {
    if (bin.charCodeAt(i >> 3) & (1 << (i & 7))) seen.push(keys[i]);
  });
  return addSeen(base, seen);
}
