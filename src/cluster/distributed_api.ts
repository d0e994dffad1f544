/**
 * The types of `node.distributed()` (the distributed data structures). They live in the cluster
 * layer so that {@linkcode ClusteredActorSystem} can name them; `@casty/casty/distributed`
 * implements them and provides the facade through a cluster extension.
 *
 * @module
 */
import type { EventJournal } from "../persistence/journal.ts";

/**
 * Options of `node.distributed()`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InMemoryJournal } from "@casty/casty/persistence";
 * import type { DistributedOptions } from "@casty/casty/cluster";
 * const o: DistributedOptions = { journal: new InMemoryJournal() };
 * assert.ok(o.journal);
 * ```
 */
export interface DistributedOptions {
  /**
   * Makes every structure persistent: its operations are events in this journal, replayed when
   * its entity starts again (after a move, a crash or a restart of the cluster). Give every node
   * the same (shared) journal. In memory only when absent.
   */
  readonly journal?: EventJournal;
}

/**
 * Options of one structure.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { StructureOptions } from "@casty/casty/cluster";
 * const o: StructureOptions = { shards: 50, timeout: 2000 };
 * assert.equal(o.shards, 50);
 * ```
 */
export interface StructureOptions {
  /**
   * The number of shards of the structure's sharded type (fixed for the life of the cluster;
   * use the same value on every node).
   * @default {100}
   */
  readonly shards?: number;
  /**
   * How long one operation waits for its answer, in ms (then it rejects with `AskTimeoutError`).
   * @default {5000}
   */
  readonly timeout?: number;
}

/**
 * A cluster-wide integer counter (`node.distributed().counter(name)`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ClusteredActorSystem } from "@casty/casty";
 * await using node = await ClusteredActorSystem.start({ name: "doc", host: "127.0.0.1", port: 0 });
 * const hits = node.distributed().counter("hits");
 * assert.equal(await hits.increment(), 1);
 * assert.equal(await hits.decrement(), 0);
 * ```
 */
export interface CounterApi {
  /** The counter's name. */
  readonly name: string;
  /** Adds `n` (a safe integer, default 1); resolves to the new value. */
  increment(n?: number): Promise<number>;
  /** Subtracts `n` (default 1); resolves to the new value. */
  decrement(n?: number): Promise<number>;
  /** The current value (0 for a new or destroyed counter). */
  get(): Promise<number>;
  /** Frees the counter; using it again starts a fresh one at 0. */
  destroy(): Promise<void>;
}

/**
 * A cluster-wide map (`node.distributed().map(name)`); keys are compared by value after
 * serialization, so use primitives.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ClusteredActorSystem } from "@casty/casty";
 * await using node = await ClusteredActorSystem.start({ name: "doc", host: "127.0.0.1", port: 0 });
 * const users = node.distributed().map<string, number>("users");
 * assert.equal(await users.put("alice", 1), undefined);
 * assert.equal(await users.put("alice", 2), 1);
 * ```
 */
export interface MapApi<K, V> {
  /** The map's name. */
  readonly name: string;
  /** Sets `key`; resolves to the previous value or `undefined`. */
  put(key: K, value: V): Promise<V | undefined>;
  /** The value of `key`, or `undefined`. */
  get(key: K): Promise<V | undefined>;
  /** Removes `key`; resolves to whether it existed. */
  delete(key: K): Promise<boolean>;
  /** Whether `key` is in the map. */
  contains(key: K): Promise<boolean>;
  /** The number of keys. */
  size(): Promise<number>;
  /** Frees the map; using it again starts a fresh, empty one. */
  destroy(): Promise<void>;
}

/**
 * A cluster-wide set (`node.distributed().set(name)`); values are compared by value after
 * serialization, so use primitives.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ClusteredActorSystem } from "@casty/casty";
 * await using node = await ClusteredActorSystem.start({ name: "doc", host: "127.0.0.1", port: 0 });
 * const tags = node.distributed().set<string>("tags");
 * assert.equal(await tags.add("a"), true);
 * assert.equal(await tags.add("a"), false);
 * ```
 */
