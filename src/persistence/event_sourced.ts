/**
 * Event-sourced behaviors: state as a fold over persisted events.
 *
 * @module
 */
import type { ActorContext } from "../actor/actor_context.ts";
import type { ActorRef } from "../actor/actor_ref.ts";
import { DeadLetter } from "../actor/events.ts";
import { Behavior, type PersistedPayload } from "../actor/behaviors.ts";
import { type EventJournal, loadEvents, type PersistedEvent } from "./journal.ts";
import type { SnapshotPolicy } from "./snapshot.ts";

/** What an event-sourced command handler may return. */
export type CommandResult<C> = Behavior<C> | void | undefined;

/**
 * Called after events are durable locally and before the command's reply runs; replication
 * uses it to ship the events and wait for acknowledgements. A rejection fails the actor and
 * the reply never runs.
 */
export type AfterPersist = (
  entityId: string,
  events: readonly PersistedEvent[],
) => void | Promise<void>;

/**
 * The seams of one event-sourced behavior that replication uses: its entity id and journal, and
 * a replaceable `afterPersist` hook. Set `stopped` to stop the actor after the current command.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Behaviors } from "@casty/casty";
 * import { eventSourcedHooks, InMemoryJournal } from "@casty/casty/persistence";
 * const journal = new InMemoryJournal();
 * const b = Behaviors.eventSourced<string, string, number>({
 *   entityId: "e", journal, initialState: 0, onEvent: (n) => n + 1, onCommand: () => undefined,
 * });
 * assert.equal(eventSourcedHooks(b)?.journal, journal);
 * assert.equal(eventSourcedHooks(Behaviors.same()), undefined);
 * ```
 */
export interface EventSourcedHooks {
  /** The entity id. */
  readonly entityId: string;
  /** The journal the behavior writes to. */
  readonly journal: EventJournal;
  /** Run after each durable persist, before `reply`; a rejection goes to `onFailure`. */
  afterPersist?: AfterPersist;
  /** When set (by a hook), the actor stops after the current command. */
  stopped: boolean;
  /**
   * When set, a promise returned by `afterPersist` is not awaited: the actor goes on with its
   * next command, and the command's `reply` (or `onFailure`) runs once the promise settles, in
   * the order they settle. A rejection without `onFailure`, or `stopped` set meanwhile, fails or
   * stops the actor before its next command.
   */
  pipeline?: boolean;
  /**
   * Asked right before each journal write: an error refuses it. Nothing is written, the
   * command's `onFailure` gets the error, the command becomes a `DeadLetter` (`undeliverable`,
   * with the error's message) and the actor stops. Sharding sets it: an entity writes only while
   * its node's shard lease is valid.
   */
  beforePersist?: () => Error | undefined;
}

const HOOKS = new WeakMap<object, EventSourcedHooks>();

/**
 * The {@linkcode EventSourcedHooks} of a behavior made by {@linkcode eventSourced}, or
 * `undefined` for any other behavior.
 *
 * @param behavior A behavior.
 * @returns Its hooks, if it is event-sourced.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Behaviors } from "@casty/casty";
 * import { eventSourcedHooks, InMemoryJournal } from "@casty/casty/persistence";
 * const b = Behaviors.eventSourced<string, string, number>({
 *   entityId: "e", journal: new InMemoryJournal(), initialState: 0, onEvent: (n) => n + 1,
 *   onCommand: () => undefined,
 * });
 * assert.equal(eventSourcedHooks(b)?.entityId, "e");
 * ```
 */
export function eventSourcedHooks<M>(behavior: Behavior<M>): EventSourcedHooks | undefined {
  return HOOKS.get(behavior);
}

/**
 * Gives `wrapper` (a behavior that becomes the event-sourced one, as replication's does) the
 * hooks of `hooks`' behavior, so that whoever spawns it finds them.
 *
 * @internal
 */
export function shareEventSourcedHooks(wrapper: object, hooks: EventSourcedHooks): void {
  HOOKS.set(wrapper, hooks);
}

