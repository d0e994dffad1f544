/**
 * Split-brain resolution as pure, clock-driven logic.
 *
 * The input is the *unreachability graph as the deciding node can trust it*: its own
 * observations plus those of the observers it can still reach (rows of observers it cannot
 * reach are stale and ignored). Every reported pair "observer cannot reach subject" is a
 * broken link. The resolver keeps the largest set of members with no broken link between any
 * two of them (fully connected survivors), so one broken link costs exactly one node, and
 * applies the strategy (majority, quorum, oldest, or down all) to that set. Ties break
 * deterministically: the set whose sorted addresses come first (it holds the lowest address).
 *
 * @module
 */

import { compareNodes, type Member, type MemberStatus, nodeKey } from "./member.ts";

/**
 * The split-brain strategies:
 * - `keepMajority`: the fully connected survivors stay up if they hold a strict majority of
 *   the members (on an exact half, if they hold the lowest address); otherwise every node
 *   shuts down;
 * - `staticQuorum`: the survivors stay up if they are at least `quorumSize`;
 * - `keepOldest`: the survivors are the largest fully connected set holding the oldest member
 *   (lowest `upNumber`); if the oldest is alone and more than one other member remains, the
 *   others survive instead (Akka's `down-if-alone`);
 * - `downAll`: any lasting unreachability shuts every node down;
 * - `off`: nothing is downed automatically (people decide with `down()`).
 *
 * @example
 * ```ts
 * import type { DowningStrategy } from "./downing.ts";
 * import assert from "node:assert/strict";
 * const s: DowningStrategy = "keepMajority";
 * assert.equal(s, "keepMajority");
 * ```
 */
export type DowningStrategy = "keepMajority" | "staticQuorum" | "keepOldest" | "downAll" | "off";

/**
 * Options for the split-brain resolver (`downing` on the cluster, `[cluster.downing]`).
 *
 * @example
 * ```ts
 * import type { DowningOptions } from "./downing.ts";
 * import assert from "node:assert/strict";
 * const o: DowningOptions = { strategy: "staticQuorum", quorumSize: 3, stableAfter: 7000 };
 * assert.equal(o.quorumSize, 3);
 * ```
 */
export interface DowningOptions {
  /**
   * How long (ms) the unreachability graph must stay unchanged before deciding.
   * @default {4000}
   */
  readonly stableAfter?: number;
  /**
   * The strategy; see {@linkcode DowningStrategy}.
   * @default {"keepMajority"}
   */
  readonly strategy?: DowningStrategy;
  /** For `staticQuorum` (required there): the least number of members that may stay up. */
  readonly quorumSize?: number;
}

/**
 * What a node should do about unreachable members:
 * - `none`: nothing (all reachable, strategy off, or the graph has not been stable long enough);
 * - `downUnreachable`: this node survives; `members` (not in `survivors`) are to be downed by the
 *   survivors' leader;
 * - `shutdownSelf`: this node is not among the survivors and must stop.
 *
 * @example
 * ```ts
 * import type { DowningDecision } from "./downing.ts";
 * import assert from "node:assert/strict";
 * const d: DowningDecision = { type: "none" };
 * assert.equal(d.type, "none");
 * ```
 */
export type DowningDecision =
  | { readonly type: "none" }
  | {
    readonly type: "downUnreachable";
    readonly members: readonly Member[];
    readonly survivors: readonly Member[];
  }
  | { readonly type: "shutdownSelf" };

/**
 * A broken link: the two node keys (`host:port#id`) of members that cannot talk, in either
 * direction (a one-way loss breaks the link too).
 *
 * @example
 * ```ts
 * import type { BrokenLink } from "./downing.ts";
 * import assert from "node:assert/strict";
 * const l: BrokenLink = ["h:1#a", "h:2#b"];
 * assert.equal(l.length, 2);
 * ```
 */
export type BrokenLink = readonly [string, string];

