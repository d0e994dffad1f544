/**
 * The membership protocol engine for one node: joining through seeds, push-pull gossip,
 * heartbeats and phi accrual failure detection, leader actions on convergence, graceful leave
 * and keep-majority downing.
 *
 * It is transport-agnostic and clock-driven: messages go out through `send`, come in through
 * {@linkcode Membership.receive}, every timer goes through the injected {@linkcode Clock}, and
 * events come out through `onEvent`. The same code runs over TCP and inside a deterministic
 * in-process simulation.
 *
 * @module
 */

import type { Cancellable, Clock } from "../actor/clock.ts";
import { type DowningDecision, type DowningOptions, KeepMajority } from "./downing.ts";
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
  ShutdownSelf,
  UnreachableMember,
} from "./events.ts";
import {
  addSeen,
  bumpVersion,
  decodeGossip,
  decodeSeen,
  emptyGossip,
  encodeGossip,
  encodeSeen,
  findMember,
  type GossipState,
  hasSeen,
  isConverged,
  isTombstoned,
  leaderActions,
  leaderOf,
  markSeen,
  mergeGossip,
  observe,
  observedUnreachable,
  pruneTombstones,
  putMember,
  unreachableKeys,
  type WireGossip,
} from "./gossip.ts";
import { formatNodeAddress, sameNodeAddress } from "../remote/address.ts";
import type { Member, NodeAddress, UniqueNode } from "./member.ts";
import { keyOf } from "./_keys.ts";
import { PhiAccrualFailureDetector, type PhiAccrualOptions } from "./phi_accrual.ts";
import { compareClocks, type VectorClock } from "./vector_clock.ts";

/**
 * The messages membership nodes exchange. Plain JSON-able objects: they serialize with
 * `JSON.stringify` as they are. `to` carries the addressee's incarnation id, so a message
 * meant for a previous incarnation at the same address is ignored.
 *
 * - `join`: a node asks a seed (any member) to be added;
 * - `welcome`: the seed's answer, with the state that now contains the joiner;
 * - `gossipStatus`: a digest (version and `seen` bitset) sent every gossip round;
 * - `gossip`: the full state, sent when the digest shows the peer is behind or concurrent;
 * - `heartbeat` / `heartbeatRsp`: failure-detector probes and their answers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { MembershipMessage } from "@casty/casty/cluster";
 * const msg: MembershipMessage = {
 *   type: "join",
 *   node: { address: { host: "127.0.0.1", port: 25521 }, id: "00000lx2k3a4-9f8e7d6c" },
 *   roles: [],
 * };
 * assert.equal(JSON.parse(JSON.stringify(msg)).type, "join");
 * ```
 */
export type MembershipMessage =
  | {
    readonly type: "join";
    readonly node: UniqueNode;
    readonly roles: readonly string[];
  }
  | {
    readonly type: "welcome";
    readonly from: UniqueNode;
    readonly to: string;
    readonly gossip: WireGossip;
  }
  | {
    readonly type: "gossip";
    readonly from: UniqueNode;
    readonly to: string;
    readonly gossip: WireGossip;
    readonly reply: boolean;
  }
  | {
    readonly type: "gossipStatus";
    readonly from: UniqueNode;
    readonly to: string;
    readonly version: VectorClock;
    readonly seen: string;
    readonly reply: boolean;
  }
  | {
    readonly type: "heartbeat";
    readonly from: UniqueNode;
    readonly to: string;
    readonly seq: number;
  }
  | {
    readonly type: "heartbeatRsp";
    readonly from: UniqueNode;
    readonly seq: number;
  };

/**
 * Options for {@linkcode Membership}. Durations are milliseconds.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { MembershipOptions } from "@casty/casty/cluster";
 * import { realClock } from "@casty/casty";
 * const options: MembershipOptions = {
 *   self: { address: { host: "127.0.0.1", port: 25520 }, id: "00000lx2k3a4-9f8e7d6c" },
 *   seedNodes: [{ host: "127.0.0.1", port: 25520 }],
 *   clock: realClock,
 *   send: () => {},
 *   downing: { stableAfter: 7000 },
 * };
 * assert.equal(options.seedNodes.length, 1);
 * ```
 */
