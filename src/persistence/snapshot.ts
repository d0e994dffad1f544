/**
 * When an event-sourced actor saves a snapshot of its state.
 *
 * @module
 */

/**
 * Decides, after each successful persist, whether to save a snapshot.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SnapshotPolicy } from "@casty/casty/persistence";
 * const never: SnapshotPolicy = { shouldSnapshot: () => false };
 * assert.ok(!never.shouldSnapshot(1_000, 1_000));
 * ```
 */
export interface SnapshotPolicy {
  /**
   * Decides, after each persist, whether to save a snapshot.
   *
   * @param sequenceNr The entity's highest sequence number after the persist.
   * @param eventsSinceSnapshot Events persisted since the last snapshot (or since the start).
   * @returns `true` to save a snapshot now.
   */
  shouldSnapshot(sequenceNr: number, eventsSinceSnapshot: number): boolean;
}

/**
 * Snapshots once at least `nEvents` events were persisted since the last snapshot.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SnapshotEvery } from "@casty/casty/persistence";
 * const policy = new SnapshotEvery(100);
 * assert.ok(!policy.shouldSnapshot(99, 99));
 * assert.ok(policy.shouldSnapshot(100, 100));
 * ```
 */
export class SnapshotEvery implements SnapshotPolicy {
  /** The number of events between snapshots. */
  readonly nEvents: number;

  /**
   * Creates a SnapshotEvery.
   *
   * @param nEvents Events between snapshots, an integer ≥ 1.
   * @throws {RangeError} when `nEvents` is not an integer ≥ 1.
   */
  constructor(nEvents: number) {
    if (!Number.isSafeInteger(nEvents) || nEvents < 1) {
      throw new RangeError(`Invalid snapshot interval ${nEvents}: must be an integer >= 1`);
    }
    this.nEvents = nEvents;
  }

  /**
   * Whether enough events have been persisted since the last snapshot.
   *
   * @param _sequenceNr The entity's highest sequence number (unused).
   * @param eventsSinceSnapshot Events persisted since the last snapshot.
   * @returns `true` once `eventsSinceSnapshot` reaches `nEvents`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { SnapshotEvery } from "@casty/casty/persistence";
   * assert.ok(new SnapshotEvery(1).shouldSnapshot(1, 1));
   * ```
   */
  shouldSnapshot(_sequenceNr: number, eventsSinceSnapshot: number): boolean {
    return eventsSinceSnapshot >= this.nEvents;
  }
}