const DOWNABLE: ReadonlySet<MemberStatus> = new Set(["joining", "up", "leaving"]);
const COUNTED: ReadonlySet<MemberStatus> = new Set(["up", "leaving"]);
/** Search steps before the exact search settles for the best set found so far. */
const SEARCH_BUDGET = 20_000;

/**
 * The largest set of members with no broken link inside it (a maximum independent set of the
 * broken-link graph, which is the same as downing the fewest nodes; `up` and `leaving` members
 * count first, `joining` ones only break ties). Members on no broken link always belong to it. Among sets of equal size, the one whose sorted members come first wins,
 * so every node that sees the same links picks the same set. `forced` must belong to the set.
 *
 * A branch-and-bound search (a greedy matching bounds what the undecided members can add),
 * exact for split-like and sparse graphs; beyond 20,000 steps it returns the best set found
 * so far, still deterministic.
 *
 * @param members Candidate members (`joining`, `up`, `leaving`; others are ignored).
 * @param links Broken links between node keys; links to unknown or other members are ignored.
 * @param options `forced`: the node key of a member that must survive (its neighbours go),
 * `exclude`: node keys that may not survive.
 * @returns The survivors, sorted like the members.
 * @example
 * ```ts
 * import { fullyConnectedSurvivors } from "./downing.ts";
 * import { nodeKey } from "./member.ts";
 * import assert from "node:assert/strict";
 * const m = (port: number) => ({ address: { host: "h", port }, id: "a", status: "up" as const, roles: [] });
 * const members = [m(1), m(2), m(3)];
 * // only the link 2–3 is cut: one of its ends goes, the lower address stays
 * const kept = fullyConnectedSurvivors(members, [[nodeKey(m(2)), nodeKey(m(3))]]);
 * assert.deepEqual(kept.map((x) => x.address.port), [1, 2]);
 * ```
 */
export function fullyConnectedSurvivors(
  members: readonly Member[],
  links: readonly BrokenLink[],
  options: { readonly forced?: string; readonly exclude?: ReadonlySet<string> } = {},
): Member[] {
  const candidates = members.filter((m) =>
    DOWNABLE.has(m.status) && !(options.exclude?.has(nodeKey(m)) ?? false)
  ).sort(compareNodes);
  const index = new Map<string, number>();
  candidates.forEach((m, i) => index.set(nodeKey(m), i));
  const adjacent: Set<number>[] = candidates.map(() => new Set<number>());
  for (const [a, b] of links) {
    const i = index.get(a);
    const j = index.get(b);
    if (i === undefined || j === undefined || i === j) continue;
    adjacent[i].add(j);
    adjacent[j].add(i);
  }
  const removed = new Set<number>();
  const forced = options.forced === undefined ? undefined : index.get(options.forced);
  if (options.forced !== undefined && forced === undefined) return [];
  if (forced !== undefined) { for (const j of adjacent[forced]) removed.add(j); }
  // Only members on a broken link need a choice; the search runs over them in member order.
  const involved: number[] = [];
  for (let i = 0; i < candidates.length; i++) {
    if (!removed.has(i) && adjacent[i].size > 0 && i !== forced) {
      let live = false;
      for (const j of adjacent[i]) if (!removed.has(j)) live = true;
      if (live) involved.push(i);
    }
  }
  // Members that count for the strategy (up, leaving) weigh far more than joining ones: the
  // search keeps the most counted members first, then the most members.
  const weight = (i: number) => (COUNTED.has(candidates[i].status) ? 1_000_000 : 0) + 1;
  const position = new Map<number, number>();
  involved.forEach((v, p) => position.set(v, p));
  let best: number[] = [];
  let bestWeight = -1;
  let steps = 0;
  const chosen: number[] = [];
  let chosenWeight = 0;
  const blocked = new Map<number, number>(); // node → how many chosen neighbours block it
  const isFree = (v: number, at: number) =>
    (position.get(v) ?? -1) >= at && (blocked.get(v) ?? 0) === 0;
  // An upper bound for what the undecided members can still add: their total weight, minus,
  // for each edge of a greedy matching among them, the lighter end (at most one end of a
  // broken link survives). Tight on split-like graphs, where it prunes almost everything.
  const bound = (at: number): number => {
    let total = 0;
    const matched = new Set<number>();
    for (let p = at; p < involved.length; p++) {
      const v = involved[p];
      if ((blocked.get(v) ?? 0) > 0) continue;
      total += weight(v);
      if (matched.has(v)) continue;
      for (const u of adjacent[v]) {
        if (!matched.has(u) && isFree(u, p + 1)) {
          matched.add(v);
          matched.add(u);
          total -= Math.min(weight(v), weight(u));
          break;
        }
      }
    }
    return total;
  };
  const freeWeight = (at: number): number => {
    let total = 0;
    for (let p = at; p < involved.length; p++) {
      if ((blocked.get(involved[p]) ?? 0) === 0) total += weight(involved[p]);
    }
    return total;
  };
  const search = (at: number): void => {
    if (++steps > SEARCH_BUDGET) return;
    if (bestWeight >= 0) {
      // the cheap bound first; the matching bound only when it cannot prune
      if (chosenWeight + freeWeight(at) <= bestWeight) return;
      if (chosenWeight + bound(at) <= bestWeight) return;
    }
    if (at === involved.length) {
      best = chosen.slice();
      bestWeight = chosenWeight;
      return;
    }
    const v = involved[at];
    if ((blocked.get(v) ?? 0) === 0) {
      chosen.push(v);
      chosenWeight += weight(v);
      for (const j of adjacent[v]) blocked.set(j, (blocked.get(j) ?? 0) + 1);
      search(at + 1);
      for (const j of adjacent[v]) blocked.set(j, blocked.get(j)! - 1);
      chosenWeight -= weight(v);
      chosen.pop();
    }
    search(at + 1);
  };
  search(0);
  const out = new Set<number>(best);
  const inSearch = new Set(involved);
  for (let i = 0; i < candidates.length; i++) {
    if (!removed.has(i) && !inSearch.has(i)) out.add(i);
  }
  return [...out].sort((a, b) => a - b).map((i) => candidates[i]);
}

