/**
 * The entity behind a barrier: one round at a time, participants long-poll (so one whose node
 * died stops polling and breaks the round), a deadline fails the round for everyone.
 *
 * @module
 */
import type { ActorRef } from "../actor/actor_ref.ts";
import type { Behavior } from "../actor/behaviors.ts";
import { Behaviors } from "../persistence/behaviors.ts";
import type { DataCommand, DataReply } from "./_entity.ts";
import { TICK_MS } from "./_permits.ts";

interface Participant {
  replyTo: ActorRef<DataReply> | undefined;
  lastSeen: number;
  pollUntil: number;
  lease: number;
}

interface Round {
  readonly id: string;
  readonly expected: number;
  readonly participants: Map<string, Participant>;
  deadline: number;
}

type Tick = { readonly op: "_tick" };

/** What `arrive` answers when it does not fail. */
export type ArriveAnswer =
  | { readonly released: true }
  | { readonly pending: true; readonly round: string };

/**
 * The behavior of one barrier entity.
 *
 * @param name The barrier's name, for messages.
 */
export function barrierEntity(name: string): Behavior<DataCommand | Tick> {
  let round: Round | undefined;
  // A round lives in memory only: a participant that polls with the id of a round this
  // incarnation never had (the entity moved, its node died) is told the round was lost.
  const incarnation = crypto.randomUUID().slice(0, 8);
  let rounds = 0;
  const results = new Map<string, { reply: DataReply; expiresAt: number }>();
  let tickScheduled = false;
  return Behaviors.receive<DataCommand | Tick>((ctx, cmd) => {
    const clock = ctx.system.clock;
    const now = clock.now();
    const finish = (reply: DataReply) => {
      if (round === undefined) return;
      for (const [id, p] of round.participants) {
        if (p.replyTo) p.replyTo.tell(reply);
        else results.set(id, { reply, expiresAt: now + p.lease });
      }
      round = undefined;
    };
    for (const [id, r] of results) if (now >= r.expiresAt) results.delete(id);
    if (round !== undefined) {
      if (now >= round.deadline) {
        finish({
          ok: false,
          code: "BARRIER_TIMEOUT",
          message:
            `Barrier "${name}": the round timed out with ${round.participants.size} of ${round.expected} participants`,
        });
      } else {
        for (const p of round.participants.values()) {
          if (p.replyTo === undefined && now - p.lastSeen > p.lease) {
            finish({
              ok: false,
              code: "BARRIER_BROKEN",
              message: `Barrier "${name}": a participant was lost (its node stopped answering)`,
            });
            break;
          }
          if (p.replyTo !== undefined && now >= p.pollUntil) {
            p.replyTo.tell({ ok: true, value: { pending: true, round: round.id } });
            p.replyTo = undefined;
            p.lastSeen = now;
          }
        }
      }
    }
    if (cmd.op === "arrive") {
      const c = cmd as DataCommand;
      const [id, expected, remaining, poll, lease, joined] = c.args as [
        string,
        number,
        number,
        number,
        number,
        string | undefined,
      ];
      const done = results.get(id);
      if (done !== undefined) {
        results.delete(id);
        c.replyTo.tell(done.reply);
      } else if (joined !== undefined && round?.id !== joined) {
        c.replyTo.tell({
          ok: false,
          code: "BARRIER_BROKEN",
          message: `Barrier "${name}": the round was lost (the barrier moved to another node)`,
        });
      } else if (round !== undefined && round.expected !== expected) {
        c.replyTo.tell({
          ok: false,
          code: "BARRIER_MISMATCH",
          message: `this round expects ${round.expected} participants, got ${expected}`,
        });
      } else {
        round ??= {
          id: `${incarnation}/${++rounds}`,
          expected,
          participants: new Map(),
          deadline: now + remaining,
        };
        round.deadline = Math.min(round.deadline, now + remaining);
        const old = round.participants.get(id)?.replyTo;
        old?.tell({ ok: true, value: { pending: true, round: round.id } });
        round.participants.set(id, {
          replyTo: c.replyTo,
          lastSeen: now,
          pollUntil: now + poll,
          lease,
        });
        if (round.participants.size >= round.expected) {
          finish({ ok: true, value: { released: true } });
        }
      }
    } else if (cmd.op === "leave") {
      const c = cmd as DataCommand;
      const [id] = c.args as [string];
      round?.participants.delete(id);
      if (round?.participants.size === 0) round = undefined;
      c.replyTo.tell({ ok: true, value: undefined });
    } else if (cmd.op === "destroy") {
      const c = cmd as DataCommand;
      finish({ ok: false, code: "BARRIER_BROKEN", message: `Barrier "${name}": destroyed` });
      results.clear();
      c.replyTo.tell({ ok: true, value: undefined });
    } else if (cmd.op !== "_tick") {
      const c = cmd as DataCommand;
      c.replyTo.tell({
        ok: false,
        code: "UNKNOWN_OPERATION",
        message: `Unknown barrier operation "${c.op}"`,
      });
    }
    if (!tickScheduled && (round !== undefined || results.size > 0)) {
      tickScheduled = true;
      clock.setTimeout(() => {
        tickScheduled = false;
        ctx.self.tell({ op: "_tick" });
      }, TICK_MS);
    }
    return Behaviors.same();
  });
}
