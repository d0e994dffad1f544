/**
 * A cluster-wide FIFO queue.
 *
 * @module
 */
import type { QueueApi } from "../cluster/distributed_api.ts";
import { call, type StructureRoute } from "./_client.ts";

/**
 * A cluster-wide FIFO queue. Get one with `node.distributed().queue(name)`; every node that names it
 * reaches the same entity.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ClusteredActorSystem } from "@casty/casty";
 * await using node = await ClusteredActorSystem.start({ name: "doc", host: "127.0.0.1", port: 0 });
 * const jobs = node.distributed().queue<string>("jobs");
 * await jobs.enqueue("a");
 * await jobs.enqueue("b");
 * assert.equal(await jobs.peek(), "a");
 * assert.equal(await jobs.dequeue(), "a");
 * assert.equal(await jobs.size(), 1);
 * assert.equal(await jobs.dequeue(), "b");
 * assert.equal(await jobs.dequeue(), undefined);
 * ```
 */
export class DistributedQueue<V> implements QueueApi<V> {
  readonly #route: StructureRoute;
  /** The structure's name. */
  readonly name: string;

  /**
   * Made by `node.distributed().queue(name)`.
   *
   * @param name The structure's name.
   * @param route Where its entity is.
   */
  constructor(name: string, route: StructureRoute) {
    this.name = name;
    this.#route = route;
  }

  /** Appends `value` at the tail. */
  async enqueue(value: V): Promise<void> {
    await call(this.#route, "enqueue", [value]);
  }

  /**
   * The head, removed, or `undefined` when the queue is empty.
   *
   * @returns The head, removed, or `undefined` when the queue is empty.
   */
  dequeue(): Promise<V | undefined> {
    return call(this.#route, "dequeue");
  }

  /**
   * The head, left in place, or `undefined` when the queue is empty.
   *
   * @returns The head, left in place, or `undefined` when the queue is empty.
   */
  peek(): Promise<V | undefined> {
    return call(this.#route, "peek");
  }

  /**
   * The number of values.
   *
   * @returns The number of values.
   */
  size(): Promise<number> {
    return call(this.#route, "size");
  }

  /** Frees the queue; using it again starts a fresh, empty one. */
  async destroy(): Promise<void> {
    await call(this.#route, "destroy");
  }
}
