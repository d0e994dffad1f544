/**
 * `entityShard`: the shard number of an entity id, exactly as the Python library computes it.
 *
 * @module
 */
import { md5 } from "./_md5.ts";

const encoder = new TextEncoder();
const CACHE_LIMIT = 65_536;
// Shard hash (before the modulo) of recently seen entity ids: MD5 is the slow part of routing.
const cache = new Map<string, number>();

/**
 * The shard of an entity: the first 4 bytes of the MD5 digest of the UTF-8 entity id, read as
 * an unsigned big-endian integer, modulo `numShards`. A given id lands on the same shard number
 * as in the Python library. Hot ids are served from a bounded cache.
 *
 * @param entityId The entity id.
 * @param numShards The number of shards (a positive integer).
 * @returns A shard number in `[0, numShards)`.
 * @throws {RangeError} when `numShards` is not a positive integer.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { entityShard } from "@casty/casty";
 * assert.equal(entityShard("user-42", 100), 87);
 * assert.equal(entityShard("alice", 100), 70);
 * ```
 */
export function entityShard(entityId: string, numShards: number): number {
  if (!Number.isInteger(numShards) || numShards < 1) {
    throw new RangeError(`numShards must be a positive integer, got ${numShards}`);
  }
  let h = cache.get(entityId);
  if (h === undefined) {
    const d = md5(encoder.encode(entityId));
    h = ((d[0] << 24) | (d[1] << 16) | (d[2] << 8) | d[3]) >>> 0;
    if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value!);
    cache.set(entityId, h);
  }
  return h % numShards;
}
