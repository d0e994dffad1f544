/**
 * The entity behind locks and semaphores: permits granted FIFO with leases and fencing tokens.
 *
 * Durable (journal) state: the permit count, the last fencing token, the holders and their
 * tokens. Ephemeral state: lease deadlines and the waiters. A holder is kept only while it
 * renews; a waiter long-polls (the entity answers `pending` after `poll` ms and the client asks
 * again, keeping its place), so a waiter whose node died is dropped, and a waiter whose
 * deadline passed is answered `timeout` and never granted.
 *
 * @module
 */
import type { ActorRef } from "../actor/actor_ref.ts";
import type { Behavior } from "../actor/behaviors.ts";
import { Behaviors } from "../persistence/behaviors.ts";
import { InMemoryJournal } from "../persistence/in_memory_journal.ts";
import type { EventJournal } from "../persistence/journal.ts";
import { type DataCommand, type DataReply, freeBefore } from "./_entity.ts";

/** How often the entity checks leases and deadlines, in ms. */
export const TICK_MS = 50;

interface PermitState {
  readonly permits: number | undefined;
  readonly lastToken: number;
  readonly holders: Readonly<Record<string, { readonly token: number; readonly lease: number }>>;
}

type PermitEvent =
  | { t: "init"; permits: number }
  | { t: "grant"; owner: string; token: number; lease: number }
  | { t: "free"; owner: string }
  | { t: "reset"; lastToken?: number };

/** What `acquire` answers. */
export type AcquireAnswer =
  | { readonly granted: number }
  | { readonly pending: true }
  | { readonly timeout: true }
  | { readonly refused: true };

interface Waiter {
  readonly owner: string;
  replyTo: ActorRef<DataReply> | undefined;
  deadline: number;
  pollUntil: number;
  staleAt: number;
  lease: number;
  poll: number;
}

/** How long a waiter between two polls is kept: it asks again at once, so this is generous. */
const staleAfter = (poll: number) => 2 * poll + 1000;

type Tick = { readonly op: "_tick" };

const initial: PermitState = { permits: undefined, lastToken: 0, holders: {} };

function apply(s: PermitState, e: PermitEvent): PermitState {
  switch (e.t) {
    case "init":
      return { ...s, permits: e.permits };
    case "grant":
      return {
        ...s,
        lastToken: Math.max(s.lastToken, e.token),
        holders: { ...s.holders, [e.owner]: { token: e.token, lease: e.lease } },
      };
    case "free": {
      const holders = { ...s.holders };
      delete holders[e.owner];
      return { ...s, holders };
    }
    case "reset":
      // Tokens keep growing across a destroy: a stale holder must never see a smaller token win.
      // The event carries the token, since destroy frees the events before it.
      return { ...initial, lastToken: Math.max(s.lastToken, e.lastToken ?? 0) };
  }
}

const ok = (value: unknown): DataReply => ({ ok: true, value });

/**
 * The behavior of one lock or semaphore entity.
 *
 * @param entityId Its id (and journal key).
 * @param journal The shared journal; an entity-local in-memory one when absent.
 */
