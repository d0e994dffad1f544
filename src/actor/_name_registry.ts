// A name → value map for actor registries (root actors, children). Deleting from a large Map
// that grows and shrinks is slow on V8 (seen on Deno: ~6x a tombstoned map), and mass
// spawn/stop does exactly that, so deletes leave a tombstone that is compacted away once
// tombstones outnumber live entries.
export class NameRegistry<V> {
  #map = new Map<string, V | undefined>();
  #live = 0;

  get size(): number {
    return this.#live;
  }

  get(name: string): V | undefined {
    return this.#map.get(name);
  }

  has(name: string): boolean {
    return this.#map.get(name) !== undefined;
  }

  /** Sets `name` unless a live value has it; returns whether it was set. One lookup. */
  add(name: string, value: V): boolean {
    const map = this.#map;
    if (map.get(name) !== undefined) return false;
    map.set(name, value);
    this.#live++;
    return true;
  }

  /** Sets `name`, which the caller knows has no live value (no lookup first). */
  insertAbsent(name: string, value: V): void {
    this.#map.set(name, value);
    this.#live++;
  }

  set(name: string, value: V): void {
    if (this.#map.get(name) === undefined) this.#live++;
    this.#map.set(name, value);
  }

  delete(name: string): boolean {
    if (this.#map.get(name) === undefined) return false;
    this.#map.set(name, undefined);
    this.#live--;
    const tombstones = this.#map.size - this.#live;
    if (tombstones > 1024 && tombstones > this.#live) this.#compact();
    return true;
  }

  *values(): IterableIterator<V> {
    for (const v of this.#map.values()) if (v !== undefined) yield v;
  }

  #compact(): void {
    const next = new Map<string, V | undefined>();
    for (const [k, v] of this.#map) if (v !== undefined) next.set(k, v);
    this.#map = next;
  }
}
