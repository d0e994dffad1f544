/**
 * Replication of sharded event-sourced entities: placement of replicas, the write path with
 * acknowledgements, promotion under a new term, and fencing of a deposed primary.
 *
 * @module
 */
import type { ActorRef } from "../actor/actor_ref.ts";
import { Behavior } from "../actor/behaviors.ts";
import type { ActorContext } from "../actor/actor_context.ts";
import type { ClusterExtensionContext, ClusterView } from "../cluster/extension.ts";
import { QuorumNotReachedError } from "../cluster/errors.ts";
import type { ReplicationSettings } from "../config/casty_config.ts";
import { provideReplication, type ReplicatedType } from "../sharding/replication_config.ts";
import { eventSourcedHooks } from "../persistence/event_sourced.ts";
import {
  type EventJournal,
  highestSequenceNrOf,
  loadEvents,
  type PersistedEvent,
} from "../persistence/journal.ts";
import type { NodeAddress } from "../remote/address.ts";
import type { SerializableClass } from "../serialization/serialization.ts";

/**
 * Events of one entity shipped by its primary under its term (seed 002).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ReplicateEvents } from "@casty/casty/sharding";
 * const m = new ReplicateEvents("acc-1", 3, [{ sequenceNr: 1, event: "x", timestamp: 0 }], null);
 * assert.equal(m.term, 3);
 * ```
 */
export class ReplicateEvents {
  /**
   * Creates a ReplicateEvents.
   *
   * @param entityId The entity.
   * @param term The primary's term.
   * @param events Contiguous events.
   * @param replyTo Where to acknowledge (`null`: no acknowledgement wanted).
   */
  constructor(
    readonly entityId: string,
    readonly term: number,
    readonly events: readonly PersistedEvent[],
    readonly replyTo: ActorRef<ReplicateEventsAck> | null,
  ) {}
}

/**
 * A replica's answer to {@linkcode ReplicateEvents} (seed 002): `ok` with the highest sequence
 * number it now holds; or refused, either because it holds a higher `term` (the sender was
 * deposed) or because of a gap (the sender re-sends from `highestSequenceNr + 1`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ReplicateEventsAck } from "@casty/casty/sharding";
 * assert.equal(new ReplicateEventsAck("acc-1", true, 3, 10).highestSequenceNr, 10);
 * ```
 */
export class ReplicateEventsAck {
  /**
   * Creates a ReplicateEventsAck.
   *
   * @param entityId The entity.
   * @param ok Whether the events are stored.
   * @param term The replica's term for the entity.
   * @param highestSequenceNr The highest sequence number the replica holds.
   */
  constructor(
    readonly entityId: string,
    readonly ok: boolean,
    readonly term: number,
    readonly highestSequenceNr: number,
  ) {}
}

/** @internal A promoter's question (`claim` 0) or claim of a term, answered with the state. */
export class ReplicaClaim {
  /**
   * @param entityId The entity.
   * @param term The claimed term (0: only ask).
   * @param replyTo Where to answer.
   */
  constructor(
    readonly entityId: string,
    readonly term: number,
    readonly replyTo: ActorRef<ReplicateEventsAck>,
  ) {}
}

/** @internal Asks a store for events from `fromSequenceNr` (at most `max`). */
export class ReplicaFetch {
  /**
   * @param entityId The entity.
   * @param fromSequenceNr First sequence number.
   * @param max Page size.
   * @param replyTo Where to answer.
   */
  constructor(
    readonly entityId: string,
    readonly fromSequenceNr: number,
    readonly max: number,
    readonly replyTo: ActorRef<ReplicaEvents>,
  ) {}
}

/** @internal A page of events, the answer to {@linkcode ReplicaFetch}. */
export class ReplicaEvents {
  /**
   * @param entityId The entity.
   * @param events The events.
   */
  constructor(readonly entityId: string, readonly events: readonly PersistedEvent[]) {}
}

type StoreMsg = ReplicateEvents | ReplicaClaim | ReplicaFetch;

const FETCH_PAGE = 1000;
const SHUTDOWN_POLL = 50;
const CACHE_LIMIT = 10_000;

