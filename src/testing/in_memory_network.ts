/**
 * A deterministic simulated network over a {@linkcode SimulatedClock}: latency, partitions,
 * killed nodes, and byte/message accounting.
 *
 * @module
 */

import type { SimulatedClock } from "./simulated_clock.ts";
import { TimerHeap } from "../actor/internal.ts";

/**
 * The address shape the network routes on.
 *
 * @example
 * ```ts
 * import type { NetworkAddress } from "@casty/casty/testing";
 * import assert from "node:assert/strict";
 * const a: NetworkAddress = { host: "10.0.0.1", port: 1 };
 * assert.ok(a.port === 1);
 * ```
 */
export interface NetworkAddress {
  /** Host. */
  readonly host: string;
  /** Port. */
  readonly port: number;
}

/**
 * Options for {@linkcode InMemoryNetwork}.
 *
 * @example
 * ```ts
 * import type { InMemoryNetworkOptions } from "@casty/casty/testing";
 * import assert from "node:assert/strict";
 * const o: InMemoryNetworkOptions = { latency: 5 };
 * assert.ok(o.latency === 5);
 * ```
 */
export interface InMemoryNetworkOptions {
  /**
   * One-way delay in ms, fixed or per message (a function may use a seeded random source).
   * @default {1}
   */
  readonly latency?: number | ((from: NetworkAddress, to: NetworkAddress) => number);
  /**
   * Round-trip every message through JSON, as a real transport would (and to catch
   * messages that are not plain data).
   * @default {true}
   */
  readonly serialize?: boolean;
  /**
   * The size of a message in bytes, for {@linkcode NetworkStats} (without it, the JSON length).
   * With `serialize: false`, messages are then never turned into JSON (binary payloads).
   */
  readonly measure?: (msg: never) => number;
  /**
   * Keep the order of messages between each pair of addresses even when latency varies, as a
   * connection would.
   * @default {false}
   */
  readonly fifo?: boolean;
}

/**
 * Message and byte counts, total and per message `type`.
 *
 * @example
 * ```ts
 * import type { NetworkStats } from "@casty/casty/testing";
 * import assert from "node:assert/strict";
 * const s: NetworkStats = { messages: 0, bytes: 0, dropped: 0, byType: {} };
 * assert.ok(s.bytes === 0);
 * ```
 */
export interface NetworkStats {
  /** Messages sent (delivered or not). */
  readonly messages: number;
  /** Bytes sent, as the JSON length of each message. */
  readonly bytes: number;
  /** Messages dropped by partitions or dead nodes. */
  readonly dropped: number;
  /** Per message `type`. */
  readonly byType: Readonly<Record<string, { readonly messages: number; readonly bytes: number }>>;
}

interface InFlight<M> {
  readonly at: number;
  readonly seq: number;
  readonly from: NetworkAddress;
  readonly to: NetworkAddress;
  readonly payload: M;
}

function keyOf(a: NetworkAddress): string {
  return `${a.host}:${a.port}`;
}

/**
 * Routes messages between handlers attached by address, after a simulated delay. A message is
 * dropped when a partition separates the two ends at send time, or when the receiver is not
 * attached (killed) at delivery time.
 *
 * @example
 * ```ts
 * import { InMemoryNetwork, SimulatedClock } from "@casty/casty/testing";
 * import assert from "node:assert/strict";
 * const clock = new SimulatedClock();
 * const net = new InMemoryNetwork<{ type: string }>(clock, { latency: 10 });
 * const a = { host: "a", port: 1 };
 * const b = { host: "b", port: 1 };
 * const got: string[] = [];
 * net.attach(b, (_from, msg) => got.push(msg.type));
 * net.send(a, b, { type: "ping" });
 * clock.advance(10);
 * assert.ok(got[0] === "ping" && net.stats.messages === 1);
 * ```
 */
export class InMemoryNetwork<M extends { readonly type: string }> {
  readonly #clock: SimulatedClock;
  readonly #latency: number | ((from: NetworkAddress, to: NetworkAddress) => number);
  readonly #serialize: boolean;
  readonly #measure: ((msg: M) => number) | undefined;
  readonly #fifo: boolean;
  readonly #lastAt = new Map<string, number>();
  readonly #handlers = new Map<string, (from: NetworkAddress, msg: M) => void>();
  readonly #blocked = new Set<string>();
  #messages = 0;
  #bytes = 0;
  #dropped = 0;
  #byType: Record<string, { messages: number; bytes: number }> = {};
  #inFlight = new TimerHeap<InFlight<M>>();
  #seq = 0;
  #timer: { at: number; cancel: { cancel(): void } } | undefined;

  /**
   * Creates a InMemoryNetwork.
   *
   * @param clock The simulated clock that delivers messages.
   * @param options Latency and serialization.
   */
  constructor(clock: SimulatedClock, options: InMemoryNetworkOptions = {}) {
    this.#clock = clock;
    this.#latency = options.latency ?? 1;
    this.#serialize = options.serialize ?? true;
    this.#measure = options.measure as ((msg: M) => number) | undefined;
    this.#fifo = options.fifo ?? false;
  }

  /**
   * Whether a receiver is attached at `address`.
   *
   * @param address The address.
   * @returns `true` when attached.
   */
  isAttached(address: NetworkAddress): boolean {
    return this.#handlers.has(keyOf(address));
  }

