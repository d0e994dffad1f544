/**
 * Least-shard-first allocation and rebalancing: pure functions over a type's allocations.
 *
 * @module
 */

/**
 * The node (by id) that gets a new shard: the candidate hosting the fewest shards of the type,
 * the lowest id on a tie, `undefined` without candidates.
 *
 * @param owners The current owner id of each allocated shard of the type.
 * @param candidates The ids of the nodes that may host the type now.
 * @returns The chosen id, or `undefined`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { leastShardNode } from "@casty/casty/sharding";
 * assert.equal(leastShardNode(["a", "a", "b"], ["a", "b", "c"]), "c");
 * assert.equal(leastShardNode([], []), undefined);
 * ```
 */
export function leastShardNode(
  owners: Iterable<string>,
  candidates: readonly string[],
): string | undefined {
  const counts = shardCounts(owners, candidates);
  let best: string | undefined;
  for (const c of [...candidates].sort()) {
    if (best === undefined || counts.get(c)! < counts.get(best)!) best = c;
  }
  return best;
}

/**
 * One move of a rebalancing round.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ShardMove } from "@casty/casty/sharding";
 * const m: ShardMove = { shard: 3, from: "a", to: "b" };
 * assert.equal(m.to, "b");
 * ```
 */
export interface ShardMove {
  /** The shard. */
  readonly shard: number;
  /** Its current owner. */
  readonly from: string;
  /** The node that receives it. */
  readonly to: string;
}

/**
 * The shards to move in one rebalancing round: while the most loaded candidate hosts more than
 * `threshold` shards more than the least loaded one, move one shard from the first to the
 * second, at most `maxMoves` per round. Shards of nodes that are no candidates are not moved
 * here (hand-off on leave and reallocation on loss do that).
 *
 * @param allocations Owner id per allocated shard.
 * @param candidates The ids of the nodes that may host the type.
 * @param threshold The tolerated difference between the most and the least loaded node.
 * @param maxMoves At most this many moves.
 * @returns The moves, in order.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { rebalanceMoves } from "@casty/casty/sharding";
 * const moves = rebalanceMoves(new Map([[0, "a"], [1, "a"], [2, "a"], [3, "a"]]), ["a", "b"], 1, 5);
 * assert.equal(moves.length, 2);
 * assert.ok(moves.every((m) => m.from === "a" && m.to === "b"));
 * ```
 */
export function rebalanceMoves(
  allocations: ReadonlyMap<number, string>,
  candidates: readonly string[],
  threshold: number,
  maxMoves: number,
): ShardMove[] {
  if (candidates.length < 2) return [];
  const byNode = new Map<string, number[]>(candidates.map((c) => [c, []]));
  for (const [shard, owner] of [...allocations].sort((a, b) => a[0] - b[0])) {
    byNode.get(owner)?.push(shard);
  }
  const moves: ShardMove[] = [];
  const sorted = () =>
    [...byNode].sort((a, b) => a[1].length - b[1].length || (a[0] < b[0] ? -1 : 1));
  while (moves.length < maxMoves) {
    const s = sorted();
    const [leastId, least] = s[0];
    const [mostId, most] = s[s.length - 1];
    if (most.length - least.length <= threshold) break;
    const shard = most.pop()!;
    least.push(shard);
    moves.push({ shard, from: mostId, to: leastId });
  }
  return moves;
}

function shardCounts(owners: Iterable<string>, candidates: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>(candidates.map((c) => [c, 0]));
  for (const o of owners) if (counts.has(o)) counts.set(o, counts.get(o)! + 1);
  return counts;
}