/**
 * Applies a strategy to the members and the broken links: who survives. An empty result means
 * every node must shut down.
 *
 * @param strategy The strategy (`off` keeps everyone).
 * @param members All members in the deciding node's view.
 * @param links The broken links the deciding node trusts.
 * @param quorumSize For `staticQuorum`.
 * @returns The surviving members.
 * @example
 * ```ts
 * import { survivorsOf } from "./downing.ts";
 * import { nodeKey } from "./member.ts";
 * import assert from "node:assert/strict";
 * const m = (port: number) => ({ address: { host: "h", port }, id: "a", status: "up" as const, roles: [] });
 * const all = [m(1), m(2), m(3), m(4), m(5)];
 * // a clean 2|3 split: the three keep running
 * const links = [1, 2].flatMap((a) => [3, 4, 5].map((b) => [nodeKey(m(a)), nodeKey(m(b))] as const));
 * assert.deepEqual(survivorsOf("keepMajority", all, links).map((x) => x.address.port), [3, 4, 5]);
 * assert.deepEqual(survivorsOf("downAll", all, links), []);
 * ```
 */
export function survivorsOf(
  strategy: DowningStrategy,
  members: readonly Member[],
  links: readonly BrokenLink[],
  quorumSize?: number,
): Member[] {
  const live = members.filter((m) => DOWNABLE.has(m.status)).sort(compareNodes);
  if (strategy === "off") return live;
  if (strategy === "downAll") return links.length === 0 ? live : [];
  let counted = live.filter((m) => COUNTED.has(m.status));
  if (counted.length === 0) counted = live;
  const countedKeys = new Set(counted.map(nodeKey));
  const countIn = (xs: readonly Member[]) => xs.filter((m) => countedKeys.has(nodeKey(m))).length;
  if (strategy === "keepOldest") {
    const oldest = [...counted].sort((a, b) =>
      (a.upNumber ?? Infinity) - (b.upNumber ?? Infinity) || compareNodes(a, b)
    )[0];
    if (oldest === undefined) {
      return [];
    }
    const withOldest = fullyConnectedSurvivors(live, links, { forced: nodeKey(oldest) });
    if (countIn(withOldest) === 1 && counted.length > 2) {
      const others = fullyConnectedSurvivors(live, links, {
        exclude: new Set([nodeKey(oldest)]),
      });
      if (countIn(others) > 1) {
        return others;
      }
    }
    return withOldest;
  }
  const kept = fullyConnectedSurvivors(live, links);
  const n = countIn(kept);
  if (strategy === "staticQuorum") return n >= (quorumSize ?? Infinity) ? kept : [];
  // keepMajority
  if (2 * n > counted.length) return kept;
  if (2 * n === counted.length && kept.some((m) => nodeKey(m) === nodeKey(counted[0]))) {
    return kept;
  }
  return [];
}

