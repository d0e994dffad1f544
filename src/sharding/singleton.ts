/**
 * Cluster singletons: `node.spawn(Behaviors.singleton(factory), "name")` runs exactly one
 * instance of an actor in the whole cluster, on the oldest `up` member (with the role, when one
 * is given), and returns a ref that reaches it from any node.
 *
 * Every node (of the role) spawns the same singleton under the same name; each runs a manager at
 * `/<name>`. A manager that believes its node is the owner starts the instance only after every
 * other live member (not `down`, not removed) has confirmed, for this very attempt, that it does
 * not run one: so a graceful leave hands over (the old instance stops before the new one starts)
 * and a lost node's instance is restarted elsewhere once that node is downed. Messages sent while
 * the singleton moves are buffered (bounded; overflow or timeout → `DeadLetter`) and delivered in
 * the order they were buffered.
 *
 * @module
 */
import type { ActorContext } from "../actor/actor_context.ts";
import type { ActorRef } from "../actor/actor_ref.ts";
import { type Behavior, Behaviors } from "../actor/behaviors.ts";
import { DeadLetter, Terminated } from "../actor/events.ts";
import type { Cancellable } from "../actor/clock.ts";
import {
  addDefaultExtension,
  type ClusterExtension,
  type ClusterExtensionContext,
  markerBehavior,
  markerOf,
} from "../cluster/extension.ts";
import { type Member, type MemberStatus, nodeKey } from "../cluster/member.ts";
import {
  compareNodeAddresses as compareAddresses,
  sameNodeAddress as sameAddress,
} from "../remote/address.ts";
import { ShutdownSelf } from "../cluster/events.ts";
import { coordinatorOf } from "./shard_coordinator.ts";

/** The marker of singleton behaviors (see `ClusterExtensionContext.registerSpawnHandler`). */
export const SINGLETON_MARKER = "singleton";

/**
 * Options of {@linkcode singleton}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SingletonOptions } from "@casty/casty";
 * const o: SingletonOptions = { role: "worker", bufferSize: 100, bufferTimeout: 10_000 };
 * assert.equal(o.role, "worker");
 * ```
 */
export interface SingletonOptions {
  /** Only members with this role host the singleton (and only they need to spawn it). */
  readonly role?: string;
  /**
   * Messages kept per node while the singleton has no running instance; more become
   * `DeadLetter`s (reason `"mailboxFull"`).
   * @default {1000}
   */
  readonly bufferSize?: number;
  /**
   * Milliseconds a buffered message may wait; older ones become `DeadLetter`s (reason
   * `"undeliverable"`).
   * @default {30000}
   */
  readonly bufferTimeout?: number;
  /**
   * Milliseconds between two hand-over requests while a node waits to take the singleton over.
   * @default {1000}
   */
  readonly retryInterval?: number;
}

interface SingletonSpec {
  readonly factory: () => Behavior<unknown>;
  readonly options: SingletonOptions;
}

/**
 * A behavior that runs as one instance cluster-wide: spawn it with the same name on every node
 * (of the role); `node.spawn` returns a ref that reaches the instance from that node. Spawning it
 * on a plain `ActorSystem` fails.
 *
 * @param factory The singleton's behavior, or a function making it (called at each start).
 * @param options Role, buffer bound and timeout.
 * @returns The marker behavior to give to `node.spawn`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Behaviors, type ActorRef } from "@casty/casty";
 * import { testCluster } from "@casty/casty/testing";
 * type Msg = { replyTo: ActorRef<number> };
 * await using c = await testCluster(2);
 * const refs = c.nodes.map((n) =>
 *   n.spawn(Behaviors.singleton(() => Behaviors.receive<Msg>((_ctx, m) => m.replyTo.tell(n.selfAddress.port))), "leader-only")
 * );
 * // Both refs reach the one instance, on the oldest node (node 0).
 * assert.equal(await c.run(c.nodes[1].ask(refs[1], (replyTo) => ({ replyTo }))), 25520);
 * ```
 */
export function singleton<M>(
  factory: Behavior<M> | (() => Behavior<M>),
  options: SingletonOptions = {},
): Behavior<M> {
  const make = typeof factory === "function" ? factory : () => factory;
  if (options.bufferSize !== undefined && !(options.bufferSize >= 0)) {
    throw new RangeError(`bufferSize must be >= 0, got ${options.bufferSize}`);
  }
  if (options.bufferTimeout !== undefined && !(options.bufferTimeout > 0)) {
    throw new RangeError(`bufferTimeout must be positive, got ${options.bufferTimeout}`);
  }
  const spec: SingletonSpec = { factory: make as () => Behavior<unknown>, options };
  return markerBehavior<M>(SINGLETON_MARKER, "Behaviors.singleton()", spec);
}

