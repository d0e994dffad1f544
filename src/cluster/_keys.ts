/**
 * Cached node keys: members and nodes are immutable, so each object's `host:port#id` key is
 * computed once and kept on the object under a non-enumerable symbol (invisible to JSON,
 * spreads and equality checks; a WeakMap was measurably slower and heavier on the GC).
 *
 * @module
 */

import { nodeKey, type UniqueNode } from "./member.ts";

const KEY: unique symbol = Symbol("casty.nodeKey");

type Keyed = UniqueNode & { [KEY]?: string };

/** The (cached) {@linkcode nodeKey} of a node or member object. */
export function keyOf(node: UniqueNode): string {
  const cached = (node as Keyed)[KEY];
  if (cached !== undefined) return cached;
  const k = nodeKey(node);
  rememberKey(node, k);
  return k;
}

/** Records a key already computed for `node` (decoders know it before the object exists). */
export function rememberKey(node: UniqueNode, key: string): void {
  if (Object.isExtensible(node)) Object.defineProperty(node, KEY, { value: key });
}
