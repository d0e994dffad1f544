/**
 * Runs many {@linkcode Membership} engines in one process over an {@linkcode InMemoryNetwork}
 * and a {@linkcode SimulatedClock}: deterministic multi-node cluster tests and benchmarks.
 *
 * @module
 */

import type { Cancellable, Clock } from "../actor/clock.ts";
import {
  type LeaderAction,
  Membership,
  type MembershipMessage,
  type MembershipOptions,
} from "../cluster/membership.ts";
import type { MembershipEvent } from "../cluster/events.ts";
import { newMemberId, type NodeAddress } from "../cluster/member.ts";
import { InMemoryNetwork } from "./in_memory_network.ts";
import { SimulatedClock } from "./simulated_clock.ts";

/**
 * A small seeded pseudo-random generator (mulberry32), for reproducible simulations.
 *
 * @param seed Any 32-bit integer.
 * @returns A function returning numbers in [0, 1).
 * @example
 * ```ts
 * import { seededRandom } from "@casty/casty/testing";
 * import assert from "node:assert/strict";
 * const a = seededRandom(42);
 * const b = seededRandom(42);
 * assert.ok(a() === b());
 * ```
 */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Tuning shared by every node of a {@linkcode MembershipSimulation}: any
 * {@linkcode MembershipOptions} except what the simulation wires itself.
 *
 * @example
 * ```ts
 * import type { SimulationTuning } from "@casty/casty/testing";
 * import assert from "node:assert/strict";
 * const t: SimulationTuning = { downing: { stableAfter: 3000 } };
 * assert.ok(t.downing?.stableAfter === 3000);
 * ```
 */
export type SimulationTuning = Omit<
  MembershipOptions,
  "self" | "seedNodes" | "clock" | "send" | "onEvent" | "random" | "onLeaderAction"
>;

/**
 * Options for {@linkcode MembershipSimulation}.
 *
 * @example
 * ```ts
 * import type { MembershipSimulationOptions } from "@casty/casty/testing";
 * import assert from "node:assert/strict";
 * const o: MembershipSimulationOptions = { seed: 7, latency: 2 };
 * assert.ok(o.seed === 7);
 * ```
 */
export interface MembershipSimulationOptions {
  /**
   * Seed for every random choice (peer selection, timer phases, ids, latency jitter).
   * @default {1}
   */
  readonly seed?: number;
  /**
   * Base one-way latency in ms; each message gets up to 50% jitter on top.
   * @default {2}
   */
  readonly latency?: number;
  /**
   * Host shared by all nodes (they differ by port).
   * @default {"10.0.0.1"}
   */
  readonly host?: string;
  /** Options applied to every node. */
  readonly tuning?: SimulationTuning;
}

/**
 * One simulated node: the engine, everything it published, and whether it is alive.
 *
 * @example
 * ```ts
 * import { MembershipSimulation } from "@casty/casty/testing";
 * import assert from "node:assert/strict";
 * using sim = new MembershipSimulation();
 * const n = sim.add(1);
 * assert.ok(n.alive);
 * ```
 */
export interface SimulatedNode {
  /** Where it listens. */
  readonly address: NodeAddress;
  /** Its engine. */
  readonly membership: Membership;
  /** Every event it published, in order. */
  readonly events: MembershipEvent[];
  /** Every leader action it took, with the simulated time, in order. */
  readonly leaderActions: (LeaderAction & { readonly at: number })[];
  /** False once killed, stopped, or shut down by the protocol. */
  readonly alive: boolean;
}

class Node implements SimulatedNode {
  readonly events: MembershipEvent[] = [];
  readonly leaderActions: (LeaderAction & { readonly at: number })[] = [];
  killed = false;
  stalledUntil = -Infinity;
  membership!: Membership;
  constructor(readonly address: NodeAddress) {}
  get alive(): boolean {
    return !this.killed && !this.membership.isTerminated;
  }
}

/**
 * A node's view of the shared clock: its wall clock may be offset (set back), and while the
 * node is stalled (a blocked event loop) its timers wait until the stall ends.
 */
