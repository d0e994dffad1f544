/**
 * The one sharded entity behind every data structure: a pure model (state, events, decisions)
 * run either in memory or event-sourced over a journal.
 *
 * @module
 */
import type { ActorRef } from "../actor/actor_ref.ts";
import type { Behavior } from "../actor/behaviors.ts";
import { Behaviors } from "../persistence/behaviors.ts";
import { deleteEventsOf, type EventJournal } from "../persistence/journal.ts";

/** A request to a structure entity. */
export interface DataCommand {
  readonly op: string;
  readonly args: readonly unknown[];
  readonly replyTo: ActorRef<DataReply>;
}

/** The answer of a structure entity. */
export type DataReply =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly code: string; readonly message: string };

/** What a model decides for one operation. */
export interface Decision<S, E> {
  readonly events: readonly E[];
  /** The reply, computed from the state before the events (`apply` may update it in place). */
  readonly value?: unknown;
  /** The entity stops after the events (destroy). */
  readonly stop?: boolean;
}

/** The pure logic of one structure kind. */
export interface DataModel<S, E> {
  initial(): S;
  apply(state: S, event: E): S;
  decide(state: S, op: string, args: readonly unknown[]): Decision<S, E>;
}

/** An operation refused by the model (bad input). */
export class ModelError extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = "ModelError";
  }
}

/** A destroy event every model understands: back to the initial state. */
export const RESET = { t: "reset" } as const;

function decideSafely<S, E>(
  model: DataModel<S, E>,
  state: S,
  cmd: DataCommand,
): Decision<S, E> | DataReply {
  try {
    if (cmd.op === "destroy") return { events: [RESET as E], value: undefined, stop: true };
    return model.decide(state, cmd.op, cmd.args);
  } catch (err) {
    const code = err instanceof ModelError ? err.code : "BAD_REQUEST";
    return { ok: false, code, message: err instanceof Error ? err.message : String(err) };
  }
}

function applyAll<S, E>(model: DataModel<S, E>, state: S, event: E): S {
  return (event as { t?: string }).t === "reset" ? model.initial() : model.apply(state, event);
}

/**
 * The behavior of one structure entity.
 *
 * @param model The structure's logic.
 * @param entityId The entity id (also its journal key).
 * @param journal Where events go; in memory only when absent.
 */
export function dataEntity<S, E>(
  model: DataModel<S, E>,
  entityId: string,
  journal: EventJournal | undefined,
): Behavior<DataCommand> {
  // A fresh state at every start (models update it in place), restarts included.
  if (journal === undefined) return Behaviors.setup<DataCommand>(() => inMemory(model));
  // The event-sourced behavior itself (no setup around it), so that replication can wrap it.
  return eventSourced(model, entityId, journal);
}

/** The initial state of an event-sourced entity: made fresh where it is first needed. */
const UNSET: unique symbol = Symbol("unset");

function inMemory<S, E>(model: DataModel<S, E>): Behavior<DataCommand> {
  let state = model.initial();
  return Behaviors.receive<DataCommand>((_ctx, cmd) => {
    const d = decideSafely(model, state, cmd);
    if ("ok" in d) {
      cmd.replyTo.tell(d);
      return Behaviors.same();
    }
    for (const e of d.events) state = applyAll(model, state, e);
    cmd.replyTo.tell({ ok: true, value: d.value });
    return d.stop ? Behaviors.stopped() : Behaviors.same();
  });
}

function eventSourced<S, E>(
  model: DataModel<S, E>,
  entityId: string,
  journal: EventJournal,
): Behavior<DataCommand> {
  const fresh = (s: S | typeof UNSET): S => s === UNSET ? model.initial() : s;
  // The entity's sequence number, to free the log before a reset (destroy).
  let seq = 0;
  return Behaviors.eventSourced<DataCommand, E, S | typeof UNSET>({
    entityId,
    journal,
    initialState: UNSET,
    onEvent: (s, e) => applyAll(model, fresh(s), e),
    onRecovered: (_state, sequenceNr) => {
      seq = sequenceNr;
    },
    onCommand: (ctx, state, cmd) => {
      const d = decideSafely(model, fresh(state), cmd);
      if ("ok" in d) {
        cmd.replyTo.tell(d);
        return Behaviors.same();
      }
      const reply = () => cmd.replyTo.tell({ ok: true, value: d.value });
      if (d.events.length === 0) {
        reply();
        return Behaviors.same();
      }
      return Behaviors.persisted(d.events, {
        reply: () => {
          seq += d.events.length;
          if (!d.stop) return reply();
          // Destroy: the reset event is the last one; free everything before it, then answer.
          freeBefore(journal, entityId, seq, ctx.log).then(reply);
        },
        then: d.stop ? Behaviors.stopped() : undefined,
      }) as Behavior<DataCommand>;
    },
  });
}

/**
 * Frees an entity's journal entries before its reset event at `resetAt` (destroy); a journal
 * without `deleteEvents` keeps them (the reset still replays to the fresh state). Never rejects.
 */
export async function freeBefore(
  journal: EventJournal,
  entityId: string,
  resetAt: number,
  log: { warn(message: string, error?: unknown): void },
): Promise<void> {
  try {
    await deleteEventsOf(journal, entityId, resetAt - 1);
  } catch (err) {
    log.warn(`could not free the journal entries of destroyed "${entityId}"`, err);
  }
}
