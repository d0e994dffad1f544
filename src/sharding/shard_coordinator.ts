/**
 * The shard coordinator: one per node. On the acting leader (the holder of the current leader
 * epoch) it decides allocations, hand-offs and rebalancing; on every node it keeps the
 * replicated allocation table and the lease that allows this node to host shards.
 *
 * Safety rules (no shard on two nodes at once):
 * - a node starts a shard only on an allocation of the current leader epoch, and hosts shards
 *   only while its lease is valid;
 * - a lease runs out `leaseTimeout` ms after the leader last heard from a majority, and
 *   `leaseTimeout` is shorter than downing's `stableAfter`: a node cut off from the deciding side
 *   stops its shards before that side downs it and reallocates them;
 * - both ends time a lease from their own request, never from a message's arrival: a node's
 *   lease counts from when it sent the ack that the leader's state echoes, and the leader counts
 *   a member as heard from at the time it sent the broadcast that member's ack answers. A state
 *   or an ack that arrives late (a slow link, a stalled event loop) therefore never extends a
 *   lease: a node whose acks stop reaching the leader loses its lease within `leaseTimeout` of
 *   its last ack that got through, even while it still receives states;
 * - a new leader first collects every node's table and hosted shards and keeps what was decided
 *   (waiting `leaseTimeout` and a tick for nodes that do not answer), and moves a shard only by
 *   hand-off; so a lease outlives a change of leader (hosting needs a lease, starting a shard
 *   needs the current epoch too), and a former leader renews leases until the next one's sync;
 * - a downed member's shards move only once the last lease granted to it has run out.
 *
 * @module
 */
import type { Cancellable } from "../actor/clock.ts";
import type { ClusterExtensionContext } from "../cluster/extension.ts";
import type { Member } from "../cluster/member.ts";
import type { NodeAddress } from "../remote/address.ts";
import { leastShardNode, rebalanceMoves } from "./allocation_strategy.ts";

/**
 * The control path of the coordinator on every node.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { COORDINATOR_PATH } from "@casty/casty/sharding";
 * assert.equal(COORDINATOR_PATH, "/_cluster/_sharding");
 * ```
 */
export const COORDINATOR_PATH = "/_cluster/_sharding";

/**
 * Where one shard lives.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ShardEntry } from "@casty/casty/sharding";
 * const e: ShardEntry = { node: "id", address: { host: "127.0.0.1", port: 25520 }, handoff: false };
 * assert.equal(e.handoff, false);
 * ```
 */
export interface ShardEntry {
  /** The owner's member id (incarnation). */
  readonly node: string;
  /** The owner's address. */
  readonly address: NodeAddress;
  /** A hand-off away from the owner is in progress. */
  readonly handoff: boolean;
}

/**
 * The replicated allocation table: shard → owner per type, with the deciding leader's epoch.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { AllocationTable } from "@casty/casty/sharding";
 * const t: AllocationTable = { epoch: 1, version: 0, types: new Map() };
 * assert.equal(t.types.size, 0);
 * assert.equal(t.hosts, undefined);
 * ```
 */
export interface AllocationTable {
  /** The leader epoch it was decided in. */
  readonly epoch: number;
  /** Grows with every change within an epoch. */
  readonly version: number;
  /** Per sharded type name, per shard. */
  readonly types: ReadonlyMap<string, ReadonlyMap<number, ShardEntry>>;
  /**
   * Per sharded type name, the member ids (sorted) of the nodes that host it (spawned it, with
   * its role), as the leader learnt them; every node reads the same set (replica placement).
   */
  readonly hosts?: ReadonlyMap<string, readonly string[]>;
}

/**
 * Tuning of the sharding extension (all times in ms).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { shardingExtension, type ShardingTuning } from "@casty/casty/sharding";
 * const tuning: ShardingTuning = { rebalanceBatch: 5, bufferSize: 1000 };
 * assert.equal(shardingExtension(tuning).name, "sharding");
 * ```
 */
export interface ShardingTuning {
  /**
   * How long a node keeps hosting shards after the leader last heard from a majority; must be
   * below downing's `stableAfter`. @default {stableAfter / 2}
   */
  readonly leaseTimeout?: number;
  /**
   * How long before its lease runs out a node stops hosting (and its entities stop writing to
   * their journal), in ms: a write begun just before has this long to land before the leader may
   * move the shard, so the next owner reads it when it recovers. Must be below `leaseTimeout`.
   * @default {leaseTimeout / 10}
   */
  readonly writeMargin?: number;
  /** Period of the coordinator's state broadcast and of region housekeeping. @default {leaseTimeout / 4, at most 1000} */
  readonly tickInterval?: number;
  /** How long a hand-off waits for each step before going on without a peer. @default {3000} */
  readonly handoffTimeout?: number;
  /** Tolerated difference of shard counts between the most and least loaded node. @default {1} */
  readonly rebalanceThreshold?: number;
  /** Shards moved per rebalancing round (per type). @default {3} */
  readonly rebalanceBatch?: number;
  /** Messages buffered per shard while it has no location. @default {10000} */
  readonly bufferSize?: number;
  /** How long a buffered message waits before it is a `DeadLetter`. @default {10000} */
  readonly bufferTimeout?: number;
}