class NodeClock implements Clock {
  constructor(
    readonly base: SimulatedClock,
    readonly node: Node,
    readonly wallOffset: number,
  ) {}
  now(): number {
    return this.base.now();
  }
  wallNow(): number {
    return this.base.wallNow() + this.wallOffset;
  }
  setTimeout(callback: () => void, delayMs: number): Cancellable {
    let inner: Cancellable | undefined;
    let cancelled = false;
    const fire = () => {
      if (cancelled) return;
      const wait = this.node.stalledUntil - this.base.now();
      if (wait > 0) {
        inner = this.base.setTimeout(fire, wait);
        return;
      }
      callback();
    };
    inner = this.base.setTimeout(fire, delayMs);
    return {
      cancel: () => {
        cancelled = true;
        inner?.cancel();
      },
    };
  }
}

/**
 * A deterministic cluster of membership engines in one process.
 *
 * @example
 * ```ts
 * import { MembershipSimulation } from "@casty/casty/testing";
 * import assert from "node:assert/strict";
 * using sim = new MembershipSimulation({ seed: 3 });
 * for (const port of [1, 2, 3]) sim.add(port, { seeds: [1, 2] });
 * const ok = sim.runUntil(() => sim.allUp(3), 30_000);
 * assert.ok(ok);
 * ```
 */
export class MembershipSimulation {
  /** The shared clock. */
  readonly clock: SimulatedClock;
  /** The shared network. */
  readonly network: InMemoryNetwork<MembershipMessage>;
  readonly #host: string;
  readonly #random: () => number;
  readonly #tuning: SimulationTuning;
  readonly #nodes = new Map<number, Node>();
  readonly #seeds = new Map<number, readonly number[]>();
  readonly #roles = new Map<number, readonly string[]>();

