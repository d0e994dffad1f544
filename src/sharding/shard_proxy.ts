/**
 * The proxy side of a region: bounded per-shard buffers of messages that wait for a location
 * (an allocation, the end of a hand-off, a lease). Nothing leaves a buffer silently: what
 * overflows or waits too long becomes a `DeadLetter`.
 *
 * @module
 */

/**
 * A message waiting in a region, with where it came from.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { PendingMessage } from "@casty/casty/sharding";
 * const m: PendingMessage = { entityId: "a", message: 1, origin: "user", hops: 0, at: 0 };
 * assert.equal(m.origin, "user");
 * ```
 */
export interface PendingMessage {
  /** The entity id. */
  readonly entityId: string;
  /** The message for the entity. */
  readonly message: unknown;
  /** `user`: sent on this node through the region; `forward`: routed here by another region. */
  readonly origin: "user" | "forward";
  /** The member id of the region that forwarded it here, if any. */
  readonly from?: string;
  /** How many regions routed it so far. */
  readonly hops: number;
  /** When it was buffered (clock ms). */
  readonly at: number;
}

/**
 * Per-shard FIFO buffers with a bound per shard and a maximum wait.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ShardBuffers } from "@casty/casty/sharding";
 * const lost: unknown[] = [];
 * const b = new ShardBuffers({ capacity: 1, timeout: 10 }, (m, why) => lost.push([m.message, why]));
 * b.push(3, { entityId: "a", message: 1, origin: "user", hops: 0, at: 0 });
 * b.push(3, { entityId: "a", message: 2, origin: "user", hops: 0, at: 0 });
 * assert.deepEqual(lost, [[2, "overflow"]]);
 * b.expire(100);
 * assert.deepEqual(lost, [[2, "overflow"], [1, "timeout"]]);
 * ```
 */
export class ShardBuffers {
  readonly #buffers = new Map<number, PendingMessage[]>();
  readonly #capacity: number;
  readonly #timeout: number;
  readonly #lost: (m: PendingMessage, why: "overflow" | "timeout" | "shutdown") => void;
  readonly #waiting: ((shard: number, waiting: boolean) => void) | undefined;

  /**
   * Creates the buffers.
   *
   * @param options `capacity` per shard, `timeout` in ms.
   * @param lost Called with every message that is given up (to publish a `DeadLetter`).
   * @param waiting Called, before the call that caused it returns, when a shard starts to have
   * a buffer (`true`: new messages must queue behind it) and when its buffer is gone (`false`).
   */
  constructor(
    options: { readonly capacity: number; readonly timeout: number },
    lost: (m: PendingMessage, why: "overflow" | "timeout" | "shutdown") => void,
    waiting?: (shard: number, waiting: boolean) => void,
  ) {
    this.#capacity = options.capacity;
    this.#timeout = options.timeout;
    this.#lost = lost;
    this.#waiting = waiting;
  }

  /** Whether messages for `shard` are waiting (new ones must queue behind them). */
  has(shard: number): boolean {
    return (this.#buffers.get(shard)?.length ?? 0) > 0;
  }

  /** Whether no shard has waiting messages (cheaper than `has` on the hot path). */
  get empty(): boolean {
    return this.#buffers.size === 0;
  }

  /** The shards with waiting messages. */
  shards(): number[] {
    return [...this.#buffers.keys()];
  }

  /** How many messages wait in all. */
  get size(): number {
    let n = 0;
    for (const b of this.#buffers.values()) n += b.length;
    return n;
  }

  /** Queues `m` for `shard`; a full buffer gives `m` up as `"overflow"`. */
  push(shard: number, m: PendingMessage): void {
    let b = this.#buffers.get(shard);
    if (b === undefined) {
      this.#buffers.set(shard, b = []);
      this.#waiting?.(shard, true);
    }
    if (b.length >= this.#capacity) this.#lost(m, "overflow");
    else b.push(m);
  }

  /** Takes every message of `shard` out, in order. */
  take(shard: number): PendingMessage[] {
    const b = this.#buffers.get(shard);
    if (b === undefined) return [];
    this.#buffers.delete(shard);
    this.#waiting?.(shard, false);
    return b;
  }

  /** Gives up (as `"timeout"`) every message buffered before `now - timeout`. */
  expire(now: number): void {
    for (const [shard, b] of this.#buffers) {
      while (b.length > 0 && now - b[0].at >= this.#timeout) this.#lost(b.shift()!, "timeout");
      if (b.length === 0) {
        this.#buffers.delete(shard);
        this.#waiting?.(shard, false);
      }
    }
  }

  /** Gives up everything (as `"shutdown"`). */
  clear(): void {
    const shards = [...this.#buffers.keys()];
    for (const b of this.#buffers.values()) for (const m of b) this.#lost(m, "shutdown");
    this.#buffers.clear();
    for (const shard of shards) this.#waiting?.(shard, false);
  }
}