/**
 * The split-brain resolver of one node: waits until the trusted unreachability graph has been
 * unchanged for `stableAfter`, then decides with {@linkcode survivorsOf}.
 *
 * @example
 * ```ts
 * import { SplitBrainResolver } from "./downing.ts";
 * import { nodeKey } from "./member.ts";
 * import assert from "node:assert/strict";
 * const m = (port: number) => ({ address: { host: "h", port }, id: "a", status: "up" as const, roles: [] });
 * const members = [m(1), m(2), m(3)];
 * const sbr = new SplitBrainResolver({ stableAfter: 1000 });
 * // node 1 finds node 3 unreachable (a crash)
 * const links = [[nodeKey(m(1)), nodeKey(m(3))] as const];
 * assert.equal(sbr.decide(0, nodeKey(m(1)), members, links).type, "none");
 * const d = sbr.decide(1000, nodeKey(m(1)), members, links);
 * assert.equal(d.type, "downUnreachable");
 * ```
 */
export class SplitBrainResolver {
  readonly #stableAfter: number;
  readonly #strategy: DowningStrategy;
  readonly #quorumSize: number | undefined;
  readonly #observationLag: number;
  readonly #recoveryLag: number;
  #fingerprint = "";
  #since = 0;
  /** The broken links of the current picture (as `a>b` pairs). */
  #links: ReadonlySet<string> | undefined;
  /** Whether the current picture came from the last one by a link healing. */
  #healed = false;

