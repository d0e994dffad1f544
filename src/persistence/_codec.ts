// Encoding and decoding of stored events and snapshot states, shared by the durable journals
// (SqliteJournal here, PostgresJournal in src/postgres) so both store the same bytes and fail
// with the same messages.

import type { ActorRef } from "../actor/actor_ref.ts";
import { SerializationError } from "../actor/errors.ts";
import type { Serializer } from "../remote/serialization.ts";
import type { PersistedEvent } from "./journal.ts";

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