/** @internal A user message on its way between two singleton managers. */
export class SingletonEnvelope {
  /**
   * @param message The user's message.
   * @param hops How many managers forwarded it already.
   * @param origin The key of the node where it was sent.
   * @param seq Its number among the messages sent through that node's manager.
   * @param via The key of the node that forwarded it last.
   */
  constructor(
    readonly message: unknown,
    readonly hops: number,
    readonly origin: string,
    readonly seq: number,
    readonly via: string = "",
  ) {}
}

/** @internal "I want to run the singleton: confirm you don't run it (for attempt `round`)". */
export class SingletonHandOverRequest {
  /**
   * @param from The requester's node key (`host:port#id`).
   * @param round The requester's attempt.
   */
  constructor(readonly from: string, readonly round: number) {}
}

/** @internal "I don't run the singleton and won't start it without your confirmation." */
export class SingletonHandOverDone {
  /**
   * @param from The confirming node's key.
   * @param round The attempt it confirms.
   * @param delivered The last message number its instances got from each origin (so the next
   *   instance gets each origin's later messages in order).
   */
  constructor(
    readonly from: string,
    readonly round: number,
    readonly delivered: Readonly<Record<string, number>> = {},
  ) {}
}

/** Local: the membership changed. */
class ViewChanged {}
/** Local: timers. */
class Tick {}
/** Local: time to deliver messages that waited `gapTimeout` for an earlier one. */
class GapCheck {}
/** Local: the node shuts down (stop the instance at once). */
class ShuttingDown {}

interface Buffered {
  readonly message: unknown;
  readonly at: number;
  readonly hops: number;
  /** The node that forwarded it here ("" for a message sent on this node). */
  readonly via: string;
  readonly origin: string;
  readonly seq: number;
}

/**
 * Puts each origin's messages back in the order they were sent (messages from one node can
 * arrive by two routes while the singleton moves), keeping the slots each origin occupies.
 */
function reorder(buffer: Buffered[]): void {
  const slots = new Map<string, number[]>();
  buffer.forEach((b, i) => {
    const s = slots.get(b.origin);
    if (s) s.push(i);
    else slots.set(b.origin, [i]);
  });
  for (const idx of slots.values()) {
    if (idx.length < 2) continue;
    const items = idx.map((i) => buffer[i]).sort((a, b) => a.seq - b.seq);
    idx.forEach((i, k) => (buffer[i] = items[k]));
  }
}

/** A message bounced between this many managers waits where it is (until it expires). */
const MAX_HOPS = 10;

/** Whether `a` became up before `b` (ties broken by address). */
function older(a: Member, b: Member): boolean {
  const ua = a.upNumber ?? Number.MAX_SAFE_INTEGER;
  const ub = b.upNumber ?? Number.MAX_SAFE_INTEGER;
  return ua !== ub ? ua < ub : compareAddresses(a.address, b.address) < 0;
}

/**
 * The member that should host a singleton in this view: the oldest `up` member with the role.
 *
 * @internal
 */
export function singletonOwner(
  members: readonly Member[],
  role: string | undefined,
): Member | undefined {
  let best: Member | undefined;
  for (const m of members) {
    if (m.status !== "up" || m.upNumber === undefined) continue;
    if (role !== undefined && !m.roles.includes(role)) continue;
    if (best === undefined || older(m, best)) best = m;
  }
  return best;
}

