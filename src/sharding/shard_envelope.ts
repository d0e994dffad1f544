/**
 * `ShardEnvelope`: a message for one entity of a sharded type.
 *
 * @module
 */

/**
 * Wraps a message with the id of the entity it is for; the region routes it to the node that
 * owns the entity's shard.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ShardEnvelope } from "@casty/casty";
 * const e = new ShardEnvelope("alice", { type: "deposit", amount: 100 });
 * assert.equal(e.entityId, "alice");
 * assert.deepEqual(e.message, { type: "deposit", amount: 100 });
 * ```
 */
export class ShardEnvelope<M> {
  /**
   * Creates a ShardEnvelope.
   *
   * @param entityId The entity the message is for (any string).
   * @param message The message.
   * @throws {TypeError} when `entityId` is not a string.
   */
  constructor(readonly entityId: string, readonly message: M) {
    if (typeof entityId !== "string") {
      throw new TypeError(`ShardEnvelope entityId must be a string, got ${typeof entityId}`);
    }
  }
}
