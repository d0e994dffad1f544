// Argument checks shared by the journals in this folder.

import type { LoadOptions, PersistedEvent, Snapshot } from "./journal.ts";

/**
 * Checks the arguments of `persist` that do not depend on stored state.
 */
export function validatePersist(entityId: unknown, events: readonly PersistedEvent[]): void {
  validateEntityId(entityId);
  if (!Array.isArray(events)) throw new TypeError("Cannot persist events: events must be an array");
  for (const e of events) {
    if (typeof e !== "object" || e === null) {
      throw new TypeError(`Cannot persist events for "${entityId}": each event must be an object`);
    }
    if (!Number.isSafeInteger(e.sequenceNr) || e.sequenceNr < 1) {
      throw new RangeError(
        `Cannot persist events for "${entityId}": sequence number ${e.sequenceNr} is not a positive integer`,
      );
    }
    if (typeof e.timestamp !== "number" || !Number.isFinite(e.timestamp)) {
      throw new TypeError(
        `Cannot persist events for "${entityId}": timestamp of event ${e.sequenceNr} is not a finite number`,
      );
    }
  }
}

/**
 * Checks the `toSequenceNr` of `deleteEvents`: a non-negative safe integer.
 */
export function validateDeleteTo(entityId: string, toSequenceNr: number): void {
  if (!Number.isSafeInteger(toSequenceNr) || toSequenceNr < 0) {
    throw new RangeError(
      `Cannot delete events of "${entityId}": ${toSequenceNr} is not a non-negative integer`,
    );
  }
}

/**
 * Checks the `fromSequenceNr` of `truncateEvents`: a positive safe integer.
 */
export function validateTruncateFrom(entityId: string, fromSequenceNr: number): void {
  if (!Number.isSafeInteger(fromSequenceNr) || fromSequenceNr < 1) {
    throw new RangeError(
      `Cannot truncate events of "${entityId}": ${fromSequenceNr} is not a positive integer`,
    );
  }
}

/**
 * Returns the first sequence number of `events` that breaks `highest + 1, +1, …`, with the
 * number expected there, or `undefined` when the batch continues the log.
 */
export function findConflict(
  events: readonly PersistedEvent[],
  highest: number,
): [sequenceNr: number, expected: number] | undefined {
  for (let i = 0; i < events.length; i++) {
    const expected = highest + 1 + i;
    if (events[i].sequenceNr !== expected) return [events[i].sequenceNr, expected];
  }
  return undefined;
}

/**
 * Checks and normalizes the arguments of `load`.
 */
export function loadBounds(
  entityId: unknown,
  fromSequenceNr: number,
  options: LoadOptions,
): [from: number, to: number, max: number] {
  validateEntityId(entityId);
  const to = options.toSequenceNr ?? Number.MAX_SAFE_INTEGER;
  const max = options.max ?? Infinity;
  if (!Number.isSafeInteger(fromSequenceNr)) {
    throw new RangeError(`Cannot load events: fromSequenceNr ${fromSequenceNr} is not an integer`);
  }
  if (!Number.isSafeInteger(to)) {
    throw new RangeError(`Cannot load events: toSequenceNr ${to} is not an integer`);
  }
  if (max !== Infinity && (!Number.isSafeInteger(max) || max < 1)) {
    throw new RangeError(`Cannot load events: max ${max} is not a positive integer`);
  }
  return [Math.max(1, fromSequenceNr), to, max];
}

/**
 * Checks the arguments of `saveSnapshot`.
 */
export function validateSnapshot(entityId: unknown, snapshot: Snapshot): void {
  validateEntityId(entityId);
  if (typeof snapshot !== "object" || snapshot === null) {
    throw new TypeError(`Cannot save snapshot for "${entityId}": snapshot must be an object`);
  }
  if (!Number.isSafeInteger(snapshot.sequenceNr) || snapshot.sequenceNr < 0) {
    throw new RangeError(
      `Cannot save snapshot for "${entityId}": sequence number ${snapshot.sequenceNr} is not a non-negative integer`,
    );
  }
  if (typeof snapshot.timestamp !== "number" || !Number.isFinite(snapshot.timestamp)) {
    throw new TypeError(
      `Cannot save snapshot for "${entityId}": timestamp is not a finite number`,
    );
  }
}

/**
 * Checks an entity id.
 */
export function validateEntityId(entityId: unknown): asserts entityId is string {
  if (typeof entityId !== "string") {
    throw new TypeError(`Invalid entity id ${String(entityId)}: must be a string`);
  }
}
