/**
 * Convergence, the leader, and the leader's actions over a {@linkcode GossipState}.
 *
 * @module
 */

import type { Member, MemberStatus } from "./member.ts";
import { keyOf } from "./_keys.ts";
import { derived, type GossipState, normalize, removeMembers, withStatus } from "./gossip_state.ts";

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
 * import { emptyGossip, isConverged } from "./gossip.ts";
 * import assert from "node:assert/strict";
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
 * import { emptyGossip, leaderOf } from "./gossip.ts";
 * import assert from "node:assert/strict";
 * assert.ok(leaderOf(emptyGossip(), "h:1#a") === undefined);
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
 * import { emptyGossip, leaderActions, putMember } from "./gossip.ts";
 * import assert from "node:assert/strict";
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
    [],
    state.leaderEpoch,
  );
  return { state: removeMembers(next, removed, now), removed, changed };
}

/**
 * Records that `self` claims leadership: the next epoch, held by `self`. The caller bumps the
 * version.
 *
 * @param state The state.
 * @param self The claimer's node key.
 * @returns The state with the new claim.
 * @example
 * ```ts
 * import { claimLeadership, emptyGossip } from "./gossip.ts";
 * import assert from "node:assert/strict";
 * const g = claimLeadership(claimLeadership(emptyGossip(), "a"), "b");
 * assert.deepEqual(g.leaderEpoch, { epoch: 2, leader: "b" });
 * ```
 */
export function claimLeadership(state: GossipState, self: string): GossipState {
  return { ...state, leaderEpoch: { epoch: (state.leaderEpoch?.epoch ?? 0) + 1, leader: self } };
}