export interface MembershipOptions {
  /** This node: its advertised address, its incarnation id and its roles. */
  readonly self: {
    readonly address: NodeAddress;
    readonly id: string;
    readonly roles?: readonly string[];
  };
  /**
   * Contact points. The node asks all of them to let it join, every `join.retryInterval`,
   * until one welcomes it. When the first seed is this node, it forms a new cluster if no other
   * seed answers within `join.seedNodeTimeout`; with no seeds at all it forms one at once.
   */
  readonly seedNodes: readonly NodeAddress[];
  /** Source of time and timers. */
  readonly clock: Clock;
  /** Delivers a message to another node; may drop it (the protocol tolerates loss). */
  readonly send: (to: NodeAddress, msg: MembershipMessage) => void;
  /** Receives every event, synchronously, after the state change that caused it. */
  readonly onEvent?: (event: MembershipEvent) => void;
  /** Gossip tuning. */
  readonly gossip?: {
    /**
     * Time between gossip rounds.
     * @default {1000}
     */
    readonly interval?: number;
    /**
     * Peers contacted per round (preferring those not known to have seen the latest version).
     * @default {3}
     */
    readonly fanout?: number;
  };
  /** Heartbeat tuning. */
  readonly heartbeat?: {
    /**
     * Time between heartbeats to each monitored peer.
     * @default {500}
     */
    readonly interval?: number;
    /**
     * Time between failure-detector checks (and split-brain decisions).
     * @default {2000}
     */
    readonly availabilityCheckInterval?: number;
    /**
     * How many peers each node monitors (its successors on a hash ring); small clusters are
     * monitored all-to-all.
     * @default {9}
     */
    readonly monitoredPeers?: number;
  };
  /** Phi accrual tuning; see {@linkcode PhiAccrualOptions}. */
  readonly failureDetector?: PhiAccrualOptions;
  /** Split-brain resolution; see {@linkcode DowningOptions}. */
  readonly downing?: DowningOptions;
  /** Join tuning. */
  readonly join?: {
    /**
     * Time between join attempts.
     * @default {the gossip interval}
     */
    readonly retryInterval?: number;
    /**
     * How long the first seed waits for another seed before forming a new cluster.
     * @default {5000}
     */
    readonly seedNodeTimeout?: number;
  };
  /**
   * How long a removed member's tombstone is kept (it stops stale gossip from reviving it).
   * @default {86400000}
   */
  readonly tombstoneTtl?: number;
  /**
   * Randomness in [0, 1) for peer selection and timer phases; inject a seeded one to make a
   * simulation reproducible.
   * @default {Math.random}
   */
  readonly random?: () => number;
}

interface Timers {
  join?: Cancellable;
  gossip?: Cancellable;
  heartbeat?: Cancellable;
  availability?: Cancellable;
  /** Extra availability checks after a hint (a dropped connection, a reachability change). */
  soon?: Cancellable;
  later?: Cancellable;
}

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

function positive(name: string, value: number): number {
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new RangeError(`Invalid membership option ${name}: ${value}`);
  }
  return value;
}

/**
 * The membership protocol engine for one node.
 *
 * Wiring: call {@linkcode Membership.start} once; feed every incoming membership message to
 * {@linkcode Membership.receive}; `send` is called for outgoing ones. Timers run on the injected
 * clock. On a {@linkcode ShutdownSelf} event the engine has already stopped; the owner should
 * shut the node down.
 *
 * @example Three nodes over a toy in-process "network"
 * ```ts
 * import assert from "node:assert/strict";
 * import { Membership, type MembershipMessage } from "@casty/casty/cluster";
 * import type { NodeAddress } from "@casty/casty/remote";
 * import { SimulatedClock } from "@casty/casty/testing";
 *
 * const clock = new SimulatedClock();
 * const nodes = new Map<number, Membership>();
 * const seed: NodeAddress = { host: "127.0.0.1", port: 1 };
 * for (const port of [1, 2, 3]) {
 *   const self = { host: "127.0.0.1", port };
 *   nodes.set(port, new Membership({
 *     self: { address: self, id: `00000000000${port}-node` },
 *     seedNodes: [seed],
 *     clock,
 *     send: (to: NodeAddress, msg: MembershipMessage) =>
 *       clock.setTimeout(() => nodes.get(to.port)?.receive(self, msg), 1),
 *   }));
 * }
 * for (const n of nodes.values()) n.start();
 * clock.advance(20_000);
 * for (const n of nodes.values()) {
 *   assert.ok(n.members.every((m) => m.status === "up") && n.members.length === 3);
 *   assert.ok(n.leader?.port === 1);
 *   n.stop();
 * }
 * ```
 */
