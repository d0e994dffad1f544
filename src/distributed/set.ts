/**
 * A cluster-wide set (values compared by value after serialization: use primitives).
 *
 * @module
 */
import type { SetApi } from "../cluster/distributed_api.ts";
import { call, type StructureRoute } from "./_client.ts";

/**
 * A cluster-wide set (values compared by value after serialization: use primitives). Get one with `node.distributed().set(name)`; every node that names it
 * reaches the same entity.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ClusteredActorSystem } from "@casty/casty";
 * await using node = await ClusteredActorSystem.start({ name: "doc", host: "127.0.0.1", port: 0 });
 * const tags = node.distributed().set<string>("tags");
 * assert.equal(await tags.add("a"), true);
 * assert.equal(await tags.add("a"), false);
 * assert.equal(await tags.contains("a"), true);
 * assert.equal(await tags.size(), 1);
 * assert.equal(await tags.remove("a"), true);
 * ```
 */
export class DistributedSet<V> implements SetApi<V> {
  readonly #route: StructureRoute;
  /** The structure's name. */
  readonly name: string;

  /**
   * Made by `node.distributed().set(name)`.
   *
   * @param name The structure's name.
   * @param route Where its entity is.
   */
  constructor(name: string, route: StructureRoute) {
    this.name = name;
    this.#route = route;
  }

  /**
   * Whether `value` was added (`false`: it was there).
   *
   * @returns Whether `value` was added (`false`: it was there).
   */
  add(value: V): Promise<boolean> {
    return call(this.#route, "add", [value]);
  }

  /**
   * Whether `value` was removed (`false`: it was not there).
   *
   * @returns Whether `value` was removed (`false`: it was not there).
   */
  remove(value: V): Promise<boolean> {
    return call(this.#route, "remove", [value]);
  }

  /**
   * Whether `value` is in the set.
   *
   * @returns Whether `value` is in the set.
   */
  contains(value: V): Promise<boolean> {
    return call(this.#route, "contains", [value]);
  }

  /**
   * The number of values.
   *
   * @returns The number of values.
   */
  size(): Promise<number> {
    return call(this.#route, "size");
  }

  /** Frees the set; using it again starts a fresh, empty one. */
  async destroy(): Promise<void> {
    await call(this.#route, "destroy");
  }
}
