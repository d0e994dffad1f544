/**
 * The region of a sharded type on one node: the actor at `/<name>` that `node.spawn` of
 * `Behaviors.sharded(...)` returns. It routes each `ShardEnvelope` to the node that owns the
 * entity's shard (the replicated allocation table is its location cache), hosts the entities of
 * the shards this node owns as its children, buffers (bounded) what has no location yet, and
 * takes part in hand-offs.
 *
 * @module
 */
import type { ActorContext } from "../actor/actor_context.ts";
import { ACTOR_REF, type ActorRef } from "../actor/actor_ref.ts";
import { type Behavior, Behaviors } from "../actor/behaviors.ts";
import { DeadLetter, Terminated } from "../actor/events.ts";
import { eventSourcedHooks } from "../persistence/event_sourced.ts";
import {
  ActorCell,
  type CellClass,
  localCell,
  terminationOf,
  WATCHABLE,
  type Watchable,
  watchChildren,
} from "../actor/internal.ts";
import type { ClusterExtensionContext } from "../cluster/extension.ts";
import { entityShard, rememberShardHash, shardHashOf } from "./entity_shard.ts";
import type {
  AllocationTable,
  RegionHandle,
  ShardCoordinator,
  ShardEntry,
} from "./shard_coordinator.ts";
import { ShardEnvelope } from "./shard_envelope.ts";
import { type PendingMessage, ShardBuffers } from "./shard_proxy.ts";

/**
 * A message routed from one region to another (counts hops so that routing cannot loop).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ShardForward } from "@casty/casty/sharding";
 * const f = new ShardForward("alice", { type: "deposit" }, 1, "node-id");
 * assert.equal(f.hops, 1);
 * ```
 */
export class ShardForward {
  /** Discriminant. */
  readonly type = "shardForward" as const;
  /**
   * Creates a ShardForward.
   *
   * @param entityId The entity.
   * @param message Its message.
   * @param hops Regions it went through.
   * @param from The member id of the node that sent it.
   */
  constructor(
    readonly entityId: string,
    readonly message: unknown,
    readonly hops: number,
    readonly from: string,
  ) {}
}

/**
 * Sent by a region to the owner of a shard that is being handed off, on the same path as its
 * forwarded messages: once the owner has every marker, nothing more is on its way.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HandoffMarker } from "@casty/casty/sharding";
 * assert.equal(new HandoffMarker(7, "node-id").shard, 7);
 * ```
 */
export class HandoffMarker {
  /** Discriminant. */
  readonly type = "handoffMarker" as const;
  /**
   * Creates a HandoffMarker.
   *
   * @param shard The shard.
   * @param from The sending node's member id.
   */
  constructor(readonly shard: number, readonly from: string) {}
}

/**
 * What a region sends, as the message of an envelope, to start an entity without giving it a
 * message: replication wakes idle entities this way after a node holding their logs was lost, so
 * that the entity's start refills its replicas. A live entity ignores it; it never reaches the
 * entity's behavior, and one that cannot be delivered is not a dead letter (nothing of the user's
 * is lost: the waker is told and tries again).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EntityWake, ShardEnvelope } from "@casty/casty/sharding";
 * const e = new ShardEnvelope("alice", new EntityWake());
 * assert.equal(e.message.type, "entityWake");
 * ```
 */
export class EntityWake {
  /** Discriminant. */
  readonly type = "entityWake" as const;
}

/** What the region of one type needs. */
export interface RegionSpec {
  /** The type name (the region's actor name). */
  readonly name: string;
  /** Builds the behavior of an entity. */
  readonly factory: (entityId: string) => Behavior<unknown>;
  /** Number of shards. */
  readonly numShards: number;
  /** Stop entities idle this long (ms); `undefined`: never. */
  readonly passivateAfter?: number;
  /** Whether this node may host entities (its roles fit). */
  readonly eligible: boolean;
  /** Buffer bound per shard. */
  readonly bufferSize: number;
  /** Buffer timeout (ms). */
  readonly bufferTimeout: number;
  /** Told when an entity of this node has stopped (its `Terminated` was handled). */
  readonly entityStopped?: (entityId: string) => void;
  /** Told when an {@linkcode EntityWake} for `entityId` could not be delivered. */
  readonly wakeLost?: (entityId: string) => void;
}