function managerBehavior(
  ext: ClusterExtensionContext,
  name: string,
  spec: SingletonSpec,
): Behavior<unknown> {
  const role = spec.options.role;
  const bufferSize = spec.options.bufferSize ?? 1000;
  const bufferTimeout = spec.options.bufferTimeout ?? 30_000;
  const retryInterval = spec.options.retryInterval ?? 1000;
  const path = `/${name}`;
  const selfKey = nodeKey({ address: ext.selfAddress, id: ext.incarnation });

  return Behaviors.setup<unknown>((ctx: ActorContext<unknown>) => {
    let instance: ActorRef<unknown> | undefined;
    let stopping = false;
    let shuttingDown = false;
    let round = 0;
    let wanting = false;
    let selfStopped = false;
    let sent = 0;
    const confirmed = new Set<string>();
    /** Requesters waiting for this node's instance to stop. */
    const waiting = new Map<string, number>();
    const buffer: Buffered[] = [];
    let timer: Cancellable | undefined;
    /** The last message number delivered to an instance, per origin (across instances). */
    const lastDelivered = new Map<string, number>();
    /** Messages that came ahead of an earlier one of their origin (by another route). */
    const held = new Map<string, { since: number; items: Buffered[] }>();
    let heldCount = 0;
    let gapTimer: Cancellable | undefined;
    // A message that is stuck on its way waits at most until a manager's next tick
    // (`retryInterval`): twice that covers it; a gap that outlives it was a dead letter.
    const gapTimeout = Math.min(2 * retryInterval, bufferTimeout);

    const off = ext.subscribe((e) => {
      if (e instanceof ShutdownSelf) {
        // Synchronously: the node is leaving the cluster, its instance must not outlive it.
        shuttingDown = true;
        if (instance && !stopping) {
          stopping = true;
          ctx.stop(instance as ActorRef<never>);
        }
        ctx.self.tell(new ShuttingDown());
      } else ctx.self.tell(new ViewChanged());
    });

    // The instance runs only while this node held a shard lease (when sharding runs) at most
    // `leaseTimeout` ago: a node downed while it still answers (an operator's down, a link cut to
    // other members only) learns of it late, but its lease runs out within `leaseTimeout` of the
    // downing, and its instance stops `leaseTimeout` later. A new owner waits that long (and a
    // tick) after such a downing before it starts the instance. The grace rides out a leader
    // change, which pauses the leases for a moment.
    const coordinator = coordinatorOf(ext.node);
    const grace = coordinator?.leaseTimeout ?? 0;
    const leaseOk = (): boolean =>
      coordinator === undefined || ctx.system.clock.now() < coordinator.leaseUntil + grace;
    const offLease = coordinator?.onLeaseChange(() => ctx.self.tell(new ViewChanged()));
    let leaseTimer: Cancellable | undefined;
    /** While the instance runs: a look again when the lease (with its grace) would run out. */
    const armLeaseCheck = () => {
      if (coordinator === undefined || leaseTimer || !instance || stopping) return;
      const left = coordinator.leaseUntil + grace - ctx.system.clock.now();
      leaseTimer = ctx.system.scheduler.internal(() => {
        leaseTimer = undefined;
        ctx.self.tell(new Tick());
      }, Math.max(1, left));
    };
    /** Member → when this node first saw it unreachable (in its current spell). */
    const unreachableSince = new Map<string, number>();
    /** Member → its status when this node last looked. */
    const lastStatus = new Map<string, MemberStatus>();
    /** Downed member → until when it may still hold a lease (and so run the instance). */
    const fenced = new Map<string, number>();
    let fenceTimer: Cancellable | undefined;

    /** Notes who went down (or vanished) since the last look, and who is unreachable. */
    const track = () => {
      if (coordinator === undefined) return;
      const now = ctx.system.clock.now();
      const v = ext.view();
      const present = new Set<string>();
      const fence = (key: string) => {
        const since = unreachableSince.get(key);
        // Unreachable for a whole lease before it was downed: crashed, or cut off (then it gave
        // the instance up as soon as it saw a member unreachable, and its lease ran out).
        const until = since !== undefined && now - since >= coordinator.leaseTimeout
          ? now
          : now + 2 * coordinator.leaseTimeout + coordinator.tickInterval;
        if (until > now) fenced.set(key, until);
      };
      for (const m of v.members) {
        const key = nodeKey(m);
        if (key === selfKey) continue;
        present.add(key);
        if (v.unreachable.some((a) => sameAddress(a, m.address))) {
          if (!unreachableSince.has(key)) unreachableSince.set(key, now);
        } else unreachableSince.delete(key);
        const before = lastStatus.get(key);
        lastStatus.set(key, m.status);
        if (role !== undefined && !m.roles.includes(role)) continue;
        if (
          (m.status === "down" || m.status === "removed") && before !== undefined &&
          before !== "down" && before !== "removed" && before !== "exiting"
        ) fence(key);
      }
      for (const [key, before] of [...lastStatus]) {
        if (present.has(key)) continue;
        lastStatus.delete(key);
        if (before !== "down" && before !== "removed" && before !== "exiting") fence(key);
        unreachableSince.delete(key);
      }
    };

    /** Ms to wait before a downed member's lease has surely run out (0: none). */
    const fenceWait = (): number => {
      const now = ctx.system.clock.now();
      let until = now;
      for (const [key, t] of [...fenced]) {
        if (t <= now) fenced.delete(key);
        else until = Math.max(until, t);
      }
      return until - now;
    };

    const memberByKey = (key: string): Member | undefined =>
      ext.view().members.find((m) => nodeKey(m) === key);
    const managerAt = (m: Member): ActorRef<unknown> => ext.refAt(m.address, path);
    const owner = (): Member | undefined => singletonOwner(ext.view().members, role);
    const isSelf = (m: Member | undefined): boolean => m !== undefined && nodeKey(m) === selfKey;
    /** Members that must confirm before this node may start the instance. */
    const others = (): Member[] =>
      ext.view().members.filter((m) =>
        nodeKey(m) !== selfKey && m.status !== "down" && m.status !== "removed" &&
        (role === undefined || m.roles.includes(role))
      );

    const deadLetter = (
      message: unknown,
      reason: "mailboxFull" | "undeliverable" | "shutdown",
      detail: string,
    ) =>
      ctx.system.eventStream.publish(
        new DeadLetter(message, ctx.self as ActorRef<never>, reason, detail),
      );

    const schedule = () => {
      if (timer || shuttingDown) return;
      const delay = Math.min(retryInterval, bufferTimeout);
      timer = ctx.system.scheduler.internal(() => {
        timer = undefined;
        ctx.self.tell(new Tick());
      }, delay);
    };

    const enqueue = (b: Buffered) => {
      if (buffer.length >= bufferSize) {
        deadLetter(
          b.message,
          "mailboxFull",
          `singleton "${name}" buffer is full (${bufferSize} messages) while it moves`,
        );
        return;
      }
      buffer.push(b);
      schedule();
    };

    const expire = () => {
      const now = ctx.system.clock.now();
      while (buffer.length > 0 && now - buffer[0].at >= bufferTimeout) {
        const b = buffer.shift()!;
        deadLetter(
          b.message,
          "undeliverable",
          `singleton "${name}" had no running instance within ${bufferTimeout} ms`,
        );
      }
    };

    /**
     * Delivers or forwards one message; returns false when it must wait here. A message is not
     * sent back to the node it came from unless `force` (a view change or the periodic tick):
     * two nodes that disagree for a moment about the owner would bounce it between them.
     */
    const route = (b: Buffered, force: boolean): boolean => {
      if (instance && !stopping) {
        // Its lease lapsed: the instance stops at the next evaluation; the message waits here.
        if (!leaseOk()) return false;
        deliver(b);
        return true;
      }
      if (stopping || shuttingDown) return false;
      const o = owner();
      if (o === undefined || isSelf(o) || b.hops >= MAX_HOPS) return false;
      // The owner's node is unreachable: keep the message until it is back or replaced.
      if (ext.view().unreachable.some((a) => sameAddress(a, o.address))) return false;
      if (!force && b.via === nodeKey(o)) return false;
      managerAt(o).tell(new SingletonEnvelope(b.message, b.hops + 1, b.origin, b.seq, selfKey));
      return true;
    };

    /**
     * Routes what waits here; a message that must keep waiting holds back the later ones of its
     * origin (never those of another origin).
     */
    const flush = (force = false) => {
      if (buffer.length === 0) return;
      if (instance && !stopping && buffer.length > 1) reorder(buffer);
      const blocked = new Set<string>();
      let kept = 0;
      for (const b of buffer) {
        if (!blocked.has(b.origin) && route(b, force)) continue;
        blocked.add(b.origin);
        buffer[kept++] = b;
      }
      buffer.length = kept;
    };

    const tellNow = (b: Buffered) => {
      instance!.tell(b.message);
      const last = lastDelivered.get(b.origin);
      if (last === undefined || b.seq > last) lastDelivered.set(b.origin, b.seq);
    };

    const drainHeld = (origin: string) => {
      const h = held.get(origin);
      if (!h) return;
      let drained = false;
      while (h.items.length > 0 && h.items[0].seq <= (lastDelivered.get(origin) ?? 0) + 1) {
        tellNow(h.items.shift()!);
        heldCount--;
        drained = true;
      }
      if (h.items.length === 0) held.delete(origin);
      else if (drained) h.since = ctx.system.clock.now(); // waits anew for the next gap
    };

    /**
     * Gives a message to the running instance in its origin's order: one that comes ahead of an
     * earlier one still on its way (it took another route while the singleton moved) waits for
     * it, at most `gapTimeout` ms (the earlier one may have become a dead letter).
     */
    const deliver = (b: Buffered) => {
      // An origin never heard of starts at 1 (after a crash, what the lost instance got is
      // unknown: the first message of such an origin may wait `gapTimeout` for nothing).
      const last = lastDelivered.get(b.origin) ?? 0;
      if (b.seq > last + 1 && heldCount < bufferSize) {
        let h = held.get(b.origin);
        if (!h) held.set(b.origin, h = { since: ctx.system.clock.now(), items: [] });
        const i = h.items.findIndex((x) => x.seq > b.seq);
        if (i < 0) h.items.push(b);
        else h.items.splice(i, 0, b);
        heldCount++;
        if (!gapTimer) {
          gapTimer = ctx.system.scheduler.internal(() => {
            gapTimer = undefined;
            ctx.self.tell(new GapCheck());
          }, gapTimeout);
        }
        return;
      }
      tellNow(b);
      drainHeld(b.origin);
    };

    /** Gives up waiting for gaps older than `gapTimeout`. */
    const releaseGaps = (all: boolean) => {
      const now = ctx.system.clock.now();
      for (const [origin, h] of [...held]) {
        if (!all && now - h.since < gapTimeout) continue;
        const first = h.items.shift()!;
        heldCount--;
        tellNow(first);
        drainHeld(origin);
        if (h.items.length === 0) held.delete(origin);
      }
    };

    /** The instance stops: what it held goes back to the buffer, for the next one. */
    const unhold = () => {
      const items = [...held.values()].flatMap((h) => h.items);
      held.clear();
      heldCount = 0;
      buffer.unshift(...items);
    };

    const startInstance = () => {
      instance = ctx.spawn(spec.factory(), "instance");
      ctx.watch(instance as ActorRef<never>);
      wanting = false;
      confirmed.clear();
      ctx.log.debug(`singleton "${name}" started on this node`);
      armLeaseCheck();
    };

    const requestHandOver = () => {
      for (const m of others()) {
        if (!confirmed.has(nodeKey(m))) {
          managerAt(m).tell(new SingletonHandOverRequest(selfKey, round));
        }
      }
    };

    /** Gives ownership up in this node's mind: stop the instance, forget confirmations. */
    const relinquish = () => {
      if (wanting) {
        wanting = false;
        confirmed.clear();
      }
      if (instance && !stopping) {
        stopping = true;
        ctx.stop(instance as ActorRef<never>);
        unhold();
      }
    };

    const answerWaiting = () => {
      if (instance || stopping) return;
      for (const [key, r] of waiting) {
        const m = memberByKey(key);
        if (m) {
          managerAt(m).tell(
            new SingletonHandOverDone(selfKey, r, Object.fromEntries(lastDelivered)),
          );
        }
      }
      waiting.clear();
    };

    /** Whether a member that is not downed is unreachable in this node's view. */
    const someUnreachable = (): boolean => {
      const v = ext.view();
      return v.unreachable.some((a) =>
        v.members.some((m) => sameAddress(m.address, a) && m.status !== "down")
      );
    };

    const evaluate = () => {
      if (shuttingDown) return;
      track();
      const o = owner();
      if (isSelf(o) && (someUnreachable() || !leaseOk())) {
        // Paused while any member is unreachable (and not yet downed): if this node is cut off,
        // the other side may down it and start the singleton there, possibly before this side
        // notices that it is the minority; the instance must be gone by then.
        relinquish();
        return;
      }
      if (isSelf(o)) {
        armLeaseCheck();
        if (instance || stopping || selfStopped) return;
        if (!wanting) {
          wanting = true;
          round++;
          confirmed.clear();
        }
        const missing = others().filter((m) => !confirmed.has(nodeKey(m)));
        const wait = missing.length === 0 ? fenceWait() : 0;
        if (missing.length === 0 && wait > 0) {
          if (!fenceTimer) {
            ctx.log.debug(
              `singleton "${name}" waits ${wait} ms for a downed member's lease to run out`,
            );
            fenceTimer = ctx.system.scheduler.internal(() => {
              fenceTimer = undefined;
              ctx.self.tell(new Tick());
            }, wait);
          }
        } else if (missing.length === 0) startInstance();
        else {
          requestHandOver();
          schedule();
        }
      } else {
        selfStopped = false;
        relinquish();
        answerWaiting();
      }
    };

    /** After the instance stopped by itself, a message for it starts it again. */
    const restartOnDemand = () => {
      if (!selfStopped) return;
      selfStopped = false;
      evaluate();
    };

    const onTick = () => {
      expire();
      evaluate();
      flush(true);
      if (buffer.length > 0 || wanting) schedule();
    };

    evaluate();
    return Behaviors.withLifecycle(
      Behaviors.receive<unknown>((_ctx, msg) => {
        if (msg instanceof ViewChanged) {
          evaluate();
          flush(true);
        } else if (msg instanceof Tick) {
          onTick();
        } else if (msg instanceof GapCheck) {
          if (instance && !stopping) releaseGaps(false);
          if (heldCount > 0 && !gapTimer) {
            gapTimer = ctx.system.scheduler.internal(() => {
              gapTimer = undefined;
              ctx.self.tell(new GapCheck());
            }, gapTimeout);
          }
        } else if (msg instanceof ShuttingDown) {
          shuttingDown = true;
          relinquish();
        } else if (msg instanceof SingletonHandOverRequest) {
          const o = owner();
          if (isSelf(o) && !shuttingDown) return; // it asks too early: views will converge
          // Confirming gives ownership up here: any confirmation this node holds is void.
          if (wanting) {
            wanting = false;
            confirmed.clear();
          }
          waiting.set(msg.from, msg.round);
          relinquish();
          answerWaiting();
        } else if (msg instanceof SingletonHandOverDone) {
          if (!wanting || msg.round !== round) return; // a stale answer
          confirmed.add(msg.from);
          for (const [origin, seq] of Object.entries(msg.delivered ?? {})) {
            if (typeof seq === "number" && seq > (lastDelivered.get(origin) ?? 0)) {
              lastDelivered.set(origin, seq);
            }
          }
          evaluate();
          flush();
        } else if (msg instanceof Terminated && instance && msg.ref.path === instance.path) {
          const wasStopping = stopping;
          instance = undefined;
          stopping = false;
          unhold();
          if (!wasStopping) {
            ctx.log.warn(`singleton "${name}" stopped by itself; it starts again on demand`);
            selfStopped = true;
          }
          // What waited here goes to the new owner before the confirmation that lets it start,
          // so it is in its buffer (and put back in each origin's order) when it starts.
          flush(true);
          answerWaiting();
        } else if (msg instanceof SingletonEnvelope) {
          restartOnDemand();
          const b: Buffered = {
            message: msg.message,
            at: ctx.system.clock.now(),
            hops: msg.hops,
            via: typeof msg.via === "string" ? msg.via : "",
            origin: msg.origin,
            seq: msg.seq,
          };
          if (buffer.some((x) => x.origin === b.origin) || !route(b, false)) enqueue(b);
        } else {
          restartOnDemand();
          const b: Buffered = {
            message: msg,
            at: ctx.system.clock.now(),
            hops: 0,
            via: "",
            origin: selfKey,
            seq: ++sent,
          };
          if (buffer.some((x) => x.origin === b.origin) || !route(b, false)) enqueue(b);
        }
      }),
      {
        postStop: () => {
          off();
          offLease?.();
          fenceTimer?.cancel();
          leaseTimer?.cancel();
          timer?.cancel();
          gapTimer?.cancel();
          unhold();
          for (const b of buffer.splice(0)) {
            deadLetter(b.message, "shutdown", `singleton "${name}" manager stopped`);
          }
        },
      },
    );
  });
}

/**
 * The singleton cluster extension (on by default: added to the default list when this module
 * loads): routes `node.spawn(Behaviors.singleton(…))`
 * to a manager per node.
 *
 * @internal
 */
export const singletonExtension: ClusterExtension = {
  name: "singleton",
  start(ctx) {
    ctx.registerSerializable(SingletonEnvelope, "casty.SingletonEnvelope");
    ctx.registerSerializable(SingletonHandOverRequest, "casty.SingletonHandOverRequest");
    ctx.registerSerializable(SingletonHandOverDone, "casty.SingletonHandOverDone");
    ctx.registerSpawnHandler(SINGLETON_MARKER, (behavior, name, options) => {
      const spec = markerOf(behavior)!.data as SingletonSpec;
      return ctx.node.spawn(managerBehavior(ctx, name, spec), name, options) as ActorRef<never>;
    });
  },
};

addDefaultExtension(singletonExtension);