/** What a region tells the coordinator about itself. */
export interface RegionHandle {
  /** Whether this node may host entities of the type (role). */
  readonly eligible: boolean;
  /** The type's shard count on this node (every node must use the same). */
  readonly numShards: number;
  /** Shards with live entities (or started) on this node. */
  hosted(): number[];
  /** Shards for which this node's proxy buffers because of a hand-off (marker sent). */
  ready(): number[];
  /** Something changed: table, lease, or a hand-off order. */
  refresh(): void;
  /**
   * Called synchronously when the table or `leaseSeen` changes, before anything else runs: the
   * region's fast path must stop using what it worked out from the old ones at once.
   */
  invalidate(): void;
  /** Stop the shard's entities once markers from `markers` arrived, then report. */
  handoff(shard: number, markers: readonly string[]): void;
}

type WireEntry = [number, string, string, number, 0 | 1];
type WireTable = {
  epoch: number;
  version: number;
  types: Record<string, WireEntry[]>;
  hosts?: Record<string, string[]>;
};

type CoordinatorMsg =
  | {
    type: "state";
    leader: string;
    table: WireTable;
    lease: number;
    /** The number of this broadcast (the ack answering it names it). */
    n: number;
    /** The number of the receiver's latest ack the leader had (0: none). */
    echo: number;
  }
  | {
    type: "ack";
    from: string;
    epoch: number;
    /** This ack's number, counted by its sender. */
    seq: number;
    /** The number of the state broadcast it answers. */
    answers: number;
    types: string[];
    hostTypes: string[];
    numShards?: Record<string, number>;
    ready: string[];
    draining: boolean;
  }
  | { type: "allocate"; from: string; shardType: string; shard: number }
  | { type: "sync"; epoch: number; from: string }
  | {
    type: "syncReply";
    epoch: number;
    from: string;
    table: WireTable;
    hosted: Record<string, number[]>;
  }
  | { type: "handoff"; epoch: number; shardType: string; shard: number; markers: string[] }
  | { type: "handoffDone"; epoch: number; from: string; shardType: string; shard: number };

interface Handoff {
  readonly shardType: string;
  readonly shard: number;
  readonly from: string;
  readonly to: string | undefined;
  stage: "acks" | "stopping";
  waiting: Set<string>;
  at: number;
}

const keyOf = (type: string, shard: number) => `${type}/${shard}`;

function toWire(t: AllocationTable): WireTable {
  const types: Record<string, WireEntry[]> = {};
  for (const [name, m] of t.types) {
    types[name] = [...m].map(([s, e]) => [
      s,
      e.node,
      e.address.host,
      e.address.port,
      e.handoff ? 1 : 0,
    ]);
  }
  const hosts = t.hosts === undefined ? undefined : Object.fromEntries(
    [...t.hosts].map(([name, ids]) => [name, [...ids]]),
  );
  return { epoch: t.epoch, version: t.version, types, hosts };
}

function fromWire(w: WireTable): AllocationTable {
  const types = new Map<string, Map<number, ShardEntry>>();
  for (const [name, entries] of Object.entries(w.types)) {
    types.set(
      name,
      new Map(entries.map(([s, node, host, port, h]) => [s, {
        node,
        address: { host, port },
        handoff: h === 1,
      }])),
    );
  }
  const hosts = w.hosts === undefined ? undefined : new Map(Object.entries(w.hosts));
  return { epoch: w.epoch, version: w.version, types, hosts };
}

function sameSet(a: ReadonlySet<string> | undefined, b: ReadonlySet<string>): boolean {
  return a !== undefined && a.size === b.size && [...a].every((x) => b.has(x));
}

function newer(a: { epoch: number; version: number }, b: { epoch: number; version: number }) {
  return a.epoch > b.epoch || (a.epoch === b.epoch && a.version > b.version);
}

/** @internal The per-node coordinator (see the module doc). */
/** The coordinator of each node (by its `ClusterExtensionContext.node`), for the singletons. */
const COORDINATORS = new WeakMap<object, ShardCoordinator>();

/**
 * The shard coordinator of a node, if its sharding extension runs: singletons hold their
 * instance only under its lease.
 *
 * @internal
 */
export function coordinatorOf(node: object): ShardCoordinator | undefined {
  return COORDINATORS.get(node);
}

