/**
 * The gossiped cluster state and the pure functions that change and merge it.
 *
 * The state is plain data (arrays and records, no `Map`s or class instances), kept in a
 * canonical order so two nodes with the same knowledge hold equal values.
 *
 * Merge is a join on a semilattice, hence commutative, associative and idempotent:
 * - members: per incarnation, the later lifecycle status wins (and the lower `upNumber`);
 * - a restarted node (a new incarnation at a known address) replaces its previous one because
 *   the member that admits it downs the previous one in the same change (ids are opaque and
 *   never compared for age);
 * - tombstones (removed members): union; a tombstoned incarnation is gone for good;
 * - reachability: each observer owns a versioned row of the subjects it finds unreachable,
 *   and the higher row version wins;
 * - version: element-wise maximum; `seen` is united when both versions are the same, taken from
 *   the newer side when one is newer, and reset when they are concurrent.
 *
 * Convergence and leader rules live in `gossip_leader.ts`, the wire form in `gossip_wire.ts`.
 *
 * @module
 */

import { compareNodeAddresses } from "../remote/address.ts";
import {
  compareNodes,
  type Member,
  type MemberStatus,
  type NodeAddress,
  statusRank,
  type UniqueNode,
} from "./member.ts";
import { keyOf } from "./_keys.ts";
import {
  compareClocks,
  incrementClock,
  mergeClocks,
  pruneClock,
  type VectorClock,
} from "./vector_clock.ts";

/**
 * The subjects one observer currently finds unreachable. Only the observer writes its row,
 * bumping `version` on every change, so the higher version is always the newer row.
 *
 * @example
 * ```ts
 * import type { ReachabilityRow } from "./gossip.ts";
 * import assert from "node:assert/strict";
 * const row: ReachabilityRow = { observer: "h:1#a", version: 2, unreachable: ["h:2#b"] };
 * assert.ok(row.unreachable.length === 1);
 * ```
 */
export interface ReachabilityRow {
  /** Node key of the observer. */
  readonly observer: string;
  /** Incremented by the observer on every change of its row. */
  readonly version: number;
  /** Node keys the observer finds unreachable, sorted. */
  readonly unreachable: readonly string[];
}

/**
 * A removed incarnation, remembered so stale gossip cannot bring it back, until it expires.
 *
 * @example
 * ```ts
 * import type { Tombstone } from "./gossip.ts";
 * import assert from "node:assert/strict";
 * const t: Tombstone = { node: { address: { host: "h", port: 1 }, id: "a" }, removedAt: 0 };
 * assert.ok(t.removedAt === 0);
 * ```
 */
export interface Tombstone {
  /** The removed incarnation. */
  readonly node: UniqueNode;
  /** Wall-clock milliseconds when it was removed. */
  readonly removedAt: number;
}

/**
 * The cluster state every node gossips.
 *
 * @example
 * ```ts
 * import { emptyGossip } from "./gossip.ts";
 * import assert from "node:assert/strict";
 * const g = emptyGossip();
 * assert.ok(g.members.length === 0 && Object.keys(g.version).length === 0);
 * ```
 */
export interface GossipState {
  /** Members, sorted by address then id. */
  readonly members: readonly Member[];
  /** Version of this state. */
  readonly version: VectorClock;
  /** Node keys that have seen exactly this version, in member order. */
  readonly seen: readonly string[];
  /** Reachability rows, sorted by observer. */
  readonly reachability: readonly ReachabilityRow[];
  /** Removed incarnations, sorted by node key. */
  readonly tombstones: readonly Tombstone[];
  /** The latest leadership claim (absent before the first leader claimed). */
  readonly leaderEpoch?: LeaderEpoch;
}

/**
 * A leadership claim: the leader's node key and its epoch. A node that becomes the acting
 * leader of its side claims `epoch + 1`; merge keeps the higher epoch (on equal epochs, the
 * lower key), so every member learns one holder per epoch and can refuse an older one.
 *
 * @example
 * ```ts
 * import type { LeaderEpoch } from "./gossip.ts";
 * import assert from "node:assert/strict";
 * const e: LeaderEpoch = { epoch: 3, leader: "10.0.0.1:25520#a" };
 * assert.equal(e.epoch, 3);
 * ```
 */
