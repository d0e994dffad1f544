// Which peers a node monitors with heartbeats: its successors on a hash ring of the live
// members (all of them in small clusters), plus those it currently finds unreachable, so it
// also notices when they come back.
import { findMember, type GossipState, observedUnreachable } from "./gossip_state.ts";
import type { Member } from "./member.ts";
import { keyOf } from "./_keys.ts";

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export class HeartbeatRing {
  readonly #self: string;
  readonly #size: number;
  #ringOf: readonly Member[] | undefined;
  #ring: { readonly k: string; readonly h: number }[] = [];

  constructor(self: string, monitoredPeers: number) {
    this.#self = self;
    this.#size = monitoredPeers;
  }

  #ringFor(state: GossipState): { readonly k: string; readonly h: number }[] {
    if (this.#ringOf !== state.members) {
      this.#ringOf = state.members;
      this.#ring = state.members.filter((m) => m.status !== "down").map((m) => {
        const k = keyOf(m);
        return { k, h: fnv1a(k) };
      }).sort((a, b) => a.h - b.h || (a.k < b.k ? -1 : a.k > b.k ? 1 : 0));
    }
    return this.#ring;
  }

  /**
   * Who monitors whom on the ring (every member's successors, assuming every member uses this
   * node's `monitoredPeers`): subject key → monitor keys.
   */
  monitorsOf(state: GossipState): Map<string, Set<string>> {
    const ring = this.#ringFor(state);
    const out = new Map<string, Set<string>>();
    for (const e of ring) out.set(e.k, new Set());
    for (let at = 0; at < ring.length; at++) {
      for (let i = 1; i < ring.length && i <= this.#size; i++) {
        out.get(ring[(at + i) % ring.length].k)!.add(ring[at].k);
      }
    }
    return out;
  }

  /** The node keys `self` should monitor in `state`. */
  monitored(state: GossipState): Set<string> {
    const ring = this.#ringFor(state);
    const out = new Set<string>();
    const at = ring.findIndex((e) => e.k === this.#self);
    for (let i = 1; i < ring.length && out.size < this.#size; i++) {
      out.add(ring[(at + i + ring.length) % ring.length].k);
    }
    out.delete(this.#self);
    for (const k of observedUnreachable(state, this.#self)) {
      const m = findMember(state, k);
      if (m !== undefined && m.status !== "down") out.add(k);
    }
    return out;
  }
}