  /**
   * Whether a partition drops messages from `from` to `to` now.
   *
   * @param from Sender.
   * @param to Receiver.
   * @returns `true` when blocked.
   */
  isBlocked(from: NetworkAddress, to: NetworkAddress): boolean {
    return this.#blocked.size > 0 && this.#blocked.has(`${keyOf(from)}>${keyOf(to)}`);
  }

  /**
   * Attaches (or replaces) the receiver at `address`, e.g. a restarted node.
   *
   * @param address Where it listens.
   * @param handler Called for each delivered message.
   */
  attach(address: NetworkAddress, handler: (from: NetworkAddress, msg: M) => void): void {
    this.#handlers.set(keyOf(address), handler);
  }

  /**
   * Detaches the receiver at `address`: messages to it are dropped from now on (a killed node).
   *
   * @param address The address.
   */
  detach(address: NetworkAddress): void {
    this.#handlers.delete(keyOf(address));
  }

  /**
   * Sends `msg` from `from` to `to`.
   *
   * @param from Sender.
   * @param to Receiver.
   * @param msg A JSON-able message.
   */
  send(from: NetworkAddress, to: NetworkAddress, msg: M): void {
    const text = this.#measure !== undefined && !this.#serialize ? undefined : JSON.stringify(msg);
    const size = text === undefined ? this.#measure!(msg) : (this.#measure?.(msg) ?? text.length);
    this.#messages++;
    this.#bytes += size;
    const t = (this.#byType[msg.type] ??= { messages: 0, bytes: 0 });
    t.messages++;
    t.bytes += size;
    if (this.isBlocked(from, to)) {
      this.#dropped++;
      return;
    }
    const payload = this.#serialize ? JSON.parse(text!) as M : msg;
    const delay = typeof this.#latency === "number" ? this.#latency : this.#latency(from, to);
    let at = this.#clock.now() + Math.max(0, delay);
    if (this.#fifo) {
      const pair = `${keyOf(from)}>${keyOf(to)}`;
      at = Math.max(at, this.#lastAt.get(pair) ?? 0);
      this.#lastAt.set(pair, at);
    }
    this.#inFlight.push({
      at,
      seq: this.#seq++,
      from,
      to,
      payload,
    });
    this.#arm();
  }

  // In-flight messages live in a min-heap behind a single clock timer: thousands of messages
  // per simulated round would otherwise each be a clock timer.
  #arm(): void {
    const next = this.#inFlight.peek();
    if (next === undefined) return;
    if (this.#timer !== undefined && this.#timer.at <= next.at) return;
    this.#timer?.cancel.cancel();
    const at = next.at;
    this.#timer = {
      at,
      cancel: this.#clock.setTimeout(() => this.#deliverDue(), at - this.#clock.now()),
    };
  }

  #deliverDue(): void {
    this.#timer = undefined;
    const now = this.#clock.now();
    while (this.#inFlight.size > 0 && this.#inFlight.peek()!.at <= now) {
      const item = this.#inFlight.pop()!;
      const handler = this.#handlers.get(keyOf(item.to));
      if (handler === undefined) {
        this.#dropped++;
        continue;
      }
      handler(item.from, item.payload);
    }
    this.#arm();
  }

  /**
   * Drops all traffic between the two groups, both ways, until {@linkcode InMemoryNetwork.heal}.
   *
   * @param a One side.
   * @param b The other side.
   */
  partition(a: readonly NetworkAddress[], b: readonly NetworkAddress[]): void {
    for (const x of a) {
      for (const y of b) {
        this.#blocked.add(`${keyOf(x)}>${keyOf(y)}`);
        this.#blocked.add(`${keyOf(y)}>${keyOf(x)}`);
      }
    }
  }

  /**
   * Cuts the single link between `a` and `b`: both ways, or with `oneWay`, only messages from
   * `a` to `b` (asymmetric loss).
   *
   * @param a One end.
   * @param b The other end.
   * @param options `oneWay`: drop only `a → b`.
   */
  cut(a: NetworkAddress, b: NetworkAddress, options: { readonly oneWay?: boolean } = {}): void {
    this.#blocked.add(`${keyOf(a)}>${keyOf(b)}`);
    if (!options.oneWay) this.#blocked.add(`${keyOf(b)}>${keyOf(a)}`);
  }

  /**
   * Restores the link between `a` and `b` (both directions).
   *
   * @param a One end.
   * @param b The other end.
   */
  restore(a: NetworkAddress, b: NetworkAddress): void {
    this.#blocked.delete(`${keyOf(a)}>${keyOf(b)}`);
    this.#blocked.delete(`${keyOf(b)}>${keyOf(a)}`);
  }

  /**
   * Whether messages from `a` to `b` are dropped now.
   *
   * @param a Sender.
   * @param b Receiver.
   * @returns `true` when that direction is cut.
   */
  isCut(a: NetworkAddress, b: NetworkAddress): boolean {
    return this.#blocked.has(`${keyOf(a)}>${keyOf(b)}`);
  }

  /** Removes every partition and cut link. */
  heal(): void {
    this.#blocked.clear();
  }

  /** Counts since creation or the last {@linkcode InMemoryNetwork.resetStats}. */
  get stats(): NetworkStats {
    const byType: Record<string, { messages: number; bytes: number }> = {};
    for (const [k, v] of Object.entries(this.#byType)) byType[k] = { ...v };
    return { messages: this.#messages, bytes: this.#bytes, dropped: this.#dropped, byType };
  }

  /** Zeroes the counters. */
  resetStats(): void {
    this.#messages = 0;
    this.#bytes = 0;
    this.#dropped = 0;
    this.#byType = {};
  }
}
