/**
 * What the durable journals share (SqliteJournal here, PostgresJournal in src/postgres): their
 * codec options and counters, the queued call of group commit, and the encoding of stored
 * values, so both store the same bytes and fail with the same messages. Internal: not exported
 * from the package entries except for the two public types.
 *
 * @module
 */

import type { ActorRef } from "../actor/actor_ref.ts";
import { SerializationError } from "../serialization/errors.ts";
import type { Serializer } from "../serialization/serialization.ts";
import type { PersistedEvent, Snapshot } from "./journal.ts";

export {
  findConflict,
  loadBounds,
  validateDeleteTo,
  validateEntityId,
  validatePersist,
  validateSnapshot,
  validateTruncateFrom,
} from "./_validation.ts";

/** How a durable journal encodes what it stores (options shared by the durable journals). */
export interface DurableJournalOptions {
  /**
   * Encodes events and snapshot states. Register your event classes with it so they come back
   * as themselves after a restart.
   *
   * @default {new TaggedJsonSerializer()}
   */
  serializer?: Serializer;
  /**
   * Resolves actor refs found inside stored events and states; without it, loading a value that
   * holds a ref throws a `SerializationError`.
   */
  resolveRef?: (uri: string) => ActorRef<unknown>;
}

/** Counters of a durable journal with group commit, for monitoring and tests. */
export interface DurableJournalStats {
  /** Write transactions committed (each holds one batch of group-committed calls). */
  readonly transactions: number;
  /** `persist` calls that were written. */
  readonly persistCalls: number;
  /** Events written. */
  readonly eventsWritten: number;
  /** `persist` calls rejected with a {@linkcode JournalConflictError}. */
  readonly conflicts: number;
  /** `saveSnapshot` calls written. */
  readonly snapshotsWritten: number;
}

/** The counters of a durable journal, all at zero (each journal mutates its own copy). */
export function zeroStats(): { -readonly [K in keyof DurableJournalStats]: number } {
  return { transactions: 0, persistCalls: 0, eventsWritten: 0, conflicts: 0, snapshotsWritten: 0 };
}

/**
 * One `persist`, `saveSnapshot` or `deleteEvents` call waiting for its group commit. `Rows` is how the journal
 * keeps the call's encoded events.
 */
export interface QueuedCall<Rows> {
  readonly entityId: string;
  /** The events' numbers and timestamps (their values are already encoded in `rows`). */
  readonly events?: readonly PersistedEvent[];
  readonly rows?: Rows;
  /** The snapshot's number and timestamp (its state is already encoded in `state`). */
  readonly snapshot?: Snapshot;
  readonly state?: Uint8Array;
  /** A `deleteEvents` call: free the events up to this number (never the latest one). */
  readonly deleteTo?: number;
  /** A `truncateEvents` call: remove the events from this number on. */
  readonly truncateFrom?: number;
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
}

/**
 * Serializes the events of one `persist` call at call time, so later mutation of the values
 * does not change what is stored.
 *
 * @throws {SerializationError} naming the entity and the event that cannot be serialized.
 */
export function encodeEvents(
  serializer: Serializer,
  entityId: string,
  events: readonly PersistedEvent[],
): Uint8Array[] {
  const rows: Uint8Array[] = new Array(events.length);
  for (let i = 0; i < events.length; i++) {
    try {
      rows[i] = serializer.serialize(events[i].event);
    } catch (err) {
      throw new SerializationError(
        `Cannot persist events for "${entityId}": event ${
          events[i].sequenceNr
        } is not serializable: ${errorText(err)}`,
        { cause: err },
      );
    }
  }
  return rows;
}

/**
 * Serializes a snapshot's state at call time.
 *
 * @throws {SerializationError} naming the entity.
 */
export function encodeState(serializer: Serializer, entityId: string, state: unknown): Uint8Array {
  try {
    return serializer.serialize(state);
  } catch (err) {
    throw new SerializationError(
      `Cannot save snapshot for "${entityId}": state is not serializable: ${errorText(err)}`,
      { cause: err },
    );
  }
}

/**
 * Deserializes a stored value.
 *
 * @param what "event 3 of \"acc-1\"" or "snapshot of \"acc-1\"".
 * @param journal How the journal names itself in messages (`journal "/path/file.db"`).
 * @throws {SerializationError} naming what failed and where it is stored.
 */
export function decodeStored(
  serializer: Serializer,
  resolveRef: ((uri: string) => ActorRef<unknown>) | undefined,
  bytes: Uint8Array,
  what: string,
  journal: string,
): unknown {
  try {
    return serializer.deserialize(bytes, resolveRef);
  } catch (err) {
    throw new SerializationError(`Cannot decode ${what} from ${journal}: ${errorText(err)}`, {
      cause: err,
    });
  }
}

/** The message of an error, or the value as text. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
