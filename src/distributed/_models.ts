/**
 * The pure models of the data structures (counter, map, set, queue).
 *
 * @module
 */
import { type DataModel, ModelError } from "./_entity.ts";

function integer(op: string, n: unknown): number {
  if (typeof n !== "number" || !Number.isSafeInteger(n)) {
    throw new ModelError("BAD_ARGUMENT", `Cannot ${op}: expected a safe integer, got ${String(n)}`);
  }
  return n;
}

/** Counter: `{ t: "add", n }`. */
export const counterModel: DataModel<number, { t: "add"; n: number }> = {
  initial: () => 0,
  apply: (s, e) => s + e.n,
  decide(s, op, args) {
    switch (op) {
      case "increment":
      case "decrement": {
        const n = integer(op, args[0]);
        const d = op === "increment" ? n : -n;
        return { events: [{ t: "add", n: d }], value: s + d };
      }
      case "get":
        return { events: [], value: s };
    }
    throw new ModelError("UNKNOWN_OPERATION", `Unknown counter operation "${op}"`);
  },
};

type MapEvent = { t: "put"; k: unknown; v: unknown } | { t: "del"; k: unknown };

/** Map: keys compared after serialization (primitives by value). */
export const mapModel: DataModel<ReadonlyMap<unknown, unknown>, MapEvent> = {
  initial: () => new Map(),
  apply(s, e) {
    const next = new Map(s);
    if (e.t === "put") next.set(e.k, e.v);
    else next.delete(e.k);
    return next;
  },
  decide(s, op, [k, v]) {
    switch (op) {
      case "put":
        return { events: [{ t: "put", k, v }], value: s.get(k) };
      case "get":
        return { events: [], value: s.get(k) };
      case "delete":
        return s.has(k) ? { events: [{ t: "del", k }], value: true } : { events: [], value: false };
      case "contains":
        return { events: [], value: s.has(k) };
      case "size":
        return { events: [], value: s.size };
    }
    throw new ModelError("UNKNOWN_OPERATION", `Unknown map operation "${op}"`);
  },
};

type SetEvent = { t: "add"; v: unknown } | { t: "rm"; v: unknown };

/** Set: values compared after serialization (primitives by value). */
export const setModel: DataModel<ReadonlySet<unknown>, SetEvent> = {
  initial: () => new Set(),
  apply(s, e) {
    const next = new Set(s);
    if (e.t === "add") next.add(e.v);
    else next.delete(e.v);
    return next;
  },
  decide(s, op, [v]) {
    switch (op) {
      case "add":
        return s.has(v) ? { events: [], value: false } : { events: [{ t: "add", v }], value: true };
      case "remove":
        return s.has(v) ? { events: [{ t: "rm", v }], value: true } : { events: [], value: false };
      case "contains":
        return { events: [], value: s.has(v) };
      case "size":
        return { events: [], value: s.size };
    }
    throw new ModelError("UNKNOWN_OPERATION", `Unknown set operation "${op}"`);
  },
};

type QueueEvent = { t: "enq"; v: unknown } | { t: "deq" };

/** Queue: FIFO. */
export const queueModel: DataModel<readonly unknown[], QueueEvent> = {
  initial: () => [],
  apply: (s, e) => (e.t === "enq" ? [...s, e.v] : s.slice(1)),
  decide(s, op, [v]) {
    switch (op) {
      case "enqueue":
        return { events: [{ t: "enq", v }], value: undefined };
      case "dequeue":
        return s.length === 0
          ? { events: [], value: undefined }
          : { events: [{ t: "deq" }], value: s[0] };
      case "peek":
        return { events: [], value: s[0] };
      case "size":
        return { events: [], value: s.length };
    }
    throw new ModelError("UNKNOWN_OPERATION", `Unknown queue operation "${op}"`);
  },
};