type Control =
  | { readonly type: "_refresh" }
  | { readonly type: "_handoff"; readonly shard: number; readonly markers: readonly string[] };

type RegionMsg =
  | ShardEnvelope<unknown>
  | ShardForward
  | HandoffMarker
  | Control
  | Terminated;

/** @internal What the region shares with its fast ref. */
export interface RegionFastPath {
  /** Delivers straight to a live local entity when that keeps every order; false otherwise. */
  tryLocal: (envelope: ShardEnvelope<unknown>) => boolean;
}

/**
 * The ref `node.spawn(Behaviors.sharded(...))` returns: the region's ref, plus a fast path that
 * hands an envelope for a live entity of a shard this node hosts straight to the entity (one
 * mailbox hop instead of two), as long as the region's mailbox is empty (no earlier envelope
 * still waits there, so per-sender order holds). Watching it watches the region: `Terminated`
 * with this ref comes when the region has stopped.
 */
export class ShardRegionRef<M> implements ActorRef<ShardEnvelope<M>> {
  readonly #region: ActorRef<RegionMsg>;
  readonly #fast: RegionFastPath;
  /** The region's mailbox (a local region's ref is a cell's ref). */
  readonly #mailbox: { readonly hasQueued: boolean };
  #watch: Watchable | undefined;

  /** @internal */
  constructor(region: ActorRef<never>, fast: RegionFastPath) {
    this.#region = region as unknown as ActorRef<RegionMsg>;
    this.#fast = fast;
    this.#mailbox = (region as { cell?: { readonly hasQueued: boolean } }).cell ??
      { hasQueued: true };
  }

  /** Marks it as an actor ref. */
  get [ACTOR_REF](): true {
    return true;
  }

  /** @internal Death watch of the region through this ref. */
  get [WATCHABLE](): Watchable {
    return this.#watch ??= regionWatch(this as ActorRef<never>, this.#region as ActorRef<never>);
  }

  /** The region's path (the type name). */
  get path(): string {
    return this.#region.path;
  }

  /** The region's URI. */
  get address(): string {
    return this.#region.address;
  }

  /** Routes an envelope to its entity. */
  tell(msg: ShardEnvelope<M>): void {
    // Anything waiting in the region's mailbox may be an earlier envelope: no overtaking it.
    if (
      msg instanceof ShardEnvelope && !this.#mailbox.hasQueued && this.#fast.tryLocal(msg)
    ) return;
    this.#region.tell(msg as unknown as RegionMsg);
  }

  /** Like {@linkcode ShardRegionRef.tell} (waits for room in a bounded region mailbox). */
  send(msg: ShardEnvelope<M>): Promise<void> {
    this.tell(msg);
    return Promise.resolve();
  }

  /** `ActorRef(<uri>)`. */
  toString(): string {
    return `ActorRef(${this.address})`;
  }

  /** The URI, as refs serialize. */
  toJSON(): string {
    return this.address;
  }
}

/** Watchers of `ref` are told `Terminated(ref)` once `region` has terminated. */
function regionWatch(ref: ActorRef<never>, region: ActorRef<never>): Watchable {
  let watchers: Set<ActorCell<unknown>> | undefined;
  let terminated = false;
  return {
    addWatcher(cell) {
      if (terminated) return false;
      if (watchers === undefined) {
        watchers = new Set();
        terminationOf(region).then(() => {
          terminated = true;
          const all = watchers!;
          watchers = undefined;
          for (const w of all) w.deliverTerminated(ref);
        });
      }
      watchers.add(cell);
      return true;
    },
    removeWatcher(cell) {
      watchers?.delete(cell);
    },
  };
}

