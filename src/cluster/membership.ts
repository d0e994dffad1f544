/**
 * The membership protocol engine for one node: joining through seeds, push-pull gossip,
 * heartbeats and phi accrual failure detection, leader actions on convergence, graceful leave
 * and split-brain downing under one acting leader per epoch.
 *
 * It is transport-agnostic and clock-driven: messages go out through `send`, come in through
 * {@linkcode Membership.receive}, every timer goes through the injected {@linkcode Clock}, and
 * events come out through `onEvent`. The same code runs over TCP and inside a deterministic
 * in-process simulation.
 *
 * @module
 */

import type { Cancellable, Clock } from "../actor/clock.ts";
import {
  type BrokenLink,
  type DowningDecision,
  type DowningOptions,
  fullyConnectedSurvivors,
  SplitBrainResolver,
} from "./downing.ts";
import { type MembershipEvent, ShutdownSelf } from "./events.ts";
import {
  addSeen,
  bumpVersion,
  emptyGossip,
  findMember,
  type GossipState,
  hasSeen,
  isTombstoned,
  markSeen,
  mergeGossip,
  observe,
  observedUnreachable,
  pruneTombstones,
  putMember,
  unreachableKeys,
} from "./gossip_state.ts";
import { claimLeadership, isConverged, leaderActions, leaderOf } from "./gossip_leader.ts";
import {
  decodeGossip,
  decodeSeen,
  encodeGossip,
  encodeSeen,
  type WireGossip,
} from "./gossip_wire.ts";
import { formatNodeAddress, sameNodeAddress } from "../remote/address.ts";
import type { Member, NodeAddress, UniqueNode } from "./member.ts";
import { type MembershipMessage, parseMembershipMessage } from "./membership_messages.ts";
import { HeartbeatRing } from "./_heartbeat_ring.ts";
import { MembershipEventDiff } from "./_membership_events.ts";
import { keyOf } from "./_keys.ts";
import { PhiAccrualFailureDetector, type PhiAccrualOptions } from "./phi_accrual.ts";
import { compareClocks, type VectorClock } from "./vector_clock.ts";

export { type MembershipMessage, parseMembershipMessage };

/**
 * A leader action, reported to {@linkcode MembershipOptions.onLeaderAction} (for tests and
 * diagnostics): `converge` (joining → up, leaving → exiting, removals) or `down` (the
 * split-brain resolver's downing), with the epoch it was taken under.
 *
 * @example
 * ```ts
 * import type { LeaderAction } from "@casty/casty/cluster";
 * import assert from "node:assert/strict";
 * const a: LeaderAction = { kind: "down", epoch: 2, members: [] };
 * assert.equal(a.epoch, 2);
 * ```
 */
export interface LeaderAction {
  /** What the leader did. */
  readonly kind: "converge" | "down";
  /** The leader epoch this node held when it acted. */
  readonly epoch: number;
  /** The members it changed. */
  readonly members: readonly Member[];
}