export interface LeaderEpoch {
  /** Increases with every claim. */
  readonly epoch: number;
  /** Node key of the claimer. */
  readonly leader: string;
}

/**
 * The later of two leadership claims (`undefined` counts as oldest).
 *
 * @param a One claim.
 * @param b Another.
 * @returns The one with the higher epoch; on a tie, the lower leader key.
 * @example
 * ```ts
 * import { laterEpoch } from "./gossip.ts";
 * import assert from "node:assert/strict";
 * assert.equal(laterEpoch({ epoch: 1, leader: "b" }, { epoch: 2, leader: "c" })?.epoch, 2);
 * assert.equal(laterEpoch({ epoch: 2, leader: "b" }, { epoch: 2, leader: "a" })?.leader, "a");
 * ```
 */
export function laterEpoch(
  a: LeaderEpoch | undefined,
  b: LeaderEpoch | undefined,
): LeaderEpoch | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  if (a.epoch !== b.epoch) return a.epoch > b.epoch ? a : b;
  return a.leader <= b.leader ? a : b;
}

/**
 * The state of a node that has not joined anything.
 *
 * @returns An empty state.
 * @example
 * ```ts
 * import { emptyGossip } from "./gossip.ts";
 * import assert from "node:assert/strict";
 * assert.ok(emptyGossip().seen.length === 0);
 * ```
 */
export function emptyGossip(): GossipState {
  return { members: [], version: {}, seen: [], reachability: [], tombstones: [] };
}

// ---------------------------------------------------------------------------------------------
// Cached derived data (states are immutable, so per-object caches are safe)

/** Internal (not re-exported by `gossip.ts`). */
export interface Derived {
  readonly byKey: Map<string, Member>;
  readonly seen: Set<string>;
  readonly unreachable: Set<string>;
  readonly tombstoned: Set<string>;
}

const derivedCache = new WeakMap<GossipState, Derived>();
const byKeyCache = new WeakMap<readonly Member[], Map<string, Member>>();

/** Internal (not re-exported by `gossip.ts`). */
export function membersByKey(members: readonly Member[]): Map<string, Member> {
  let byKey = byKeyCache.get(members);
  if (byKey === undefined) {
    byKey = new Map<string, Member>();
    for (const m of members) byKey.set(keyOf(m), m);
    byKeyCache.set(members, byKey);
  }
  return byKey;
}

/** Internal (not re-exported by `gossip.ts`). */
export function derived(state: GossipState): Derived {
  let d = derivedCache.get(state);
  if (d !== undefined) return d;
  const byKey = membersByKey(state.members);
  const unreachable = new Set<string>();
  for (const row of state.reachability) {
    const observer = byKey.get(row.observer);
    // Observations of a downed observer no longer count (it is on its way out).
    if (observer === undefined || observer.status === "down") continue;
    for (const s of row.unreachable) if (s !== row.observer && byKey.has(s)) unreachable.add(s);
  }
  d = {
    byKey,
    seen: new Set(state.seen),
    unreachable,
    tombstoned: new Set(state.tombstones.map((t) => keyOf(t.node))),
  };
  derivedCache.set(state, d);
  return d;
}

/**
 * Finds the member with the given node key.
 *
 * @param state The state.
 * @param key A node key from {@linkcode nodeKey}.
 * @returns The member, or `undefined`.
 * @example
 * ```ts
 * import { emptyGossip, findMember } from "./gossip.ts";
 * import assert from "node:assert/strict";
 * assert.ok(findMember(emptyGossip(), "h:1#a") === undefined);
 * ```
 */
export function findMember(state: GossipState, key: string): Member | undefined {
  return derived(state).byKey.get(key);
}