export function permitsEntity(
  entityId: string,
  journal: EventJournal | undefined,
): Behavior<DataCommand | Tick> {
  const leaseUntil = new Map<string, number>();
  const waiters: Waiter[] = [];
  let tickScheduled = false;
  let recovered = false;
  // Without a journal, an entity that starts (first use, or after its node died) does not know
  // who holds what: it grants nothing for one lease (holders that renew meanwhile are adopted),
  // and its tokens start from the wall clock (ms × 1000) so they stay above the lost ones.
  const amnesic = journal === undefined;
  let startedAt = 0;
  const store = journal ?? new InMemoryJournal();
  let seq = 0;
  return Behaviors.eventSourced<DataCommand | Tick, PermitEvent, PermitState>({
    entityId,
    journal: store,
    initialState: initial,
    onEvent: apply,
    onRecovered: (_state, sequenceNr) => {
      seq = sequenceNr;
    },
    onCommand: (ctx, state, cmd) => {
      let resetIndex = -1;
      const clock = ctx.system.clock;
      const now = clock.now();
      if (!recovered) {
        recovered = true;
        startedAt = now;
        // Holders recovered from the journal get a fresh lease: they may still be alive.
        for (const [owner, h] of Object.entries(state.holders)) {
          leaseUntil.set(owner, now + h.lease);
        }
      }
      const events: PermitEvent[] = [];
      const after: (() => void)[] = [];
      let s = state;
      const emit = (e: PermitEvent) => {
        events.push(e);
        s = apply(s, e);
      };
      const free = (owner: string) => {
        if (s.holders[owner] === undefined) return false;
        emit({ t: "free", owner });
        leaseUntil.delete(owner);
        return true;
      };
      const grant = (owner: string, lease: number): number => {
        const token = amnesic
          ? Math.max(s.lastToken + 1, Math.floor(clock.wallNow()) * 1000)
          : s.lastToken + 1;
        emit({ t: "grant", owner, token, lease });
        leaseUntil.set(owner, now + lease);
        return token;
      };
      const free_ = () => s.permits === undefined ? 0 : s.permits - Object.keys(s.holders).length;
      const available = (lease: number) => amnesic && now < startedAt + lease ? 0 : free_();

      // Expire leases and deadlines, drop stale waiters.
      for (const [owner, until] of [...leaseUntil]) if (now >= until) free(owner);
      for (let i = waiters.length - 1; i >= 0; i--) {
        const w = waiters[i];
        if (now >= w.deadline) {
          waiters.splice(i, 1);
          const r = w.replyTo;
          if (r) after.push(() => r.tell(ok({ timeout: true })));
        } else if (w.replyTo === undefined && now >= w.staleAt) {
          waiters.splice(i, 1);
        } else if (w.replyTo !== undefined && now >= w.pollUntil) {
          const r = w.replyTo;
          w.replyTo = undefined;
          w.staleAt = now + staleAfter(w.poll);
          after.push(() => r.tell(ok({ pending: true })));
        }
      }

      if (cmd.op !== "_tick") {
        const c = cmd as DataCommand;
        const reply = (v: unknown) => after.push(() => c.replyTo.tell(ok(v)));
        switch (c.op) {
          case "acquire": {
            const [owner, permits, wait, remaining, poll, lease] = c.args as [
              string,
              number,
              boolean,
              number,
              number,
              number,
            ];
            if (s.permits === undefined) emit({ t: "init", permits });
            else if (s.permits !== permits) {
              c.replyTo.tell({
                ok: false,
                code: "PERMITS_MISMATCH",
                message:
                  `Cannot use semaphore with ${permits} permits: it was created with ${s.permits}`,
              });
              return Behaviors.same();
            }
            const held = s.holders[owner];
            if (held !== undefined) {
              leaseUntil.set(owner, now + lease);
              reply({ granted: held.token });
              break;
            }
            const queued = waiters.find((w) => w.owner === owner);
            if (queued !== undefined) {
              const old = queued.replyTo;
              if (old) after.push(() => old.tell(ok({ pending: true })));
              queued.replyTo = c.replyTo;
              queued.deadline = now + remaining;
              queued.pollUntil = now + poll;
              queued.poll = poll;
              queued.staleAt = now + poll + staleAfter(poll);
              break;
            }
            if (waiters.length === 0 && available(lease) > 0) {
              reply({ granted: grant(owner, lease) });
            } else if (!wait) {
              reply({ refused: true });
            } else {
              waiters.push({
                owner,
                replyTo: c.replyTo,
                deadline: now + remaining,
                pollUntil: now + poll,
                staleAt: now + poll + staleAfter(poll),
                lease,
                poll,
              });
            }
            break;
          }
          case "renew": {
            const [owner, token, lease, permits] = c.args as [string, number, number, number];
            if (amnesic && s.permits === undefined && now < startedAt + lease) {
              emit({ t: "init", permits });
            }
            if (
              amnesic && s.holders[owner] === undefined && now < startedAt + lease &&
              s.permits !== undefined && free_() > 0
            ) {
              // A holder granted by this entity's previous incarnation: adopt it.
              emit({ t: "grant", owner, token, lease });
            }
            const held = s.holders[owner] !== undefined;
            if (held) leaseUntil.set(owner, now + s.holders[owner].lease);
            reply(held);
            break;
          }
          case "release":
          case "cancel": {
            const [owner] = c.args as [string];
            const i = waiters.findIndex((w) => w.owner === owner);
            if (i >= 0) {
              const [w] = waiters.splice(i, 1);
              const r = w.replyTo;
              if (r) after.push(() => r.tell(ok({ timeout: true })));
            }
            reply(free(owner));
            break;
          }
          case "destroy": {
            for (const w of waiters.splice(0)) {
              const r = w.replyTo;
              if (r) after.push(() => r.tell(ok({ timeout: true })));
            }
            leaseUntil.clear();
            resetIndex = events.length;
            emit({ t: "reset", lastToken: s.lastToken });
            reply(undefined);
            break;
          }
          default:
            c.replyTo.tell({
              ok: false,
              code: "UNKNOWN_OPERATION",
              message: `Unknown lock operation "${c.op}"`,
            });
            return Behaviors.same();
        }
      }

      // Grant freed permits to the waiters, first come first served.
      while (waiters.length > 0 && available(waiters[0].lease) > 0) {
        const w = waiters.shift()!;
        const token = grant(w.owner, w.lease);
        const r = w.replyTo;
        if (r) after.push(() => r.tell(ok({ granted: token })));
      }

      if (!tickScheduled && (waiters.length > 0 || leaseUntil.size > 0)) {
        tickScheduled = true;
        clock.setTimeout(() => {
          tickScheduled = false;
          ctx.self.tell({ op: "_tick" });
        }, TICK_MS);
      }
      const run = () => {
        for (const f of after) f();
      };
      if (events.length === 0) {
        run();
        return Behaviors.same();
      }
      return Behaviors.persisted(events, {
        reply: () => {
          const before = seq;
          seq += events.length;
          if (resetIndex < 0) return run();
          // Destroy: free the log before the reset event (which keeps the token), then answer.
          freeBefore(store, entityId, before + resetIndex + 1, ctx.log).then(run);
        },
      }) as Behavior<DataCommand | Tick>;
    },
  });
}
