/**
 * The models of the data structures (counter, map, set, queue). `apply` updates the state in
 * place (O(1) per operation); the entity makes a fresh state at every start.
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
export const mapModel: DataModel<Map<unknown, unknown>, MapEvent> = {
  initial: () => new Map(),
  apply(s, e) {
    if (e.t === "put") s.set(e.k, e.v);
    else s.delete(e.k);
    return s;
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
export const setModel: DataModel<Set<unknown>, SetEvent> = {
  initial: () => new Set(),
  apply(s, e) {
    if (e.t === "add") s.add(e.v);
    else s.delete(e.v);
    return s;
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

/** A queue: `items[head..]` (dequeued items are dropped in batches). */
interface Queue {
  readonly items: unknown[];
  head: number;
}

const size = (q: Queue) => q.items.length - q.head;

type QueueEvent = { t: "enq"; v: unknown } | { t: "deq" };

/** Queue: FIFO. */
export const queueModel: DataModel<Queue, QueueEvent> = {
  initial: () => ({ items: [], head: 0 }),
  apply(s, e) {
    if (e.t === "enq") s.items.push(e.v);
    else if (++s.head > 1024 && s.head * 2 > s.items.length) {
      s.items.splice(0, s.head); // compact now and then: dequeue stays O(1) amortized
      s.head = 0;
    }
    return s;
  },
  decide(s, op, [v]) {
    switch (op) {
      case "enqueue":
        return { events: [{ t: "enq", v }], value: undefined };
      case "dequeue":
        return size(s) === 0
          ? { events: [], value: undefined }
          : { events: [{ t: "deq" }], value: s.items[s.head] };
      case "peek":
        return { events: [], value: s.items[s.head] };
      case "size":
        return { events: [], value: size(s) };
    }
    throw new ModelError("UNKNOWN_OPERATION", `Unknown queue operation "${op}"`);
  },
};
