/**
 * Replication of sharded event-sourced entities: placement of replicas, the write path with
 * acknowledgements, promotion under a new term, and fencing of a deposed primary.
 *
 * @module
 */
import type { ActorRef } from "../actor/actor_ref.ts";
import { Behavior, Behaviors } from "../actor/behaviors.ts";
import { DeadLetter } from "../actor/events.ts";
import type { ActorContext } from "../actor/actor_context.ts";
import type { ClusterExtensionContext, ClusterView } from "../cluster/extension.ts";
import { QuorumNotReachedError } from "../cluster/errors.ts";
import type { ReplicationSettings } from "../config/casty_config.ts";
import {
  provideReplication,
  type ReplicaPlacement,
  type ReplicatedType,
} from "../sharding/replication_config.ts";
import {
  type EventSourcedHooks,
  eventSourcedHooks,
  shareEventSourcedHooks,
} from "../persistence/event_sourced.ts";
import type { Cancellable } from "../actor/clock.ts";
import {
  type EventJournal,
  highestSequenceNrOf,
  loadEvents,
  type PersistedEvent,
} from "../persistence/journal.ts";
import {
  compareNodeAddresses,
  formatNodeAddress,
  type NodeAddress,
  sameNodeAddress,
} from "../remote/address.ts";
import type { MemberStatus } from "../cluster/member.ts";
import type { SerializableClass } from "../serialization/serialization.ts";
import { setImmediate } from "node:timers";
import {
  commonPrefix,
  historyKey,
  isPrefixOf,
  loadTermRecord,
  parseHistoryKey,
  sameHistory,
  saveTermRecord,
  spliceHistory,
  termAt,
  type TermHistory,
  type TermRecord,
} from "./terms.ts";

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
   * @param history The term history of the primary's log (`[term, firstSequenceNr]` pairs), so
   * that a replica whose log diverged from it refuses the events.
   */
  constructor(
    readonly entityId: string,
    readonly term: number,
    readonly events: readonly PersistedEvent[],
    readonly replyTo: ActorRef<ReplicateEventsAck> | null,
    readonly history: TermHistory = [],
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
   * @param history The term history of the replica's log (filled in answers to a promoter).
   * @param floor The longest log a promoter adopted, as recorded by the replica (filled in
   * answers to a promoter): no copy shorter than it may be promoted.
   */
  constructor(
    readonly entityId: string,
    readonly ok: boolean,
    readonly term: number,
    readonly highestSequenceNr: number,
    readonly history: TermHistory = [],
    readonly floor: number = 0,
  ) {}
}

/**
 * @internal A promoter's question (`term` 0), claim of a new term, or confirmation of the term it
 * took (the same term again, with what to record), answered with the store's state.
 */
