/**
 * A cluster-wide integer counter.
 *
 * @module
 */
import type { CounterApi } from "../cluster/distributed_api.ts";
import { call, type StructureRoute } from "./_client.ts";

/**
 * A cluster-wide integer counter. Get one with `node.distributed().counter(name)`; every node that names it
 * reaches the same entity.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ClusteredActorSystem } from "@casty/casty";
 * await using node = await ClusteredActorSystem.start({ name: "doc", host: "127.0.0.1", port: 0 });
 * const hits = node.distributed().counter("hits");
 * assert.equal(await hits.increment(), 1);
 * assert.equal(await hits.increment(5), 6);
 * assert.equal(await hits.decrement(2), 4);
 * assert.equal(await hits.get(), 4);
 * ```
 */
export class DistributedCounter implements CounterApi {
  readonly #route: StructureRoute;
  /** The structure's name. */
  readonly name: string;

  /**
   * Made by `node.distributed().counter(name)`.
   *
   * @param name The structure's name.
   * @param route Where its entity is.
   */
  constructor(name: string, route: StructureRoute) {
    this.name = name;
    this.#route = route;
  }

  /**
   * Adds `n`.
   *
   * @param n A safe integer (default 1).
   * @returns The new value.
   */
  increment(n = 1): Promise<number> {
    return call(this.#route, "increment", [n]);
  }

  /**
   * Subtracts `n`.
   *
   * @param n A safe integer (default 1).
   * @returns The new value.
   */
  decrement(n = 1): Promise<number> {
    return call(this.#route, "decrement", [n]);
  }

  /**
   * The current value (0 for a new or destroyed counter).
   *
   * @returns The current value (0 for a new or destroyed counter).
   */
  get(): Promise<number> {
    return call(this.#route, "get");
  }

  /** Frees the counter; using it again starts a fresh one at 0. */
  async destroy(): Promise<void> {
    await call(this.#route, "destroy");
  }
}