/** The wire classes, for `registerSerializable`. */
export const REPLICATION_WIRE: ReadonlyArray<readonly [SerializableClass, string]> = [
  [ReplicateEvents, "casty.ReplicateEvents"],
  [ReplicateEventsAck, "casty.ReplicateEventsAck"],
  [ReplicaClaim, "casty.ReplicaClaim"],
  [ReplicaFetch, "casty.ReplicaFetch"],
  [ReplicaEvents, "casty.ReplicaEvents"],
];

function compareAddress(a: NodeAddress, b: NodeAddress): number {
  return a.host < b.host ? -1 : a.host > b.host ? 1 : a.port - b.port;
}

function sameAddress(a: NodeAddress, b: NodeAddress): boolean {
  return a.host === b.host && a.port === b.port;
}

/**
 * The replicas of a primary: the next `replicas` up, reachable members with `role` after the
 * primary in address order (the same answer on every node with the same view).
 *
 * @param view The cluster view.
 * @param primary The primary's node.
 * @param replicas How many.
 * @param role The role hosts need, if any.
 * @returns The replica nodes, never the primary.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { replicaNodes } from "@casty/casty/sharding";
 * const m = (port: number) => ({ address: { host: "h", port }, status: "up" as const, roles: [], id: `${port}` });
 * const view = { self: { host: "h", port: 1 }, incarnation: "i", members: [m(1), m(2), m(3)], leader: undefined, unreachable: [] };
 * assert.deepEqual(replicaNodes(view, { host: "h", port: 3 }, 1).map((a) => a.port), [1]);
 * ```
 */
export function replicaNodes(
  view: ClusterView,
  primary: NodeAddress,
  replicas: number,
  role?: string,
): NodeAddress[] {
  const ring = eligibleNodes(view, role);
  const start = ring.findIndex((a) => compareAddress(a, primary) > 0);
  const ordered = start < 0 ? ring : [...ring.slice(start), ...ring.slice(0, start)];
  return ordered.filter((a) => !sameAddress(a, primary)).slice(0, replicas);
}

function eligibleNodes(view: ClusterView, role: string | undefined): NodeAddress[] {
  return view.members
    .filter((m) =>
      m.status === "up" && (role === undefined || m.roles.includes(role)) &&
      !view.unreachable.some((u) => sameAddress(u, m.address))
    )
    .map((m) => m.address)
    .sort(compareAddress);
}

/** The replica store: keeps terms and writes replicated events into this node's journal. */
function storeBehavior(journalOf: (entityId: string) => EventJournal): Behavior<StoreMsg> {
  const terms = new Map<string, number>();
  // Highest sequence number written through this store, per entity (saves a journal read per
  // write). Forgotten at every claim: a primary on this node writes its journal directly, and
  // it always claims here first.
  const known = new Map<string, number>();
  const journals = new Map<string, EventJournal>();
  const remember = <V>(m: Map<string, V>, id: string, v: V) => {
    if (m.size >= CACHE_LIMIT && !m.has(id)) m.clear();
    m.set(id, v);
  };
  return new Behavior<StoreMsg>("receive", async (_ctx: ActorContext<StoreMsg>, msg: StoreMsg) => {
    const id = msg.entityId;
    const term = terms.get(id) ?? 0;
    let journal = journals.get(id);
    if (journal === undefined) {
      try {
        journal = journalOf(id);
      } catch {
        return undefined;
      }
      remember(journals, id, journal);
    }
    if (msg instanceof ReplicaFetch) {
      const events = await loadEvents(journal, id, msg.fromSequenceNr, { max: msg.max })
        .catch(() => [] as PersistedEvent[]);
      msg.replyTo.tell(new ReplicaEvents(id, events));
      return undefined;
    }
    if (msg instanceof ReplicaClaim) {
      known.delete(id);
      const highest = await highestSequenceNrOf(journal, id).catch(() => -1);
      if (msg.term > term) terms.set(id, msg.term);
      msg.replyTo.tell(
        new ReplicateEventsAck(id, msg.term >= term, Math.max(term, msg.term), highest),
      );
      return undefined;
    }
    const ack = (ok: boolean, t: number, h: number) =>
      msg.replyTo?.tell(new ReplicateEventsAck(id, ok, t, h));
    let highest = known.get(id);
    if (highest === undefined) {
      highest = await highestSequenceNrOf(journal, id).catch(() => -1);
      if (highest < 0) return ack(false, term, 0);
      remember(known, id, highest);
    }
    if (msg.term < term) return ack(false, term, highest);
    terms.set(id, msg.term);
    const fresh = msg.events.filter((e) => e.sequenceNr > highest);
    if (fresh.length === 0) return ack(true, msg.term, highest);
    if (fresh[0].sequenceNr !== highest + 1) return ack(false, msg.term, highest);
    try {
      await journal.persist(id, fresh);
    } catch {
      known.delete(id);
      return ack(false, msg.term, await highestSequenceNrOf(journal, id).catch(() => 0));
    }
    const last = fresh[fresh.length - 1].sequenceNr;
    remember(known, id, last);
    return ack(true, msg.term, last);
  });
}