/**
 * Options for {@linkcode Membership}. Durations are milliseconds.
 *
 * @example
 * ```ts
 * import type { MembershipOptions } from "@casty/casty/cluster";
 * import { realClock } from "@casty/casty";
 * import assert from "node:assert/strict";
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
   * Where the engine reports what it drops or cannot do (a malformed message, a join that gets
   * no answer, a failing event listener). Never throws into a timer.
   * @default {console.warn / console.error}
   */
  readonly log?: (level: "warn" | "error", message: string) => void;
  /** Called with every leader action this node takes (tests and diagnostics). */
  readonly onLeaderAction?: (action: LeaderAction) => void;
  /**
   * Called when the leader epoch this node knows moves (a new leader claimed it), after the
   * state change: services bound to the leader (barriers, coordinators) drop what a former
   * leader held.
   */
  readonly onLeaderEpoch?: (epoch: number) => void;
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
 * import { Membership, type MembershipMessage } from "@casty/casty/cluster";
 * import type { NodeAddress } from "@casty/casty/remote";
 * import { SimulatedClock } from "@casty/casty/testing";
 * import assert from "node:assert/strict";
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
 *   assert.equal(n.leader?.port, 1);
 *   assert.equal(n.leaderEpoch, 1);
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
  readonly #onLeaderAction?: (action: LeaderAction) => void;
  readonly #onLeaderEpoch?: (epoch: number) => void;
  readonly #log: (level: "warn" | "error", message: string) => void;
  readonly #random: () => number;
  readonly #gossipInterval: number;
  readonly #fanout: number;
  readonly #heartbeatInterval: number;
  readonly #checkInterval: number;
  readonly #retryInterval: number;
  readonly #seedNodeTimeout: number;
  readonly #tombstoneTtl: number;
  readonly #detector: PhiAccrualFailureDetector;
  readonly #sbr: SplitBrainResolver;
  readonly #ring: HeartbeatRing;
  readonly #eventDiff = new MembershipEventDiff();

  #state: GossipState | undefined;
  #timers: Timers = {};
  #started = false;
  #terminated = false;
  #joinStartedAt = 0;
  #joinAttempts = 0;
  #joinLoggedAt = 0;
  #heartbeatSeq = 0;
  #lastClaimAt = -Infinity;
  #monitored = new Set<string>();
  #viewOf: GossipState | undefined;
  #view: View = { links: [], leader: undefined };
  #events: MembershipEvent[] = [];
  #flushing = false;

  /**
   * Creates a Membership.
   *
   * @param options See {@linkcode MembershipOptions}.
   * @throws {RangeError} When an interval, fanout or timeout is not positive, or the downing
   * options are invalid.
   */
  constructor(options: MembershipOptions) {
    this.#self = { address: options.self.address, id: options.self.id };
    this.#selfKey = keyOf(this.#self);
    this.#roles = [...(options.self.roles ?? [])].sort();
    this.#seeds = options.seedNodes;
    this.#clock = options.clock;
    this.#send = options.send;
    this.#onEvent = options.onEvent;
    this.#onLeaderAction = options.onLeaderAction;
    this.#onLeaderEpoch = options.onLeaderEpoch;
    this.#log = options.log ??
      ((level, message) => level === "error" ? console.error(message) : console.warn(message));
    this.#random = options.random ?? Math.random;
    this.#gossipInterval = positive("gossip.interval", options.gossip?.interval ?? 1000);
    this.#fanout = Math.floor(positive("gossip.fanout", options.gossip?.fanout ?? 3));
    this.#heartbeatInterval = positive("heartbeat.interval", options.heartbeat?.interval ?? 500);
    this.#checkInterval = positive(
      "heartbeat.availabilityCheckInterval",
      options.heartbeat?.availabilityCheckInterval ?? 2000,
    );
    const monitoredPeers = Math.floor(
      positive("heartbeat.monitoredPeers", options.heartbeat?.monitoredPeers ?? 9),
    );
    this.#retryInterval = positive(
      "join.retryInterval",
      options.join?.retryInterval ?? this.#gossipInterval,
    );
    this.#seedNodeTimeout = positive("join.seedNodeTimeout", options.join?.seedNodeTimeout ?? 5000);
    this.#tombstoneTtl = positive("tombstoneTtl", options.tombstoneTtl ?? 86_400_000);
    this.#detector = new PhiAccrualFailureDetector({
      firstHeartbeatEstimate: this.#heartbeatInterval,
      ...options.failureDetector,
    });
    // One observer may report a broken link up to one availability check plus a gossip round
    // after another: a member on no broken link gets that long to report its own; after a link
    // healed while others stayed broken, also a failure detection (the observer may have heard
    // a dying node's last, late answers).
    this.#sbr = new SplitBrainResolver(
      options.downing,
      this.#checkInterval + this.#gossipInterval,
      (options.failureDetector?.acceptableHeartbeatPause ?? 1750) + 2 * this.#heartbeatInterval +
        this.#checkInterval,
    );
    this.#ring = new HeartbeatRing(this.#selfKey, monitoredPeers);
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

  /**
   * The acting leader's address in this node's view: the lowest-address member of the side
   * that survives the unreachability this node can see (see {@linkcode fullyConnectedSurvivors}),
   * or with nothing unreachable, the lowest-address `up` member.
   */
  get leader(): NodeAddress | undefined {
    return this.#state === undefined ? undefined : this.#viewFor(this.#state).leader?.address;
  }

  /**
   * The epoch of the latest leadership claim this node knows (0 before any). It only grows;
   * a leader acts only while it holds the latest epoch, so anything keyed by the epoch (shard
   * allocations, singletons) can refuse decisions of a stale leader.
   */
  get leaderEpoch(): number {
    return this.#state?.leaderEpoch?.epoch ?? 0;
  }

  /**
   * Whether this node holds the latest leader epoch it knows, acting leader or not (a leader
   * whose successor has not claimed the next epoch yet still holds it).
   */
  get holdsLeaderEpoch(): boolean {
    return this.#state?.leaderEpoch?.leader === this.#selfKey;
  }

  /** Whether this node holds the latest leader epoch and is the acting leader of its side. */
  get isLeader(): boolean {
    return this.#state !== undefined && this.#holdsLeadership(this.#state);
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
    this.#joinLoggedAt = this.#joinStartedAt;
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
   * Handles one incoming membership message. It is validated first: a malformed one is
   * logged and dropped with no state change. Messages for another incarnation, from removed
   * incarnations, or arriving after the engine stopped are ignored.
   *
   * @param _from The sender's address as the transport saw it (the message's own `from`/`node`
   * field identifies the incarnation).
   * @param raw The message as received.
   */
  receive(_from: NodeAddress, raw: MembershipMessage | unknown): void {
    if (this.#terminated) return;
    let msg: MembershipMessage;
    try {
      msg = parseMembershipMessage(raw);
    } catch (err) {
      this.#log("warn", `Dropped a membership message from ${formatNodeAddress(_from)}: ${err}`);
      return;
    }
    try {
      this.#dispatch(msg);
    } catch (err) {
      // Gossip payloads are validated as they are decoded: drop the whole message.
      this.#log("warn", `Dropped a membership message from ${formatNodeAddress(_from)}: ${err}`);
    }
  }

  #dispatch(msg: MembershipMessage): void {
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
    // (a few seconds after the last heartbeat with the defaults) between two periodic checks.
    const step = Math.max(50, Math.floor(this.#checkInterval / 4));
    let left = Math.ceil(10_000 / step);
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
    const now = this.#clock.now();
    if (firstSeed && (others.length === 0 || now - this.#joinStartedAt >= this.#seedNodeTimeout)) {
      if (others.length > 0) {
        this.#log(
          "warn",
          `No other seed node answered ${this.#self.address.host}:${this.#self.address.port} within ${this.#seedNodeTimeout} ms: forming a new cluster`,
        );
      }
      this.#formCluster();
      return;
    }
    this.#joinAttempts++;
    // A join that keeps getting no answer is logged (after 10 s, then every 30 s).
    if (
      now - this.#joinLoggedAt >= (this.#joinLoggedAt === this.#joinStartedAt ? 10_000 : 30_000)
    ) {
      this.#joinLoggedAt = now;
      this.#log(
        "warn",
        `Cannot join the cluster yet: no seed node answered ${this.#joinAttempts} join attempts in ${
          Math.round(now - this.#joinStartedAt)
        } ms (seeds: ${others.map(formatNodeAddress).join(", ")}); still trying`,
      );
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
      // Incarnation ids are opaque (their order says nothing: a restarted node's clock may be
      // behind). A join from an unknown incarnation is a restart: the previous incarnations at
      // that address are downed in the same change that admits the new one.
      let next = state;
      for (const m of state.members) {
        if (sameNodeAddress(m.address, node.address) && m.status !== "down") {
          next = putMember(next, { ...m, status: "down" });
        }
      }
      const joiner: Member = {
        address: node.address,
        status: "joining",
        roles: [...roles].sort(),
        id: node.id,
      };
      this.#commit(putMember(next, joiner));
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
    // A state from a node that has not learned the current leader epoch may carry decisions of
    // a stale leader: refuse it and send ours, so the sender learns the epoch first.
    if (
      (remote.leaderEpoch?.epoch ?? 0) < (local.leaderEpoch?.epoch ?? 0) &&
      (order === "after" || order === "concurrent") &&
      remote.leaderEpoch?.leader !== local.leaderEpoch?.leader &&
      remote.leaderEpoch?.leader === keyOf(from)
    ) {
      this.#log(
        "warn",
        `Refused the state of former leader ${
          keyOf(from)
        } (epoch ${remote.leaderEpoch?.epoch} < ${local.leaderEpoch?.epoch}); sent it the current one`,
      );
      this.#sendGossip(from, true);
      return;
    }
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
  // The acting leader, its epoch, leader actions and downing

  /**
   * The broken links this node can trust: its own observations and those of observers it can
   * still reach (an unreachable observer's row is stale), and the acting leader they imply.
   */
  #viewFor(state: GossipState): View {
    // The view depends on the members and the reachability rows only, whose arrays are reused
    // while unchanged: most state changes (versions, seen sets) hit this cache.
    if (
      this.#viewOf === state ||
      (this.#viewOf !== undefined && this.#viewOf.members === state.members &&
        this.#viewOf.reachability === state.reachability)
    ) {
      this.#viewOf = state;
      return this.#view;
    }
    const mine = new Set(observedUnreachable(state, this.#selfKey));
    const links: BrokenLink[] = [];
    for (const row of state.reachability) {
      if (row.observer !== this.#selfKey && mine.has(row.observer)) continue;
      const observer = findMember(state, row.observer);
      if (observer === undefined || observer.status === "down") continue;
      for (const s of row.unreachable) if (s !== row.observer) links.push([row.observer, s]);
    }
    let leader: Member | undefined;
    const live = new Set(
      state.members.filter((m) =>
        m.status === "joining" || m.status === "up" || m.status === "leaving"
      )
        .map(keyOf),
    );
    const relevant = links.filter(([a, b]) => live.has(a) && live.has(b));
    if (relevant.length > 0) this.#completeLinks(state, mine, live, relevant);
    if (relevant.length === 0) {
      leader = leaderOf(state, this.#selfKey);
    } else {
      let side = this.#sbr.survivors(state.members, relevant);
      if (side.length === 0) side = fullyConnectedSurvivors(state.members, relevant);
      leader = side.find((m) => m.status === "up" || m.status === "leaving") ?? side[0];
    }
    this.#viewOf = state;
    this.#view = { links: relevant, leader };
    return this.#view;
  }

  /**
   * Beyond ten members each node monitors only its ring successors, so most pairs are not
   * observed directly. A member that every monitor on this node's side reports unreachable is
   * gone from this side: it is taken as cut off from every member of this side that no
   * observation covers (otherwise two halves of a large cluster would each keep members of the
   * other). Members only some monitors report (a broken link) get no such inference, so one
   * broken link still costs one node. In clusters monitored all-to-all this adds nothing.
   */
  #completeLinks(
    state: GossipState,
    mine: ReadonlySet<string>,
    live: ReadonlySet<string>,
    links: BrokenLink[],
  ): void {
    const monitors = this.#ring.monitorsOf(state);
    const reported = new Map<string, Set<string>>(); // subject → trusted observers reporting it
    for (const [o, s] of links) {
      let by = reported.get(s);
      if (by === undefined) reported.set(s, by = new Set());
      by.add(o);
    }
    const trusted = (k: string) => k === this.#selfKey || !mine.has(k);
    const here = [...live].filter((k) => trusted(k) && !reported.has(k));
    const hereSet = new Set(here);
    const gone: string[] = [];
    for (const [subject, by] of reported) {
      const watchers = [...(monitors.get(subject) ?? [])].filter((w) => hereSet.has(w));
      if (watchers.length > 0 && watchers.every((w) => by.has(w))) gone.push(subject);
    }
    if (gone.length === 0) return;
    const watches = (x: string, y: string) => monitors.get(y)?.has(x) ?? false;
    for (const y of gone) {
      for (const x of here) {
        if (!watches(x, y) && !(trusted(y) && watches(y, x))) links.push([x, y]);
      }
    }
  }

  #isActingLeader(state: GossipState): boolean {
    const leader = this.#viewFor(state).leader;
    return leader !== undefined && keyOf(leader) === this.#selfKey;
  }

  #holdsLeadership(state: GossipState): boolean {
    return this.#isActingLeader(state) && state.leaderEpoch?.leader === this.#selfKey;
  }

  #runLeaderActions(): void {
    const state = this.#state;
    if (state === undefined || this.#terminated || !this.#isActingLeader(state)) return;
    if (state.leaderEpoch?.leader !== this.#selfKey) {
      // The acting leader of this side claims the next epoch; it acts once the others have
      // seen the claim (convergence, or the survivors' agreement when downing). While views
      // disagree, two nodes could out-claim each other: at most one claim per gossip interval.
      const now = this.#clock.now();
      if (now - this.#lastClaimAt < this.#gossipInterval) return;
      this.#lastClaimAt = now;
      this.#commit(claimLeadership(state, this.#selfKey));
      this.#gossipRound();
      return;
    }
    if (!isConverged(state)) return;
    const result = leaderActions(state, this.#clock.wallNow());
    if (!result.changed) return;
    const epoch = state.leaderEpoch.epoch;
    const changed = result.state.members.filter((m) => !state.members.includes(m));
    this.#commit(result.state);
    this.#onLeaderAction?.({ kind: "converge", epoch, members: [...changed, ...result.removed] });
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
    const view = this.#viewFor(state);
    const decision: DowningDecision = this.#sbr.decide(
      this.#clock.now(),
      this.#selfKey,
      state.members,
      view.links,
    );
    if (decision.type === "shutdownSelf") {
      this.#terminate("minority");
    } else if (decision.type === "downUnreachable" && this.#holdsLeadership(state)) {
      // Only once every survivor has seen this state (and so the epoch this node holds).
      if (!decision.survivors.every((m) => hasSeen(state, keyOf(m)))) return;
      let next = state;
      for (const m of decision.members) next = putMember(next, { ...m, status: "down" });
      this.#sbr.reset();
      this.#onLeaderAction?.({
        kind: "down",
        epoch: state.leaderEpoch!.epoch,
        members: decision.members,
      });
      this.#commit(next);
      this.#gossipRound();
    }
  }

  // -------------------------------------------------------------------------------------------
  // Heartbeats and failure detection

  #heartbeatTick(): void {
    const state = this.#state;
    if (state === undefined) return;
    const now = this.#clock.now();
    const next = this.#ring.monitored(state);
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
    }, this.#sbr.longestWait + 50);
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
    if (prev !== undefined && prev.reachability !== next.reachability) {
      this.#downingCheckAfterStable();
    }
    this.#eventDiff.diff(prev, next, this.#viewFor(next).leader, this.#events);
    if (isTombstoned(next, this.#selfKey)) {
      this.#terminate("removed");
      return;
    }
    if (findMember(next, this.#selfKey)?.status === "down") {
      this.#terminate("downed");
      return;
    }
    this.#flush();
    const epoch = next.leaderEpoch?.epoch ?? 0;
    if (epoch !== (prev?.leaderEpoch?.epoch ?? 0) && this.#onLeaderEpoch !== undefined) {
      try {
        this.#onLeaderEpoch(epoch);
      } catch (err) {
        try {
          this.#log("error", `A leader epoch listener failed: ${err}`);
        } catch { /* nothing may throw into a timer */ }
      }
    }
    this.#runLeaderActions();
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
          // A failing listener must not corrupt the protocol, nor kill the process from a
          // timer callback: it is logged, and the protocol goes on.
          try {
            this.#log("error", `A membership event listener failed on ${e.type}: ${err}`);
          } catch { /* a failing logger must not either */ }
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

interface View {
  /** Broken links between live members this node trusts. */
  readonly links: readonly BrokenLink[];
  /** The acting leader. */
  readonly leader: Member | undefined;
}
