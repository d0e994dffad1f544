/**
 * `entityShard`: the shard number of an entity id, exactly as the Python library computes it.
 *
 * @module
 */
import { md5Prefix } from "./_md5.ts";

const CACHE_LIMIT = 65_536;
// Shard hash (before the modulo) of recently seen entity ids: MD5 is the slow part of routing.
// Two generations: a full `young` becomes `old` (the previous `old` is dropped), and a hit in
// `old` moves the id back to `young`. O(1) per call; evicting the oldest key of one `Map` one
// at a time instead makes `keys().next()` skip ever more deleted slots.
let young = new Map<string, number>();
let old = new Map<string, number>();

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
  let h = young.get(entityId);
  if (h === undefined) {
    h = old.get(entityId) ?? md5Prefix(entityId);
    rememberShardHash(entityId, h);
  }
  return h % numShards;
}

/**
 * @internal The shard hash (before the modulo) of an id, from the cache when it is there,
 * otherwise computed, without adding it: for an id that may be about to become a live local
 * entity (which remembers its shard itself). {@linkcode rememberShardHash} adds it once it is
 * known to be routed elsewhere.
 */
export function shardHashOf(entityId: string): number {
  if (young.size === 0) return md5Prefix(entityId);
  return young.get(entityId) ?? old.get(entityId) ?? md5Prefix(entityId);
}

/** @internal Adds an id's shard hash to the cache (an id routed to another node). */
export function rememberShardHash(entityId: string, h: number): void {
  if (young.size >= CACHE_LIMIT) {
    old = young;
    young = new Map();
  }
  young.set(entityId, h);
}
