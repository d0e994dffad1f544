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
import { type Behavior, Behaviors, type SpyEvent } from "../actor/behaviors.ts";
import { DeadLetter, Terminated } from "../actor/events.ts";
import type { ClusterExtensionContext } from "../cluster/extension.ts";
import { entityShard } from "./entity_shard.ts";
import type { RegionHandle, ShardCoordinator, ShardEntry } from "./shard_coordinator.ts";
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
}

type Control =
  | { readonly type: "_refresh" }
  | { readonly type: "_drained"; readonly ref: string }
  | { readonly type: "_handoff"; readonly shard: number; readonly markers: readonly string[] };

/** An envelope told through a {@linkcode ShardRegionRef} that could not take the fast path. */
class LocalEnvelope {
  constructor(readonly envelope: ShardEnvelope<unknown>) {}
}

type RegionMsg =
  | ShardEnvelope<unknown>
  | LocalEnvelope
  | ShardForward
  | HandoffMarker
  | Control
  | Terminated;

/** @internal What the region shares with its fast ref. */
export interface RegionFastPath {
  /** Envelopes told through the fast ref that wait in the region's mailbox. */
  queued: number;
  /** Delivers straight to a live local entity when that keeps every order; false otherwise. */
  tryLocal?: (envelope: ShardEnvelope<unknown>) => boolean;
}

/**
 * The ref `node.spawn(Behaviors.sharded(...))` returns: the region's ref, plus a fast path that
 * hands an envelope for a live entity of a shard this node hosts straight to the entity (one
 * mailbox hop instead of two), as long as none of its earlier envelopes still waits in the
 * region's mailbox (so per-sender order holds).
 */
export class ShardRegionRef<M> implements ActorRef<ShardEnvelope<M>> {
  readonly #region: ActorRef<RegionMsg>;
  readonly #fast: RegionFastPath;

  /** @internal */
  constructor(region: ActorRef<never>, fast: RegionFastPath) {
    this.#region = region as unknown as ActorRef<RegionMsg>;
    this.#fast = fast;
  }

  /** Marks it as an actor ref. */
  get [ACTOR_REF](): true {
    return true;
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
    if (msg instanceof ShardEnvelope) {
      if (this.#fast.queued === 0 && this.#fast.tryLocal?.(msg)) return;
      this.#fast.queued++;
      this.#region.tell(new LocalEnvelope(msg));
      return;
    }
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

interface Entity {
  readonly id: string;
  ref: ActorRef<unknown>;
  readonly shard: number;
  lastUsed: number;
  /** Stop requested: new messages wait in `pending` until it has stopped. */
  stopping: boolean;
  /** When the stop was requested (a drain that never finishes is forced after a while). */
  stopSince: number;
  /** Messages put in its mailbox, and messages it handled (counted by a spy). */
  delivered: number;
  handled: number;
  pending: unknown[];
}

const MAX_HOPS = 4;

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
    const entities = new Map<string, Entity>();
    const byRef = new Map<string, Entity>();
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
    ) =>
      ctx.system.eventStream.publish(
        new DeadLetter(message, `${ctx.self.path}#${entityId}`, reason, detail),
      );
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
    );
    let seq = 0;
    // A coarse clock (updated every housekeeping tick): idle times and buffer ages need no more.
    let now = clock.now();

    const handle: RegionHandle = {
      eligible: spec.eligible,
      numShards: spec.numShards,
      hosted: () => [...active, ...handoffs.keys()],
      ready: () => [...markersSent.keys()],
      refresh: () => ctx.self.tell({ type: "_refresh" }),
      handoff: (shard, markers) => ctx.self.tell({ type: "_handoff", shard, markers }),
    };
    coordinator.addRegion(spec.name, handle);

    const ownerRef = (e: ShardEntry) => ext.refAt<RegionMsg>(e.address, ctx.self.path);

    const stillOwner = (shard: number) => {
      const e = coordinator.entry(spec.name, shard);
      return e?.node === self && coordinator.leaseValid && !released.has(shard);
    };

    const spawnEntity = (id: string, shard: number): Entity => {
      const ent: Entity = {
        id,
        ref: undefined as unknown as ActorRef<unknown>,
        shard,
        lastUsed: now,
        stopping: false,
        stopSince: 0,
        delivered: 0,
        handled: 0,
        pending: [],
      };
      // Counts what the entity handled, so that a graceful stop waits for its mailbox to drain.
      const counter: ActorRef<SpyEvent<unknown>> = {
        [ACTOR_REF]: true,
        path: `${ctx.self.path}/_count`,
        address: `${ctx.self.address}/_count`,
        tell: () => {
          ent.handled++;
          if (ent.stopping && ent.handled >= ent.delivered) {
            ctx.self.tell({ type: "_drained", ref: ent.ref.address });
          }
        },
        send: () => Promise.resolve(),
      };
      const behavior = Behaviors.spy(spec.factory(id), counter);
      ent.ref = ctx.spawn(behavior, `e${++seq}`) as ActorRef<unknown>;
      ctx.watch(ent.ref as ActorRef<never>);
      entities.set(id, ent);
      byRef.set(ent.ref.address, ent);
      return ent;
    };