export class Membership {
  readonly #self: UniqueNode;
  readonly #selfKey: string;
  readonly #roles: readonly string[];
  readonly #seeds: readonly NodeAddress[];
  readonly #clock: Clock;
  readonly #send: (to: NodeAddress, msg: MembershipMessage) => void;
  readonly #onEvent?: (event: MembershipEvent) => void;
  readonly #random: () => number;
  readonly #gossipInterval: number;
  readonly #fanout: number;
  readonly #heartbeatInterval: number;
  readonly #checkInterval: number;
  readonly #monitoredPeers: number;
  readonly #retryInterval: number;
  readonly #seedNodeTimeout: number;
  readonly #tombstoneTtl: number;
  readonly #detector: PhiAccrualFailureDetector;
  readonly #sbr: KeepMajority;

  #state: GossipState | undefined;
  #timers: Timers = {};
  #started = false;
  #terminated = false;
  #joinStartedAt = 0;
  #heartbeatSeq = 0;
  #monitored = new Set<string>();
  #ringOf: readonly Member[] | undefined;
  #ring: { readonly k: string; readonly h: number }[] = [];

  // What this node has already published, for exactly-once events.
  #known = new Map<string, Member>();
  #knownUnreachable = new Set<string>();
  #knownLeader: string | undefined;
  #events: MembershipEvent[] = [];
  #flushing = false;