export class ReplicaClaim {
  /**
   * @param entityId The entity.
   * @param term The claimed term (0: only ask).
   * @param replyTo Where to answer.
   * @param history The history to record with the term (the promoter's own node only).
   * @param floor The length of the log the promoter adopted, to record (see `TermRecord.floor`).
   */
  constructor(
    readonly entityId: string,
    readonly term: number,
    readonly replyTo: ActorRef<ReplicateEventsAck>,
    readonly history: TermHistory | null = null,
    readonly floor: number = 0,
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

/**
 * @internal The {@linkcode ReplicateEvents} of many entities for one replica, shipped together
 * (one message per replica per turn); answered with one {@linkcode ReplicaBatchAck}. The items
 * are one flat array of plain values, six per item (entity id, term, term history as text,
 * first sequence number, the timestamp of every event or one for all, the events), which the
 * serializer walks far faster than an array of class instances.
 */
export class ReplicaBatch {
  /**
   * @param batchId The sender's number for the batch.
   * @param items The entities' events, flat (see {@linkcode encodeBatch}).
   * @param replyTo Where to answer.
   */
  constructor(
    readonly batchId: number,
    readonly items: readonly unknown[],
    readonly replyTo: ActorRef<ReplicaBatchAck>,
  ) {}
}

/**
 * @internal The answers to a {@linkcode ReplicaBatch}, three numbers per item in its order:
 * stored (1) or not (0), the store's term, its highest sequence number (-1: not answered).
 */
export class ReplicaBatchAck {
  /**
   * @param batchId The batch.
   * @param acks Three numbers per item.
   */
  constructor(readonly batchId: number, readonly acks: readonly number[]) {}
}

/** What a primary ships of one entity: contiguous events under its term and history. */
interface BatchItem {
  readonly id: string;
  readonly term: number;
  readonly history: TermHistory;
  readonly events: readonly PersistedEvent[];
}

const ITEM_SLOTS = 6;

/** The flat items of a {@linkcode ReplicaBatch}. */
function encodeBatch(items: readonly BatchItem[]): unknown[] {
  const out: unknown[] = [];
  for (const item of items) {
    const events = item.events;
    const payloads: unknown[] = [];
    const ts = events[0].timestamp;
    let same = true;
    for (let k = 0; k < events.length; k++) {
      payloads.push(events[k].event);
      if (events[k].timestamp !== ts) same = false;
    }
    out.push(
      item.id,
      item.term,
      historyKey(item.history),
      events[0].sequenceNr,
      same ? ts : events.map((e) => e.timestamp),
      payloads,
    );
  }
  return out;
}

/** The items of a {@linkcode ReplicaBatch}; `undefined` when malformed. */
function decodeBatch(
  flat: readonly unknown[],
): { ids: string[]; items: Item[] } | undefined {
  if (!Array.isArray(flat) || flat.length % ITEM_SLOTS !== 0) return undefined;
  const n = flat.length / ITEM_SLOTS;
  const ids: string[] = [];
  const items: Item[] = [];
  for (let i = 0, o = 0; i < n; i++, o += ITEM_SLOTS) {
    const id = flat[o], term = flat[o + 1], key = flat[o + 2], first = flat[o + 3];
    const ts = flat[o + 4], payloads = flat[o + 5];
    if (
      typeof id !== "string" || typeof term !== "number" || typeof key !== "string" ||
      !Number.isSafeInteger(first) || !Array.isArray(payloads) || payloads.length === 0 ||
      !(typeof ts === "number" || (Array.isArray(ts) && ts.length === payloads.length))
    ) return undefined;
    const events: PersistedEvent[] = [];
    for (let k = 0; k < payloads.length; k++) {
      events.push({
        sequenceNr: (first as number) + k,
        event: payloads[k],
        timestamp: typeof ts === "number" ? ts : ts[k],
      });
    }
    ids.push(id);
    items.push({ term, key, events });
  }
  return { ids, items };
}

type StoreMsg = ReplicateEvents | ReplicaClaim | ReplicaFetch | ReplicaBatch;

const FETCH_PAGE = 1000;
const SHUTDOWN_POLL = 50;
const CACHE_LIMIT = 10_000;
/** With minAcks 0, items on the way to one replica (unanswered) before writers wait. */
const UNANSWERED_LIMIT = 1000;
// The repair's pace: it looks at the placement every tick (ms) and sends up to so many wakes.
const REPAIR_TICK = 250;
const WAKES_PER_TICK = 250;

/** The wire classes, for `registerSerializable`. */
export const REPLICATION_WIRE: ReadonlyArray<readonly [SerializableClass, string]> = [
  [ReplicateEvents, "casty.ReplicateEvents"],
  [ReplicateEventsAck, "casty.ReplicateEventsAck"],
  [ReplicaClaim, "casty.ReplicaClaim"],
  [ReplicaFetch, "casty.ReplicaFetch"],
  [ReplicaEvents, "casty.ReplicaEvents"],
  [ReplicaBatch, "casty.ReplicaBatch"],
  [ReplicaBatchAck, "casty.ReplicaBatchAck"],
];

/**
 * The replicas of a primary: the next `replicas` up members with `role` (and among `hosts`, when
 * given) after the primary in address order (the same answer on every node with the same view and
 * allocation table).
 *
 * @param view The cluster view.
 * @param primary The primary's node.
 * @param replicas How many.
 * @param role The role hosts need, if any.
 * @param hosts The member ids of the nodes that host the type (the allocation table's `hosts`);
 * `undefined`: every member with the role.
 * @returns The replica nodes, never the primary.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { replicaNodes } from "@casty/casty/sharding";
 * const m = (port: number) => ({ address: { host: "h", port }, status: "up" as const, roles: [], id: `${port}` });
 * const view = { self: { host: "h", port: 1 }, incarnation: "i", members: [m(1), m(2), m(3)], leader: undefined, unreachable: [] };
 * assert.deepEqual(replicaNodes(view, { host: "h", port: 3 }, 1).map((a) => a.port), [1]);
 * // Node 1 does not host the type: the replica of node 3 is node 2.
 * assert.deepEqual(replicaNodes(view, { host: "h", port: 3 }, 1, undefined, ["2", "3"]).map((a) => a.port), [2]);
 * ```
 */
export function replicaNodes(
  view: ClusterView,
  primary: NodeAddress,
  replicas: number,
  role?: string,
  hosts?: readonly string[],
): NodeAddress[] {
  const ring = hostsIn(view, PLACEABLE, role, hosts);
  const start = ring.findIndex((a) => compareNodeAddresses(a, primary) > 0);
  const ordered = start < 0 ? ring : [...ring.slice(start), ...ring.slice(0, start)];
  return ordered.filter((a) => !sameNodeAddress(a, primary)).slice(0, replicas);
}

// Placement: every up member with the role, reachable or not. Placement must not follow
// reachability: a primary that shipped to whichever nodes it could reach at the moment would count
// acknowledgements from a node that a later promoter, seeing other reachability, does not ask.
// An unreachable replica makes writes wait (and fail after ackTimeout) until it is downed.
const PLACEABLE: ReadonlySet<MemberStatus> = new Set(["up"]);
// Promotion: the members that may hold a copy of an entity's log, every one not downed or
// removed, reachable or not. A promotion hears from all of them.
const MAY_HOLD_COPY: ReadonlySet<MemberStatus> = new Set(["up", "leaving", "exiting"]);

// The members in one of `statuses`, with the role, among the nodes that host the type (`hosts`,
// from the allocation table: only they have a store, and a node without one would hold every
// promotion back), in address order.
function hostsIn(
  view: ClusterView,
  statuses: ReadonlySet<MemberStatus>,
  role: string | undefined,
  hosts: readonly string[] | undefined,
): NodeAddress[] {
  return view.members
    .filter((m) =>
      statuses.has(m.status) && (role === undefined || m.roles.includes(role)) &&
      (hosts === undefined || hosts.includes(m.id))
    )
    .map((m) => m.address)
    .sort(compareNodeAddresses);
}

/** A promoter found no copy as long as a log an earlier promoter adopted (see `promote`). */
class CopyLostError extends Error {
  /** Stable code. */
  readonly code = "REPLICA_COPY_LOST" as const;
  /** @param message What is missing, naming the entity. */
  constructor(message: string) {
    super(message);
    this.name = "CopyLostError";
  }
}

const STOPPED: Behavior<unknown> = Behaviors.stopped();

/**
 * Drops the events of `id` after `keep` from this node's journal: a suffix that diverged from the
 * newest copy of the log (a promoter's own log, or a replica's against its primary's).
 *
 * Why such a suffix was never acknowledged, from the term and claim rules: a term is taken once
 * at every store and has one writer, so the same term at a sequence number means the same event
 * there and before it (the histories are written ahead of the events they describe). An event
 * acknowledged under term t sits on its primary and on `minAcks` replicas; a promoter of any
 * later term hears from every node that may hold a copy, takes the term at all of them first
 * (from then on none accepts events of an older term), and adopts the copy whose last event has
 * the highest term (then the longest): that copy holds the event, at the same number under term
 * t (a copy whose last term is above t was filled by a primary that adopted it, by induction; one
 * whose last term is t is a prefix of term t's log at least as long as the acknowledging
 * replicas'). So every primary after t holds every acknowledged event of t, with its term. A
 * suffix from `keep + 1` on differs in term from that log at `keep + 1`, hence holds no
 * acknowledged event: had it one at number s, both logs would carry the same term at s, and
 * would agree up to s > keep. The copy it is dropped for (the primary's, or the newest) is
 * then written in its place.
 *
 * @returns Whether the suffix is gone (false: the journal cannot truncate, or failed).
 */
async function dropDivergent(journal: EventJournal, id: string, keep: number): Promise<boolean> {
  if (typeof journal.truncateEvents !== "function") return false;
  try {
    await journal.truncateEvents(id, keep + 1);
    return true;
  } catch {
    return false;
  }
}

/** One entity's events as a store receives them (from a ReplicateEvents or a ReplicaBatch). */
interface Item {
  readonly term: number;
  /** The primary's term history, as {@linkcode historyKey} writes it. */
  readonly key: string;
  /** The same history, when the item came with it (else parsed from `key` when needed). */
  readonly history?: TermHistory;
  readonly events: readonly PersistedEvent[];
}

/** The answer to one item: whether it is stored, the store's term, its highest sequence number. */
type Answer = (ok: boolean, term: number, highest: number) => void;

/**
 * The replica store: keeps terms (durably, in a side record of this node's journal) and writes
 * replicated events into this node's journal.
 */
function storeBehavior(
  journalOf: (entityId: string) => EventJournal,
  now: () => number,
  note: (entityId: string) => void = () => {},
): Behavior<StoreMsg> {
  // Cached term records (durable in the journal, so forgetting one only costs a read).
  const records = new Map<string, TermRecord>();
  // Highest sequence number written through this store, per entity (saves a journal read per
  // write). Forgotten at every claim: a primary on this node writes its journal directly, and
  // it always claims here first.
  const known = new Map<string, number>();
  const journals = new Map<string, EventJournal>();
  const remember = <V>(m: Map<string, V>, id: string, v: V) => {
    if (m.size >= CACHE_LIMIT && !m.has(id)) m.clear();
    m.set(id, v);
  };
  const journalFor = (id: string): EventJournal | undefined => {
    let journal = journals.get(id);
    if (journal === undefined) {
      try {
        journal = journalOf(id);
      } catch {
        return undefined;
      }
      remember(journals, id, journal);
    }
    return journal;
  };
  const recordOf = async (journal: EventJournal, id: string): Promise<TermRecord | undefined> => {
    let record = records.get(id);
    if (record === undefined) {
      record = await loadTermRecord(journal, id).catch(() => undefined);
      if (record !== undefined) remember(records, id, record);
    }
    return record;
  };
  // Durable before the answer (and before the events it covers).
  const update = async (journal: EventJournal, id: string, next: TermRecord): Promise<boolean> => {
    try {
      await saveTermRecord(journal, id, next, now());
    } catch {
      records.delete(id);
      return false;
    }
    remember(records, id, next);
    return true;
  };

  const fetch = async (msg: ReplicaFetch): Promise<void> => {
    const journal = journalFor(msg.entityId);
    if (journal === undefined) return;
    const events = await loadEvents(journal, msg.entityId, msg.fromSequenceNr, { max: msg.max })
      .catch(() => [] as PersistedEvent[]);
    msg.replyTo.tell(new ReplicaEvents(msg.entityId, events));
  };

  const claim = async (msg: ReplicaClaim): Promise<void> => {
    const id = msg.entityId;
    const journal = journalFor(id);
    if (journal === undefined) return;
    // Without its record a store cannot fence: it answers nothing (the sender times out).
    const record = await recordOf(journal, id);
    if (record === undefined) return;
    const term = record.term;
    known.delete(id);
    const highest = await highestSequenceNrOf(journal, id).catch(() => -1);
    // A new term is taken once: a second promoter with the same term is refused (and tries
    // a higher one), so two primaries never share a term. Term 0 only asks. The same term
    // again, with a history or a floor, is the promoter that took it here confirming what it
    // adopted (no other promoter can hold this term: it was refused here).
    const confirm = msg.term === term && term > 0 && (msg.history !== null || msg.floor > 0);
    const ok = msg.term === 0 || msg.term > term || confirm;
    let next = record;
    if (ok && msg.term > 0) {
      next = {
        term: msg.term,
        history: msg.history ?? record.history,
        floor: Math.max(record.floor, msg.floor),
      };
      if (!(await update(journal, id, next))) return;
    }
    msg.replyTo.tell(
      new ReplicateEventsAck(id, ok, Math.max(term, msg.term), highest, next.history, next.floor),
    );
  };

  /**
   * Stores the items of one entity, in order. Items under the store's term and history that
   * continue its log (the steady state) are written with one `persist` (and, with a group-commit
   * journal, in the same transaction as the other entities' of the batch); any other item is
   * decided alone, after the ones before it are written.
   */
  const apply = async (
    id: string,
    items: readonly Item[],
    answer: (i: number) => Answer,
  ): Promise<void> => {
    const journal = journalFor(id);
    if (journal === undefined) return;
    const loaded = await recordOf(journal, id);
    if (loaded === undefined) return;
    let record: TermRecord = loaded;
    let highest: number = known.get(id) ?? await highestSequenceNrOf(journal, id).catch(() => -1);
    if (highest < 0) {
      for (let i = 0; i < items.length; i++) answer(i)(false, record.term, 0);
      return;
    }
    remember(known, id, highest);
    // Events accepted and not written yet, and the items that wait for them to be.
    let queued: PersistedEvent[] = [];
    const waiting: { readonly i: number; readonly term: number; readonly last: number }[] = [];
    // Writes the queued events; false (and every waiting item refused) if that failed.
    const write = async (): Promise<boolean> => {
      if (waiting.length === 0) return true;
      const events = queued;
      queued = [];
      try {
        if (events.length > 0) await journal.persist(id, events);
      } catch {
        known.delete(id);
        highest = await highestSequenceNrOf(journal, id).catch(() => 0);
        for (const w of waiting.splice(0)) answer(w.i)(false, w.term, highest);
        return false;
      }
      remember(known, id, highest);
      for (const w of waiting.splice(0)) answer(w.i)(true, w.term, w.last);
      return true;
    };
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      const events = item.events;
      let first = 0;
      while (first < events.length && events[first].sequenceNr <= highest) first++;
      if (
        item.term === record.term && item.key === historyKey(record.history) &&
        (first === events.length || events[first].sequenceNr === highest + 1)
      ) {
        for (let k = first; k < events.length; k++) queued.push(events[k]);
        if (first < events.length) highest = events[events.length - 1].sequenceNr;
        waiting.push({ i, term: item.term, last: highest });
        continue;
      }
      if (!(await write())) {
        for (let k = i; k < items.length; k++) answer(k)(false, items[k].term, highest);
        return;
      }
      const ack = answer(i);
      const term = record.term;
      const itemHistory = item.history ?? parseHistoryKey(item.key);
      if (item.term < term || itemHistory === undefined) {
        ack(false, term, highest);
        continue;
      }
      // A log that is not a prefix of the primary's (it holds events the primary does not, e.g.
      // unacknowledged ones of a deposed primary) must not count as a copy: refuse, for good.
      if (!isPrefixOf(record.history, highest, itemHistory, Number.MAX_SAFE_INTEGER)) {
        const keep = commonPrefix(record.history, highest, itemHistory, Number.MAX_SAFE_INTEGER);
        if (!(await dropDivergent(journal, id, keep))) {
          ack(false, item.term, highest);
          continue;
        }
        highest = keep;
        remember(known, id, highest);
      }
      const fresh = events.filter((e) => e.sequenceNr > highest);
      if (fresh.length > 0 && fresh[0].sequenceNr !== highest + 1) {
        ack(false, item.term, highest);
        continue;
      }
      const last = fresh.length > 0 ? fresh[fresh.length - 1].sequenceNr : highest;
      const spliced = fresh.length > 0
        ? spliceHistory(record.history, highest, itemHistory)
        : record.history;
      const history = sameHistory(spliced, record.history) ? record.history : spliced;
      if (item.term > term || history !== record.history) {
        const next: TermRecord = { term: item.term, history, floor: record.floor };
        if (!(await update(journal, id, next))) {
          ack(false, term, highest);
          continue;
        }
        record = next;
      }
      queued = [...fresh];
      highest = last;
      waiting.push({ i, term: item.term, last });
    }
    await write();
  };

  /**
   * The steady state, decided at once (no await before the write): every item of the entity
   * (`indexes` into `items`) is under the store's term and history and continues its log, and
   * everything needed is cached. Writes them with one `persist` and fills their `acks`;
   * `undefined` when `apply` must decide.
   */
  const steady = (
    id: string,
    indexes: readonly number[],
    items: readonly Item[],
    acks: number[],
  ): Promise<void> | undefined => {
    const journal = journals.get(id);
    const record = records.get(id);
    const highest = known.get(id);
    if (journal === undefined || record === undefined || highest === undefined) return undefined;
    let h = highest;
    // The events to write: the first item's own array while it is the only one.
    let queued: PersistedEvent[] | undefined;
    let copied = false;
    const lasts: number[] = [];
    for (let n = 0; n < indexes.length; n++) {
      const item = items[indexes[n]];
      if (item.term !== record.term || item.key !== historyKey(record.history)) {
        return undefined;
      }
      const events = item.events;
      let k = 0;
      while (k < events.length && events[k].sequenceNr <= h) k++;
      if (k < events.length) {
        if (events[k].sequenceNr !== h + 1) return undefined;
        if (queued === undefined && k === 0) queued = events as PersistedEvent[];
        else {
          if (!copied) queued = queued === undefined ? [] : [...queued];
          copied = true;
          for (; k < events.length; k++) queued!.push(events[k]);
        }
        h = events[events.length - 1].sequenceNr;
      }
      lasts.push(h);
    }
    const answer = (ok: boolean, highest: number) => {
      for (let n = 0; n < indexes.length; n++) {
        const at = 3 * indexes[n];
        acks[at] = ok ? 1 : 0;
        acks[at + 1] = items[indexes[n]].term;
        acks[at + 2] = ok ? lasts[n] : highest;
      }
    };
    if (queued === undefined) {
      answer(true, h);
      return Promise.resolve();
    }
    return journal.persist(id, queued).then(() => {
      remember(known, id, h);
      answer(true, h);
    }, async () => {
      known.delete(id);
      answer(false, await highestSequenceNrOf(journal, id).catch(() => 0));
    });
  };

  return new Behavior<StoreMsg>("receive", async (_ctx: ActorContext<StoreMsg>, msg: StoreMsg) => {
    if (msg instanceof ReplicaClaim) return void (await claim(msg));
    if (msg instanceof ReplicaFetch) return void (await fetch(msg));
    if (msg instanceof ReplicateEvents) {
      note(msg.entityId);
      const item = { ...msg, key: historyKey(msg.history) };
      await apply(msg.entityId, [item], () => (ok, term, highest) => {
        msg.replyTo?.tell(new ReplicateEventsAck(msg.entityId, ok, term, highest));
      });
      return undefined;
    }
    // A batch: one entity's items in order, different entities at once (their journal writes
    // group). Unanswered items (no journal, no term record) read as refused at -1.
    const decoded = decodeBatch(msg.items);
    if (decoded === undefined) return undefined;
    const { ids, items } = decoded;
    const acks: number[] = [];
    for (let i = 0; i < items.length; i++) acks.push(0, 0, -1);
    const byEntity = new Map<string, number[]>();
    for (let i = 0; i < ids.length; i++) {
      const list = byEntity.get(ids[i]);
      if (list) list.push(i);
      else byEntity.set(ids[i], [i]);
    }
    const work: Promise<void>[] = [];
    for (const [id, indexes] of byEntity) {
      note(id);
      work.push(
        steady(id, indexes, items, acks) ??
          apply(id, indexes.map((i) => items[i]), (k) => (ok, term, highest) => {
            const at = 3 * indexes[k];
            acks[at] = ok ? 1 : 0;
            acks[at + 1] = term;
            acks[at + 2] = highest;
          }),
      );
    }
    await Promise.all(work);
    msg.replyTo.tell(new ReplicaBatchAck(msg.batchId, acks));
    return undefined;
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
 * @param hosts The member ids of the nodes hosting the type, per the allocation table.
 * @returns The wrapped factory and the placement function.
 */
export function startReplication<M>(
  ctx: ClusterExtensionContext,
  name: string,
  factory: (entityId: string) => Behavior<M>,
  settings: ReplicationSettings,
  role: string | undefined,
  hosts: () => readonly string[] | undefined = () => undefined,
  placement?: ReplicaPlacement,
): ReplicatedType<M> {
  const { replicas, minAcks, ackTimeout } = settings;
  const storeName = `_replication-${name}`;
  const storePath = `/_cluster/${storeName}`;
  const journalOf = (entityId: string): EventJournal => {
    const hooks = eventSourcedHooks(factory(entityId) as Behavior<unknown>);
    if (!hooks) throw notEventSourced(name);
    return keyedBy(hooks.journal, entityId, hooks.entityId);
  };
  for (const [cls, tag] of REPLICATION_WIRE) ctx.registerSerializable(cls, tag);
  // The entities whose logs this node holds (as primary or replica), for the repair below.
  const held = new Map<string, number>(); // id → shard
  const heldShards = new Set<number>();
  const note = (id: string) => {
    if (placement === undefined || held.has(id)) return;
    const shard = placement.shardOf(id);
    held.set(id, shard);
    if (!heldShards.has(shard)) {
      heldShards.add(shard);
      seenMembers = ""; // a shard seen for the first time: look at the placement again
    }
    startRepair();
  };
  ctx.spawnSystemActor(storeBehavior(journalOf, () => ctx.clock.wallNow(), note), storeName);
  const store = (node: NodeAddress) => ctx.refAt<StoreMsg>(node, storePath);
  const node = ctx.node;
  const ask = <R>(to: NodeAddress, make: (r: ActorRef<R>) => StoreMsg): Promise<R> =>
    node.ask<StoreMsg, R>(store(to), make, { timeout: ackTimeout });

  // Shipping: the events of every entity for one replica in one turn go as one ReplicaBatch,
  // answered by one ReplicaBatchAck to a long-lived actor (no ask, no promise, no timer per
  // command).
  /** One entity's events on the way to one replica, up to its command's `last`. */
  interface Shipment extends BatchItem {
    readonly link: Link;
    readonly to: NodeAddress;
    readonly key: string;
    /** The command's last sequence number. */
    readonly last: number;
    /** The replica's highest sequence number when this was sent (-1: not known). */
    readonly had: number;
  }
  /** A command waiting for `minAcks` acknowledgements of its events up to `last`. */
  interface Pending {
    readonly last: number;
    /** Replicas that acknowledged it. */
    count: number;
    readonly deadline: number;
    readonly resolve: () => void;
    readonly reject: (err: Error) => void;
  }
  type Box = { to: NodeAddress; key: string; items: Shipment[]; events: number };
  const inflight = new Map<number, { items: Shipment[]; timer: Cancellable; key: string }>();
  const outbox = new Map<string, Box>();
  // Items shipped to each replica and not answered yet, and who waits for that number to drop
  // below UNANSWERED_LIMIT (writers with minAcks 0: backpressure instead of unbounded queues).
  const unanswered = new Map<string, number>();
  const drained = new Map<string, (() => void)[]>();
  const answered = (key: string, n: number) => {
    const left = (unanswered.get(key) ?? n) - n;
    if (left > 0) unanswered.set(key, left);
    else unanswered.delete(key);
    if (left < UNANSWERED_LIMIT) {
      const waiting = drained.get(key);
      drained.delete(key);
      for (const w of waiting ?? []) w();
    }
  };
  /** Resolves once fewer than UNANSWERED_LIMIT items to `to` wait for an answer. */
  const roomAt = (to: NodeAddress): Promise<void> | undefined => {
    const key = formatNodeAddress(to);
    if ((unanswered.get(key) ?? 0) < UNANSWERED_LIMIT) return undefined;
    const { promise, resolve } = Promise.withResolvers<void>();
    const list = drained.get(key);
    if (list) list.push(resolve);
    else drained.set(key, [resolve]);
    return promise;
  };

  let nextBatch = 0;
  let scheduled = false;
  const acker = ctx.spawnSystemActor(
    new Behavior<ReplicaBatchAck>(
      "receive",
      (_c: ActorContext<ReplicaBatchAck>, msg: ReplicaBatchAck) => {
        const batch = inflight.get(msg.batchId);
        if (batch === undefined) return undefined;
        inflight.delete(msg.batchId);
        batch.timer.cancel();
        answered(batch.key, batch.items.length);
        const acks = msg.acks;
        const items = batch.items;
        for (let i = 0; i < items.length; i++) {
          const s = items[i];
          s.link.answer(s, acks[3 * i] === 1, acks[3 * i + 1] ?? 0, acks[3 * i + 2] ?? -1);
        }
        return undefined;
      },
    ),
    `${storeName}-acks`,
  );
  const sendBox = (key: string, box: Box) => {
    outbox.delete(key);
    const batchId = ++nextBatch;
    // Unanswered: nothing to do but count it (a command waiting for it fails on its own
    // deadline; the next write to a lagging replica catches it up).
    // Unanswered: a command waiting for it fails on its own deadline; the entities whose events
    // it carried probe that replica again later (see the repair below), so that it catches up
    // without waiting for their next write.
    const timer = ctx.clock.setTimeout(() => {
      if (!inflight.delete(batchId)) return;
      answered(key, box.items.length);
      for (const item of box.items) lagging(item.link);
    }, ackTimeout);
    inflight.set(batchId, { items: box.items, timer, key });
    store(box.to).tell(new ReplicaBatch(batchId, encodeBatch(box.items), acker));
  };
  const flush = () => {
    scheduled = false;
    for (const [key, box] of outbox) sendBox(key, box);
  };
  const ship = (s: Shipment) => {
    const key = s.key;
    let box = outbox.get(key);
    if (box === undefined) {
      box = { to: s.to, key, items: [], events: 0 };
      outbox.set(key, box);
    }
    box.items.push(s);
    box.events += s.events.length;
    unanswered.set(key, (unanswered.get(key) ?? 0) + 1);
    if (box.events >= FETCH_PAGE) sendBox(key, box);
    else if (!scheduled) {
      scheduled = true;
      setImmediate(flush);
    }
  };

  // Deadlines: every entity with commands waiting for acknowledgements is in `active`; one timer
  // (not one per command) fires at the earliest deadline. An entity's commands wait in sequence
  // order and share one ackTimeout, so its first command has its earliest deadline.
  const active = new Set<Link>();
  let timer: Cancellable | undefined;
  let timerAt = Infinity;
  const arm = (at: number) => {
    if (timer !== undefined && timerAt <= at) return;
    timer?.cancel();
    timerAt = at;
    timer = ctx.clock.setTimeout(expire, Math.max(1, Math.ceil(at - ctx.clock.now())));
  };
  const expire = () => {
    timer = undefined;
    timerAt = Infinity;
    const now = ctx.clock.now();
    let next = Infinity;
    for (const link of [...active]) {
      link.expire(now);
      const first = link.pending[0];
      if (first !== undefined && first.deadline < next) next = first.deadline;
    }
    if (next < Infinity) arm(next);
  };
  // A node that shuts down while commands wait gives up on them at once rather than at the
  // timeout (its transport is gone, no ack can come). One real-time poll for all of them, on
  // purpose: a simulated clock does not move while a test cluster shuts a node down.
  let poll: ReturnType<typeof setTimeout> | undefined;
  const watch = () => {
    poll = undefined;
    if (active.size === 0) return;
    if (node.isShutdown) { for (const link of [...active]) link.failAll(); }
    else poll = setTimeout(watch, SHUTDOWN_POLL);
  };

  /** The replication state of one incarnation of one entity on its primary. */
  class Link {
    term = 0;
    history: TermHistory = [];
    /** Commands waiting for acknowledgements, in sequence order. */
    readonly pending: Pending[] = [];
    /** Per replica: the highest `last` of a command that replica was counted for. */
    readonly #counted = new Map<string, number>();

    constructor(
      readonly id: string,
      readonly journal: EventJournal,
      readonly hooks: EventSourcedHooks,
    ) {}

    /** Ships `events` (up to the command's `last`) to `to`, whose log held up to `had`. */
    send(to: NodeAddress, key: string, events: readonly PersistedEvent[], last: number, had = -1) {
      const { id, term, history } = this;
      ship({ link: this, id, term, history, to, key, events, last, had });
    }

    /**
     * Ships the entity's last event (number `last`, read from the journal when not given) to its
     * replicas as a probe: a replica that has it acknowledges; one that lags answers with its
     * highest sequence number and gets the missing range from this journal, a page at a time
     * (the repair of `answer`); one whose log diverged drops its unacknowledged suffix first.
     */
    probe(last?: number): void {
      const { targets, keys } = currentTargets();
      if (this.term === 0 || targets.length === 0 || last === 0) return;
      const { journal, id } = this;
      (last === undefined ? highestSequenceNrOf(journal, id) : Promise.resolve(last))
        .then((n) => (n > 0 ? loadEvents(journal, id, n, { max: 1 }) : []))
        .then((events) => {
          if (events.length === 0 || this.hooks.stopped) return;
          const n = events[0].sequenceNr;
          for (let i = 0; i < targets.length; i++) this.send(targets[i], keys[i], events, n);
        }, () => {});
    }

    /** Waits for `minAcks` acknowledgements of the events up to `last`. */
    wait(last: number): Promise<void> {
      const { promise, resolve, reject } = Promise.withResolvers<void>();
      const deadline = ctx.clock.now() + ackTimeout;
      this.pending.push({ last, count: 0, deadline, resolve, reject });
      if (!active.has(this)) active.add(this);
      if (timer === undefined) arm(deadline);
      poll ??= setTimeout(watch, SHUTDOWN_POLL);
      return promise;
    }

    answer(s: Shipment, ok: boolean, term: number, highest: number) {
      if (backoff.size > 0) backoff.delete(this);
      if (ok && highest >= s.last) {
        this.#acked(s.key, highest);
      } else if (!ok && term > this.term) {
        this.hooks.stopped = true; // deposed: a newer primary exists
        this.failAll();
      } else if (highest > s.had) {
        // A replica that lags (a gap) gets the missing range from this journal, a page at a
        // time, for as long as it makes progress (also after the command was confirmed by
        // others, and with minAcks 0).
        loadEvents(this.journal, this.id, highest + 1, {
          max: Math.min(FETCH_PAGE, s.last - highest),
        }).then((missing) => {
          if (missing.length > 0) this.send(s.to, s.key, missing, s.last, highest);
        }, () => {});
      }
    }

    // An acknowledgement of sequence number h from a replica holds everything up to h, so it
    // counts for every waiting command up to h (once per replica).
    #acked(key: string, highest: number) {
      const counted = this.#counted.get(key) ?? 0;
      if (highest <= counted) return;
      this.#counted.set(key, highest);
      const pending = this.pending;
      for (let i = 0; i < pending.length && pending[i].last <= highest; i++) {
        if (pending[i].last > counted) pending[i].count++;
      }
      // A command counted by a replica has every earlier one counted by it too: they finish in
      // order.
      while (pending.length > 0 && pending[0].count >= minAcks) this.#finish(pending.shift()!);
    }

    #finish(p: Pending, err?: Error) {
      if (this.pending.length === 0) active.delete(this);
      if (err) p.reject(err);
      else p.resolve();
    }

    #fail(p: Pending) {
      this.#finish(p, new QuorumNotReachedError(this.id, minAcks, p.count, ackTimeout));
    }

    expire(now: number) {
      while (this.pending.length > 0 && this.pending[0].deadline <= now) {
        this.#fail(this.pending.shift()!);
      }
    }

    failAll() {
      for (const p of this.pending.splice(0)) this.#fail(p);
      active.delete(this);
    }
  }

  // Where this node's primaries ship: computed again only when the membership or the hosts of
  // the type change (both are replaced, never mutated).
  let targetsOf: { members: unknown; hosts: unknown; targets: NodeAddress[]; keys: string[] } = {
    members: undefined,
    hosts: undefined,
    targets: [],
    keys: [],
  };
  const currentTargets = (): { targets: NodeAddress[]; keys: string[] } => {
    const view = ctx.view();
    const h = hosts();
    if (targetsOf.members !== view.members || targetsOf.hosts !== h) {
      const targets = replicaNodes(view, ctx.selfAddress, replicas, role, h);
      targetsOf = {
        members: view.members,
        hosts: h,
        targets,
        keys: targets.map(formatNodeAddress),
      };
    }
    return targetsOf;
  };
  /**
   * Takes a new term for `id` at every store, then adopts the newest copy of its log into
   * `journal`: drops this node's divergent suffix, if any (never acknowledged, see
   * `dropDivergent`), records the history (this node) and the adopted length (every store), and
   * copies the missing events. Refuses (throws) when no copy is as long as a log an earlier
   * promoter adopted: acknowledged events may be missing, and that must not go unnoticed.
   */
  const promote = async (
    id: string,
    journal: EventJournal,
    hooks: EventSourcedHooks,
  ): Promise<{ term: number; history: TermHistory }> => {
    const refuse = (why: string) => new Error(`Cannot promote entity "${id}" of "${name}": ${why}`);
    for (let attempt = 0;; attempt++) {
      if (attempt > 0) {
        // Some holder did not answer (or refused the term): wait, then look again. A holder
        // that stays silent is downed and removed by the membership, and is not asked again.
        await new Promise<void>((resolve) => {
          ctx.clock.setTimeout(resolve, Math.min(ackTimeout, 100 * 2 ** Math.min(attempt, 4)));
        });
        if (node.isShutdown) throw refuse("this node is shutting down");
      }
      const nodes = hostsIn(ctx.view(), MAY_HOLD_COPY, role, hosts());
      let self = nodes.findIndex((a) => sameNodeAddress(a, ctx.selfAddress));
      if (self < 0) self = nodes.push(ctx.selfAddress) - 1;
      const asked = await Promise.allSettled(
        nodes.map((n) => ask<ReplicateEventsAck>(n, (r) => new ReplicaClaim(id, 0, r))),
      );
      const first = asked[self];
      if (first.status !== "fulfilled" || first.value.highestSequenceNr < 0) {
        throw refuse("this node's store failed");
      }
      // Every possible holder must answer: one that is only unreachable may hold the newest
      // acknowledged events, and promoting without them would lose them.
      if (asked.some((st) => st.status !== "fulfilled")) continue;
      let term = 0;
      for (const st of asked) if (st.status === "fulfilled") term = Math.max(term, st.value.term);
      term++;
      // Taking a term is a write at every store: only within this node's lease on the shard,
      // like the entity's own writes. (A promotion still retrying on a node that lost the shard
      // meanwhile took a newer term than the new owner's, and deposed it: its next write failed.)
      if (hooks.beforePersist?.() !== undefined) {
        throw refuse(
          "this node's lease on its shard ran out (the shard may be hosted elsewhere now); no term was taken",
        );
      }
      // The term is taken at every store before any log is compared: from then on none accepts
      // events of an older term, so the logs and histories in these answers stay as they are.
      // (Compared before, an older primary's events could land on this node in between, and the
      // history recorded for them would name the wrong term: issue 12.)
      const claims = await Promise.allSettled(
        nodes.map((n) => ask<ReplicateEventsAck>(n, (r) => new ReplicaClaim(id, term, r))),
      );
      const refused = claims.some((c) => c.status === "fulfilled" && !c.value.ok);
      if (refused && attempt >= 8) throw refuse(`term ${term} refused`);
      if (refused || claims.some((c) => c.status !== "fulfilled")) continue;
      const states = claims.map((c) => (c as PromiseFulfilledResult<ReplicateEventsAck>).value);
      const own = states[self];
      if (own.highestSequenceNr < 0) throw refuse("this node's store failed");
      // The newest copy: the highest (term of the last event, sequence number).
      let bestAt = self;
      states.forEach((v, i) => {
        const best = states[bestAt];
        const t = termAt(v.history, v.highestSequenceNr);
        const bt = termAt(best.history, best.highestSequenceNr);
        if (t > bt || (t === bt && v.highestSequenceNr > best.highestSequenceNr)) bestAt = i;
      });
      const best = states[bestAt];
      const bestSeq = best.highestSequenceNr;
      const floor = Math.max(...states.map((s) => s.floor));
      if (bestSeq < floor) {
        throw new CopyLostError(
          `Cannot promote entity "${id}" of "${name}": no copy holds the ${floor} events that an earlier primary adopted and that may have been acknowledged (the newest copy holds ${bestSeq}); the nodes that held them were lost`,
        );
      }
      let ownSeq = own.highestSequenceNr;
      if (!isPrefixOf(own.history, ownSeq, best.history, bestSeq)) {
        const keep = commonPrefix(own.history, ownSeq, best.history, bestSeq);
        if (!(await dropDivergent(journal, id, keep))) {
          throw refuse(
            `this node's log diverged from the newest copy after sequence number ${keep}, and its journal cannot drop the ${
              ownSeq - keep
            } unacknowledged events (it needs truncateEvents)`,
          );
        }
        ownSeq = keep;
      }
      const history: TermHistory = [
        ...spliceHistory(own.history, ownSeq, best.history).filter(([, from]) => from <= bestSeq),
        [term, bestSeq + 1],
      ];
      // This node records the copied range's terms before it copies (write-ahead); every store
      // records the adopted length, so that no later promoter starts from a shorter copy.
      const confirmed = await Promise.allSettled(
        nodes.map((n, i) =>
          i !== self && bestSeq === 0 ? Promise.resolve(undefined) : ask<ReplicateEventsAck>(
            n,
            (r) => new ReplicaClaim(id, term, r, i === self ? history : null, bestSeq),
          )
        ),
      );
      if (confirmed.some((c) => c.status !== "fulfilled" || c.value?.ok === false)) continue;
      for (let from = ownSeq + 1; bestAt !== self && from <= bestSeq;) {
        const page = await ask<ReplicaEvents>(
          nodes[bestAt],
          (r) => new ReplicaFetch(id, from, Math.min(FETCH_PAGE, bestSeq - from + 1), r),
        );
        if (page.events.length === 0) break;
        await journal.persist(id, page.events);
        from = page.events[page.events.length - 1].sequenceNr + 1;
      }
      return { term, history };
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
    const link = new Link(id, keyedBy(hooks.journal, id, hooks.entityId), hooks);
    let noted = false;
    // The entity goes on with its next command while this one waits for its acknowledgements
    // (its reply runs once they came): one entity keeps many commands on the way.
    if (minAcks > 0) hooks.pipeline = true;
    hooks.afterPersist = (_entityId, records) => {
      if (!noted) {
        noted = true;
        note(id);
      }
      const { targets, keys } = currentTargets();
      if (targets.length === 0 && minAcks === 0) return;
      const last = records[records.length - 1].sequenceNr;
      const confirmed = minAcks > 0 ? link.wait(last) : undefined;
      for (let i = 0; i < targets.length; i++) link.send(targets[i], keys[i], records, last);
      if (confirmed !== undefined) return confirmed;
      // With minAcks 0 nothing waits, but the acks still drive catch-up and tell of a deposition
      // (the entity then stops after its next command). Backpressure: past UNANSWERED_LIMIT
      // items on the way to a replica, the entity waits (its reply too) until the replica caught
      // up; it never fails for it.
      const full = targets.map(roomAt).filter((p) => p !== undefined);
      return full.length === 0 ? undefined : Promise.all(full).then(() => {});
    };
    const wrapper = new Behavior<M>("setup", async (c: ActorContext<M>) => {
      live.set(id, link);
      try {
        ({ term: link.term, history: link.history } = await promote(id, link.journal, hooks));
        // The replicas catch up now, not at the next write (an entity woken by a read or by
        // the repair after a failover, or placed with a new replica, kept its log on fewer
        // nodes until then).
        const adopted = link.history[link.history.length - 1][1] - 1;
        if (adopted > 0) {
          note(id);
          link.probe(adopted);
        }
      } catch (err) {
        if (!(err instanceof CopyLostError)) throw err;
        // Not started from a shorter log: said loudly, and every command it got becomes a
        // DeadLetter naming what is missing. The entity stops after each, so the next command
        // tries again (a node holding the log may have come back).
        c.log.error(err.message);
        return new Behavior<M>("receive", (rc: ActorContext<M>, msg: M) => {
          rc.system.eventStream.publish(
            new DeadLetter(msg, rc.self as ActorRef<never>, "undeliverable", err.message),
          );
          return STOPPED as Behavior<M>;
        });
      }
      return inner;
    });
    // Whoever spawns it (the region) finds the entity's hooks on it too.
    shareEventSourcedHooks(wrapper, hooks);
    return wrapper;
  };
  // Repair. When the placement of a shard changes (a node that held logs is lost, a node joins
  // and the ring moves, a shard moves), its entities' logs are not on the new placement until
  // they start again on their primary (a start adopts the newest copy and refills the replicas).
  // An entity that gets a message starts; an idle one would not, and a later loss could then
  // take its last copy. So every node that holds logs watches the placement of their shards
  // (owner and replicas), and when it changes, wakes each of the shard's entities it holds:
  // through its region, which has the shard placed again if need be and starts the entity there
  // with no message. A live primary here ships a probe instead. Paced: a few hundred per tick,
  // and while a shard is not placed, one wake at a time for it (that one gets it placed; the rest
  // follow once it is).
  const live = new Map<string, Link>();
  // Live entities whose shipment a replica left unanswered: when to probe again, and the delay
  // (doubling from 500 ms to 8 s while it stays unanswered; any answer resets it).
  const behind = new Map<Link, number>();
  const backoff = new Map<Link, number>();
  function lagging(link: Link): void {
    if (behind.has(link) || placement === undefined) return;
    const delay = Math.min(8000, 2 * (backoff.get(link) ?? 250));
    backoff.set(link, delay);
    behind.set(link, ctx.clock.now() + delay);
    startRepair();
  }
  // Per shard of a held log: the member ids of its owner and replicas as last seen here, or
  // UNPLACED while its owner is not an up member.
  const lastPlacement = new Map<number, readonly string[]>();
  const UNPLACED: readonly string[] = [];
  let seenMembers = "";
  let seenTable: unknown;
  const toWake: string[] = [];
  let head = 0;
  const waking = new Set<string>();
  let repairing = false;
  /** The member id of every up member (the placeable ones), by formatted address. */
  const upByAddress = (view: ClusterView) =>
    new Map(
      view.members.filter((m) => PLACEABLE.has(m.status)).map((m) => [
        formatNodeAddress(m.address),
        m.id,
      ]),
    );
  const queueWake = (id: string) => {
    if (waking.has(id)) return;
    waking.add(id);
    toWake.push(id);
  };
  const noticeMoves = () => {
    const view = ctx.view();
    const table = placement!.table();
    // (The members array is new at every gossip merge; their ids and statuses change rarely.)
    const members = view.members.map((m) => `${m.id}:${m.status}`).join(",");
    if (members === seenMembers && table === seenTable) return;
    seenMembers = members;
    seenTable = table;
    const idAt = upByAddress(view);
    const h = hosts();
    const moved = new Set<number>();
    for (const shard of heldShards) {
      const before = lastPlacement.get(shard);
      const owner = placement!.ownerOf(shard);
      const ownerId = owner === undefined ? undefined : idAt.get(formatNodeAddress(owner));
      if (ownerId === undefined) {
        // (Also when seen unplaced first: a log held here for a shard nobody hosts.)
        if (before !== UNPLACED) moved.add(shard);
        lastPlacement.set(shard, UNPLACED);
        continue;
      }
      const ids = [ownerId];
      for (const a of replicaNodes(view, owner!, replicas, role, h)) {
        const id = idAt.get(formatNodeAddress(a));
        if (id !== undefined) ids.push(id);
      }
      if (
        before !== undefined &&
        (before.length !== ids.length || before.some((id, i) => id !== ids[i]))
      ) moved.add(shard);
      lastPlacement.set(shard, ids);
    }
    if (moved.size === 0) return;
    for (const [id, shard] of held) if (moved.has(shard)) queueWake(id);
  };
  const sendWakes = () => {
    if (head === toWake.length) return;
    const placed = upByAddress(ctx.view());
    const kicked = new Set<number>();
    const later: string[] = [];
    let sent = 0;
    for (let scanned = 0; head < toWake.length && sent < WAKES_PER_TICK; scanned++) {
      if (scanned >= 4 * WAKES_PER_TICK) break;
      const id = toWake[head++];
      const shard = held.get(id)!;
      const owner = placement!.ownerOf(shard);
      if (owner === undefined || !placed.has(formatNodeAddress(owner))) {
        if (kicked.has(shard)) {
          later.push(id);
          continue;
        }
        kicked.add(shard);
      }
      waking.delete(id);
      sent++;
      const link = live.get(id);
      if (link !== undefined) link.probe();
      else placement!.wake(id);
    }
    for (const id of later) toWake.push(id);
    if (head === toWake.length) {
      toWake.length = 0;
      head = 0;
    } else if (head > 1024 && head * 2 > toWake.length) {
      toWake.splice(0, head);
      head = 0;
    }
  };
  const repairTick = () => {
    if (node.isShutdown) return;
    ctx.clock.setTimeout(repairTick, REPAIR_TICK);
    // A node on its way out (or not up yet) leaves the repair to the others: the placements
    // that lose it change, and their other holders act.
    const view = ctx.view();
    if (view.members.find((m) => m.id === view.incarnation)?.status !== "up") return;
    noticeMoves();
    sendWakes();
    if (behind.size > 0) {
      const now = ctx.clock.now();
      for (const [link, at] of behind) {
        if (at > now) continue;
        behind.delete(link);
        if (live.get(link.id) === link) link.probe();
        else backoff.delete(link);
      }
    }
  };
  // Started by the first log this node holds (a node with none runs no timer).
  function startRepair(): void {
    if (repairing || placement === undefined) return;
    repairing = true;
    ctx.clock.setTimeout(repairTick, REPAIR_TICK);
  }
  return {
    factory: wrapped,
    replicasOf: (primary) => replicaNodes(ctx.view(), primary, replicas, role, hosts()),
    entityStopped: (id) => void live.delete(id),
    wakeLost: (id) => {
      if (held.has(id)) queueWake(id);
    },
  };
}

/**
 * The entity's journal addressed by its sharding id: replication speaks sharding ids (also in
 * keys made from them, like the term record's), while the entity's events live under its own
 * `entityId`, which may differ.
 */
function keyedBy(journal: EventJournal, shardingId: string, entityId: string): EventJournal {
  if (shardingId === entityId) return journal;
  const key = (k: string) =>
    k.endsWith(shardingId) ? k.slice(0, k.length - shardingId.length) + entityId : k;
  return {
    persist: (k, events) => journal.persist(key(k), events),
    load: (k, from, options) => journal.load(key(k), from, options),
    highestSequenceNr: journal.highestSequenceNr
      ? (k) => journal.highestSequenceNr!(key(k))
      : undefined,
    saveSnapshot: (k, snapshot) => journal.saveSnapshot(key(k), snapshot),
    loadSnapshot: (k) => journal.loadSnapshot(key(k)),
    deleteEvents: journal.deleteEvents ? (k, to) => journal.deleteEvents!(key(k), to) : undefined,
    truncateEvents: journal.truncateEvents
      ? (k, from) => journal.truncateEvents!(key(k), from)
      : undefined,
  };
}

function notEventSourced(name: string): TypeError {
  return new TypeError(
    `Cannot replicate sharded type "${name}": its factory must return Behaviors.eventSourced(...)`,
  );
}

provideReplication(startReplication);