export class ShardCoordinator {
  readonly #ctx: ClusterExtensionContext;
  readonly #self: string;
  readonly #leaseTimeout: number;
  readonly #writeMargin: number;
  readonly #tick: number;
  readonly #handoffTimeout: number;
  readonly #threshold: number;
  readonly #batch: number;
  readonly #regions = new Map<string, RegionHandle>();
  #table: AllocationTable = { epoch: 0, version: 0, types: new Map() };
  #leaseUntil = -Infinity;
  #leaseOk = false;
  /** Counts the spells of valid lease: a new one begins each time a lost lease is regained. */
  #leaseTerm = 0;
  #leaseSeen = false;
  #leaseTimer: Cancellable | undefined;
  #timer: Cancellable | undefined;
  #draining = false;
  #stopped = false;
  #allocAsked = new Map<string, number>();
  // Leader state.
  #leading = 0;
  #recovery:
    | {
      epoch: number;
      waiting: Set<string>;
      replies: { table: AllocationTable; from: string; hosted: Record<string, number[]> }[];
      deadline: number;
    }
    | undefined;
  #work: Map<string, Map<number, ShardEntry>> = new Map();
  /** Member → the send time of the latest broadcast it answered (when it was surely alive). */
  #lastAck = new Map<string, number>();
  /** Member → the number of its latest ack (echoed in the states sent to it). */
  #lastAckSeq = new Map<string, number>();
  /** Member → when that latest ack arrived here. */
  #lastAckAt = new Map<string, number>();
  /**
   * Member → the latest moment (this node's clock) a lease this leader granted it can last: a
   * downed member's shards move only after it, since a member that is downed while it still
   * answers (an operator's `down`, a link cut to other members only) learns of it only when the
   * news arrives, and hosts its shards until then or until its lease runs out.
   */
  #grantedUntil = new Map<string, number>();
  readonly #leaseListeners = new Set<() => void>();
  /** The newest epoch whose leader asked this node for its table (0: none). */
  #supersededBy = 0;
  #leaseNotified = false;
  /** Broadcast number → when it was sent (the leader's side of a lease's round trip). */
  #stateSent = new Map<number, number>();
  #stateSeq = 0;
  /** Ack number → when it was sent (this node's side of a lease's round trip). */
  #ackSent = new Map<number, number>();
  #ackSeq = 0;
  #types = new Map<string, Set<string>>();
  #hostTypes = new Map<string, Set<string>>();
  #ready = new Map<string, Set<string>>();
  #drainingNodes = new Set<string>();
  #handoffs = new Map<string, Handoff>();
  #broadcastQueued = false;
  #shardCounts = new Map<string, { n: number; node: string }>();
  #warned = new Set<string>();
  #gone: Set<string> | undefined;
  #known = new Set<string>();
  readonly #unsubscribe: () => void;

  readonly #changed: () => void;
  #notified = "";

  constructor(ctx: ClusterExtensionContext, settings: ShardingTuning = {}, changed = () => {}) {
    this.#ctx = ctx;
    this.#changed = changed;
    COORDINATORS.set(ctx.node, this);
    this.#self = ctx.incarnation;
    this.#leaseTimeout = settings.leaseTimeout ?? Math.max(1, Math.floor(ctx.stableAfter / 2));
    if (this.#leaseTimeout >= ctx.stableAfter && ctx.stableAfter > 0) {
      throw new RangeError(
        `Sharding leaseTimeout (${this.#leaseTimeout} ms) must be below downing stableAfter (${ctx.stableAfter} ms)`,
      );
    }
    this.#writeMargin = settings.writeMargin ?? Math.floor(this.#leaseTimeout / 10);
    if (
      !Number.isFinite(this.#writeMargin) || this.#writeMargin < 0 ||
      this.#writeMargin >= this.#leaseTimeout
    ) {
      throw new RangeError(
        `Sharding writeMargin (${this.#writeMargin} ms) must be >= 0 and below leaseTimeout (${this.#leaseTimeout} ms)`,
      );
    }
    this.#tick = settings.tickInterval ?? Math.min(1000, Math.max(10, this.#leaseTimeout / 4));
    this.#handoffTimeout = settings.handoffTimeout ?? 3000;
    this.#threshold = settings.rebalanceThreshold ?? 1;
    this.#batch = settings.rebalanceBatch ?? 3;
    ctx.registerHandler(COORDINATOR_PATH, (_from, msg) => this.#receive(msg as CoordinatorMsg));
    this.#unsubscribe = ctx.subscribe(() => {
      this.#gone = undefined;
    });
    this.#schedule();
  }

  /** This node's member id. */
  get self(): string {
    return this.#self;
  }

  /** The allocation table this node knows. */
  get table(): AllocationTable {
    return this.#table;
  }

  /** The housekeeping period. */
  get tickInterval(): number {
    return this.#tick;
  }

  /** How long a lease lasts at most (ms): also how long a downed member may still host. */
  get leaseTimeout(): number {
    return this.#leaseTimeout;
  }

  /**
   * The number of the current spell of valid lease (a new one begins each time a lost lease is
   * regained): an entity may write only in the spell it started in.
   */
  get leaseTerm(): number {
    return this.#leaseTerm;
  }

  /** When the last lease this node held runs (or ran) out, on its clock (-Infinity: never had one). */
  get leaseUntil(): number {
    return this.#leaseUntil;
  }

  /**
   * Calls `listener` whenever `leaseSeen` changes (the singletons' managers re-evaluate).
   *
   * @returns A function that removes the listener.
   */
  onLeaseChange(listener: () => void): () => void {
    this.#leaseListeners.add(listener);
    return () => this.#leaseListeners.delete(listener);
  }

  /**
   * Whether this node may keep hosting the shards it hosts: its lease has not run out. A lease
   * outlives a leader change (a new leader keeps what was decided, and waits out a lease for
   * nodes that do not answer before it decides anything), so a new leader does not stop every
   * entity of the cluster; starting a shard needs the current epoch ({@linkcode canStart}).
   */
  get leaseValid(): boolean {
    return this.#leaseOk;
  }

  /**
   * `leaseValid` as of the last table, lease change or housekeeping tick: the check of the local
   * delivery fast path, which reads it per message. A lost lease clears it at once.
   */
  get leaseSeen(): boolean {
    return this.#leaseSeen;
  }

  /** Whether this node may start a shard now: valid lease and a table of the current epoch. */
  get canStart(): boolean {
    // A leaving node still serves what is allocated to it until it is handed off.
    return this.#leaseOk && this.#table.epoch >= this.#ctx.node.leaderEpoch;
  }

  /** Whether this node is leaving (it hands its shards over and takes no new ones). */
  get draining(): boolean {
    return this.#draining;
  }