  /**
   * Creates a Membership.
   *
   * @param options See {@linkcode MembershipOptions}.
   * @throws {RangeError} When an interval, fanout or timeout is not positive.
   */
  constructor(options: MembershipOptions) {
    this.#self = { address: options.self.address, id: options.self.id };
    this.#selfKey = keyOf(this.#self);
    this.#roles = [...(options.self.roles ?? [])].sort();
    this.#seeds = options.seedNodes;
    this.#clock = options.clock;
    this.#send = options.send;
    this.#onEvent = options.onEvent;
    this.#random = options.random ?? Math.random;
    this.#gossipInterval = positive("gossip.interval", options.gossip?.interval ?? 1000);
    this.#fanout = Math.floor(positive("gossip.fanout", options.gossip?.fanout ?? 3));
    this.#heartbeatInterval = positive("heartbeat.interval", options.heartbeat?.interval ?? 500);
    this.#checkInterval = positive(
      "heartbeat.availabilityCheckInterval",
      options.heartbeat?.availabilityCheckInterval ?? 2000,
    );
    this.#monitoredPeers = Math.floor(
      positive("heartbeat.monitoredPeers", options.heartbeat?.monitoredPeers ?? 9),
    );
    this.#retryInterval = positive(
      "join.retryInterval",
      options.join?.retryInterval ?? this.#gossipInterval,
    );
    this.#seedNodeTimeout = positive("join.seedNodeTimeout", options.join?.seedNodeTimeout ?? 5000);
    this.#tombstoneTtl = positive("tombstoneTtl", options.tombstoneTtl ?? 86_400_000);
    this.#detector = new PhiAccrualFailureDetector(options.failureDetector);
    this.#sbr = new KeepMajority(options.downing);
  }

  // -------------------------------------------------------------------------------------------
  // Public surface

  /** This node's incarnation. */
  get selfNode(): UniqueNode {
    return this.#self;
  }

  /** The current gossip state (empty before joining). */
  get state(): GossipState {
    return this.#state ?? emptyGossip();
  }

  /** Members in this node's view, sorted by address. */
  get members(): readonly Member[] {
    return this.state.members;
  }

  /** This node as a member, or `undefined` before it joined (and after it was removed). */
  get selfMember(): Member | undefined {
    return this.#state === undefined ? undefined : findMember(this.#state, this.#selfKey);
  }

  /** The leader's address in this node's view. */
  get leader(): NodeAddress | undefined {
    return this.#state === undefined ? undefined : leaderOf(this.#state, this.#selfKey)?.address;
  }

  /** Members that some member finds unreachable, in this node's view. */
  get unreachable(): readonly Member[] {
    if (this.#state === undefined) return [];
    const u = unreachableKeys(this.#state);
    return this.#state.members.filter((m) => u.has(keyOf(m)));
  }

  /** Whether this node's state has converged (see {@linkcode isConverged}). */
  get isConverged(): boolean {
    return this.#state !== undefined && isConverged(this.#state);
  }

  /** Whether the engine stopped for good (after a {@linkcode ShutdownSelf} or `stop()`). */
  get isTerminated(): boolean {
    return this.#terminated;
  }

  /**
   * Starts joining and the periodic timers. Calling it again does nothing.
   *
   * @throws {Error} After {@linkcode Membership.stop}: an incarnation cannot restart; make a new
   * `Membership` with a new id.
   */
  start(): void {
    if (this.#terminated) {
      throw new Error(`Cannot start membership of ${this.#selfKey}: it was stopped`);
    }
    if (this.#started) return;
    this.#started = true;
    this.#joinStartedAt = this.#clock.now();
    this.#joinTick();
    this.#timers.gossip = this.#every(
      this.#gossipInterval,
      () => this.#gossipTick(),
      this.#random() * this.#gossipInterval,
    );
    this.#timers.heartbeat = this.#every(
      this.#heartbeatInterval,
      () => this.#heartbeatTick(),
      this.#random() * this.#heartbeatInterval,
    );
    this.#timers.availability = this.#every(
      this.#checkInterval,
      () => this.#availabilityTick(),
      this.#checkInterval * (0.5 + this.#random() / 2),
    );
  }

  /**
   * Handles one incoming membership message. Messages for another incarnation, from removed
   * incarnations, or arriving after the engine stopped are ignored.
   *
   * @param _from The sender's address as the transport saw it (the message's own `from`/`node`
   * field identifies the incarnation).
   * @param msg The message.
   */
  receive(_from: NodeAddress, msg: MembershipMessage): void {
    if (this.#terminated) return;
    switch (msg.type) {
      case "heartbeat":
        if (msg.to === this.#self.id) {
          this.#send(msg.from.address, { type: "heartbeatRsp", from: this.#self, seq: msg.seq });
        }
        return;
      case "heartbeatRsp": {
        const key = keyOf(msg.from);
        if (this.#monitored.has(key)) this.#detector.heartbeat(key, this.#clock.now());
        return;
      }
      case "join":
        return this.#onJoin(msg.node, msg.roles);
      case "welcome":
        return this.#onWelcome(msg.from, msg.to, msg.gossip);
      case "gossip":
        return this.#onGossip(msg.from, msg.to, msg.gossip, msg.reply);
      case "gossipStatus":
        return this.#onStatus(msg.from, msg.to, msg.version, msg.seen, msg.reply);
    }
  }

  /**
   * Leaves gracefully: this member becomes `leaving`; the leader moves it to `exiting`, then
   * removes it; when this node learns that, it publishes `MemberRemoved` for itself and
   * `ShutdownSelf("removed")`. Before joining, it just stops (with the same two signals'
   * second one).
   */
  leave(): void {
    if (this.#terminated) return;
    const me = this.selfMember;
    if (this.#state === undefined || me === undefined) {
      this.#terminate("removed");
      return;
    }
    if (me.status !== "joining" && me.status !== "up") return;
    this.#commit(putMember(this.#state, { ...me, status: "leaving" }));
    this.#gossipRound();
  }

  /**
   * Marks the live members at `address` as `down` (all incarnations there). The leader then
   * removes them once the rest has converged. Downing this node's own address shuts it down.
   *
   * @param address The address to down.
   */
  down(address: NodeAddress): void {
    if (this.#terminated || this.#state === undefined) return;
    let next = this.#state;
    for (const m of next.members) {
      if (sameNodeAddress(m.address, address) && m.status !== "down") {
        next = putMember(next, { ...m, status: "down" });
      }
    }
    if (next === this.#state) return;
    this.#commit(next);
    this.#gossipRound();
  }

  /**
   * A hint from the transport that the connection to `address` was lost (a crashed process
   * closes its sockets at once). The failure detector still decides; this only evaluates it
   * again soon after phi can first cross the threshold, instead of waiting for the next
   * periodic check.
   *
   * @param address The peer whose connection dropped.
   */
  connectionLost(address: NodeAddress): void {
    if (this.#terminated || this.#state === undefined) return;
    const known = this.#state.members.some((m) => sameNodeAddress(m.address, address));
    if (!known) return;
    this.#timers.soon?.cancel();
    // Evaluate phi every quarter of the check interval for a while: it crosses the threshold
    // (about 1–2 s after the last heartbeat with the defaults) between two periodic checks.
    const step = Math.max(50, Math.floor(this.#checkInterval / 4));
    let left = Math.ceil(6000 / step);
    const tick = () => {
      this.#timers.soon = undefined;
      if (this.#terminated || left-- <= 0) return;
      const before = this.#state?.reachability;
      this.#availabilityTick();
      if (this.#state?.reachability !== before) return; // decided: back to the periodic check
      this.#timers.soon = this.#clock.setTimeout(tick, step);
    };
    this.#timers.soon = this.#clock.setTimeout(tick, step);
  }

  /** Cancels every timer and stops handling messages. Idempotent. */
  stop(): void {
    this.#terminated = true;
    for (const t of Object.values(this.#timers)) t?.cancel();
    this.#timers = {};
  }

  // -------------------------------------------------------------------------------------------
  // Joining

  #joinTick(): void {
    this.#timers.join = undefined;
    if (this.#terminated || this.#state !== undefined) return;
    const others = this.#seeds.filter((s) => !sameNodeAddress(s, this.#self.address));
    const firstSeed = this.#seeds.length === 0 ||
      sameNodeAddress(this.#seeds[0], this.#self.address);
    if (
      firstSeed &&
      (others.length === 0 || this.#clock.now() - this.#joinStartedAt >= this.#seedNodeTimeout)
    ) {
      this.#formCluster();
      return;
    }
    for (const seed of others) {
      this.#send(seed, { type: "join", node: this.#self, roles: this.#roles });
    }
    this.#timers.join = this.#clock.setTimeout(() => this.#joinTick(), this.#retryInterval);
  }

  #formCluster(): void {
    const me: Member = {
      address: this.#self.address,
      status: "joining",
      roles: this.#roles,
      id: this.#self.id,
    };
    this.#setState(bumpVersion(putMember(emptyGossip(), me), this.#selfKey));
  }

  #onJoin(node: UniqueNode, roles: readonly string[]): void {
    const state = this.#state;
    const me = this.selfMember;
    if (state === undefined || me === undefined) return;
    if (me.status !== "joining" && me.status !== "up") return;
    const key = keyOf(node);
    if (isTombstoned(state, key)) return;
    let added = false;
    if (findMember(state, key) === undefined) {
      // A join from an older incarnation than one already known is stale: drop it.
      const newer = state.members.some((m) =>
        sameNodeAddress(m.address, node.address) && m.id > node.id
      ) || state.tombstones.some((t) =>
        sameNodeAddress(t.node.address, node.address) && t.node.id > node.id
      );
      if (newer) return;
      const joiner: Member = {
        address: node.address,
        status: "joining",
        roles: [...roles].sort(),
        id: node.id,
      };
      // putMember fences any previous incarnation at this address to `down`.
      this.#commit(putMember(state, joiner));
      added = true;
    }
    if (this.#state === undefined || this.#terminated) return;
    this.#send(node.address, {
      type: "welcome",
      from: this.#self,
      to: node.id,
      gossip: encodeGossip(this.#state),
    });
    if (added) this.#gossipRound();
  }

  #onWelcome(from: UniqueNode, to: string, wire: WireGossip): void {
    if (to !== this.#self.id) return;
    if (this.#state !== undefined) {
      this.#onGossip(from, to, wire, true);
      return;
    }
    const incoming = decodeGossip(wire);
    if (findMember(incoming, this.#selfKey) === undefined) return;
    if (this.#timers.join !== undefined) this.#timers.join.cancel();
    this.#timers.join = undefined;
    this.#setState(markSeen(incoming, this.#selfKey));
    this.#gossipRound();
  }

  // -------------------------------------------------------------------------------------------
  // Gossip

  #acceptsFrom(from: UniqueNode, to: string): boolean {
    return this.#state !== undefined && to === this.#self.id &&
      !isTombstoned(this.#state, keyOf(from));
  }

  #onGossip(from: UniqueNode, to: string, wire: WireGossip, reply: boolean): void {
    if (!this.#acceptsFrom(from, to)) return;
    const remote = decodeGossip(wire, this.#state);
    if (
      findMember(remote, this.#selfKey) === undefined && !isTombstoned(remote, this.#selfKey)
    ) return; // not gossip about a cluster that has this incarnation
    const local = this.#state!;
    const order = compareClocks(remote.version, local.version);
    this.#setState(markSeen(mergeGossip(local, remote), this.#selfKey));
    if (this.#terminated) return;
    if (order === "before" || order === "concurrent") {
      this.#sendGossip(from, true);
    } else if (!reply && (order === "after" || this.#seenMoreThan(remote))) {
      this.#sendStatus(from, true);
    }
  }

  #onStatus(
    from: UniqueNode,
    to: string,
    version: VectorClock,
    seenBits: string,
    reply: boolean,
  ): void {
    if (!this.#acceptsFrom(from, to)) return;
    const local = this.#state!;
    switch (compareClocks(version, local.version)) {
      case "same": {
        const theirs = decodeSeen(local, seenBits);
        const next = addSeen(local, theirs);
        if (next !== local) this.#setState(next);
        if (!reply && this.#state !== undefined && this.#state.seen.length > theirs.length) {
          this.#sendStatus(from, true);
        }
        return;
      }
      case "before":
      case "concurrent":
        this.#sendGossip(from, true);
        return;
      case "after":
        this.#sendStatus(from, true);
        return;
    }
  }

  #seenMoreThan(remote: GossipState): boolean {
    const local = this.#state!;
    return local.seen.some((k) => !hasSeen(remote, k));
  }

  #sendGossip(to: UniqueNode, reply: boolean): void {
    this.#send(to.address, {
      type: "gossip",
      from: this.#self,
      to: to.id,
      gossip: encodeGossip(this.#state!),
      reply,
    });
  }

  #sendStatus(to: UniqueNode, reply: boolean): void {
    const state = this.#state!;
    this.#send(to.address, {
      type: "gossipStatus",
      from: this.#self,
      to: to.id,
      version: state.version,
      seen: encodeSeen(state),
      reply,
    });
  }

  #gossipTick(): void {
    const state = this.#state;
    if (state === undefined) return;
    const pruned = pruneTombstones(state, this.#clock.wallNow() - this.#tombstoneTtl);
    if (pruned !== state) this.#setState(pruned);
    this.#runLeaderActions();
    this.#runDowning();
    this.#gossipRound();
  }

  /** Sends a digest to `fanout` peers, preferring those not known to have seen this version. */
  #gossipRound(): void {
    const state = this.#state;
    if (state === undefined || this.#terminated) return;
    const mine = new Set(observedUnreachable(state, this.#selfKey));
    const unseen: Member[] = [];
    const others: Member[] = [];
    for (const m of state.members) {
      const k = keyOf(m);
      if (k === this.#selfKey || mine.has(k)) continue;
      (hasSeen(state, k) ? others : unseen).push(m);
    }
    const targets = this.#pick(unseen, this.#fanout);
    if (targets.length < this.#fanout) {
      targets.push(...this.#pick(others, this.#fanout - targets.length));
    }
    for (const m of targets) this.#sendStatus(m, false);
  }

  #pick<T>(items: T[], n: number): T[] {
    if (items.length <= n) return items.slice();
    const out: T[] = [];
    const pool = items.slice();
    for (let i = 0; i < n; i++) {
      const j = i + Math.floor(this.#random() * (pool.length - i));
      [pool[i], pool[j]] = [pool[j], pool[i]];
      out.push(pool[i]);
    }
    return out;
  }

  // -------------------------------------------------------------------------------------------
  // Leader actions and downing

  #isLeader(): boolean {
    const state = this.#state;
    if (state === undefined) return false;
    const leader = leaderOf(state, this.#selfKey);
    return leader !== undefined && keyOf(leader) === this.#selfKey;
  }

  #runLeaderActions(): void {
    const state = this.#state;
    if (state === undefined || this.#terminated || !this.#isLeader() || !isConverged(state)) return;
    const result = leaderActions(state, this.#clock.wallNow());
    if (!result.changed) return;
    this.#commit(result.state);
    // Removed members are no gossip targets any more: tell them directly, so a leaving node
    // learns it is done (and a downed one that is still alive learns it was downed).
    if (this.#state !== undefined) {
      for (const m of result.removed) this.#sendGossip(m, false);
    }
    this.#gossipRound();
  }

  #runDowning(): void {
    const state = this.#state;
    if (state === undefined || this.#terminated) return;
    const me = findMember(state, this.#selfKey);
    if (me === undefined || me.status === "joining") return;
    const unreachable = new Set(unreachableKeys(state));
    unreachable.delete(this.#selfKey);
    const decision: DowningDecision = this.#sbr.decide(
      this.#clock.now(),
      state.members,
      unreachable,
    );
    if (decision.type === "shutdownSelf") {
      this.#terminate("minority");
    } else if (decision.type === "downUnreachable" && this.#isLeader()) {
      let next = state;
      for (const m of decision.members) next = putMember(next, { ...m, status: "down" });
      this.#sbr.reset();
      this.#commit(next);
      this.#gossipRound();
    }
  }

  // -------------------------------------------------------------------------------------------
  // Heartbeats and failure detection

  /** This node's successors on a hash ring of live members, plus those it finds unreachable. */
  #computeMonitored(state: GossipState): Set<string> {
    if (this.#ringOf !== state.members) {
      this.#ringOf = state.members;
      this.#ring = state.members.filter((m) => m.status !== "down").map((m) => {
        const k = keyOf(m);
        return { k, h: fnv1a(k) };
      }).sort((a, b) => a.h - b.h || (a.k < b.k ? -1 : a.k > b.k ? 1 : 0));
    }
    const ring = this.#ring;
    const out = new Set<string>();
    const at = ring.findIndex((e) => e.k === this.#selfKey);
    for (let i = 1; i < ring.length && out.size < this.#monitoredPeers; i++) {
      out.add(ring[(at + i + ring.length) % ring.length].k);
    }
    out.delete(this.#selfKey);
    for (const k of observedUnreachable(state, this.#selfKey)) {
      const m = findMember(state, k);
      if (m !== undefined && m.status !== "down") out.add(k);
    }
    return out;
  }

  #heartbeatTick(): void {
    const state = this.#state;
    if (state === undefined) return;
    const now = this.#clock.now();
    const next = this.#computeMonitored(state);
    for (const k of this.#monitored) if (!next.has(k)) this.#detector.remove(k);
    // Starting to monitor counts as a first heartbeat, so a peer that never answers is
    // detected too (its history starts from the first-heartbeat estimate).
    for (const k of next) if (!this.#monitored.has(k)) this.#detector.heartbeat(k, now);
    this.#monitored = next;
    const seq = ++this.#heartbeatSeq;
    for (const k of next) {
      const m = findMember(state, k)!;
      this.#send(m.address, { type: "heartbeat", from: this.#self, to: m.id, seq });
    }
  }

  #availabilityTick(): void {
    const state = this.#state;
    if (state === undefined) return;
    const now = this.#clock.now();
    const mine = new Set(observedUnreachable(state, this.#selfKey));
    const changes: { subject: string; reachable: boolean }[] = [];
    for (const k of this.#monitored) {
      const available = this.#detector.isAvailable(k, now);
      if (!available && !mine.has(k)) changes.push({ subject: k, reachable: false });
      if (available && mine.has(k)) changes.push({ subject: k, reachable: true });
    }
    // Stop reporting subjects this node no longer monitors (downed ones): their fate is sealed.
    for (const k of mine) {
      if (!this.#monitored.has(k) && findMember(state, k)?.status !== "down") {
        changes.push({ subject: k, reachable: true });
      }
    }
    if (changes.length > 0) {
      this.#commit(observe(state, this.#selfKey, changes));
      this.#gossipRound();
    }
    this.#runDowning();
  }

  /** Evaluates the downing strategy again right after `stableAfter` has passed. */
  #downingCheckAfterStable(): void {
    this.#timers.later?.cancel();
    this.#timers.later = this.#clock.setTimeout(() => {
      this.#timers.later = undefined;
      this.#runDowning();
    }, this.#sbr.stableAfter + 50);
  }

  // -------------------------------------------------------------------------------------------
  // State changes and events

  /** A local change: new version by this node, seen only by it. */
  #commit(next: GossipState): void {
    this.#setState(bumpVersion(next, this.#selfKey));
  }

  #setState(next: GossipState): void {
    const prev = this.#state;
    this.#state = next;
    this.#diff(prev, next);
    if (isTombstoned(next, this.#selfKey)) {
      this.#terminate("removed");
      return;
    }
    if (findMember(next, this.#selfKey)?.status === "down") {
      this.#terminate("downed");
      return;
    }
    this.#flush();
    this.#runLeaderActions();
  }

  #diff(prev: GossipState | undefined, next: GossipState): void {
    if (
      prev !== undefined && prev.members === next.members && prev.reachability === next.reachability
    ) {
      return; // only version or seen changed
    }
    if (prev !== undefined && prev.reachability !== next.reachability) {
      this.#downingCheckAfterStable();
    }
    const out = this.#events;
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
    const leader = leaderOf(next, this.#selfKey);
    const leaderKey = leader === undefined ? undefined : formatNodeAddress(leader.address);
    if (leaderKey !== this.#knownLeader) {
      this.#knownLeader = leaderKey;
      out.push(new LeaderChanged(leader?.address));
    }
  }

  #terminate(reason: "removed" | "downed" | "minority"): void {
    if (this.#terminated) return;
    this.stop();
    this.#events.push(new ShutdownSelf(reason));
    this.#flush();
  }

  #flush(): void {
    if (this.#flushing) return;
    this.#flushing = true;
    try {
      while (this.#events.length > 0) {
        const e = this.#events.shift()!;
        if (this.#onEvent === undefined) continue;
        try {
          this.#onEvent(e);
        } catch (err) {
          // A failing listener must not corrupt the protocol; surface it out of band.
          queueMicrotask(() => {
            throw err;
          });
        }
      }
    } finally {
      this.#flushing = false;
    }
  }

  #every(interval: number, fn: () => void, firstDelay: number): Cancellable {
    let current: Cancellable | undefined;
    let cancelled = false;
    const tick = (): void => {
      if (cancelled || this.#terminated) return;
      current = this.#clock.setTimeout(tick, interval);
      fn();
    };
    current = this.#clock.setTimeout(tick, firstDelay);
    return {
      cancel: () => {
        cancelled = true;
        current?.cancel();
      },
    };
  }
}