/**
 * Whether the incarnation with this key was removed (and its tombstone not yet pruned).
 *
 * @param state The state.
 * @param key A node key.
 * @returns `true` when tombstoned.
 * @example
 * ```ts
 * import { emptyGossip, isTombstoned } from "./gossip.ts";
 * import assert from "node:assert/strict";
 * assert.ok(!isTombstoned(emptyGossip(), "h:1#a"));
 * ```
 */
export function isTombstoned(state: GossipState, key: string): boolean {
  return derived(state).tombstoned.has(key);
}

/**
 * Whether `key` has seen this version of the state.
 *
 * @param state The state.
 * @param key A node key.
 * @returns `true` when in `seen`.
 * @example
 * ```ts
 * import { emptyGossip, hasSeen } from "./gossip.ts";
 * import assert from "node:assert/strict";
 * assert.ok(!hasSeen(emptyGossip(), "h:1#a"));
 * ```
 */
export function hasSeen(state: GossipState, key: string): boolean {
  return derived(state).seen.has(key);
}

/**
 * Members that some (not downed) observer finds unreachable: the cluster-wide view that this
 * state carries, which is what convergence, the leader and downing look at.
 *
 * @param state The state.
 * @returns Node keys of unreachable members.
 * @example
 * ```ts
 * import { emptyGossip, unreachableKeys } from "./gossip.ts";
 * import assert from "node:assert/strict";
 * assert.ok(unreachableKeys(emptyGossip()).size === 0);
 * ```
 */
export function unreachableKeys(state: GossipState): ReadonlySet<string> {
  return derived(state).unreachable;
}

/**
 * The unreachable subjects in one observer's row.
 *
 * @param state The state.
 * @param observer The observer's node key.
 * @returns The subjects (empty when the observer has no row).
 * @example
 * ```ts
 * import { emptyGossip, observedUnreachable } from "./gossip.ts";
 * import assert from "node:assert/strict";
 * assert.ok(observedUnreachable(emptyGossip(), "h:1#a").length === 0);
 * ```
 */
export function observedUnreachable(state: GossipState, observer: string): readonly string[] {
  return rowOf(state, observer)?.unreachable ?? [];
}

function rowOf(state: GossipState, observer: string): ReachabilityRow | undefined {
  return state.reachability.find((r) => r.observer === observer);
}

// ---------------------------------------------------------------------------------------------
// Merge

/**
 * Joins two views of one incarnation field by field: the later status, the lowest `upNumber`
 * (the older one wins if two leaders ever numbered it), the greater roles list. Field-wise
 * keeps the join a lattice join even with fencing (which raises only the status).
 */
function mergeMember(a: Member, b: Member): Member {
  const status = statusRank(a.status) >= statusRank(b.status) ? a.status : b.status;
  const upNumber = a.upNumber === undefined
    ? b.upNumber
    : b.upNumber === undefined
    ? a.upNumber
    : Math.min(a.upNumber, b.upNumber);
  const roles = a.roles.join(",") >= b.roles.join(",") ? a.roles : b.roles;
  for (const m of [a, b]) {
    if (m.status === status && m.upNumber === upNumber && m.roles === roles) return m;
  }
  return upNumber === undefined
    ? { address: a.address, status, roles, id: a.id }
    : { address: a.address, status, roles, id: a.id, upNumber };
}

/** Internal (not re-exported by `gossip.ts`). */
export function withStatus(m: Member, status: MemberStatus): Member {
  return { ...m, status };
}

/**
 * Brings a state to canonical form: tombstoned incarnations dropped (from members, seen and
 * reachability; their clock entries stay until the tombstone expires) and everything sorted.
 * There is no implicit fencing by id: ids are opaque (a restarted node's clock may be behind),
 * so the node that admits a new incarnation downs the previous ones in the same change. Merge and every state
 * change go through it. Internal (not re-exported by `gossip.ts`).
 */