/**
 * The cell of an entity, which is also what the region keeps per entity: the region's child
 * registry is its one table of entities (no map of its own to keep in step with it, and no
 * record object per entity).
 */
class EntityCell extends ActorCell<unknown> {
  /** Its shard. */
  shard = 0;
  /** When it last got a message (ms of the region's coarse clock). */
  lastUsed = 0;
  /**
   * What few entities have (an escaped id, a stop in progress): one field, `undefined` for
   * nearly all of them, so the fast path checks both with one load.
   */
  odd: EntityOdd | undefined = undefined;

  /** Set once a stop is requested: new messages wait in it until the entity has stopped. */
  get stopping(): Stopping | undefined {
    return this.odd?.stopping;
  }
  set stopping(v: Stopping | undefined) {
    (this.odd ??= { escapedId: undefined, stopping: undefined }).stopping = v;
  }

  /** The entity id when the child name is its escaped form; `undefined`: the id is the name. */
  get escapedId(): string | undefined {
    return this.odd?.escapedId;
  }

  /** The entity id. */
  get id(): string {
    return this.odd?.escapedId ?? this.name;
  }
}

/** The rarely set part of an entity's cell. */
interface EntityOdd {
  readonly escapedId: string | undefined;
  stopping: Stopping | undefined;
}

/** Every child of the region is an entity. */
const entityOf = (cell: ActorCell<unknown>): EntityCell => cell as EntityCell;

interface Stopping {
  /** When the stop was requested (a drain that never finishes is forced after a while). */
  readonly since: number;
  /** Made on first use (most entities never stop with messages waiting). */
  pending: unknown[] | undefined;
}

const MAX_HOPS = 4;

