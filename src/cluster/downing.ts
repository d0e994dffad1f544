/**
 * Split-brain resolution: the keep-majority strategy, as pure clock-driven logic.
 *
 * @module
 */

import { compareNodeAddresses } from "../remote/address.ts";
import { type Member, type MemberStatus, nodeKey } from "./member.ts";

/**
 * Tuning for {@linkcode KeepMajority}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { DowningOptions } from "./downing.ts";
 * const o: DowningOptions = { stableAfter: 7000 };
 * assert.equal(o.stableAfter, 7000);
 * ```
 */
export interface DowningOptions {
  /**
   * How long (ms) the set of unreachable members must stay unchanged before deciding.
   * @default {4000}
   */
  readonly stableAfter?: number;
  /**
   * `"keepMajority"` to resolve partitions automatically, `"off"` to leave downing to people.
   * @default {"keepMajority"}
   */
  readonly strategy?: "keepMajority" | "off";
}

/**
 * What a node should do about unreachable members:
 * - `none`: nothing (all reachable, or the situation is not stable yet);
 * - `downUnreachable`: this side is the majority; its leader marks `members` down;
 * - `shutdownSelf`: this side is the minority; this node must stop (and never act for others).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { DowningDecision } from "./downing.ts";
 * const d: DowningDecision = { type: "none" };
 * assert.equal(d.type, "none");
 * ```
 */
export type DowningDecision =
  | { readonly type: "none" }
  | { readonly type: "downUnreachable"; readonly members: readonly Member[] }
  | { readonly type: "shutdownSelf" };

const DOWNABLE: ReadonlySet<MemberStatus> = new Set(["joining", "up", "leaving"]);
const COUNTED: ReadonlySet<MemberStatus> = new Set(["up", "leaving"]);

/**
 * Keep-majority split-brain resolver. Once the unreachable set has been stable for
 * `stableAfter` ms, the side with a strict majority of the `up`/`leaving` members keeps
 * running and downs the others; on a tie, the side holding the lowest address wins. The
 * losing side shuts itself down. Each node computes this from its own view, so a node only
 * ever acts for itself, except the majority side's leader, which downs the unreachable ones.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KeepMajority } from "./downing.ts";
 * const m = (port: number, status = "up" as const) => ({
 *   address: { host: "h", port }, id: "a", status, roles: [],
 * });
 * const sbr = new KeepMajority({ stableAfter: 1000 });
 * const members = [m(1), m(2), m(3)];
 * const unreachable = new Set(["h:3#a"]);
 * assert.equal(sbr.decide(0, members, unreachable).type, "none");
 * const d = sbr.decide(1000, members, unreachable);
 * assert.equal(d.type, "downUnreachable");
 * ```
 */
export class KeepMajority {
  readonly #stableAfter: number;
  readonly #enabled: boolean;
  #fingerprint = "";
  #since = 0;

  /**
   * Creates a KeepMajority.
   *
   * @param options See {@linkcode DowningOptions}.
   * @throws {RangeError} When `stableAfter` is negative.
   */
  constructor(options: DowningOptions = {}) {
    this.#stableAfter = options.stableAfter ?? 4_000;
    this.#enabled = (options.strategy ?? "keepMajority") === "keepMajority";
    if (!(this.#stableAfter >= 0)) {
      throw new RangeError(`Invalid stableAfter ${this.#stableAfter} ms`);
    }
  }

  /** The configured stability window in ms. */
  get stableAfter(): number {
    return this.#stableAfter;
  }

  /**
   * Decides, given this node's view at monotonic time `now`.
   *
   * @param now Monotonic milliseconds.
   * @param members All members in this node's state.
   * @param unreachable Node keys this node's state marks unreachable (self excluded by caller).
   * @returns The decision.
   */
  decide(
    now: number,
    members: readonly Member[],
    unreachable: ReadonlySet<string>,
  ): DowningDecision {
    const downable = members.filter((m) => DOWNABLE.has(m.status) && unreachable.has(nodeKey(m)));
    if (!this.#enabled || downable.length === 0) {
      this.#fingerprint = "";
      return { type: "none" };
    }
    const fingerprint = downable.map(nodeKey).join("|") + "/" +
      members.filter((m) => COUNTED.has(m.status)).map(nodeKey).join("|");
    if (fingerprint !== this.#fingerprint) {
      this.#fingerprint = fingerprint;
      this.#since = now;
    }
    if (now - this.#since < this.#stableAfter) return { type: "none" };

    const counted = members.filter((m) => COUNTED.has(m.status));
    const pool = counted.length > 0 ? counted : members.filter((m) => DOWNABLE.has(m.status));
    let mine = 0;
    let theirs = 0;
    let lowest: Member | undefined;
    for (const m of pool) {
      if (unreachable.has(nodeKey(m))) theirs++;
      else mine++;
      if (lowest === undefined || compareNodeAddresses(m.address, lowest.address) < 0) lowest = m;
    }
    const keep = mine > theirs ||
      (mine === theirs && lowest !== undefined && !unreachable.has(nodeKey(lowest)));
    return keep ? { type: "downUnreachable", members: downable } : { type: "shutdownSelf" };
  }

  /** Forgets the stability timer (after acting, or when the node stops). */
  reset(): void {
    this.#fingerprint = "";
  }
}