/** Options of {@linkcode eventSourced} (`Behaviors.eventSourced`). */
export interface EventSourcedOptions<C, E, S> {
  /** The entity's id: the key of its log in the journal. */
  entityId: string;
  /** Where events and snapshots are stored. */
  journal: EventJournal;
  /** The state before any event. */
  initialState: S;
  /** Applies one event to the state. Pure and synchronous: it also runs during recovery. */
  onEvent: (state: S, event: E) => S;
  /**
   * Decides what to do with a command: return `Behaviors.persisted(events, { reply, then })`
   * to persist events, `Behaviors.same()` (or nothing) to keep going, `Behaviors.stopped()`
   * to stop, or `Behaviors.unhandled()`. May be async.
   */
  onCommand: (
    ctx: ActorContext<C>,
    state: S,
    command: C,
  ) => CommandResult<C> | Promise<CommandResult<C>>;
  /** When to save snapshots; none by default. */
  snapshotPolicy?: SnapshotPolicy;
  /**
   * Events read per page during recovery, so a long log is never held in memory at once.
   * @default {1000}
   */
  replayPageSize?: number;
  /** Hook run after each durable persist, before `reply` (used by replication). */
  afterPersist?: AfterPersist;
  /** Called once recovery is complete, with the recovered state and sequence number. */
  onRecovered?: (state: S, sequenceNr: number) => void;
}

/**
 * An actor whose state is the fold of its persisted events. On start it loads the latest
 * snapshot, replays later events page by page, and only then handles commands; commands
 * that arrive during recovery wait in the mailbox, in order. A command that returns
 * `Behaviors.persisted(events, { reply })` has its events numbered, written durably, applied
 * to the state, and only then is `reply(newState)` called. A failed persist fails the actor
 * through its supervisor and never replies; a restart recovers from the journal again.
 *
 * @example The seed's bank account
 * ```ts
 * import assert from "node:assert/strict";
 * import { ActorSystem, Behaviors, type ActorRef } from "@casty/casty";
 * import { InMemoryJournal, SnapshotEvery } from "@casty/casty/persistence";
 * type State = { balance: number; txCount: number };
 * type Event = { type: "deposited"; amount: number };
 * type Command = { type: "deposit"; amount: number; replyTo: ActorRef<State> };
 * const journal = new InMemoryJournal();
 * const account = (entityId: string) =>
 *   Behaviors.eventSourced<Command, Event, State>({
 *     entityId, journal, initialState: { balance: 0, txCount: 0 },
 *     onEvent: (s, e) => ({ balance: s.balance + e.amount, txCount: s.txCount + 1 }),
 *     onCommand: (_ctx, _s, cmd) =>
 *       Behaviors.persisted([{ type: "deposited", amount: cmd.amount }], { reply: (s) => cmd.replyTo.tell(s) }),
 *     snapshotPolicy: new SnapshotEvery(100),
 *   });
 * await using system = new ActorSystem({ name: "bank" });
 * const ref = system.spawn(account("acc-001"), "account");
 * const s = await system.ask(ref, (replyTo) => ({ type: "deposit", amount: 100, replyTo }));
 * assert.equal(s.balance, 100);
 * ```
 */
