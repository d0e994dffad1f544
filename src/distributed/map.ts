/**
 * A cluster-wide key-value map (keys compared by value after serialization: use primitives).
 *
 * @module
 */
import type { MapApi } from "../cluster/distributed_api.ts";
import { call, type StructureRoute } from "./_client.ts";

/**
 * A cluster-wide key-value map (keys compared by value after serialization: use primitives). Get one with `node.distributed().map(name)`; every node that names it
 * reaches the same entity.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ClusteredActorSystem } from "@casty/casty";
 * await using node = await ClusteredActorSystem.start({ name: "doc", host: "127.0.0.1", port: 0 });
 * const users = node.distributed().map<string, number>("users");
 * assert.equal(await users.put("alice", 1), undefined);
 * assert.equal(await users.put("alice", 2), 1);
 * assert.equal(await users.get("alice"), 2);
 * assert.equal(await users.contains("bob"), false);
 * assert.equal(await users.delete("alice"), true);
 * ```
 */
export class DistributedMap<K, V> implements MapApi<K, V> {
  readonly #route: StructureRoute;
  /** The structure's name. */
  readonly name: string;

  /**
   * Made by `node.distributed().map(name)`.
   *
   * @param name The structure's name.
   * @param route Where its entity is.
   */
  constructor(name: string, route: StructureRoute) {
    this.name = name;
    this.#route = route;
  }

  /**
   * Sets `key` to `value`.
   *
   * @returns The previous value, or `undefined`.
   */
  put(key: K, value: V): Promise<V | undefined> {
    return call(this.#route, "put", [key, value]);
  }

  /**
   * The value of `key`, or `undefined`.
   *
   * @returns The value of `key`, or `undefined`.
   */
  get(key: K): Promise<V | undefined> {
    return call(this.#route, "get", [key]);
  }

  /**
   * Whether `key` existed (it is gone now).
   *
   * @returns Whether `key` existed (it is gone now).
   */
  delete(key: K): Promise<boolean> {
    return call(this.#route, "delete", [key]);
  }

  /**
   * Whether `key` is in the map.
   *
   * @returns Whether `key` is in the map.
   */
  contains(key: K): Promise<boolean> {
    return call(this.#route, "contains", [key]);
  }

  /**
   * The number of keys.
   *
   * @returns The number of keys.
   */
  size(): Promise<number> {
    return call(this.#route, "size");
  }

  /** Frees the map; using it again starts a fresh, empty one. */
  async destroy(): Promise<void> {
    await call(this.#route, "destroy");
  }
}