export interface SetApi<V> {
  /** The set's name. */
  readonly name: string;
  /** Adds `value`; resolves to whether it was added (`false`: it was there). */
  add(value: V): Promise<boolean>;
  /** Removes `value`; resolves to whether it was there. */
  remove(value: V): Promise<boolean>;
  /** Whether `value` is in the set. */
  contains(value: V): Promise<boolean>;
  /** The number of values. */
  size(): Promise<number>;
  /** Frees the set; using it again starts a fresh, empty one. */
  destroy(): Promise<void>;
}

/**
 * A cluster-wide FIFO queue (`node.distributed().queue(name)`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ClusteredActorSystem } from "@casty/casty";
 * await using node = await ClusteredActorSystem.start({ name: "doc", host: "127.0.0.1", port: 0 });
 * const jobs = node.distributed().queue<string>("jobs");
 * await jobs.enqueue("a");
 * assert.equal(await jobs.dequeue(), "a");
 * assert.equal(await jobs.dequeue(), undefined);
 * ```
 */
export interface QueueApi<V> {
  /** The queue's name. */
  readonly name: string;
  /** Appends `value` at the tail. */
  enqueue(value: V): Promise<void>;
  /** The head, removed, or `undefined` when the queue is empty. */
  dequeue(): Promise<V | undefined>;
  /** The head, left in place, or `undefined` when the queue is empty. */
  peek(): Promise<V | undefined>;
  /** The number of values. */
  size(): Promise<number>;
  /** Frees the queue; using it again starts a fresh, empty one. */
  destroy(): Promise<void>;
}

/**
 * What `node.distributed(options)` returns: every node that names a structure reaches the same
 * one (a sharded entity).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ClusteredActorSystem } from "@casty/casty";
 * await using node = await ClusteredActorSystem.start({ name: "doc", host: "127.0.0.1", port: 0 });
 * const d = node.distributed();
 * assert.equal(await d.counter("page-views", { shards: 50 }).increment(), 1);
 * ```
 */
export interface DistributedApi {
  /** A counter named `name`. */
  counter(name: string, options?: StructureOptions): CounterApi;
  /** A map named `name`. */
  map<K, V>(name: string, options?: StructureOptions): MapApi<K, V>;
  /** A set named `name`. */
  set<V>(name: string, options?: StructureOptions): SetApi<V>;
  /** A queue named `name`. */
  queue<V>(name: string, options?: StructureOptions): QueueApi<V>;
  /** A lock named `name`. */
  lock(name: string, options?: LeaseOptions): LockApi;
  /** A semaphore named `name` with `permits` permits (fixed at creation). */
  semaphore(name: string, permits: number, options?: LeaseOptions): SemaphoreApi;
  /** A barrier named `name`. */
  barrier(name: string, options?: LeaseOptions): BarrierApi;
}

/**
 * Makes the facade of `node.distributed(options)` (the distributed extension provides it).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { DistributedProvider } from "@casty/casty/cluster";
 * const none: DistributedProvider | undefined = undefined;
 * assert.equal(none, undefined);
 * ```
 */
export type DistributedProvider = (options: DistributedOptions) => DistributedApi;

/**
 * Options of a lock, a semaphore or a barrier.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { LeaseOptions } from "@casty/casty/cluster";
 * const o: LeaseOptions = { lease: 2000 };
 * assert.equal(o.lease, 2000);
 * ```
 */
export interface LeaseOptions extends StructureOptions {
  /**
   * How long a grant (or a barrier arrival) lives without renewal, in ms. The holder renews it
   * every third of it while its node is alive; a holder whose node died or was cut off loses it
   * after at most this long, and the next waiter gets a higher fencing token.
   * @default {10000}
   */
  readonly lease?: number;
}

/**
 * Options of `acquire` and `arrive`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { WaitOptions } from "@casty/casty/cluster";
 * const o: WaitOptions = { timeout: 500, signal: AbortSignal.timeout(1000) };
 * assert.equal(o.timeout, 500);
 * ```
 */