  /**
   * Creates a MembershipSimulation.
   *
   * @param options Seed, latency, host and per-node tuning.
   */
  constructor(options: MembershipSimulationOptions = {}) {
    this.clock = new SimulatedClock();
    this.#random = seededRandom(options.seed ?? 1);
    const latency = options.latency ?? 2;
    this.network = new InMemoryNetwork<MembershipMessage>(this.clock, {
      latency: () => latency * (1 + this.#random() / 2),
    });
    this.#host = options.host ?? "10.0.0.1";
    this.#tuning = options.tuning ?? {};
  }

  /**
   * The address of the node on `port`.
   *
   * @param port The port.
   * @returns Its address.
   */
  address(port: number): NodeAddress {
    return { host: this.#host, port };
  }

  /**
   * Creates and starts a node (a new incarnation if one existed on that port).
   *
   * @param port Its port (nodes sort by port, so the lowest port leads).
   * @param options Seeds (ports; default: just this node), roles, whether to start, and a
   * wall-clock offset (its incarnation id is made from its own wall clock).
   * @returns The node.
   */
  add(
    port: number,
    options: {
      readonly seeds?: readonly number[];
      readonly roles?: readonly string[];
      readonly start?: boolean;
      /** Offset of this node's wall clock in ms (negative: set back). */
      readonly wallClockOffset?: number;
    } = {},
  ): SimulatedNode {
    const old = this.#nodes.get(port);
    if (old !== undefined && old.alive) {
      throw new Error(`Cannot add node on port ${port}: it is running`);
    }
    const seeds = options.seeds ?? [port];
    const roles = options.roles ?? [];
    this.#seeds.set(port, seeds);
    this.#roles.set(port, roles);
    const address = this.address(port);
    const node = new Node(address);
    const clock = new NodeClock(this.clock, node, options.wallClockOffset ?? 0);
    const membership = new Membership({
      log: () => {},
      ...this.#tuning,
      self: { address, id: newMemberId(clock.wallNow(), this.#random), roles },
      seedNodes: seeds.map((p) => this.address(p)),
      clock,
      send: (to, msg) => {
        if (!node.killed) this.network.send(address, to, msg);
      },
      onEvent: (e) => node.events.push(e),
      onLeaderAction: (a) => node.leaderActions.push({ ...a, at: this.clock.now() }),
      random: seededRandom(Math.floor(this.#random() * 2 ** 32)),
    });
    node.membership = membership;
    this.#nodes.set(port, node);
    this.network.attach(address, (from, msg) => {
      if (node.killed) return;
      const wait = node.stalledUntil - this.clock.now();
      // A stalled node reads what arrived during the stall when it wakes up, in order, and
      // after its overdue timers ran (as an event loop runs its timers before polling I/O).
      if (wait > 0) {
        this.clock.setTimeout(() => !node.killed && membership.receive(from, msg), wait + 1);
      } else membership.receive(from, msg);
    });
    if (options.start ?? true) membership.start();
    return node;
  }

  /**
   * The current incarnation on `port`.
   *
   * @param port The port.
   * @returns The node.
   * @throws {RangeError} When no node was added on that port.
   */
  node(port: number): SimulatedNode {
    const n = this.#nodes.get(port);
    if (n === undefined) throw new RangeError(`No simulated node on port ${port}`);
    return n;
  }

  /** Every current incarnation. */
  get nodes(): readonly SimulatedNode[] {
    return [...this.#nodes.values()];
  }

  /** The nodes that are still running. */
  get alive(): readonly SimulatedNode[] {
    return this.nodes.filter((n) => n.alive);
  }

  /**
   * Kills the node on `port`: it stops sending, receiving and running timers, like a crashed
   * process; the others get the connection-lost hint a real transport gives them.
   *
   * @param port The port.
   */
  kill(port: number): void {
    const n = this.#nodes.get(port);
    if (n === undefined) return;
    n.killed = true;
    n.membership.stop();
    this.network.detach(n.address);
    // A crashed process's sockets close: its peers' transports tell membership at once.
    for (const other of this.#nodes.values()) {
      if (other !== n && other.alive) other.membership.connectionLost(n.address);
    }
  }

  /**
   * Starts a new incarnation on `port` with the seeds and roles it had.
   *
   * @param port The port.
   * @param options `wallClockOffset`: the new incarnation's wall clock offset in ms (e.g.
   * `-86_400_000`: restarted with its clock a day behind).
   * @returns The new node.
   */
  restart(port: number, options: { readonly wallClockOffset?: number } = {}): SimulatedNode {
    this.kill(port);
    this.clock.advance(1);
    return this.add(port, {
      seeds: this.#seeds.get(port),
      roles: this.#roles.get(port),
      wallClockOffset: options.wallClockOffset,
    });
  }

  /**
   * Stalls the node on `port` for `ms` (a blocked event loop): its timers and the messages it
   * receives wait until the stall ends, then run in order.
   *
   * @param port The port.
   * @param ms How long.
   */
  stall(port: number, ms: number): void {
    const n = this.#nodes.get(port);
    if (n === undefined) throw new RangeError(`No simulated node on port ${port}`);
    n.stalledUntil = Math.max(n.stalledUntil, this.clock.now() + ms);
  }

  /**
   * Advances simulated time.
   *
   * @param ms Milliseconds.
   */
  runFor(ms: number): void {
    this.clock.advance(ms);
  }

  /**
   * Advances time in `step` increments until `condition` holds or `timeout` ms passed.
   *
   * @param condition Checked after each step.
   * @param timeout Maximum simulated ms.
   * @param step Step in ms.
   * @default {100}
   * @returns Whether the condition held.
   */
  runUntil(condition: () => boolean, timeout: number, step = 100): boolean {
    const end = this.clock.now() + timeout;
    while (!condition()) {
      if (this.clock.now() >= end) return false;
      this.clock.advance(step);
    }
    return true;
  }

  /**
   * Whether every live node sees exactly `n` members, all `up`, and the same leader.
   *
   * @param n Expected member count.
   * @returns `true` when so.
   */
  allUp(n: number): boolean {
    const alive = this.alive;
    if (alive.length === 0) return false;
    const leader = alive[0].membership.leader;
    return alive.every((x) =>
      x.membership.members.length === n &&
      x.membership.members.every((m) => m.status === "up") &&
      x.membership.leader?.port === leader?.port &&
      x.membership.leader?.host === leader?.host
    );
  }

  /** Stops every node. */
  stop(): void {
    for (const n of this.#nodes.values()) n.membership.stop();
  }

  /** Same as {@linkcode MembershipSimulation.stop}. */
  [Symbol.dispose](): void {
    this.stop();
  }
}