  /** The entry of a shard, if allocated. */
  entry(type: string, shard: number): ShardEntry | undefined {
    return this.#table.types.get(type)?.get(shard);
  }

  /** Whether `id` is a member that is not downed or removed (as far as this node knows). */
  isLive(id: string): boolean {
    if (this.#gone === undefined) {
      this.#gone = new Set(
        this.#members().filter((m) => m.status === "down" || m.status === "removed").map((m) =>
          m.id
        ),
      );
      this.#known = new Set(this.#members().map((m) => m.id));
    }
    return !this.#gone.has(id) && (this.#known.has(id) || id === this.#self);
  }

  /** Registers a region of this node. */
  addRegion(type: string, region: RegionHandle): void {
    this.#regions.set(type, region);
  }

  /** Asks the leader for an allocation (at most once per tick per shard). */
  requestAllocation(type: string, shard: number): void {
    const key = keyOf(type, shard);
    const now = this.#ctx.clock.now();
    if ((this.#allocAsked.get(key) ?? -Infinity) > now - this.#tick) return;
    this.#allocAsked.set(key, now);
    const leader = this.#ctx.node.leader;
    if (leader === undefined) return;
    this.#ctx.sendSystem(leader, COORDINATOR_PATH, {
      type: "allocate",
      from: this.#self,
      shardType: type,
      shard,
    });
  }

  /** The region finished stopping a shard it hands off. */
  handoffDone(type: string, shard: number): void {
    const leader = this.#ctx.node.leader;
    if (leader === undefined) return;
    this.#ctx.sendSystem(leader, COORDINATOR_PATH, {
      type: "handoffDone",
      epoch: this.#table.epoch,
      from: this.#self,
      shardType: type,
      shard,
    });
  }

  /**
   * Starts handing every shard of this node over; resolves once none is allocated here or
   * hosted here any more (the caller bounds the wait).
   */
  drain(): Promise<void> {
    this.#draining = true;
    this.#refreshRegions();
    const { promise, resolve } = Promise.withResolvers<void>();
    const check = () => {
      if (this.#stopped || this.#ownsNothing()) return resolve();
      this.#ctx.clock.setTimeout(check, this.#tick);
    };
    check();
    return promise;
  }

  /** Stops the timers. */
  stop(): void {
    this.#stopped = true;
    this.#setLeaseSeen(false);
    COORDINATORS.delete(this.#ctx.node);
    this.#unsubscribe();
    this.#leaseTimer?.cancel();
    this.#timer?.cancel();
  }

  #ownsNothing(): boolean {
    for (const [type, m] of this.#table.types) {
      for (const e of m.values()) if (e.node === this.#self) return false;
      if ((this.#regions.get(type)?.hosted().length ?? 0) > 0) return false;
    }
    return true;
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = this.#ctx.clock.setTimeout(() => {
      try {
        this.#onTick();
      } catch (err) {
        this.#ctx.log.error("sharding coordinator tick failed", err);
      }
      this.#schedule();
    }, this.#tick);
  }

  #loseLease(): void {
    this.#leaseTimer?.cancel();
    this.#leaseTimer = undefined;
    this.#leaseOk = false;
    this.#setLeaseSeen(false);
    this.#refreshRegions();
  }

  /**
   * Whether an entity started in lease spell `term` may write to its journal now: the lease is
   * valid by the clock (not only by its timer, which a stalled event loop delays) and has not
   * been lost since. A write begun now lands before the leader may move the shard, unless it
   * takes longer than `writeMargin`.
   */
  mayWrite(term: number): boolean {
    return this.#leaseOk && term === this.#leaseTerm &&
      this.#ctx.clock.now() < this.#leaseUntil - this.#writeMargin;
  }

  /** Tells every region to look at the table again (and notes the lease for the fast path). */
  #refreshRegions(): void {
    this.#setLeaseSeen(this.leaseValid);
    for (const r of this.#regions.values()) r.refresh();
    if (this.#leaseNotified !== this.#leaseSeen) {
      this.#leaseNotified = this.#leaseSeen;
      for (const l of this.#leaseListeners) l();
    }
  }

  // Every change of the table goes through here: the regions' fast paths hear of it at once.
  #setTable(table: AllocationTable): void {
    this.#table = table;
    for (const r of this.#regions.values()) r.invalidate();
  }

  // Every change of `leaseSeen` goes through here, for the same reason.
  #setLeaseSeen(seen: boolean): void {
    if (this.#leaseSeen === seen) return;
    this.#leaseSeen = seen;
    for (const r of this.#regions.values()) r.invalidate();
  }

  #onTick(): void {
    this.#leaderTick();
    this.#refreshRegions();
  }

  // ---------------------------------------------------------------------------------------------
  // Every node

  #receive(msg: CoordinatorMsg): void {
    if (this.#stopped) return;
    switch (msg.type) {
      case "state":
        return this.#onState(msg.leader, fromWire(msg.table), msg.lease, msg.n, msg.echo);
      case "sync": {
        if (msg.epoch < this.#ctx.node.leaderEpoch) return;
        // A leader of a newer epoch collects the tables: this node renews no lease under an
        // older one from now on (what it granted ends within `leaseTimeout` of this answer).
        if (msg.epoch > this.#supersededBy) this.#supersededBy = msg.epoch;
        const leader = this.#addressOf(msg.from);
        if (leader === undefined) return;
        this.#ctx.sendSystem(leader, COORDINATOR_PATH, {
          type: "syncReply",
          epoch: msg.epoch,
          from: this.#self,
          table: toWire(this.#table),
          hosted: this.#hostedRecord(),
        });
        return;
      }
      case "handoff": {
        if (msg.epoch < this.#table.epoch) return;
        this.#regions.get(msg.shardType)?.handoff(msg.shard, msg.markers);
        return;
      }
      default:
        return this.#leaderReceive(msg);
    }
  }

  /**
   * A state from `leader`: its table, and `lease` ms of hosting counted from when this node sent
   * ack number `echo` (now, from this node itself); `n` is the broadcast's number.
   */
  #onState(
    leader: string,
    table: AllocationTable,
    lease: number,
    n: number,
    echo: number,
  ): void {
    if (table.epoch < this.#ctx.node.leaderEpoch) return; // a stale leader
    if (
      newer(table, this.#table) ||
      (table.epoch === this.#table.epoch && table.version === this.#table.version)
    ) {
      this.#setTable(table);
    } else if (table.epoch < this.#table.epoch) {
      return;
    }
    // Topology subscribers (cluster clients) learn every new table at once, not at their next
    // refresh: a client that still routes by the old one sends to the old owner (the slow path).
    const version = `${this.#table.epoch}:${this.#table.version}`;
    if (version !== this.#notified) {
      this.#notified = version;
      this.#changed();
    }
    const now = this.#ctx.clock.now();
    const anchor = leader === this.#self ? now : this.#ackSent.get(echo);
    // Acks before the echoed one are answered (later states echo the same or newer ones), and an
    // ack older than the lease could not anchor one: both are a prefix of the map, oldest first.
    for (const [seq, at] of this.#ackSent) {
      if (seq >= echo && now - at <= this.#leaseTimeout) break;
      this.#ackSent.delete(seq);
    }
    // This node hosts until `writeMargin` before the lease ends: what its entities began writing
    // by then lands before the leader (which waits out the whole lease) may move their shards.
    const margin = this.#writeMargin;
    // A lease that ran out while its timer waited behind other work (a stalled event loop) is
    // lost before it is renewed: its entities stop, and those of the new spell start afresh.
    if (this.#leaseOk && now >= this.#leaseUntil - margin) this.#loseLease();
    if (lease > 0 && anchor !== undefined && anchor + lease - margin > now) {
      if (anchor + lease > this.#leaseUntil) {
        this.#leaseUntil = anchor + lease;
        if (!this.#leaseOk) this.#leaseTerm++;
        this.#leaseOk = true;
        // The lease ends on a timer, so that the hot path needs no clock read.
        this.#leaseTimer?.cancel();
        this.#leaseTimer = this.#ctx.clock.setTimeout(() => {
          this.#leaseTimer = undefined;
          if (this.#ctx.clock.now() < this.#leaseUntil - margin) return;
          this.#loseLease();
        }, this.#leaseUntil - margin - now);
      }
    }
    this.#refreshRegions();
    const to = this.#addressOf(leader);
    if (to === undefined) return;
    const seq = ++this.#ackSeq;
    this.#ackSent.set(seq, now);
    const ack: CoordinatorMsg = {
      type: "ack",
      from: this.#self,
      epoch: table.epoch,
      seq,
      answers: n,
      types: [...this.#regions.keys()],
      hostTypes: [...this.#regions].filter(([, r]) => r.eligible).map(([t]) => t),
      numShards: Object.fromEntries([...this.#regions].map(([t, r]) => [t, r.numShards])),
      ready: [...this.#regions].flatMap(([t, r]) => r.ready().map((s) => keyOf(t, s))),
      draining: this.#draining,
    };
    if (leader === this.#self) this.#leaderReceive(ack);
    else this.#ctx.sendSystem(to, COORDINATOR_PATH, ack);
  }

  #hostedRecord(): Record<string, number[]> {
    const hosted: Record<string, number[]> = {};
    for (const [t, r] of this.#regions) hosted[t] = r.hosted();
    return hosted;
  }

  #members(): readonly Member[] {
    return this.#ctx.view().members;
  }

  #addressOf(id: string): NodeAddress | undefined {
    if (id === this.#self) return this.#ctx.selfAddress;
    return this.#members().find((m) => m.id === id)?.address;
  }

  // ---------------------------------------------------------------------------------------------
  // The leader

  #isLeader(): boolean {
    return this.#ctx.node.membership.isLeader;
  }

  #reachable(): Member[] {
    const unreachable = new Set(this.#ctx.node.membership.unreachable.map((m) => m.id));
    return this.#members().filter((m) =>
      (m.status === "up" || m.status === "leaving" || m.status === "joining") &&
      !unreachable.has(m.id)
    );
  }

  #leaderTick(): void {
    if (!this.#isLeader()) {
      if (
        this.#leading !== 0 && this.#leading === this.#ctx.node.leaderEpoch &&
        this.#leading >= this.#supersededBy && this.#ctx.node.membership.holdsLeaderEpoch
      ) {
        // Another member became the acting leader (a lower address joined) but has not claimed
        // the next epoch yet: keep renewing the leases under this one, and decide nothing, so
        // that shards do not pause for the whole hand-over (nodes drop this epoch's states as
        // soon as they see the next one).
        this.#broadcast();
        return;
      }
      if (this.#leading !== 0 || this.#recovery !== undefined) {
        this.#leading = 0;
        this.#recovery = undefined;
        this.#handoffs.clear();
      }
      return;
    }
    const epoch = this.#ctx.node.leaderEpoch;
    if (this.#leading !== epoch) {
      if (this.#recovery?.epoch !== epoch) this.#startRecovery(epoch);
      else this.#maybeFinishRecovery();
      return;
    }
    this.#prune();
    this.#rebalance();
    this.#progressHandoffs();
    this.#broadcast();
  }

  #startRecovery(epoch: number): void {
    const others = this.#reachable().filter((m) => m.id !== this.#self);
    this.#recovery = {
      epoch,
      waiting: new Set(others.map((m) => m.id)),
      replies: [{ table: this.#table, from: this.#self, hosted: this.#hostedRecord() }],
      // A silent node's lease ran out by then, even one a former leader renewed until this
      // sync reached it (a tick covers the trip).
      deadline: this.#ctx.clock.now() + this.#leaseTimeout + this.#tick,
    };
    for (const m of others) {
      this.#ctx.sendSystem(m.address, COORDINATOR_PATH, { type: "sync", epoch, from: this.#self });
    }
    this.#maybeFinishRecovery();
  }

  #maybeFinishRecovery(): void {
    const r = this.#recovery;
    if (r === undefined) return;
    if (r.waiting.size > 0 && this.#ctx.clock.now() < r.deadline) return;
    let best = r.replies[0].table;
    for (const x of r.replies) if (newer(x.table, best)) best = x.table;
    const work = new Map<string, Map<number, ShardEntry>>();
    for (const [t, m] of best.types) {
      // A hand-off the previous leader did not finish is cancelled: the owner keeps the shard.
      work.set(t, new Map([...m].map(([s, e]) => [s, { ...e, handoff: false }])));
    }
    for (const x of r.replies) {
      const address = this.#addressOf(x.from);
      if (address === undefined) continue;
      for (const [t, shards] of Object.entries(x.hosted)) {
        let m = work.get(t);
        if (m === undefined) work.set(t, m = new Map());
        for (const s of shards) if (!m.has(s)) m.set(s, { node: x.from, address, handoff: false });
      }
    }
    this.#work = work;
    // A former leader may have granted leases until it answered (or until the deadline): count
    // them as running `leaseTimeout` from now, so a member downed soon keeps its shards until
    // they have surely run out.
    const until = this.#ctx.clock.now() + this.#leaseTimeout;
    for (const m of this.#members()) if (m.id !== this.#self) this.#grantedUntil.set(m.id, until);
    this.#leading = r.epoch;
    this.#recovery = undefined;
    this.#handoffs.clear();
    this.#setTable({
      epoch: r.epoch,
      version: best.version + 1,
      types: this.#snapshotWork(),
      hosts: this.#hostsOf(best),
    });
    this.#prune();
    this.#broadcast();
  }

  #snapshotWork(): Map<string, Map<number, ShardEntry>> {
    return new Map([...this.#work].map(([t, m]) => [t, new Map(m)]));
  }

  /**
   * The hosts of every type: live members that said (in their last ack) that they host it, and
   * those that did not ack yet as `previous` had them.
   */
  #hostsOf(previous: AllocationTable): Map<string, string[]> {
    const live = this.#members().filter((m) => m.status !== "down" && m.status !== "removed")
      .map((m) => m.id);
    if (!live.includes(this.#self)) live.push(this.#self);
    const hosts = new Map<string, string[]>();
    const add = (type: string, id: string) => {
      const ids = hosts.get(type);
      if (ids === undefined) hosts.set(type, [id]);
      else if (!ids.includes(id)) ids.push(id);
    };
    for (const id of live) {
      const types = this.#hostTypes.get(id);
      if (types !== undefined) { for (const t of types) add(t, id); }
      else {
        for (const [t, ids] of previous.hosts ?? []) if (ids.includes(id)) add(t, id);
      }
    }
    for (const ids of hosts.values()) ids.sort();
    return hosts;
  }

  #commit(): void {
    this.#setTable({
      epoch: this.#leading,
      version: this.#table.version + 1,
      types: this.#snapshotWork(),
      hosts: this.#hostsOf(this.#table),
    });
    if (!this.#broadcastQueued) {
      this.#broadcastQueued = true;
      queueMicrotask(() => {
        this.#broadcastQueued = false;
        if (this.#leading !== 0 && this.#isLeader()) this.#broadcast();
      });
    }
  }

  #leaderReceive(msg: CoordinatorMsg): void {
    const active = this.#leading !== 0 && this.#leading === this.#ctx.node.leaderEpoch &&
      this.#isLeader();
    switch (msg.type) {
      case "ack": {
        if (msg.epoch !== this.#leading) return;
        // Heard from at the latest when the state it answers was sent (not when the ack came).
        const sent = this.#stateSent.get(msg.answers);
        if (sent !== undefined && sent > (this.#lastAck.get(msg.from) ?? -Infinity)) {
          this.#lastAck.set(msg.from, sent);
        }
        if (msg.seq > (this.#lastAckSeq.get(msg.from) ?? 0)) {
          this.#lastAckSeq.set(msg.from, msg.seq);
          this.#lastAckAt.set(msg.from, this.#ctx.clock.now());
        }
        this.#types.set(msg.from, new Set(msg.types));
        const hostTypes = new Set(msg.hostTypes);
        const hostsChanged = !sameSet(this.#hostTypes.get(msg.from), hostTypes);
        this.#hostTypes.set(msg.from, hostTypes);
        this.#ready.set(msg.from, new Set(msg.ready));
        if (msg.draining) this.#drainingNodes.add(msg.from);
        this.#checkShardCounts(msg.from, msg.numShards ?? {});
        // Every node learns the new hosts of a type with the next table.
        if (active && hostsChanged && !this.#hostsCurrent(msg.from, hostTypes)) this.#commit();
        if (active) this.#progressHandoffs();
        return;
      }
      case "syncReply": {
        const r = this.#recovery;
        if (r === undefined || msg.epoch !== r.epoch || !r.waiting.has(msg.from)) return;
        r.waiting.delete(msg.from);
        r.replies.push({ table: fromWire(msg.table), from: msg.from, hosted: msg.hosted });
        this.#maybeFinishRecovery();
        return;
      }
      case "allocate": {
        if (!active) return;
        let m = this.#work.get(msg.shardType);
        if (m?.has(msg.shard)) {
          this.#broadcastTo(msg.from);
          return;
        }
        const to = leastShardNode(
          m === undefined ? [] : [...m.values()].map((e) => e.node),
          this.#candidates(msg.shardType),
        );
        const address = to === undefined ? undefined : this.#addressOf(to);
        if (to === undefined || address === undefined) return;
        if (m === undefined) this.#work.set(msg.shardType, m = new Map());
        m.set(msg.shard, { node: to, address, handoff: false });
        this.#commit();
        return;
      }
      case "handoffDone": {
        if (!active) return;
        const key = keyOf(msg.shardType, msg.shard);
        const h = this.#handoffs.get(key);
        if (h === undefined || h.from !== msg.from) return;
        this.#handoffs.delete(key);
        const m = this.#work.get(msg.shardType)!;
        const candidates = this.#candidates(msg.shardType).filter((c) => c !== h.from);
        const to = h.to !== undefined && candidates.includes(h.to)
          ? h.to
          : leastShardNode([...m.values()].map((e) => e.node), candidates);
        const address = to === undefined ? undefined : this.#addressOf(to);
        if (to === undefined || address === undefined) m.delete(msg.shard);
        else m.set(msg.shard, { node: to, address, handoff: false });
        this.#commit();
        return;
      }
    }
  }

  /** Whether the table's hosts already say that `id` hosts exactly `types`. */
  #hostsCurrent(id: string, types: ReadonlySet<string>): boolean {
    const hosts = this.#table.hosts;
    if (hosts === undefined) return types.size === 0;
    for (const [t, ids] of hosts) if (ids.includes(id) !== types.has(t)) return false;
    for (const t of types) if (!hosts.has(t)) return false;
    return true;
  }

  /** A type spawned with different shard counts splits its entities: say so, once per type. */
  #checkShardCounts(from: string, counts: Record<string, number>): void {
    for (const [type, n] of Object.entries(counts)) {
      const first = this.#shardCounts.get(type);
      if (first === undefined) this.#shardCounts.set(type, { n, node: from });
      else if (first.n !== n && !this.#warned.has(type)) {
        this.#warned.add(type);
        this.#ctx.log.error(
          `Sharded type "${type}" has numShards ${first.n} on node ${first.node} but ${n} on ` +
            `node ${from}: the same entity id maps to different shards; spawn it with the same ` +
            `numShards everywhere`,
        );
      }
    }
  }

  #broadcastTo(id: string): void {
    const address = this.#addressOf(id);
    if (address === undefined) return;
    this.#sendState(id, address, this.#majorityAt(), this.#nextState());
  }

  #candidates(type: string): string[] {
    return this.#reachable()
      .filter((m) =>
        m.status === "up" && !this.#drainingNodes.has(m.id) &&
        (this.#hostTypes.get(m.id)?.has(type) ?? false)
      )
      .map((m) => m.id);
  }

  /** The last moment a majority of the members was heard from (-Infinity: never). */
  #majorityAt(): number {
    const now = this.#ctx.clock.now();
    const voters = this.#members().filter((m) =>
      m.status === "up" || m.status === "leaving" || m.status === "exiting"
    );
    if (voters.length === 0) return -Infinity;
    const times = voters.map((m) =>
      m.id === this.#self ? now : (this.#lastAck.get(m.id) ?? -Infinity)
    ).sort((a, b) => b - a);
    return times[Math.floor(voters.length / 2)];
  }

  /**
   * The lease granted to member `id`, counted on its side from its ack echoed in the state (sent
   * no later than that ack arrived here). It ends by `leaseTimeout` after that ack and by
   * `leaseTimeout` after `majorityAt`: `leaseTimeout` less however much later than `majorityAt`
   * the ack arrived. Timing it from the ack's arrival rather than from now does not count the
   * wait for the next broadcast twice.
   */
  #leaseFor(id: string, majorityAt: number): number {
    const heard = id === this.#self ? this.#ctx.clock.now() : this.#lastAckAt.get(id);
    if (heard === undefined) return 0;
    return Math.max(0, this.#leaseTimeout - Math.max(0, heard - majorityAt));
  }

  /** Numbers a new state broadcast and notes when it was sent. */
  #nextState(): number {
    const now = this.#ctx.clock.now();
    const n = ++this.#stateSeq;
    this.#stateSent.set(n, now);
    // An answer to a broadcast older than the lease could not count anyway.
    for (const [k, t] of this.#stateSent) {
      if (now - t <= this.#leaseTimeout) break;
      this.#stateSent.delete(k);
    }
    return n;
  }

  #broadcast(): void {
    const majorityAt = this.#majorityAt();
    const n = this.#nextState();
    for (const m of this.#members()) {
      if (m.status === "down" || m.status === "removed") continue;
      this.#sendState(m.id, m.address, majorityAt, n);
    }
  }

  #sendState(id: string, address: NodeAddress, majorityAt: number, n: number): void {
    const lease = this.#leaseFor(id, majorityAt);
    if (id === this.#self) {
      this.#onState(this.#self, this.#table, lease, n, 0);
      return;
    }
    // The member counts `lease` from its ack, sent before that ack arrived here.
    const heard = this.#lastAckAt.get(id);
    if (lease > 0 && heard !== undefined) {
      const until = heard + lease;
      if (until > (this.#grantedUntil.get(id) ?? -Infinity)) this.#grantedUntil.set(id, until);
    }
    this.#ctx.sendSystem(address, COORDINATOR_PATH, {
      type: "state",
      leader: this.#self,
      table: toWire(this.#table),
      lease,
      n,
      echo: this.#lastAckSeq.get(id) ?? 0,
    });
  }

  /**
   * Forgets shards of nodes that are gone (downed or removed): they are allocated anew, once the
   * last lease this leader granted the node has run out (until then they wait, and messages for
   * them wait in the regions' buffers).
   */
  #prune(): void {
    const live = new Map(
      this.#members().filter((m) => m.status !== "down" && m.status !== "removed").map((
        m,
      ) => [m.id, m]),
    );
    const now = this.#ctx.clock.now();
    const leased = (id: string) => (this.#grantedUntil.get(id) ?? -Infinity) > now;
    let changed = false;
    for (const [type, m] of this.#work) {
      for (const [s, e] of m) {
        if (!live.has(e.node) && e.node !== this.#self && !leased(e.node)) {
          m.delete(s);
          this.#handoffs.delete(keyOf(type, s));
          changed = true;
        }
      }
    }
    for (const id of [...this.#drainingNodes]) if (!live.has(id)) this.#drainingNodes.delete(id);
    // Per-node bookkeeping of members that are gone (every restart is a new id).
    for (
      const map of [
        this.#lastAck,
        this.#lastAckSeq,
        this.#lastAckAt,
        this.#types,
        this.#hostTypes,
        this.#ready,
      ]
    ) {
      for (const id of [...map.keys()]) if (!live.has(id) && id !== this.#self) map.delete(id);
    }
    for (const id of [...this.#grantedUntil.keys()]) {
      if (!live.has(id) && !leased(id)) this.#grantedUntil.delete(id);
    }
    for (const m of live.values()) if (m.status === "leaving") this.#drainingNodes.add(m.id);
    if (changed) this.#commit();
  }

  #rebalance(): void {
    if (this.#handoffs.size > 0) return;
    for (const [type, m] of this.#work) {
      const candidates = this.#candidates(type);
      // A leaving node's shards go first, all at once.
      const leaving = [...m].filter(([, e]) => this.#drainingNodes.has(e.node));
      if (leaving.length > 0) {
        for (const [s, e] of leaving) {
          const to = leastShardNode([...m.values()].map((x) => x.node), candidates);
          this.#startHandoff(type, s, e, to);
        }
        continue;
      }
      const owners = new Map([...m].map(([s, e]) => [s, e.node]));
      for (const move of rebalanceMoves(owners, candidates, this.#threshold, this.#batch)) {
        this.#startHandoff(type, move.shard, m.get(move.shard)!, move.to);
      }
    }
  }

  #startHandoff(type: string, shard: number, e: ShardEntry, to: string | undefined): void {
    const m = this.#work.get(type)!;
    m.set(shard, { ...e, handoff: true });
    const waiting = new Set(
      this.#reachable().filter((x) => this.#types.get(x.id)?.has(type)).map((x) => x.id),
    );
    this.#handoffs.set(keyOf(type, shard), {
      shardType: type,
      shard,
      from: e.node,
      to,
      stage: "acks",
      waiting,
      at: this.#ctx.clock.now(),
    });
    this.#commit();
  }

  #progressHandoffs(): void {
    const now = this.#ctx.clock.now();
    const reachable = new Set(this.#reachable().map((m) => m.id));
    for (const [key, h] of this.#handoffs) {
      const m = this.#work.get(h.shardType);
      if (m?.get(h.shard)?.node !== h.from) {
        this.#handoffs.delete(key);
        continue;
      }
      if (h.stage === "acks") {
        const ready = [...h.waiting].filter((id) => this.#ready.get(id)?.has(key));
        const pending = [...h.waiting].filter((id) => !ready.includes(id) && reachable.has(id));
        if (pending.length > 0 && now - h.at < this.#handoffTimeout) continue;
        const address = this.#addressOf(h.from);
        if (address === undefined) continue;
        h.stage = "stopping";
        h.at = now;
        const msg: CoordinatorMsg = {
          type: "handoff",
          epoch: this.#leading,
          shardType: h.shardType,
          shard: h.shard,
          markers: ready,
        };
        if (h.from === this.#self) this.#receive(msg);
        else this.#ctx.sendSystem(address, COORDINATOR_PATH, msg);
      } else if (now - h.at > 2 * this.#handoffTimeout) {
        // The owner never finished: it keeps the shard (it stops only on a lost lease).
        this.#handoffs.delete(key);
        m.set(h.shard, { ...m.get(h.shard)!, handoff: false });
        this.#commit();
      }
    }
  }
}