export interface WaitOptions {
  /** Give up after this many ms (then the waiter leaves the queue); waits forever when absent. */
  readonly timeout?: number;
  /** Give up when aborted (then the waiter leaves the queue). */
  readonly signal?: AbortSignal;
}

/**
 * A cluster-wide lock with FIFO waiters, leases and fencing tokens
 * (`node.distributed().lock(name)`). Each handle is one holder; it is not reentrant.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InMemoryJournal } from "@casty/casty/persistence";
 * import { ClusteredActorSystem } from "@casty/casty";
 * await using node = await ClusteredActorSystem.start({ name: "doc", host: "127.0.0.1", port: 0 });
 * const lock = node.distributed({ journal: new InMemoryJournal() }).lock("deploy");
 * const token = await lock.acquire({ timeout: 2000 });
 * assert.equal(lock.fencingToken, token);
 * assert.equal(await lock.release(), true);
 * assert.equal(await lock.release(), false);
 * ```
 */
export interface LockApi {
  /** The lock's name. */
  readonly name: string;
  /** Waits for the lock; resolves to its fencing token (higher with every grant). */
  acquire(options?: WaitOptions): Promise<number>;
  /** Takes the lock if it is free and nobody waits: its fencing token, else `undefined`. */
  tryAcquire(): Promise<number | undefined>;
  /** Releases the lock: `false` if this handle does not hold it (any more). */
  release(): Promise<boolean>;
  /** The token of the grant this handle holds while its lease is live, else `undefined`. */
  readonly fencingToken: number | undefined;
  /** Frees the lock (holders lose it, waiters time out); the next use starts a fresh one. */
  destroy(): Promise<void>;
}

/**
 * A cluster-wide semaphore: `permits` holders at once, FIFO waiters, leases and fencing tokens
 * (`node.distributed().semaphore(name, permits)`). A handle may hold several permits; `release`
 * gives back the oldest.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InMemoryJournal } from "@casty/casty/persistence";
 * import { ClusteredActorSystem } from "@casty/casty";
 * await using node = await ClusteredActorSystem.start({ name: "doc", host: "127.0.0.1", port: 0 });
 * const d = node.distributed({ journal: new InMemoryJournal() });
 * const pool = d.semaphore("db", 2);
 * await pool.acquire();
 * await pool.acquire();
 * assert.equal(await pool.tryAcquire(), undefined);
 * assert.equal(await pool.release(), true);
 * ```
 */
export interface SemaphoreApi {
  /** The semaphore's name. */
  readonly name: string;
  /** The permits it was created with. */
  readonly permits: number;
  /** Waits for a permit; resolves to its fencing token. */
  acquire(options?: WaitOptions): Promise<number>;
  /** Takes a permit if one is free and nobody waits: its token, else `undefined`. */
  tryAcquire(): Promise<number | undefined>;
  /** Gives back the oldest permit this handle holds: `false` if it holds none. */
  release(): Promise<boolean>;
  /** The tokens of the permits this handle holds with a live lease, oldest first. */
  readonly fencingTokens: readonly number[];
  /** Frees the semaphore; the next use starts a fresh one. */
  destroy(): Promise<void>;
}

/**
 * A reusable cluster-wide barrier (`node.distributed().barrier(name)`): `arrive(n)` resolves
 * once `n` participants arrived.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ClusteredActorSystem } from "@casty/casty";
 * await using node = await ClusteredActorSystem.start({ name: "doc", host: "127.0.0.1", port: 0 });
 * const b = node.distributed().barrier("start");
 * await Promise.all([b.arrive(2), b.arrive(2)]);
 * assert.equal(b.name, "start");
 * ```
 */
export interface BarrierApi {
  /** The barrier's name. */
  readonly name: string;
  /**
   * Arrives and waits until `expected` participants arrived in this round. Rejects with
   * `BarrierMismatchError` when the round expects another count, and with a `DistributedError`
   * (`BARRIER_TIMEOUT`, `BARRIER_BROKEN`) for everyone when the round times out or a
   * participant's node dies.
   */
  arrive(expected: number, options?: WaitOptions): Promise<void>;
  /** Frees the barrier (waiting participants fail); the next use starts a fresh one. */
  destroy(): Promise<void>;
}