export function eventSourced<C, E, S>(options: EventSourcedOptions<C, E, S>): Behavior<C> {
  const {
    entityId,
    journal,
    initialState,
    onEvent,
    onCommand,
    snapshotPolicy,
    replayPageSize = 1000,
    afterPersist,
    onRecovered,
  } = options;
  if (typeof entityId !== "string" || entityId.length === 0) {
    throw new TypeError("eventSourced needs a non-empty entityId");
  }
  if (!Number.isInteger(replayPageSize) || replayPageSize < 1) {
    throw new RangeError(`replayPageSize must be a positive integer, got ${replayPageSize}`);
  }

  const hooks: EventSourcedHooks = { entityId, journal, afterPersist, stopped: false };
  const behavior = new Behavior<C>("setup", async (ctx: ActorContext<C>) => {
    // Recovery: the cell does not handle messages until this promise settles, so commands
    // that arrive meanwhile are kept in the mailbox in order (the stash).
    const snapshot = await journal.loadSnapshot(entityId);
    let state: S = snapshot ? (snapshot.state as S) : initialState;
    let seq = snapshot ? snapshot.sequenceNr : 0;
    for (;;) {
      const page = await loadEvents(journal, entityId, seq + 1, { max: replayPageSize });
      for (const e of page) {
        state = onEvent(state, e.event as E);
        seq = e.sequenceNr;
      }
      if (page.length < replayPageSize) break;
    }
    let sinceSnapshot = snapshot ? seq - snapshot.sequenceNr : seq;
    onRecovered?.(state, seq);
    const clock = ctx.system.clock;
    let failure: Error | undefined;

    const persist = async (payload: PersistedPayload, cmd: C): Promise<CommandResult<C>> => {
      const events = payload.events;
      let next = state;
      if (events.length > 0) {
        const refused = hooks.beforePersist?.();
        if (refused !== undefined) {
          ctx.log.warn(refused.message);
          ctx.system.eventStream.publish(
            new DeadLetter(cmd, ctx.self as ActorRef<never>, "undeliverable", refused.message),
          );
          payload.onFailure?.(refused);
          return STOPPED as Behavior<C>;
        }
        const now = clock.wallNow();
        const records: PersistedEvent[] = events.map((event, i) => ({
          sequenceNr: seq + 1 + i,
          event,
          timestamp: now,
        }));
        await journal.persist(entityId, records);
        for (const e of events) next = onEvent(next, e as E);
        state = next;
        seq += events.length;
        sinceSnapshot += events.length;
        if (snapshotPolicy?.shouldSnapshot(seq, sinceSnapshot)) {
          try {
            await journal.saveSnapshot(entityId, {
              sequenceNr: seq,
              state,
              timestamp: clock.wallNow(),
            });
            sinceSnapshot = 0;
          } catch (err) {
            // A snapshot is an optimisation: the events are durable, so keep going.
            ctx.log.warn(`snapshot of "${entityId}" at ${seq} failed`, err);
          }
        }
        const confirmation = hooks.afterPersist?.(entityId, records);
        if (hooks.pipeline && confirmation && payload.then?.kind !== "stopped") {
          const after = state;
          confirmation.then(() => payload.reply?.(after), (err) => {
            const error = err instanceof Error ? err : new Error(String(err));
            if (payload.onFailure) payload.onFailure(error);
            else failure ??= error;
            if (failure || hooks.stopped) ctx.self.tell(WAKE as C);
          });
          return undefined;
        }
        if (confirmation) {
          try {
            await confirmation;
          } catch (err) {
            if (!payload.onFailure && !hooks.stopped) throw err;
            payload.onFailure?.(err instanceof Error ? err : new Error(String(err)));
            return hooks.stopped ? STOPPED as Behavior<C> : undefined;
          }
        }
      }
      payload.reply?.(state);
      if (hooks.stopped) return STOPPED as Behavior<C>;
      if (payload.then?.kind === "stopped") return payload.then as Behavior<C>;
      return undefined;
    };

    const handle = (
      result: CommandResult<C>,
      cmd: C,
    ): CommandResult<C> | Promise<CommandResult<C>> => {
      if (result === undefined) return undefined;
      if (!(result instanceof Behavior)) {
        throw new TypeError(
          `onCommand of "${entityId}" returned ${typeof result}; return Behaviors.persisted(...), ` +
            "Behaviors.same(), Behaviors.stopped() or Behaviors.unhandled()",
        );
      }
      switch (result.kind) {
        case "persisted":
          return persist(result.payload as PersistedPayload, cmd);
        case "same":
        case "stopped":
        case "unhandled":
          return result;
        default:
          throw new TypeError(
            `onCommand of "${entityId}" returned Behaviors.${result.kind}(); an event-sourced ` +
              "actor can only persist, stay, stop or leave a command unhandled",
          );
      }
    };

    return new Behavior<C>("receive", (c: ActorContext<C>, cmd: C) => {
      // A pipelined command failed (or the actor was told to stop) after it was handled.
      if (failure) throw failure;
      if (hooks.stopped) return STOPPED as Behavior<C>;
      if ((cmd as unknown) === WAKE) return undefined;
      const result = onCommand(c, state, cmd);
      if (
        result !== null && typeof result === "object" &&
        typeof (result as Promise<unknown>).then === "function"
      ) {
        return (result as Promise<CommandResult<C>>).then((r) => handle(r, cmd));
      }
      return handle(result as CommandResult<C>, cmd);
    });
  });
  HOOKS.set(behavior, hooks);
  return behavior;
}

const STOPPED = new Behavior<unknown>("stopped");
// Sent to itself by an actor whose pipelined command failed, so that it fails or stops at once.
const WAKE: unknown = Object.freeze({ wake: "casty.eventSourced" });