export function normalize(
  members: Member[],
  version: VectorClock,
  seen: Iterable<string>,
  rows: ReachabilityRow[],
  tombstones: Tombstone[],
  previous: readonly GossipState[] = [],
  leaderEpoch?: LeaderEpoch,
): GossipState {
  tombstones.sort((x, y) => compareNodes(x.node, y.node));
  const dead = new Set(tombstones.map((t) => keyOf(t.node)));
  const live = members.filter((m) => !dead.has(keyOf(m)));
  live.sort(compareNodes);

  const cleanRows: ReachabilityRow[] = [];
  for (const r of rows) {
    if (dead.has(r.observer)) continue;
    const unreachable = r.unreachable.some((s) => dead.has(s))
      ? r.unreachable.filter((s) => !dead.has(s))
      : r.unreachable;
    cleanRows.push(unreachable === r.unreachable ? r : { ...r, unreachable });
  }
  cleanRows.sort((x, y) => (x.observer < y.observer ? -1 : x.observer > y.observer ? 1 : 0));

  const seenSet = new Set(seen);
  const seenOut = live.map(keyOf).filter((k) => seenSet.has(k));
  // Keep the previous arrays when nothing changed: cheap identity checks downstream (events,
  // caches) then see that the members did not change.
  return {
    members: reuse(live, previous.map((p) => p.members)),
    version,
    seen: seenOut,
    reachability: reuse(cleanRows, previous.map((p) => p.reachability)),
    tombstones: reuse(tombstones, previous.map((p) => p.tombstones)),
    ...(leaderEpoch === undefined ? {} : { leaderEpoch }),
  };
}

function reuse<T>(fresh: readonly T[], candidates: readonly (readonly T[])[]): readonly T[] {
  for (const c of candidates) {
    if (c.length === fresh.length && c.every((x, i) => x === fresh[i])) return c;
  }
  return fresh;
}

function sameMember(a: Member, b: Member): boolean {
  return a.status === b.status && a.upNumber === b.upNumber &&
    a.roles.length === b.roles.length && a.roles.every((r, i) => r === b.roles[i]);
}

/**
 * Merges two states (see the module doc for the rules). Commutative, associative and
 * idempotent, so gossip may arrive in any order, any number of times.
 *
 * @param a One state.
 * @param b Another state.
 * @returns The merged state.
 * @example
 * ```ts
 * import { emptyGossip, mergeGossip } from "./gossip.ts";
 * import assert from "node:assert/strict";
 * const m = mergeGossip(emptyGossip(), emptyGossip());
 * assert.ok(m.members.length === 0);
 * ```
 */
export function mergeGossip(a: GossipState, b: GossipState): GossipState {
  const order = compareClocks(a.version, b.version);

  const tombs = new Map<string, Tombstone>();
  for (const t of [...a.tombstones, ...b.tombstones]) {
    const k = keyOf(t.node);
    const cur = tombs.get(k);
    if (cur === undefined || t.removedAt > cur.removedAt) tombs.set(k, t);
  }

  const members = new Map<string, Member>();
  for (const m of a.members) members.set(keyOf(m), m);
  for (const m of b.members) {
    const k = keyOf(m);
    const cur = members.get(k);
    if (cur === undefined) members.set(k, m);
    else if (!sameMember(cur, m)) members.set(k, mergeMember(cur, m));
  }

  const rows = new Map<string, ReachabilityRow>();
  for (const r of [...a.reachability, ...b.reachability]) {
    const cur = rows.get(r.observer);
    if (
      cur === undefined || r.version > cur.version ||
      (r.version === cur.version && r.unreachable.join() > cur.unreachable.join())
    ) rows.set(r.observer, r);
  }

  const seen = order === "same"
    ? [...a.seen, ...b.seen]
    : order === "before"
    ? b.seen
    : order === "after"
    ? a.seen
    : [];

  return normalize(
    [...members.values()],
    mergeClocks(a.version, b.version),
    seen,
    [...rows.values()],
    [...tombs.values()],
    [a, b],
    laterEpoch(a.leaderEpoch, b.leaderEpoch),
  );
}

// ---------------------------------------------------------------------------------------------
// Local changes (each returns a new state; callers bump the version once per change set)

