/**
 * `testCluster(n)`: n full {@linkcode ClusteredActorSystem}s in one process, on one
 * {@linkcode SimulatedClock} and an in-memory network, with kills, restarts and partitions.
 *
 * @module
 */
import { setImmediate } from "node:timers";
import type { Logger } from "../actor/logger.ts";
import {
  ClusteredActorSystem,
  type ClusteredActorSystemOptions,
} from "../cluster/clustered_actor_system.ts";
import type { NodeAddress } from "../remote/address.ts";
import type { EventJournal } from "../persistence/journal.ts";
import { InMemoryJournal } from "../persistence/in_memory_journal.ts";
import type { InMemoryNetwork } from "./in_memory_network.ts";
import { InMemoryTransport, type TransportFrame, transportNetwork } from "./in_memory_transport.ts";
import { seededRandom } from "./membership_simulation.ts";
import { SimulatedClock } from "./simulated_clock.ts";

/**
 * Options of {@linkcode testCluster}: a seed, a journal, and any node option (applied to every
 * node) except those the test cluster wires itself.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TestClusterOptions } from "@casty/casty/testing";
 * const o: TestClusterOptions = { seed: 7, roles: ["worker"] };
 * assert.equal(o.seed, 7);
 * ```
 */
export interface TestClusterOptions extends
  Partial<
    Omit<
      ClusteredActorSystemOptions,
      "host" | "port" | "bindHost" | "bindPort" | "tls" | "clock" | "transportFactory" | "random"
    >
  > {
  /**
   * Seed of every random choice (incarnation ids, gossip peers, timer phases): the same seed
   * gives the same run.
   * @default {1}
   */
  seed?: number;
  /** A journal shared by every node, as a database would be ({@linkcode TestCluster.journal}). */
  journal?: EventJournal;
  /**
   * One-way network latency in ms, fixed or per message from the sender's and the receiver's
   * address (a function can model a slow link or a delay spike; the order of messages between
   * two nodes is kept, as on a connection).
   * @default {1}
   */
  latency?: number | ((from: NodeAddress, to: NodeAddress) => number);
  /**
   * Simulated ms per step of {@linkcode TestCluster.advance}; actors run between steps.
   * @default {10}
   */
  step?: number;
  /**
   * Resolve only once all n members are up on every node (within 60 s of simulated time).
   * @default {true}
   */
  waitForUp?: boolean;
}

/**
 * Options of {@linkcode TestCluster.until} and {@linkcode TestCluster.run}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TestClusterWaitOptions } from "@casty/casty/testing";
 * const o: TestClusterWaitOptions = { timeout: 60_000 };
 * assert.equal(o.timeout, 60_000);
 * ```
 */
export interface TestClusterWaitOptions {
  /**
   * Simulated milliseconds to wait.
   * @default {30000}
   */
  timeout?: number;
}

/**
 * A group of nodes for {@linkcode TestCluster.partition}: an index or several.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { NodeGroup } from "@casty/casty/testing";
 * const majority: NodeGroup = [0, 1];
 * assert.deepEqual(majority, [0, 1]);
 * ```
 */
export type NodeGroup = number | readonly number[];

const HOST = "127.0.0.1";
const BASE_PORT = 25520;

const quietLogger: Logger = {
  debug(): void {},
  info(): void {},
  warn(): void {},
  error(message: string, ...data: unknown[]): void {
    console.error(`[casty:test-cluster] ${message}`, ...data);
  },
};

/** Lets every queued microtask and dispatcher turn run. */
const settle = (): Promise<void> => new Promise<void>((resolve) => void setImmediate(resolve));

/**
 * A cluster of full nodes in one process on simulated time, made by {@linkcode testCluster}.
 * Nothing moves unless the test advances the clock ({@linkcode TestCluster.advance},
 * {@linkcode TestCluster.until}, {@linkcode TestCluster.run}), so runs are fast and repeatable.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { testCluster } from "@casty/casty/testing";
 * await using c = await testCluster(3, { seed: 1 });
 * assert.equal(c.nodes.length, 3);
 * assert.ok(c.nodes.every((n) => n.members.length === 3));
 * await c.kill(2);
 * await c.until(() => c.nodes[0].members.length === 2, { timeout: 60_000 });
 * ```
 */
export class TestCluster implements AsyncDisposable {
  /** The clock of every node and of the network. */
  readonly clock: SimulatedClock;
  /** The network the nodes' transports run on. */
  readonly network: InMemoryNetwork<TransportFrame>;
  /** The journal shared by every node. */
  readonly journal: EventJournal;
  readonly #options: TestClusterOptions;
  readonly #random: () => number;
  readonly #step: number;
  readonly #nodes: ClusteredActorSystem[] = [];
  readonly #transports: InMemoryTransport[] = [];
  readonly #alive: boolean[] = [];
  #disposed = false;

