/**
 * The gossiped cluster state and the pure functions over it: merge, convergence, leader,
 * leader actions, pruning and a compact wire form.
 *
 * The state is plain data (arrays and records, no `Map`s or class instances), kept in a
 * canonical order so two nodes with the same knowledge hold equal values.
 *
 * Merge is a join on a semilattice, hence commutative, associative and idempotent:
 * - members: per incarnation, the later lifecycle status wins (and the lower `upNumber`);
 * - an address with several incarnations keeps only the newest alive: older ones are forced to
 *   `down` at least (fencing), so a restarted node replaces its previous incarnation;
 * - tombstones (removed members): union; a tombstoned incarnation is gone for good;
 * - reachability: each observer owns a versioned row of the subjects it finds unreachable,
 *   and the higher row version wins;
 * - version: element-wise maximum; `seen` is united when both versions are the same, taken from
 *   the newer side when one is newer, and reset when they are concurrent.
 *
 * @module
 */

import { compareNodeAddresses, formatNodeAddress } from "../remote/address.ts";
import {
  compareNodes,
  type Member,
  type MemberStatus,
  type NodeAddress,
  nodeKey,
  statusRank,
  type UniqueNode,
} from "./member.ts";
import { keyOf, rememberKey } from "./_keys.ts";
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
 * import assert from "node:assert/strict";
 * import type { ReachabilityRow } from "./gossip.ts";
 * const row: ReachabilityRow = { observer: "h:1#a", version: 2, unreachable: ["h:2#b"] };
 * assert.equal(row.unreachable.length, 1);
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
 * import assert from "node:assert/strict";
 * import type { Tombstone } from "./gossip.ts";
 * const t: Tombstone = { node: { address: { host: "h", port: 1 }, id: "a" }, removedAt: 0 };
 * assert.equal(t.removedAt, 0);
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
 * import assert from "node:assert/strict";
 * import { emptyGossip } from "./gossip.ts";
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
}

/**
 * The state of a node that has not joined anything.
 *
 * @returns An empty state.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { emptyGossip } from "./gossip.ts";
 * assert.equal(emptyGossip().seen.length, 0);
 * ```
 */
export function emptyGossip(): GossipState {
  return { members: [], version: {}, seen: [], reachability: [], tombstones: [] };
}

// ---------------------------------------------------------------------------------------------
// Cached derived data (states are immutable, so per-object caches are safe)

interface Derived {
  readonly byKey: Map<string, Member>;
  readonly seen: Set<string>;
  readonly unreachable: Set<string>;
  readonly tombstoned: Set<string>;
}

const derivedCache = new WeakMap<GossipState, Derived>();
const byKeyCache = new WeakMap<readonly Member[], Map<string, Member>>();

function membersByKey(members: readonly Member[]): Map<string, Member> {
  let byKey = byKeyCache.get(members);
  if (byKey === undefined) {
    byKey = new Map<string, Member>();
    for (const m of members) byKey.set(keyOf(m), m);
    byKeyCache.set(members, byKey);
  }
  return byKey;
}