// An entity is the region's child named after its id (so its path, in logs and dead letters,
// is `/<type>/<id>`): as is when the id is a valid actor name without "%", otherwise with "%",
// "/" and white space escaped as `%xxxx` (UTF-16 code unit, hex), and "" as "%".
const UNSAFE = /[%/\s]/g;
const ESCAPED = /%([0-9a-f]{4})/g;
const escapeChar = (c: string): string => `%${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
const unescapeChar = (_: string, hex: string): string => String.fromCharCode(parseInt(hex, 16));

/** @internal The child name of entity `id`. */
export function entityChildName(id: string): string {
  if (id.length === 0) return "%";
  UNSAFE.lastIndex = 0;
  return UNSAFE.test(id) ? id.replace(UNSAFE, escapeChar) : id;
}

/** @internal The entity id of child name `name` (the inverse of `entityChildName`). */
export function entityIdOfChild(name: string): string {
  if (name === "%") return "";
  return name.includes("%") ? name.replace(ESCAPED, unescapeChar) : name;
}

/** @internal The fast path of a region that is not running (yet, or any more). */
export const noFastPath = (_envelope: ShardEnvelope<unknown>): boolean => false;

/**
 * @internal The region behavior; registers its handle with the coordinator when it starts.
 */
export function regionBehavior(
  ext: ClusterExtensionContext,
  coordinator: ShardCoordinator,
  spec: RegionSpec,
  fast: RegionFastPath,
): Behavior<RegionMsg> {
  return Behaviors.setup<RegionMsg>((ctx) => {
    const clock = ext.clock;
    const self = coordinator.self;
    // The region's own cell: its child registry is the table of entities (by child name).
    const region = localCell(ctx.self as ActorRef<never>)!;
    // Its registry, held here: the fast path looks an entity up with one call.
    const entities = region.childRegistry();
    // Every child that stops comes back as `Terminated`: no watch each.
    watchChildren(ctx as ActorContext<unknown>);
    // Asked to stop and not terminated yet, by id: a stopped child leaves the registry before
    // its `Terminated` is handled, and its id's messages must wait for that (order).
    const stopping = new Map<string, ActorCell<unknown>>();
    /** The live or stopping child of entity `id` (one lookup when the id is its child name). */
    const entityCell = (id: string): ActorCell<unknown> | undefined => {
      let c = region.childCell(id);
      if (c !== undefined && entityOf(c).id === id) return c;
      const name = entityChildName(id);
      if (name === id) return undefined;
      c = region.childCell(name);
      return c !== undefined && entityOf(c).id === id ? c : undefined;
    };
    const active = new Set<number>();
    const released = new Set<number>();
    const markersSent = new Map<number, string>(); // shard → owner the marker went to
    const markersIn = new Map<number, Set<string>>();
    const handoffs = new Map<number, { waiting: Set<string>; deadline: number }>();
    // Per released shard, the nodes whose marker never came: what they routed here before it
    // arrives late and would overtake nothing safely, so it becomes a dead letter.
    const late = new Map<number, Set<string>>();
    /** Publishes `message` for entity `entityId` as an undeliverable dead letter. */
    const lost = (
      entityId: string,
      message: unknown,
      detail: string,
      reason: "undeliverable" | "shutdown" = "undeliverable",
    ) => {
      if (message instanceof EntityWake) spec.wakeLost?.(entityId);
      else {
        ctx.system.eventStream.publish(
          new DeadLetter(message, `${ctx.self.path}#${entityId}`, reason, detail),
        );
      }
    };
    const buffers = new ShardBuffers(
      { capacity: spec.bufferSize, timeout: spec.bufferTimeout },
      (m, why) =>
        lost(
          m.entityId,
          m.message,
          why === "overflow"
            ? `shard buffer full (${spec.bufferSize})`
            : why === "timeout"
            ? `no shard location within ${spec.bufferTimeout} ms`
            : "region stopped",
          why === "shutdown" ? "shutdown" : "undeliverable",
        ),
      // A shard with a buffer is closed to the fast path at once (its messages go first); once
      // the buffer is gone, the bytes are worked out again.
      (shard, waiting) => waiting ? (open[shard] = 0) : invalidate(),
    );
    // Per shard, 1 when the fast path may deliver to its live entities: active here, not
    // released, this node's without a hand-off in `openFor` (the table it was computed from),
    // nothing buffered for it, and the lease seen valid. The fast path reads nothing else, so
    // whatever may close a shard zeroes its byte before it returns: the coordinator calls
    // `invalidate` synchronously on every new table and every change of `leaseSeen`, a local
    // change of `active` or `released` calls it too, and a shard's first buffered message
    // zeroes its byte. The bytes are worked out again, lazily, by the slow path. Invariant:
    // `openFor === undefined` implies every byte is 0.
    const open = new Uint8Array(spec.numShards);
    // Per shard, its entry in `openFor` when the fast path may forward a user's envelope for it
    // straight to its owner (another node's, not handed off, not active here: what `attempt`
    // would do for it, minus the region's mailbox).
    const forwardTo: (ShardEntry | undefined)[] = new Array(spec.numShards).fill(undefined);
    let openFor: AllocationTable | undefined;
    const recomputeOpen = (table: AllocationTable) => {
      const m = table.types.get(spec.name);
      const lease = coordinator.leaseSeen;
      for (let s = 0; s < open.length; s++) {
        const e = m?.get(s);
        const mine = e !== undefined && e.node === self;
        open[s] = lease && active.has(s) && !released.has(s) && mine && !e.handoff &&
            !buffers.has(s)
          ? 1
          : 0;
        forwardTo[s] = e !== undefined && !mine && !e.handoff && !active.has(s) ? e : undefined;
      }
      openFor = table;
    };
    /** Closes every shard to the fast path until the slow path works the bytes out again. */
    const invalidate = () => {
      if (openFor === undefined) return; // every byte is 0 already
      open.fill(0);
      openFor = undefined;
    };
    // A coarse clock (updated every housekeeping tick): idle times and buffer ages need no more.
    let now = Math.floor(clock.now());

    const handle: RegionHandle = {
      eligible: spec.eligible,
      numShards: spec.numShards,
      hosted: () => [...active, ...handoffs.keys()],
      ready: () => [...markersSent.keys()],
      refresh: () => ctx.self.tell({ type: "_refresh" }),
      invalidate,
      handoff: (shard, markers) => ctx.self.tell({ type: "_handoff", shard, markers }),
    };
    coordinator.addRegion(spec.name, handle);

    // The region ref of each owner (tables share their entries' address objects).
    const owners = new WeakMap<ShardEntry["address"], ActorRef<RegionMsg>>();
    const ownerRef = (e: ShardEntry) => {
      let ref = owners.get(e.address);
      if (ref === undefined) {
        owners.set(e.address, ref = ext.refAt<RegionMsg>(e.address, ctx.self.path));
      }
      return ref;
    };

    const stillOwner = (shard: number) => {
      const e = coordinator.entry(spec.name, shard);
      return e?.node === self && coordinator.leaseValid && !released.has(shard);
    };

    const writeGuard = (id: string, shard: number) => {
      const term = coordinator.leaseTerm;
      return () =>
        coordinator.mayWrite(term) ? undefined : new Error(
          `Cannot persist events for entity "${id}" of "${spec.name}": this node's lease on ` +
            `shard ${shard} ran out after the command arrived (the shard may be hosted ` +
            `elsewhere now); nothing was written`,
        );
    };

    /** Spawns entity `id`, known to have no cell (live, stopping or awaiting its Terminated). */
    const spawnEntity = (id: string, shard: number, name = entityChildName(id)): EntityCell => {
      // The name is valid by construction (escaped) and known to be free: no check, no lookup.
      const behavior = spec.factory(id);
      // An event-sourced entity writes only in the lease spell it started in (a command handled
      // just before the lease ran out, or an asynchronous one, may persist later).
      const hooks = eventSourcedHooks(behavior);
      if (hooks !== undefined) hooks.beforePersist = writeGuard(id, shard);
      const cell = region.spawnChildCell(
        behavior,
        name,
        undefined,
        EntityCell as unknown as CellClass,
        true,
      ) as EntityCell;
      cell.shard = shard;
      cell.lastUsed = now;
      if (name !== id) cell.odd = { escapedId: id, stopping: undefined };
      return cell;
    };

    /** Delivers to entity `id` (spawned if needed). */
    const deliverLocal = (id: string, shard: number, message: unknown) =>
      deliverTo(entityCell(id), id, shard, message);

    /** Like `deliverLocal`; `live`: the entity's cell, already looked up (none: undefined). */
    const deliverTo = (
      live: ActorCell<unknown> | undefined,
      id: string,
      shard: number,
      message: unknown,
    ) => {
      const cell = live ?? (stopping.size > 0 ? stopping.get(id) : undefined) ??
        spawnEntity(id, shard);
      const ent = entityOf(cell);
      if (message instanceof EntityWake) {
        // Started (or already live) is all a wake asks; one for a stopping entity waits and
        // starts its next incarnation.
        if (ent.stopping !== undefined) (ent.stopping.pending ??= []).push(message);
        return;
      }
      ent.lastUsed = now;
      if (ent.stopping !== undefined) (ent.stopping.pending ??= []).push(message);
      else cell.enqueue(message);
    };

    /**
     * Stops an entity once it handled what it was given (`force`: now, losing its mailbox). From
     * here on its new messages wait in `pending`, so its mailbox only shrinks.
     */
    const stopEntity = (cell: ActorCell<unknown>, force = false) => {
      const ent = entityOf(cell);
      if (ent.stopping === undefined) {
        ent.stopping = { since: now, pending: undefined };
        stopping.set(ent.id, cell);
        if (!force) cell.requestStopWhenDrained();
      }
      if (force) cell.requestStop();
    };

    const deactivate = (shard: number, force = false) => {
      active.delete(shard);
      invalidate();
      for (const cell of [...region.childCells()]) {
        if (entityOf(cell).shard === shard) stopEntity(cell, force);
      }
    };

    /** Delivers or forwards `m`; false when it has to wait. */
    const attempt = (shard: number, m: PendingMessage): boolean => {
      if (m.from !== undefined && late.get(shard)?.has(m.from)) {
        lost(m.entityId, m.message, "arrived after its shard was handed off");
        return true;
      }
      const e = coordinator.entry(spec.name, shard);
      if (e?.handoff && m.origin === "user") return false;
      if (active.has(shard)) {
        if (stillOwner(shard)) {
          deliverLocal(m.entityId, shard, m.message);
          return true;
        }
        deactivate(shard, !coordinator.leaseValid);
      }
      if (e === undefined) {
        coordinator.requestAllocation(spec.name, shard);
        return false;
      }
      if (e.node === self) {
        if (released.has(shard) || e.handoff || !coordinator.canStart || !spec.eligible) {
          return false;
        }
        active.add(shard);
        invalidate();
        deliverLocal(m.entityId, shard, m.message);
        return true;
      }
      // A downed or removed owner gets nothing more (the network would drop it silently): wait
      // for the leader to reallocate the shard.
      if (!coordinator.isLive(e.node)) return false;
      if (m.hops >= MAX_HOPS) {
        lost(m.entityId, m.message, "routing loop");
        return true;
      }
      ownerRef(e).tell(new ShardForward(m.entityId, m.message, m.hops + 1, self));
      return true;
    };

    const route = (m: PendingMessage, shard = entityShard(m.entityId, spec.numShards)) => {
      if (buffers.has(shard) || !attempt(shard, m)) buffers.push(shard, m);
    };

    /** Retries the shard's waiting messages in order; `first` go before them. */
    const flushShard = (shard: number, first: PendingMessage[] = []) => {
      const waiting = [...first, ...buffers.take(shard)];
      let i = 0;
      while (i < waiting.length && attempt(shard, waiting[i])) i++;
      for (; i < waiting.length; i++) buffers.push(shard, waiting[i]);
    };

    const flush = () => {
      for (const shard of buffers.shards()) flushShard(shard);
    };

    const finishHandoff = (shard: number) => {
      for (const cell of region.childCells()) if (entityOf(cell).shard === shard) return;
      for (const cell of stopping.values()) if (entityOf(cell).shard === shard) return;
      if (!handoffs.delete(shard)) return;
      markersIn.delete(shard);
      coordinator.handoffDone(spec.name, shard);
    };

    const progressHandoff = (shard: number) => {
      const h = handoffs.get(shard);
      if (h === undefined) return;
      const got = markersIn.get(shard) ?? new Set();
      const missing = [...h.waiting].filter((id) => !got.has(id));
      if (missing.length > 0 && clock.now() < h.deadline) return;
      if (missing.length > 0) late.set(shard, new Set(missing));
      // What was routed here before the markers is delivered before the entities stop; what
      // cannot be (no lease now) would race the senders' own flush to the new owner, so it is a
      // dead letter rather than a message out of order.
      flushShard(shard);
      for (const m of buffers.take(shard)) {
        if (m.origin === "user") buffers.push(shard, m);
        else {
          lost(m.entityId, m.message, "its shard was handed off while it waited");
        }
      }
      released.add(shard);
      deactivate(shard); // (which closes the fast path too)
      finishHandoff(shard);
    };

    const refresh = () => {
      now = Math.floor(clock.now());
      // Shards this node may no longer host: stop their entities.
      for (const shard of [...active]) {
        if (!stillOwner(shard)) deactivate(shard, !coordinator.leaseValid);
      }
      // A lost lease stops at once; a drain that does not finish is forced after a while.
      for (const cell of stopping.values()) {
        if (
          !coordinator.leaseValid || now - entityOf(cell).stopping!.since > spec.bufferTimeout / 2
        ) {
          stopEntity(cell, true);
        }
      }
      // Released shards come back once the table no longer shows them handed off from here.
      for (const shard of [...released]) {
        const e = coordinator.entry(spec.name, shard);
        if (!(e?.node === self && e.handoff)) {
          released.delete(shard);
          invalidate();
        }
      }
      // Hand-offs seen in the table: stop sending to the owner, tell it so (once).
      const table = coordinator.table.types.get(spec.name);
      for (const [shard, owner] of [...markersSent]) {
        const e = table?.get(shard);
        if (!e?.handoff || e.node !== owner) markersSent.delete(shard);
      }
      for (const [shard, e] of table ?? []) {
        if (!e.handoff || markersSent.get(shard) === e.node) continue;
        markersSent.set(shard, e.node);
        if (e.node === self) noteMarker(shard, self);
        else ownerRef(e).tell(new HandoffMarker(shard, self));
      }
      // Passivation of idle entities.
      if (spec.passivateAfter !== undefined) {
        for (const cell of [...region.childCells()]) {
          const ent = entityOf(cell);
          if (ent.stopping === undefined && now - ent.lastUsed >= spec.passivateAfter) {
            stopEntity(cell);
          }
        }
      }
      for (const shard of [...handoffs.keys()]) progressHandoff(shard);
      flush();
      buffers.expire(now);
    };

    const noteMarker = (shard: number, from: string) => {
      const l = late.get(shard);
      if (l?.delete(from) && l.size === 0) late.delete(shard);
      let s = markersIn.get(shard);
      if (s === undefined) markersIn.set(shard, s = new Set());
      s.add(from);
      progressHandoff(shard);
    };

    /**
     * An envelope for a shard another node owns, sent straight to it as the region would (same
     * ref, so same connection and order; nothing buffered for the shard here, whose messages
     * it must not overtake); false when the region has to decide.
     */
    const forwardFast = (env: ShardEnvelope<unknown>, shard: number, hash: number): boolean => {
      const e = forwardTo[shard];
      if (
        e === undefined || (!buffers.empty && buffers.has(shard)) || !coordinator.isLive(e.node)
      ) return false;
      rememberShardHash(env.entityId, hash);
      ownerRef(e).tell(new ShardForward(env.entityId, env.message, 1, self));
      return true;
    };

    // The hot path (the region's mailbox is empty: no earlier envelope waits there). A live
    // entity knows its shard: one hash lookup, no hashing of the id. A new id of a shard open
    // here is spawned here too (no hop through the region's mailbox, no envelope kept).
    fast.tryLocal = (env) => {
      // A live entity (not stopping, id not escaped: both are in `odd`) of a shard open here
      // (its byte covers the table, the lease and the shard's buffer): one lookup, two loads.
      const ent = entities.get(env.entityId) as EntityCell | undefined;
      if (ent !== undefined && ent.odd === undefined && open[ent.shard] === 1) {
        ent.lastUsed = now;
        ent.enqueue(env.message);
        return true;
      }
      return tryLocalSlow(env, ent);
    };

    /** The rest of the fast path: a new id, a new table, buffered messages (`ent`: looked up). */
    const tryLocalSlow = (env: ShardEnvelope<unknown>, ent: EntityCell | undefined): boolean => {
      const id = env.entityId;
      let shard: number;
      let hash = 0;
      if (ent !== undefined) {
        if (ent.odd !== undefined) return false;
        shard = ent.shard;
      } else {
        // The id's entity may still be stopping (its messages wait for its Terminated).
        if (stopping.size > 0 && stopping.has(id)) return false;
        hash = shardHashOf(id);
        shard = hash % spec.numShards;
      }
      const table = coordinator.table;
      if (table !== openFor) recomputeOpen(table);
      if (open[shard] === 0) return ent === undefined && forwardFast(env, shard, hash);
      if ((!buffers.empty && buffers.has(shard)) || !coordinator.leaseSeen) return false;
      if (ent === undefined) {
        // An id that needs escaping takes the region's path (its child name is not the id).
        const name = entityChildName(id);
        if (name !== id) return false;
        ent = spawnEntity(id, shard, name);
      }
      ent.lastUsed = now;
      ent.enqueue(env.message);
      return true;
    };

    return Behaviors.withLifecycle(
      Behaviors.receive<RegionMsg>((_ctx: ActorContext<RegionMsg>, msg) => {
        if (msg instanceof ShardEnvelope) {
          // Fast path: an active shard of this node with nothing waiting and no hand-off (a
          // live entity knows its shard: no hashing).
          const live = entityCell(msg.entityId);
          // A new id goes to the shard-id cache only if it is routed elsewhere (below).
          const hash = live !== undefined ? 0 : shardHashOf(msg.entityId);
          const shard = live !== undefined ? entityOf(live).shard : hash % spec.numShards;
          if (
            active.has(shard) && coordinator.leaseValid && !buffers.has(shard) &&
            !released.has(shard)
          ) {
            const e = coordinator.entry(spec.name, shard);
            if (e !== undefined && e.node === self && !e.handoff) {
              // (`live` undefined: the id is known to have no entity, no second lookup.)
              deliverTo(live, msg.entityId, shard, msg.message);
              return;
            }
          }
          if (live === undefined) rememberShardHash(msg.entityId, hash);
          route({
            entityId: msg.entityId,
            message: msg.message,
            origin: "user",
            hops: 0,
            at: now,
          }, shard);
        } else if (msg instanceof ShardForward) {
          // Fast path: a live entity of a shard active and owned here, nothing waiting for it,
          // and its sender not one whose hand-off marker never came (what `attempt` checks).
          const live = entityCell(msg.entityId);
          if (live !== undefined) {
            const shard = entityOf(live).shard;
            if (
              (late.size === 0 || !late.get(shard)?.has(msg.from)) &&
              (buffers.empty || !buffers.has(shard)) && active.has(shard) && stillOwner(shard)
            ) {
              deliverTo(live, msg.entityId, shard, msg.message);
              return;
            }
          }
          route({
            entityId: msg.entityId,
            message: msg.message,
            origin: "forward",
            from: msg.from,
            hops: msg.hops,
            at: now,
          });
        } else if (msg instanceof HandoffMarker) {
          noteMarker(msg.shard, msg.from);
        } else if (msg instanceof Terminated) {
          const cell = localCell(msg.ref);
          if (cell === undefined || cell.parentCell !== region) return;
          const ent = entityOf(cell);
          if (stopping.get(ent.id) === cell) stopping.delete(ent.id);
          spec.entityStopped?.(ent.id);
          // Its pending messages are older than anything buffered for the shard since.
          flushShard(
            ent.shard,
            (ent.stopping?.pending ?? []).map((m) => ({
              entityId: ent.id,
              message: m,
              origin: "forward" as const,
              hops: 0,
              at: now,
            })),
          );
          if (handoffs.has(ent.shard)) finishHandoff(ent.shard);
        } else if (msg.type === "_refresh") {
          refresh();
        } else if (msg.type === "_handoff") {
          if (!handoffs.has(msg.shard)) {
            handoffs.set(msg.shard, {
              waiting: new Set(msg.markers),
              deadline: clock.now() + spec.bufferTimeout / 2,
            });
          }
          progressHandoff(msg.shard);
        }
      }),
      {
        postStop: () => {
          fast.tryLocal = noFastPath;
          buffers.clear();
        },
      },
    );
  });
}