  /** Use {@linkcode testCluster}. */
  constructor(options: TestClusterOptions = {}) {
    this.#options = options;
    this.#random = seededRandom(options.seed ?? 1);
    this.#step = options.step ?? 10;
    if (!(this.#step > 0)) throw new RangeError(`step must be positive, got ${this.#step}`);
    this.clock = new SimulatedClock();
    this.network = transportNetwork(this.clock, options.latency ?? 1);
    this.journal = options.journal ?? new InMemoryJournal();
  }

  /** The current node of each index (a killed one stays until it is restarted). */
  get nodes(): readonly ClusteredActorSystem[] {
    return this.#nodes;
  }

  /** The nodes that are running. */
  get alive(): readonly ClusteredActorSystem[] {
    return this.#nodes.filter((_, i) => this.#alive[i] && !this.#nodes[i].isShutdown);
  }

  /**
   * The address of node `i`.
   *
   * @param i The index.
   * @returns Its address.
   */
  address(i: number): NodeAddress {
    return { host: HOST, port: BASE_PORT + i };
  }

  /**
   * Starts node `i`: a new index adds a node that joins through node 0 (use the next index,
   * `nodes.length`); {@linkcode TestCluster.restart} uses it for a new incarnation.
   *
   * @param i The index.
   * @returns The node (not yet up: advance time, e.g. with `until(() => c.isConverged())`).
   * @throws {Error} when node `i` is running.
   */
  async start(i: number): Promise<ClusteredActorSystem> {
    if (this.#alive[i]) throw new Error(`Cannot start node ${i}: it is running`);
    const {
      seed: _seed,
      journal: _journal,
      latency: _latency,
      step: _step,
      waitForUp: _wait,
      ...nodeOptions
    } = this.#options;
    const address = this.address(i);
    const count = Math.max(this.#nodes.length, i + 1);
    // Node 0 forms the cluster; the others join through it, or, while node 0 is down, through
    // every other running node. A restarted node 0 first asks the others, so that it joins the
    // running cluster instead of forming a new one.
    const running = Array.from({ length: count }, (_, k) => k).filter((k) =>
      k !== i && this.#alive[k]
    );
    const seeds = i === 0 && this.#nodes.length > 0
      ? [address, ...Array.from({ length: count - 1 }, (_, k) => this.address(k + 1))]
      : this.#alive[0] || running.length === 0
      ? [this.address(0)]
      : running.map((k) => this.address(k));
    const random = seededRandom(Math.floor(this.#random() * 2 ** 32));
    const node = await ClusteredActorSystem.start({
      name: "test",
      logger: quietLogger,
      ...nodeOptions,
      host: address.host,
      port: address.port,
      seedNodes: seeds,
      clock: this.clock,
      random,
      transportFactory: (s) => {
        const t = new InMemoryTransport({
          network: this.network,
          clock: s.clock,
          systemName: s.systemName,
          address: { host: s.host, port: s.port },
          incarnation: s.incarnation,
          logger: s.logger,
          outboundQueueLimit: s.tuning.outboundQueueLimit,
          connectTimeout: s.tuning.connectTimeout,
          unreachableTimeout: s.tuning.unreachableTimeout,
          maxFrameSize: s.tuning.maxFrameSize,
          reconnectBackoff: s.tuning.reconnectBackoff,
        });
        this.#transports[i] = t;
        return Promise.resolve(t);
      },
    });
    this.#nodes[i] = node;
    this.#alive[i] = true;
    return node;
  }

  /**
   * Kills node `i` like `SIGKILL`: its transport vanishes (peers see the connections drop), its
   * timers stop, and its actors are stopped without leaving the cluster. The others notice through
   * their failure detectors and, after `downing.stableAfter`, down and remove it.
   *
   * @param i The index.
   */
  async kill(i: number): Promise<void> {
    const node = this.#node(i);
    if (!this.#alive[i]) return;
    this.#alive[i] = false;
    this.#transports[i].kill();
    node.membership.stop();
    await node.shutdown();
  }

  /**
   * Starts a new incarnation of node `i` at the same address (killing the running one first).
   *
   * @param i The index.
   * @returns The new node.
   */
  async restart(i: number): Promise<ClusteredActorSystem> {
    this.#node(i);
    await this.kill(i);
    this.clock.advance(1); // a later start time: a later incarnation id
    return this.start(i);
  }

  /**
   * Drops all traffic between the nodes of `a` and those of `b`, both ways, until
   * {@linkcode TestCluster.heal}. Connections across break when next used.
   *
   * @param a Node indices.
   * @param b Node indices.
   */
  partition(a: NodeGroup, b: NodeGroup): void {
    const side = (g: NodeGroup) =>
      (typeof g === "number" ? [g] : [...g]).map((i) => this.address(i));
    this.network.partition(side(a), side(b));
  }

  /** Removes every partition. */
  heal(): void {
    this.network.heal();
  }

  /**
   * Advances simulated time by `ms` in small steps, letting actors and protocols run between
   * steps.
   *
   * @param ms Milliseconds.
   */
  async advance(ms: number): Promise<void> {
    if (!(ms >= 0)) throw new RangeError(`Cannot advance by ${ms} ms`);
    const end = this.clock.now() + ms;
    await settle();
    while (this.clock.now() < end) {
      this.clock.advance(Math.min(this.#step, end - this.clock.now()));
      await settle();
    }
  }

  /**
   * Advances simulated time until `predicate` holds.
   *
   * @param predicate Checked after every step.
   * @param options `timeout` in simulated ms.
   * @throws {Error} when it does not hold within `timeout`.
   */
  async until(predicate: () => boolean, options: TestClusterWaitOptions = {}): Promise<void> {
    const timeout = options.timeout ?? 30_000;
    const end = this.clock.now() + timeout;
    await settle();
    while (!predicate()) {
      if (this.clock.now() >= end) {
        throw new Error(`Condition not met within ${timeout} ms of simulated time`);
      }
      this.clock.advance(this.#step);
      await settle();
    }
  }

  /** Same as {@linkcode TestCluster.until}. */
  waitFor(predicate: () => boolean, options: TestClusterWaitOptions = {}): Promise<void> {
    return this.until(predicate, options);
  }

  /**
   * Advances simulated time until `promise` settles (an ask, a barrier, a leave) and returns its
   * result.
   *
   * @param promise What to wait for.
   * @param options `timeout` in simulated ms.
   * @returns The promise's value.
   * @throws {Error} when it does not settle within `timeout`; rethrows its rejection.
   */
  async run<T>(promise: Promise<T>, options: TestClusterWaitOptions = {}): Promise<T> {
    let settled = false;
    const tracked = promise.finally(() => {
      settled = true;
    });
    tracked.catch(() => {});
    await this.until(() => settled, options);
    return tracked;
  }

  /**
   * Whether every running node sees exactly `n` members (default: the running nodes), all up, and
   * the same leader.
   *
   * @param n Expected member count.
   * @returns `true` when so.
   */
  isConverged(n: number = this.alive.length): boolean {
    const alive = this.alive;
    if (alive.length === 0) return false;
    const leader = alive[0].leader;
    return alive.every((x) =>
      x.members.length === n && x.members.every((m) => m.status === "up") &&
      x.leader?.host === leader?.host && x.leader?.port === leader?.port
    );
  }

  /** Kills every node still running. Idempotent. */
  async shutdown(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    for (let i = 0; i < this.#nodes.length; i++) await this.kill(i);
  }

  /** Same as {@linkcode TestCluster.shutdown}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }

  #node(i: number): ClusteredActorSystem {
    const node = this.#nodes[i];
    if (node === undefined) {
      throw new RangeError(`No node ${i}: the cluster has nodes 0 to ${this.#nodes.length - 1}`);
    }
    return node;
  }
}

/**
 * Starts `n` full {@linkcode ClusteredActorSystem}s in one process on one simulated clock and an
 * in-memory network, and (unless `waitForUp: false`) advances time until all are up. Node `i`
 * listens at `127.0.0.1:${25520 + i}` on the simulated network only; nothing touches a socket.
 *
 * @param n How many nodes (at least 1).
 * @param options Seed, shared journal, latency, and options for every node.
 * @returns The running cluster; dispose it (`await using`) to stop every node.
 * @throws {RangeError} when `n` is not a positive integer.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Behaviors, type ActorRef } from "@casty/casty";
 * import { testCluster } from "@casty/casty/testing";
 * await using c = await testCluster(2, { seed: 42 });
 * const [a, b] = c.nodes;
 * a.spawn(Behaviors.receive<{ replyTo: ActorRef<string> }>((_ctx, m) => m.replyTo.tell("pong")), "ponger");
 * const ref = b.lookup<{ replyTo: ActorRef<string> }>(`casty://test@127.0.0.1:25520/ponger`)!;
 * assert.equal(await c.run(b.ask(ref, (replyTo) => ({ replyTo }))), "pong");
 * ```
 */
export async function testCluster(
  n: number,
  options: TestClusterOptions = {},
): Promise<TestCluster> {
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`Cannot start a test cluster of ${n} nodes: use a positive integer`);
  }
  const cluster = new TestCluster({ downing: { stableAfter: 2000 }, ...options });
  try {
    for (let i = 0; i < n; i++) await cluster.start(i);
    if (options.waitForUp ?? true) {
      await cluster.until(() => cluster.isConverged(n), { timeout: 60_000 });
    }
  } catch (err) {
    await cluster.shutdown();
    throw err;
  }
  return cluster;
}