/**
 * Starts replication of sharded type `name` on this node: spawns its replica store and returns
 * the wrapped entity factory.
 *
 * @param ctx The sharding extension's context.
 * @param name The type's name.
 * @param factory The user's entity factory (must return `Behaviors.eventSourced(...)`).
 * @param settings The resolved replication settings.
 * @param role The role hosts need, if any.
 * @returns The wrapped factory and the placement function.
 */
export function startReplication<M>(
  ctx: ClusterExtensionContext,
  name: string,
  factory: (entityId: string) => Behavior<M>,
  settings: ReplicationSettings,
  role: string | undefined,
): ReplicatedType<M> {
  const { replicas, minAcks, ackTimeout } = settings;
  const storeName = `_replication-${name}`;
  const storePath = `/_cluster/${storeName}`;
  const journalOf = (entityId: string): EventJournal => {
    const hooks = eventSourcedHooks(factory(entityId) as Behavior<unknown>);
    if (!hooks) throw notEventSourced(name);
    return keyedBy(hooks.journal, hooks.entityId);
  };
  for (const [cls, tag] of REPLICATION_WIRE) ctx.registerSerializable(cls, tag);
  ctx.spawnSystemActor(storeBehavior(journalOf), storeName);
  const store = (node: NodeAddress) => ctx.refAt<StoreMsg>(node, storePath);
  const node = ctx.node;
  const ask = <R>(to: NodeAddress, make: (r: ActorRef<R>) => StoreMsg): Promise<R> =>
    node.ask<StoreMsg, R>(store(to), make, { timeout: ackTimeout });

  /** Copies the best replica's newer events into `journal` and claims a new term. */
  const promote = async (id: string, journal: EventJournal): Promise<number> => {
    for (let attempt = 0;; attempt++) {
      const nodes = eligibleNodes(ctx.view(), role);
      if (!nodes.some((a) => sameAddress(a, ctx.selfAddress))) nodes.push(ctx.selfAddress);
      const states = await Promise.allSettled(
        nodes.map((n) => ask<ReplicateEventsAck>(n, (r) => new ReplicaClaim(id, 0, r))),
      );
      let maxTerm = 0;
      let best: NodeAddress | undefined;
      let bestSeq = await highestSequenceNrOf(journal, id);
      states.forEach((s, i) => {
        if (s.status !== "fulfilled") return;
        maxTerm = Math.max(maxTerm, s.value.term);
        if (s.value.highestSequenceNr > bestSeq) {
          bestSeq = s.value.highestSequenceNr;
          best = nodes[i];
        }
      });
      if (best) {
        for (let from = (await highestSequenceNrOf(journal, id)) + 1; from <= bestSeq;) {
          const page = await ask<ReplicaEvents>(
            best,
            (r) => new ReplicaFetch(id, from, FETCH_PAGE, r),
          );
          if (page.events.length === 0) break;
          await journal.persist(id, page.events);
          from = page.events[page.events.length - 1].sequenceNr + 1;
        }
      }
      const term = maxTerm + 1;
      const claims = await Promise.allSettled(
        nodes.map((n) => ask<ReplicateEventsAck>(n, (r) => new ReplicaClaim(id, term, r))),
      );
      const refused = claims.some((c) => c.status === "fulfilled" && !c.value.ok);
      if (!refused) return term;
      if (attempt >= 3) {
        throw new Error(`Cannot promote entity "${id}" of "${name}": term ${term} refused`);
      }
    }
  };

  const wrapped = (id: string): Behavior<M> => {
    const inner = factory(id);
    const hooks = eventSourcedHooks(inner as Behavior<unknown>);
    // Fails the entity (not the region that spawns it) when the factory is not event-sourced.
    if (!hooks) {
      return new Behavior<M>("setup", () => {
        throw notEventSourced(name);
      });
    }
    const journal = keyedBy(hooks.journal, hooks.entityId);
    let term = 0;
    hooks.afterPersist = (_entityId, records) => {
      const targets = replicaNodes(ctx.view(), ctx.selfAddress, replicas, role);
      if (targets.length === 0 && minAcks === 0) return;
      const last = records[records.length - 1].sequenceNr;
      const confirmed = new Promise<void>((resolve, reject) => {
        let acks = 0;
        let done = false;
        let poll: ReturnType<typeof setTimeout> | undefined;
        const finish = (err?: Error) => {
          if (done) return;
          done = true;
          timer.cancel();
          if (poll !== undefined) clearTimeout(poll);
          if (err) reject(err);
          else resolve();
        };
        const timer = ctx.clock.setTimeout(
          () => finish(new QuorumNotReachedError(id, minAcks, acks, ackTimeout)),
          ackTimeout,
        );
        // A node that shuts down waits for this command: give up at once rather than at the
        // timeout (its transport is gone, no ack can come). Real time on purpose: a simulated
        // clock does not move while a test cluster shuts a node down.
        const watch = () => {
          poll = undefined;
          if (done) return;
          if (node.isShutdown) finish(new QuorumNotReachedError(id, minAcks, acks, ackTimeout));
          else poll = setTimeout(watch, SHUTDOWN_POLL);
        };
        poll = setTimeout(watch, SHUTDOWN_POLL);
        // A replica that lags (a gap) gets the missing range from this journal, a page at a
        // time, for as long as it makes progress and the command waits.
        const send = (to: NodeAddress, events: readonly PersistedEvent[], had: number) => {
          ask<ReplicateEventsAck>(to, (r) => new ReplicateEvents(id, term, events, r)).then(
            async (ack) => {
              // Catch-up of a lagging replica goes on after the command is confirmed by others.
              if (ack.ok && ack.highestSequenceNr >= last) {
                if (++acks >= minAcks) finish();
              } else if (!ack.ok && ack.term > term) {
                hooks.stopped = true; // deposed: a newer primary exists
                finish(new QuorumNotReachedError(id, minAcks, acks, ackTimeout));
              } else if (ack.highestSequenceNr > had) {
                const from = ack.highestSequenceNr + 1;
                const missing = await loadEvents(journal, id, from, {
                  max: Math.min(FETCH_PAGE, last - ack.highestSequenceNr),
                });
                if (missing.length > 0) send(to, missing, ack.highestSequenceNr);
              }
            },
            () => {},
          );
        };
        for (const t of targets) send(t, records, -1);
      });
      // With minAcks 0 nothing waits, but the acks still drive catch-up and tell of a deposition
      // (the entity then stops after its next command).
      if (minAcks === 0) {
        confirmed.catch(() => {});
        return;
      }
      return confirmed;
    };
    return new Behavior<M>("setup", async () => {
      term = await promote(id, journal);
      return inner;
    });
  };
  return {
    factory: wrapped,
    replicasOf: (primary) => replicaNodes(ctx.view(), primary, replicas, role),
  };
}

/**
 * The entity's journal addressed by its sharding id: replication speaks sharding ids, while the
 * entity's events live under its own `entityId`, which may differ.
 */
function keyedBy(journal: EventJournal, entityId: string): EventJournal {
  return {
    persist: (_id, events) => journal.persist(entityId, events),
    load: (_id, from, options) => journal.load(entityId, from, options),
    highestSequenceNr: journal.highestSequenceNr
      ? () => journal.highestSequenceNr!(entityId)
      : undefined,
    saveSnapshot: (_id, snapshot) => journal.saveSnapshot(entityId, snapshot),
    loadSnapshot: () => journal.loadSnapshot(entityId),
  };
}

function notEventSourced(name: string): TypeError {
  return new TypeError(
    `Cannot replicate sharded type "${name}": its factory must return Behaviors.eventSourced(...)`,
  );
}

provideReplication(startReplication);