  /**
   * Creates a SplitBrainResolver.
   *
   * @param options See {@linkcode DowningOptions}.
   * @param observationLag How much later (ms) one observer may report a broken link than
   * another (the failure detector's check interval plus a gossip round; default 0). While some
   * member is on no broken link (a _bridge_: it counts on every side, so its own, possibly
   * not yet reported, links decide between the sides), the picture must stay unchanged for at
   * least this long as well as `stableAfter`.
   * @param recoveryLag How much longer (ms) a member on no broken link gets when the picture
   * changed because a link healed while others stayed broken (default 0): the observer that
   * heard from the subject again may have heard its last answers (a node that has just died,
   * whose messages arrive late), and needs up to a failure detection to report it gone again.
   * @throws {RangeError} When `stableAfter` is negative, the strategy is unknown, or
   * `staticQuorum` lacks a positive integer `quorumSize`.
   */
  constructor(options: DowningOptions = {}, observationLag = 0, recoveryLag = 0) {
    this.#observationLag = observationLag;
    this.#recoveryLag = recoveryLag;
    this.#stableAfter = options.stableAfter ?? 4_000;
    this.#strategy = options.strategy ?? "keepMajority";
    this.#quorumSize = options.quorumSize;
    if (!(this.#stableAfter >= 0) || !Number.isFinite(this.#stableAfter)) {
      throw new RangeError(`Invalid downing stableAfter ${this.#stableAfter} ms`);
    }
    if (
      !["keepMajority", "staticQuorum", "keepOldest", "downAll", "off"].includes(this.#strategy)
    ) {
      throw new RangeError(`Invalid downing strategy "${this.#strategy}"`);
    }
    if (
      this.#strategy === "staticQuorum" &&
      !(Number.isInteger(this.#quorumSize) && this.#quorumSize! >= 1)
    ) {
      throw new RangeError(
        `Invalid downing quorumSize ${this.#quorumSize}: staticQuorum needs a positive integer`,
      );
    }
  }

  /** The configured stability window in ms. */
  get stableAfter(): number {
    return this.#stableAfter;
  }

  /** The longest the resolver may wait for a stable picture: the window or the lag. */
  get longestWait(): number {
    return Math.max(this.#stableAfter, this.#bridgeWait);
  }

  /** How long a picture with a bridge must hold: the lag, and the recovery lag after a heal. */
  get #bridgeWait(): number {
    return this.#observationLag + (this.#healed ? this.#recoveryLag : 0);
  }

  /** The configured strategy. */
  get strategy(): DowningStrategy {
    return this.#strategy;
  }

  /**
   * The survivors for these members and links, ignoring stability (used to name the acting
   * leader while a decision is pending).
   *
   * @param members All members in the view.
   * @param links The trusted broken links.
   * @returns The survivors (empty: everyone goes).
   */
  survivors(members: readonly Member[], links: readonly BrokenLink[]): Member[] {
    return survivorsOf(
      this.#strategy === "off" ? "keepMajority" : this.#strategy,
      members,
      links,
      this.#quorumSize,
    );
  }

  /**
   * Decides, given the deciding node's view at monotonic time `now`.
   *
   * @param now Monotonic milliseconds.
   * @param self The deciding node's key.
   * @param members All members in its view.
   * @param links The broken links it trusts (its own observations and those of observers it
   * can reach).
   * @returns The decision.
   */
  decide(
    now: number,
    self: string,
    members: readonly Member[],
    links: readonly BrokenLink[],
  ): DowningDecision {
    const live = new Set(members.filter((m) => DOWNABLE.has(m.status)).map(nodeKey));
    const relevant = links.filter(([a, b]) => live.has(a) && live.has(b) && a !== b)
      .map(([a, b]) => (a < b ? `${a}>${b}` : `${b}>${a}`));
    if (this.#strategy === "off" || relevant.length === 0) {
      this.#fingerprint = "";
      this.#links = undefined;
      return { type: "none" };
    }
    const current = new Set(relevant);
    const fingerprint = [...current].sort().join("|") + "/" +
      members.filter((m) => DOWNABLE.has(m.status)).map((m) => `${nodeKey(m)}=${m.status}`)
        .sort().join("|");
    if (fingerprint !== this.#fingerprint) {
      this.#fingerprint = fingerprint;
      this.#since = now;
      const before = this.#links;
      this.#healed = before !== undefined && [...before].some((l) => !current.has(l));
      this.#links = current;
    }
    if (now - this.#since < this.#stableAfter) return { type: "none" };
    if (now - this.#since < this.#bridgeWait) {
      // A member on no broken link may simply not have reported its links yet (its check
      // comes later, or it is new and its heartbeat history young): those links decide which
      // side survives, so give it one more check before breaking the picture.
      const linked = new Set<string>();
      for (const [a, b] of links) {
        if (live.has(a) && live.has(b) && a !== b) {
          linked.add(a);
          linked.add(b);
        }
      }
      if ([...live].some((k) => !linked.has(k))) return { type: "none" };
    }
    const survivors = survivorsOf(this.#strategy, members, links, this.#quorumSize);
    const keep = new Set(survivors.map(nodeKey));
    if (!keep.has(self)) return { type: "shutdownSelf" };
    const down = members.filter((m) => DOWNABLE.has(m.status) && !keep.has(nodeKey(m)));
    if (down.length === 0) return { type: "none" };
    return { type: "downUnreachable", members: down, survivors };
  }

  /** Forgets the stability timer (after acting). */
  reset(): void {
    this.#fingerprint = "";
    this.#links = undefined;
    this.#healed = false;
  }
}