/**
 * Records a change made by `node`: increments its clock entry and resets `seen` to it alone.
 * Only members change the state (a removed node must not: its clock entry is pruned).
 *
 * @param state The changed state.
 * @param node Key of the node that made the change.
 * @returns The new version of the state.
 * @example
 * ```ts
 * import { bumpVersion, emptyGossip } from "./gossip.ts";
 * import assert from "node:assert/strict";
 * assert.ok(bumpVersion(emptyGossip(), "h:1#a").version["h:1#a"] === 1);
 * ```
 */
export function bumpVersion(state: GossipState, node: string): GossipState {
  const seen = findMember(state, node) === undefined ? [] : [node];
  return { ...state, version: incrementClock(state.version, node), seen };
}

/**
 * Adds `node` to `seen` (for the current version).
 *
 * @param state The state.
 * @param node Key of a member.
 * @returns The state with `node` in `seen`.
 * @example
 * ```ts
 * import { emptyGossip, markSeen, putMember } from "./gossip.ts";
 * import assert from "node:assert/strict";
 * const m = { address: { host: "h", port: 1 }, id: "a", status: "up" as const, roles: [] };
 * assert.ok(markSeen(putMember(emptyGossip(), m), "h:1#a").seen.length === 1);
 * ```
 */
export function markSeen(state: GossipState, node: string): GossipState {
  if (hasSeen(state, node) || findMember(state, node) === undefined) return state;
  return addSeen(state, [node]);
}

/**
 * Unites `seen` with more node keys, for a state known to be at the same version.
 *
 * @param state The state.
 * @param nodes Keys of nodes that have seen this version.
 * @returns The state with a larger (or the same) `seen`.
 * @example
 * ```ts
 * import { addSeen, emptyGossip } from "./gossip.ts";
 * import assert from "node:assert/strict";
 * assert.ok(addSeen(emptyGossip(), ["x"]).seen.length === 0);
 * ```
 */
export function addSeen(state: GossipState, nodes: Iterable<string>): GossipState {
  const d = derived(state);
  let extra: string[] | undefined;
  for (const n of nodes) {
    if (!d.seen.has(n) && d.byKey.has(n)) (extra ??= []).push(n);
  }
  if (extra === undefined) return state;
  const all = new Set([...d.seen, ...extra]);
  return { ...state, seen: state.members.map(keyOf).filter((k) => all.has(k)) };
}

/**
 * Inserts or replaces a member (matched by address and id). Does not bump the version.
 *
 * @param state The state.
 * @param member The member.
 * @returns The new state.
 * @example
 * ```ts
 * import { emptyGossip, putMember } from "./gossip.ts";
 * import assert from "node:assert/strict";
 * const m = { address: { host: "h", port: 1 }, id: "a", status: "joining" as const, roles: [] };
 * assert.ok(putMember(emptyGossip(), m).members.length === 1);
 * ```
 */
export function putMember(state: GossipState, member: Member): GossipState {
  const k = keyOf(member);
  const members = state.members.filter((m) => keyOf(m) !== k);
  members.push(member);
  return normalize(
    members,
    state.version,
    state.seen,
    [...state.reachability],
    [...state.tombstones],
    [state],
    state.leaderEpoch,
  );
}

/**
 * Removes members for good: drops them and leaves tombstones stamped `removedAt`.
 *
 * @param state The state.
 * @param nodes The incarnations to remove.
 * @param removedAt Wall-clock milliseconds.
 * @returns The new state (version not bumped).
 * @example
 * ```ts
 * import { emptyGossip, putMember, removeMembers } from "./gossip.ts";
 * import assert from "node:assert/strict";
 * const m = { address: { host: "h", port: 1 }, id: "a", status: "down" as const, roles: [] };
 * const g = removeMembers(putMember(emptyGossip(), m), [m], 0);
 * assert.ok(g.members.length === 0 && g.tombstones.length === 1);
 * ```
 */