function derived(state: GossipState): Derived {
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
 * import assert from "node:assert/strict";
 * import { emptyGossip, findMember } from "./gossip.ts";
 * assert.equal(findMember(emptyGossip(), "h:1#a"), undefined);
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
 * import assert from "node:assert/strict";
 * import { emptyGossip, isTombstoned } from "./gossip.ts";
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
 * import assert from "node:assert/strict";
 * import { emptyGossip, hasSeen } from "./gossip.ts";
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
 * import assert from "node:assert/strict";
 * import { emptyGossip, unreachableKeys } from "./gossip.ts";
 * assert.equal(unreachableKeys(emptyGossip()).size, 0);
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
 * import assert from "node:assert/strict";
 * import { emptyGossip, observedUnreachable } from "./gossip.ts";
 * assert.equal(observedUnreachable(emptyGossip(), "h:1#a").length, 0);
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

function withStatus(m: Member, status: MemberStatus): Member {
  return { ...m, status };
}

/**
 * Brings a state to canonical form: tombstoned incarnations dropped (from members, seen and
 * reachability; their clock entries stay until the tombstone expires), older incarnations at a re-used address fenced to `down`, and
 * everything sorted. Merge and every state change go through it.
 */
function normalize(
  members: Member[],
  version: VectorClock,
  seen: Iterable<string>,
  rows: ReachabilityRow[],
  tombstones: Tombstone[],
  previous: readonly GossipState[] = [],
): GossipState {
  tombstones.sort((x, y) => compareNodes(x.node, y.node));
  const dead = new Set(tombstones.map((t) => keyOf(t.node)));
  const live = members.filter((m) => !dead.has(keyOf(m)));
  live.sort(compareNodes);

  // Fencing: at an address only the newest incarnation (tombstones included) may be alive.
  // `live` is sorted by address then id, so incarnations sharing an address are adjacent and
  // the newest live one is last.
  const tombNewest = new Map<string, string>();
  for (const t of tombstones) {
    const a = formatNodeAddress(t.node.address);
    const cur = tombNewest.get(a);
    if (cur === undefined || t.node.id > cur) tombNewest.set(a, t.node.id);
  }
  for (let i = 0; i < live.length; i++) {
    const m = live[i];
    if (statusRank(m.status) >= 4) continue;
    const next = live[i + 1];
    let fenced = next !== undefined && compareNodeAddresses(next.address, m.address) === 0;
    if (!fenced && tombNewest.size > 0) {
      const t = tombNewest.get(formatNodeAddress(m.address));
      fenced = t !== undefined && t > m.id;
    }
    if (fenced) live[i] = withStatus(m, "down");
  }

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
 * import assert from "node:assert/strict";
 * import { emptyGossip, mergeGossip } from "./gossip.ts";
 * const m = mergeGossip(emptyGossip(), emptyGossip());
 * assert.equal(m.members.length, 0);
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
 * import assert from "node:assert/strict";
 * import { bumpVersion, emptyGossip } from "./gossip.ts";
 * assert.equal(bumpVersion(emptyGossip(), "h:1#a").version["h:1#a"], 1);
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
 * import assert from "node:assert/strict";
 * import { emptyGossip, markSeen, putMember } from "./gossip.ts";
 * const m = { address: { host: "h", port: 1 }, id: "a", status: "up" as const, roles: [] };
 * assert.equal(markSeen(putMember(emptyGossip(), m), "h:1#a").seen.length, 1);
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
 * import assert from "node:assert/strict";
 * import { addSeen, emptyGossip } from "./gossip.ts";
 * assert.equal(addSeen(emptyGossip(), ["x"]).seen.length, 0);
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
 * import assert from "node:assert/strict";
 * import { emptyGossip, putMember } from "./gossip.ts";
 * const m = { address: { host: "h", port: 1 }, id: "a", status: "joining" as const, roles: [] };
 * assert.equal(putMember(emptyGossip(), m).members.length, 1);
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
 * import assert from "node:assert/strict";
 * import { emptyGossip, putMember, removeMembers } from "./gossip.ts";
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
 * import assert from "node:assert/strict";
 * import { emptyGossip, observe } from "./gossip.ts";
 * const g = observe(emptyGossip(), "h:1#a", [{ subject: "h:2#b", reachable: false }]);
 * assert.equal(g.reachability[0].unreachable[0], "h:2#b");
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
 * import assert from "node:assert/strict";
 * import { emptyGossip, pruneTombstones } from "./gossip.ts";
 * assert.equal(pruneTombstones(emptyGossip(), 0).tombstones.length, 0);
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

// ---------------------------------------------------------------------------------------------
// Convergence and leadership

const SKIP_UNREACHABLE: ReadonlySet<MemberStatus> = new Set(["down", "exiting"]);

/**
 * Whether the state has converged: no member is unreachable (except `down` and `exiting`
 * ones), and every `up`, `leaving` and `exiting` member that is reachable has seen this
 * version. While no member is up yet, `joining` members must have seen it too, which is how
 * the first node promotes itself.
 *
 * @param state The state.
 * @returns `true` when the leader may act.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { emptyGossip, isConverged } from "./gossip.ts";
 * assert.ok(isConverged(emptyGossip()));
 * ```
 */
export function isConverged(state: GossipState): boolean {
  const d = derived(state);
  let anyUp = false;
  for (const m of state.members) {
    const k = keyOf(m);
    if (d.unreachable.has(k) && !SKIP_UNREACHABLE.has(m.status)) return false;
    if (m.status === "up" || m.status === "leaving" || m.status === "exiting") anyUp = true;
  }
  for (const m of state.members) {
    const k = keyOf(m);
    const required = m.status === "up" || m.status === "leaving" || m.status === "exiting" ||
      (!anyUp && m.status === "joining");
    if (required && !d.seen.has(k) && !d.unreachable.has(k)) return false;
  }
  return true;
}

/**
 * The leader in `self`'s view: the lowest-address reachable member that is `up` or
 * `leaving`; while there is none, the lowest reachable `joining` or `exiting` member (so a
 * first node can promote itself and a last one can remove itself). Members that this state
 * marks unreachable are skipped, except `self`.
 *
 * @param state The state.
 * @param self The viewing node's key.
 * @returns The leader, or `undefined` when there are no candidates.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { emptyGossip, leaderOf } from "./gossip.ts";
 * assert.equal(leaderOf(emptyGossip(), "h:1#a"), undefined);
 * ```
 */
export function leaderOf(state: GossipState, self: string): Member | undefined {
  const d = derived(state);
  let fallback: Member | undefined;
  for (const m of state.members) {
    if (m.status === "down" || m.status === "removed") continue;
    const k = keyOf(m);
    if (k !== self && d.unreachable.has(k)) continue;
    if (m.status === "up" || m.status === "leaving") return m;
    fallback ??= m;
  }
  return fallback;
}

/**
 * What the leader does once the state has converged: `joining → up` (numbering them),
 * `leaving → exiting`, and removal of `exiting` and `down` members (tombstones stamped
 * `now`). The caller checks leadership and convergence and bumps the version.
 *
 * @param state A converged state.
 * @param now Wall-clock milliseconds for tombstones.
 * @returns The new state, and the members that were removed.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { emptyGossip, leaderActions, putMember } from "./gossip.ts";
 * const m = { address: { host: "h", port: 1 }, id: "a", status: "joining" as const, roles: [] };
 * const { state } = leaderActions(putMember(emptyGossip(), m), 0);
 * assert.ok(state.members[0].status === "up" && state.members[0].upNumber === 1);
 * ```
 */
export function leaderActions(
  state: GossipState,
  now: number,
): { readonly state: GossipState; readonly removed: readonly Member[]; readonly changed: boolean } {
  let upNumber = 0;
  for (const m of state.members) upNumber = Math.max(upNumber, m.upNumber ?? 0);
  const removed: Member[] = [];
  let changed = false;
  const members: Member[] = [];
  for (const m of state.members) {
    switch (m.status) {
      case "joining":
        members.push({ ...m, status: "up", upNumber: ++upNumber });
        changed = true;
        break;
      case "leaving":
        members.push(withStatus(m, "exiting"));
        changed = true;
        break;
      case "exiting":
      case "down":
        members.push(m);
        removed.push(m);
        changed = true;
        break;
      default:
        members.push(m);
    }
  }
  if (!changed) return { state, removed, changed };
  const next = normalize(
    members,
    state.version,
    state.seen,
    [...state.reachability],
    [...state.tombstones],
  );
  return { state: removeMembers(next, removed, now), removed, changed };
}

// ---------------------------------------------------------------------------------------------
// Wire form

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
 * import assert from "node:assert/strict";
 * import type { WireMember } from "./gossip.ts";
 * const w: WireMember = ["127.0.0.1", 25520, "id", 1, 1, []];
 * assert.equal(w[3], 1);
 * ```
 */
export type WireMember = readonly [string, number, string, number, number, readonly string[]];

/**
 * The compact JSON form of a {@linkcode GossipState}: members as tuples, and node keys
 * elsewhere replaced by member indexes where possible; `seen` is a bitset over `members`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { emptyGossip, encodeGossip, type WireGossip } from "./gossip.ts";
 * const w: WireGossip = encodeGossip(emptyGossip());
 * assert.equal(w.m.length, 0);
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
 * import assert from "node:assert/strict";
 * import { emptyGossip, encodeSeen } from "./gossip.ts";
 * assert.equal(encodeSeen(emptyGossip()), "");
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
 * import assert from "node:assert/strict";
 * import { decodeSeen, emptyGossip } from "./gossip.ts";
 * assert.equal(decodeSeen(emptyGossip(), "").length, 0);
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
 * import assert from "node:assert/strict";
 * import { decodeGossip, emptyGossip, encodeGossip } from "./gossip.ts";
 * assert.equal(decodeGossip(encodeGossip(emptyGossip())).members.length, 0);
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
 * import assert from "node:assert/strict";
 * import { decodeGossip, emptyGossip, encodeGossip } from "./gossip.ts";
 * assert.equal(decodeGossip(encodeGossip(emptyGossip())).tombstones.length, 0);
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

/**
 * The members sorted by address, a convenience for views and tests.
 *
 * @param members Members in any order.
 * @returns A sorted copy.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sortMembers } from "./gossip.ts";
 * assert.equal(sortMembers([]).length, 0);
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
 * import assert from "node:assert/strict";
 * import { emptyGossip, membersAt } from "./gossip.ts";
 * assert.equal(membersAt(emptyGossip(), { host: "h", port: 1 }).length, 0);
 * ```
 */
export function membersAt(state: GossipState, address: NodeAddress): Member[] {
  return state.members.filter((m) => compareNodeAddresses(m.address, address) === 0);
}
