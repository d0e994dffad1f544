// Telling from a timer or a promise callback must never throw: an exception there is an
// uncaught error (or an unhandled rejection) that kills the process on Deno and Bun. These
// helpers turn a failed tell into a DeadLetter (with a reason) or a logged error instead.
import type { ActorRef } from "./actor_ref.ts";
import { CastyError, MailboxFullError } from "./errors.ts";
import { DeadLetter } from "./events.ts";
import type { EventStream } from "./event_stream.ts";
import type { Logger } from "./logger.ts";

/** Where a failed tell is reported. */
export interface UndeliveredSink {
  readonly eventStream?: EventStream;
  readonly log?: Logger;
}

/** Reports `error`, thrown by `target.tell(message)`, as a DeadLetter or a logged error. */
export function reportFailedTell(
  sink: UndeliveredSink,
  target: ActorRef<never> | string,
  message: unknown,
  error: unknown,
  context: string,
): void {
  const recipient = typeof target === "string" ? target : target.path;
  if (error instanceof CastyError && error.code === "SERIALIZATION") {
    // A SerializationError (its class lives in a layer above this one): remote refs publish
    // the DeadLetter themselves before throwing (see RemoteActorRef.tell).
    sink.log?.warn(`${context}: cannot tell "${recipient}": ${error.message}`);
    return;
  }
  const full = error instanceof MailboxFullError;
  const detail = error instanceof Error ? error.message : String(error);
  if (!full) sink.log?.error(`${context}: cannot tell "${recipient}"`, error);
  sink.eventStream?.publish(
    new DeadLetter(message, target, full ? "mailboxFull" : "undeliverable", detail),
  );
}

/** `target.tell(message)`, reporting a failure instead of throwing it. */
export function tellSafely<M>(
  sink: UndeliveredSink,
  target: ActorRef<M>,
  message: M,
  context: string,
): void {
  try {
    target.tell(message);
  } catch (err) {
    reportFailedTell(sink, target as ActorRef<never>, message, err, context);
  }
}