    const deliverLocal = (id: string, shard: number, message: unknown) => {
      const ent = entities.get(id) ?? spawnEntity(id, shard);
      ent.lastUsed = now;
      if (ent.stopping) ent.pending.push(message);
      else {
        ent.delivered++;
        ent.ref.tell(message);
      }
    };

    /** Stops an entity once it handled what it was given (`force`: now, losing its mailbox). */
    const stopEntity = (ent: Entity, force = false) => {
      if (!ent.stopping) {
        ent.stopping = true;
        ent.stopSince = now;
      }
      if (force || ent.handled >= ent.delivered) ctx.stop(ent.ref as ActorRef<never>);
    };

    const deactivate = (shard: number, force = false) => {
      active.delete(shard);
      for (const ent of entities.values()) if (ent.shard === shard) stopEntity(ent, force);
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

    const route = (m: PendingMessage) => {
      const shard = entityShard(m.entityId, spec.numShards);
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
      for (const ent of entities.values()) if (ent.shard === shard) return;
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
      deactivate(shard);
      finishHandoff(shard);
    };

    const refresh = () => {
      now = clock.now();
      // Shards this node may no longer host: stop their entities.
      for (const shard of [...active]) {
        if (!stillOwner(shard)) deactivate(shard, !coordinator.leaseValid);
      }
      // A lost lease stops at once; a drain that does not finish is forced after a while.
      for (const ent of entities.values()) {
        if (!ent.stopping) continue;
        if (!coordinator.leaseValid || now - ent.stopSince > spec.bufferTimeout / 2) {
          stopEntity(ent, true);
        }
      }
      // Released shards come back once the table no longer shows them handed off from here.
      for (const shard of [...released]) {
        const e = coordinator.entry(spec.name, shard);
        if (!(e?.node === self && e.handoff)) released.delete(shard);
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
        for (const ent of entities.values()) {
          if (!ent.stopping && now - ent.lastUsed >= spec.passivateAfter) stopEntity(ent);
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

    fast.tryLocal = (env) => {
      const shard = entityShard(env.entityId, spec.numShards);
      if (
        !active.has(shard) || !coordinator.leaseValid || buffers.has(shard) || released.has(shard)
      ) return false;
      const e = coordinator.entry(spec.name, shard);
      if (e === undefined || e.node !== self || e.handoff) return false;
      const ent = entities.get(env.entityId);
      if (ent === undefined || ent.stopping) return false;
      ent.lastUsed = now;
      ent.delivered++;
      ent.ref.tell(env.message);
      return true;
    };

    return Behaviors.withLifecycle(
      Behaviors.receive<RegionMsg>((_ctx: ActorContext<RegionMsg>, msg) => {
        if (msg instanceof LocalEnvelope) {
          fast.queued--;
          msg = msg.envelope;
        }
        if (msg instanceof ShardEnvelope) {
          // Fast path: an active shard of this node with nothing waiting and no hand-off.
          const shard = entityShard(msg.entityId, spec.numShards);
          if (
            active.has(shard) && coordinator.leaseValid && !buffers.has(shard) &&
            !released.has(shard)
          ) {
            const e = coordinator.entry(spec.name, shard);
            if (e !== undefined && e.node === self && !e.handoff) {
              deliverLocal(msg.entityId, shard, msg.message);
              return;
            }
          }
          route({
            entityId: msg.entityId,
            message: msg.message,
            origin: "user",
            hops: 0,
            at: now,
          });
        } else if (msg instanceof ShardForward) {
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
          const ent = byRef.get(msg.ref.address);
          if (ent === undefined) return;
          byRef.delete(msg.ref.address);
          if (entities.get(ent.id) === ent) entities.delete(ent.id);
          // Its pending messages are older than anything buffered for the shard since.
          flushShard(
            ent.shard,
            ent.pending.map((m) => ({
              entityId: ent.id,
              message: m,
              origin: "forward" as const,
              hops: 0,
              at: now,
            })),
          );
          if (handoffs.has(ent.shard)) finishHandoff(ent.shard);
        } else if (msg.type === "_drained") {
          const ent = byRef.get(msg.ref);
          if (ent?.stopping) stopEntity(ent);
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
          fast.tryLocal = undefined;
          buffers.clear();
        },
      },
    );
  });
}
