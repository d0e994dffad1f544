// The events a node publishes, derived by comparing successive states: what it has already
// published is remembered, so each change yields its event exactly once.
import {
  LeaderChanged,
  MemberDowned,
  MemberExited,
  MemberJoined,
  MemberLeft,
  MemberRemoved,
  type MembershipEvent,
  MemberUp,
  ReachableMember,
  UnreachableMember,
} from "./events.ts";
import { findMember, type GossipState, unreachableKeys } from "./gossip_state.ts";
import { formatNodeAddress } from "../remote/address.ts";
import type { Member } from "./member.ts";
import { keyOf } from "./_keys.ts";

export class MembershipEventDiff {
  #known = new Map<string, Member>();
  #knownUnreachable = new Set<string>();
  #knownLeader: string | undefined;

  /** Appends to `out` the events that lead from what was published to `next`. */
  diff(
    prev: GossipState | undefined,
    next: GossipState,
    leader: Member | undefined,
    out: MembershipEvent[],
  ): void {
    const leaderKey = leader === undefined ? undefined : formatNodeAddress(leader.address);
    if (
      prev !== undefined && prev.members === next.members &&
      prev.reachability === next.reachability && leaderKey === this.#knownLeader
    ) {
      return; // only version or seen changed
    }
    const present = new Set<string>();
    for (const m of next.members) {
      const k = keyOf(m);
      present.add(k);
      const old = this.#known.get(k);
      if (old !== undefined && old.status === m.status) {
        if (old !== m) this.#known.set(k, m);
        continue;
      }
      this.#known.set(k, m);
      switch (m.status) {
        case "joining":
          out.push(new MemberJoined(m));
          break;
        case "up":
          out.push(new MemberUp(m));
          break;
        case "leaving":
          out.push(new MemberLeft(m));
          break;
        case "exiting":
          if (old !== undefined && (old.status === "joining" || old.status === "up")) {
            out.push(new MemberLeft({ ...m, status: "leaving" }));
          }
          out.push(new MemberExited(m));
          break;
        case "down":
          out.push(new MemberDowned(m));
          break;
      }
    }
    for (const [k, old] of this.#known) {
      if (present.has(k)) continue;
      this.#known.delete(k);
      this.#knownUnreachable.delete(k);
      out.push(new MemberRemoved({ ...old, status: "removed" }, old.status));
    }
    const unreachable = unreachableKeys(next);
    for (const k of unreachable) {
      if (!this.#knownUnreachable.has(k)) {
        this.#knownUnreachable.add(k);
        out.push(new UnreachableMember(findMember(next, k)!));
      }
    }
    for (const k of [...this.#knownUnreachable]) {
      if (!unreachable.has(k)) {
        this.#knownUnreachable.delete(k);
        const m = findMember(next, k);
        if (m !== undefined) out.push(new ReachableMember(m));
      }
    }
    if (leaderKey !== this.#knownLeader) {
      this.#knownLeader = leaderKey;
      out.push(new LeaderChanged(leader?.address));
    }
  }
}