export function removeMembers(
  state: GossipState,
  nodes: readonly UniqueNode[],
  removedAt: number,
): GossipState {
  const tombstones = [...state.tombstones];
  for (const n of nodes) {
    if (!isTombstoned(state, keyOf(n))) {
      tombstones.push({ node: { address: n.address, id: n.id }, removedAt });
    }
  }
  return normalize(
    [...state.members],
    state.version,
    state.seen,
    [...state.reachability],
    tombstones,
    [state],
    state.leaderEpoch,
  );
}

/**
 * Records what `observer` now finds about `subject`. Bumps the observer's row version when
 * its row changes; the state version is not bumped.
 *
 * @param state The state.
 * @param observer The observer's node key.
 * @param changes Subjects and whether each is now reachable.
 * @returns The new state (the same object when nothing changed).
 * @example
 * ```ts
 * import { emptyGossip, observe } from "./gossip.ts";
 * import assert from "node:assert/strict";
 * const g = observe(emptyGossip(), "h:1#a", [{ subject: "h:2#b", reachable: false }]);
 * assert.ok(g.reachability[0].unreachable[0] === "h:2#b");
 * ```
 */
export function observe(
  state: GossipState,
  observer: string,
  changes: readonly { readonly subject: string; readonly reachable: boolean }[],
): GossipState {
  const row = rowOf(state, observer);
  const set = new Set(row?.unreachable ?? []);
  let changed = false;
  for (const c of changes) {
    if (c.reachable && set.delete(c.subject)) changed = true;
    if (!c.reachable && !set.has(c.subject)) {
      set.add(c.subject);
      changed = true;
    }
  }
  if (!changed) return state;
  const next: ReachabilityRow = {
    observer,
    version: (row?.version ?? 0) + 1,
    unreachable: [...set].sort(),
  };
  const rows = state.reachability.filter((r) => r.observer !== observer);
  rows.push(next);
  rows.sort((x, y) => (x.observer < y.observer ? -1 : x.observer > y.observer ? 1 : 0));
  return { ...state, reachability: rows };
}

/**
 * Forgets tombstones removed before `olderThan`, and the removed nodes' clock entries, bounding
 * the state's size.
 *
 * @param state The state.
 * @param olderThan Wall-clock milliseconds.
 * @returns The pruned state (the same object when nothing expired).
 * @example
 * ```ts
 * import { emptyGossip, pruneTombstones } from "./gossip.ts";
 * import assert from "node:assert/strict";
 * assert.ok(pruneTombstones(emptyGossip(), 0).tombstones.length === 0);
 * ```
 */
export function pruneTombstones(state: GossipState, olderThan: number): GossipState {
  const expired = state.tombstones.filter((t) => t.removedAt < olderThan);
  if (expired.length === 0) return state;
  return {
    ...state,
    // The removed nodes' clock entries go too: that is what keeps the version bounded.
    version: pruneClock(state.version, expired.map((t) => keyOf(t.node))),
    tombstones: state.tombstones.filter((t) => t.removedAt >= olderThan),
  };
}

/**
 * The members sorted by address, a convenience for views and tests.
 *
 * @param members Members in any order.
 * @returns A sorted copy.
 * @example
 * ```ts
 * import { sortMembers } from "./gossip.ts";
 * import assert from "node:assert/strict";
 * assert.ok(sortMembers([]).length === 0);
 * ```
 */
export function sortMembers(members: readonly Member[]): Member[] {
  return [...members].sort((a, b) => compareNodeAddresses(a.address, b.address));
}

/**
 * Finds the live (not tombstoned) members at an address, newest incarnation last.
 *
 * @param state The state.
 * @param address The address.
 * @returns The members at that address.
 * @example
 * ```ts
 * import { emptyGossip, membersAt } from "./gossip.ts";
 * import assert from "node:assert/strict";
 * assert.ok(membersAt(emptyGossip(), { host: "h", port: 1 }).length === 0);
 * ```
 */
export function membersAt(state: GossipState, address: NodeAddress): Member[] {
  return state.members.filter((m) => compareNodeAddresses(m.address, address) === 0);
}
