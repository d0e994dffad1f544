/**
 * The cluster client: talks to a cluster from outside it (a web server, an API gateway, a
 * script) without becoming a member. It authenticates like a node (secret or mutual TLS), keeps
 * a live topology subscription, routes sharded messages straight to the node that owns their
 * shard, and trips a per-node circuit breaker when a node stops answering.
 *
 * @module
 */
import { ACTOR_REF, type ActorRef } from "../actor/actor_ref.ts";
import { ActorSystem, type AskOptions } from "../actor/actor_system.ts";
import type { Behavior } from "../actor/behaviors.ts";
import { Behaviors } from "../actor/behaviors.ts";
import { type Clock, realClock } from "../actor/clock.ts";
import { AskTimeoutError } from "../actor/errors.ts";
import { DeadLetter, Terminated } from "../actor/events.ts";
import { consoleLogger, type Logger, type LogLevel } from "../actor/logger.ts";
import type { Member, NodeAddress } from "../cluster/member.ts";
import { Listing, RECEPTIONIST_WIRE, ServiceKey } from "../cluster/receptionist.ts";
import {
  GetTopology,
  ResolveNode,
  type ServiceEntry,
  type ShardAllocation,
  SubscribeTopology,
  TOPOLOGY_PATH,
  TopologySnapshot,
  UnsubscribeTopology,
} from "../cluster/topology.ts";
import { formatNodeAddress, parseActorUri, parseNodeAddress } from "../remote/address.ts";
import { Remoting } from "../remote/remoting.ts";
import { TcpTransport, type TcpTransportOptions } from "../remote/tcp_transport.ts";
import type { TlsOptions } from "../runtime/tcp.ts";
import { type Serializer, TaggedJsonSerializer } from "../serialization/serialization.ts";
import { entityShard } from "../sharding/entity_shard.ts";
import { ShardEnvelope } from "../sharding/shard_envelope.ts";
import { ShardForward } from "../sharding/shard_region.ts";
import { ClusterUnavailableError } from "../cluster/errors.ts";
import type { DistributedApi, DistributedOptions } from "../cluster/distributed_api.ts";
import { Distributed, DISTRIBUTED_PATH, releaseAllHeld } from "../distributed/distributed.ts";
import {
  RemoteSpawnError,
  SPAWN_PATH,
  spawnableOf,
  type SpawnReply,
  spawnReplyError,
  type SpawnRequest,
} from "../cluster/spawnable.ts";
import { SerializationError } from "../serialization/errors.ts";

/** Circuit breaker settings of {@linkcode ClusterClientOptions}. */
export interface BreakerOptions {
  /**
   * Consecutive failures (a lost connection, an undeliverable message, an ask or probe without
   * reply) that open a node's breaker.
   * @default {3}
   */
  readonly failures?: number;
  /**
   * Milliseconds an open breaker waits before its one probe; doubles after each failed probe.
   * @default {1000}
   */
  readonly resetAfter?: number;
  /**
   * The longest wait between probes, in ms.
   * @default {10000}
   */
  readonly maxResetAfter?: number;
  /**
   * Milliseconds a probe (a topology request to the node) waits for its answer.
   * @default {1000}
   */
  readonly probeTimeout?: number;
}

/** Options of {@linkcode ClusterClient.connect}. */
export interface ClusterClientOptions {
  /** Nodes to ask for the topology first (`"host:port"` or addresses); at least one. */
  readonly contactPoints: readonly (string | NodeAddress)[];
  /** The cluster's system name (nodes refuse another one). */
  readonly systemName: string;
  /**
   * Where the client's own listener binds (nodes reply to actors hosted by the client).
   * @default {"127.0.0.1"}
   */
  readonly clientHost?: string;
  /**
   * The listener's port; 0 picks a free one.
   * @default {0}
   */
  readonly clientPort?: number;
  /** The host nodes should use to reach the client (NAT, tunnels); default `clientHost`. */
  readonly advertisedHost?: string;
  /** The port nodes should use to reach the client; default the bound port. */
  readonly advertisedPort?: number;
  /**
   * Maps a node's advertised address to the address the client dials (SSH tunnels, NAT);
   * applied to contact points, members, shard owners, service entries and refs inside messages
   * from the nodes.
   */
  readonly addressMap?: (address: NodeAddress) => NodeAddress;
  /** The serializer; the same kind the nodes use. Default: a `TaggedJsonSerializer`. */
  readonly serializer?: Serializer;
  /** Mutual TLS (the client presents `cert`/`key`, trusts `ca`). */
  readonly tls?: TlsOptions;
  /** The cluster's shared secret (default `CASTY_CLUSTER_SECRET` is not read: pass it). */
  readonly secret?: string;
  /**
   * How long `connect` waits for a first topology snapshot, retrying every contact with
   * backoff, before it fails with `CONNECT_TIMEOUT`.
   * @default {30000}
   */
  readonly connectTimeout?: number;
  /**
   * Milliseconds between re-subscriptions to the contact (each one also answers with the current
   * snapshot, so a subscription that stopped is noticed and renewed).
   * @default {1000}
   */
  readonly topologyRefresh?: number;
  /**
   * Milliseconds without an answer from the contact before the client moves to the next contact
   * point or learned member.
   * @default {3000}
   */
  readonly topologyTimeout?: number;
  /** Per-node circuit breaker settings. */
  readonly breaker?: BreakerOptions;
  /**
   * Requests that may wait (for an open breaker to close, or for a shard's allocation) at once;
   * beyond it a request fails with `BUFFER_FULL`.
   * @default {1000}
   */
  readonly bufferSize?: number;
  /**
   * Milliseconds a request may wait in that buffer before it fails with `NODE_UNAVAILABLE`.
   * @default {10000}
   */
  readonly bufferTimeout?: number;
  /**
   * Default ask timeout, ms.
   * @default {5000}
   */
  readonly askTimeout?: number;
  /** Transport tuning. */
  readonly transport?: Pick<
    TcpTransportOptions,
    | "connectTimeout"
    | "handshakeTimeout"
    | "reconnectBackoff"
    | "unreachableTimeout"
    | "maxFrameSize"
    | "outboundQueueLimit"
  >;
  /** Where the client logs. */
  readonly logger?: Logger;
  /**
   * Log level of the default console logger.
   * @default {"warn"}
   */
  readonly logLevel?: LogLevel;
  /** The clock (tests). */
  readonly clock?: Clock;
}

/**
 * Where {@linkcode ClusterClient.spawn} puts an actor on the cluster. The behavior must come
 * from a `Behaviors.spawnable(key, factory)` factory that the node's code registers too.
 */
export interface RemoteSpawnOptions {
  /**
   * The node: `"host:port"` (or an address) of an up member, or `"any"`: among the up members
   * the client can reach (breaker not open, not unreachable; with `role`, only those), in
   * `host:port` order, the one at `entityShard(name, count)`, so a name lands on the same node
   * while the membership stays the same (and a second spawn of it fails as taken).
   */
  readonly node: string | NodeAddress;
  /** With `node: "any"`: only members with this role. */
  readonly role?: string;
  /**
   * How long to wait for the node's answer, in ms.
   * @default {the client's `askTimeout`}
   */
  readonly timeout?: number;
}

/** The state of one node's circuit breaker. */
export type BreakerState = "closed" | "open" | "halfOpen";

/** The cluster as the client sees it ({@linkcode ClusterClient.getClusterState}). */
export interface ClientClusterState {
  /** Every member with its status. */
  readonly members: readonly Member[];
  /** The leader, if any. */
  readonly leader: NodeAddress | undefined;
  /** Members the contact marks unreachable. */
  readonly unreachable: readonly NodeAddress[];
  /** Shard allocations per sharded type. */
  readonly allocations: Readonly<Record<string, Readonly<Record<number, ShardAllocation>>>>;
  /** The epoch of those allocations (the client never goes back to an older one). */
  readonly allocationEpoch: number;
  /** Receptionist entries. */
  readonly registry: readonly ServiceEntry[];
  /** The node the client subscribes through (as dialed, after `addressMap`). */
  readonly contact: NodeAddress | undefined;
  /** Breakers that are not closed, by `"host:port"`. */
  readonly breakers: Readonly<Record<string, BreakerState>>;
  /** Requests waiting in the client's buffer. */
  readonly buffered: number;
}

/** A request for one shard that waits for its node. */
interface Pending {
  readonly type: string;
  readonly shard: number;
  readonly envelope: ShardEnvelope<unknown>;
  readonly at: number;
  readonly sink?: Sink;
}

/** Where an ask learns which node its request went to, and how to fail it early. */
interface Sink {
  node?: NodeAddress;
  fail(error: Error): void;
}

interface Breaker {
  readonly node: NodeAddress;
  state: BreakerState;
  failures: number;
  backoff: number;
  openUntil: number;
  probing: boolean;
}

const ENTITY_REF = Symbol("casty.ClientEntityRef");
const STOP = "stop" as const;

/**
 * A ref to a sharded type seen from a client: it accepts `ShardEnvelope`s and sends each one
 * straight to the region of the node that owns its shard. Made by
 * {@linkcode ClusterClient.entityRef}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ClusterClient, ClusteredActorSystem } from "@casty/casty";
 * await using node = await ClusteredActorSystem.start({ name: "doc", host: "127.0.0.1", port: 0, logLevel: "error" });
 * await using client = await ClusterClient.connect({ contactPoints: [node.selfAddress], systemName: "doc", connectTimeout: 10000 });
 * const ref = client.entityRef<string>("things", { numShards: 10 });
 * assert.equal(ref.typeName, "things");
 * assert.equal(ref.numShards, 10);
 * ```
 */
export class ClientEntityRef<M> implements ActorRef<ShardEnvelope<M>> {
  /** The sharded type's name (its region's name on the nodes). */
  readonly typeName: string;
  /** Its shard count (the same as on the nodes). */
  readonly numShards: number;
  /** `/<typeName>`. */
  readonly path: string;
  /** `casty://<system>/<typeName>`. */
  readonly address: string;
  readonly #route: (
    envelope: ShardEnvelope<M>,
    sink?: Sink,
    paced?: boolean,
  ) => Promise<void> | void;

  /**
   * Use {@linkcode ClusterClient.entityRef}.
   *
   * @param typeName The type.
   * @param numShards Its shards.
   * @param system The system name.
   * @param route Sends one envelope.
   */
  constructor(
    typeName: string,
    numShards: number,
    system: string,
    route: (envelope: ShardEnvelope<M>, sink?: Sink, paced?: boolean) => Promise<void> | void,
  ) {
    this.typeName = typeName;
    this.numShards = numShards;
    this.path = `/${typeName}`;
    this.address = `casty://${system}/${typeName}`;
    this.#route = route;
  }

  /** Brand. */
  get [ACTOR_REF](): true {
    return true;
  }

  /** @internal */
  get [ENTITY_REF](): (envelope: ShardEnvelope<M>, sink?: Sink) => Promise<void> | void {
    return this.#route;
  }

  /**
   * Routes the envelope to its shard's owner (or lets it wait, bounded, while that node is
   * unavailable). What cannot be delivered becomes a `DeadLetter`.
   *
   * @throws {TypeError} when `msg` is not a `ShardEnvelope`.
   * @throws {SerializationError} when the message cannot be serialized.
   */
  tell(msg: ShardEnvelope<M>): void {
    if (!(msg instanceof ShardEnvelope)) {
      throw new TypeError(
        `Cannot tell "${this.typeName}": send a ShardEnvelope(entityId, message), got ${typeof msg}`,
      );
    }
    this.#route(msg);
  }

  /**
   * Routes the envelope like {@linkcode ClientEntityRef.tell}, but when the owner's outbound
   * queue is full it waits for room instead of letting the message overflow into a dead letter
   * (a fast producer slows down).
   *
   * @throws {TypeError} (rejection) when `msg` is not a `ShardEnvelope`.
   */
  send(msg: ShardEnvelope<M>): Promise<void> {
    if (!(msg instanceof ShardEnvelope)) {
      return Promise.reject(
        new TypeError(`Cannot send to "${this.typeName}": send a ShardEnvelope(entityId, message)`),
      );
    }
    try {
      return this.#route(msg, undefined, true) ?? Promise.resolve();
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** `ActorRef(casty://…)`. */
  toString(): string {
    return `ActorRef(${this.address})`;
  }
}

const key = (a: NodeAddress): string => formatNodeAddress(a);

/**
 * A connection to a cluster from outside it. Start one with {@linkcode ClusterClient.connect};
 * `close()` it (or `await using`) when done.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ActorRef, Behaviors, ClusterClient, ClusteredActorSystem, ShardEnvelope } from "@casty/casty";
 * type Msg = { type: "add"; n: number } | { type: "get"; replyTo: ActorRef<number> };
 * const counter = (_id: string) => {
 *   let total = 0;
 *   return Behaviors.receive<Msg>((_c, m) => {
 *     if (m.type === "add") total += m.n;
 *     else m.replyTo.tell(total);
 *     return Behaviors.same();
 *   });
 * };
 * await using node = await ClusteredActorSystem.start({ name: "shop", host: "127.0.0.1", port: 0, logLevel: "error" });
 * node.spawn(Behaviors.sharded(counter, { numShards: 10 }), "counters");
 * await using client = await ClusterClient.connect({ contactPoints: [node.selfAddress], systemName: "shop", connectTimeout: 10000 });
 * const counters = client.entityRef<Msg>("counters", { numShards: 10 });
 * counters.tell(new ShardEnvelope("c1", { type: "add", n: 2 }));
 * const n = await client.entityAsk<Msg, number>(counters, "c1", (replyTo) => ({ type: "get", replyTo }), { timeout: 5000 });
 * assert.equal(n, 2);
 * ```
 */
export class ClusterClient implements AsyncDisposable {
  /** The system name. */
  readonly systemName: string;
  readonly #system: ActorSystem;
  readonly #transport: TcpTransport;
  readonly #remoting: Remoting;
  readonly #serializer: Serializer;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #map: (a: NodeAddress) => NodeAddress;
  readonly #contacts: NodeAddress[];
  readonly #refresh: number;
  readonly #topologyTimeout: number;
  readonly #askTimeout: number;
  readonly #bufferSize: number;
  readonly #bufferTimeout: number;
  readonly #failureThreshold: number;
  readonly #resetAfter: number;
  readonly #maxResetAfter: number;
  readonly #probeTimeout: number;
  readonly #refs = new Map<string, ClientEntityRef<unknown>>();
  readonly #breakers = new Map<string, Breaker>();
  /** Waiting requests per `type#shard`, in arrival order. */
  readonly #waiting = new Map<string, Pending[]>();
  #waitingCount = 0;
  /** Owners that can take messages now, per type and shard; cleared on every change. */
  readonly #routes = new Map<
    string,
    ({ node: NodeAddress; ref: ActorRef<unknown> } | undefined)[]
  >();
  /** Shards whose first message took the slow path and whose allocation is awaited. */
  readonly #slowPathed = new Map<string, number>();
  /** Rotates the node a repeated slow-path message goes through. */
  #slowPathTurn = 0;
  #members: readonly Member[] = [];
  #leader: NodeAddress | undefined;
  #unreachable: readonly NodeAddress[] = [];
  #allocations: Readonly<Record<string, Readonly<Record<number, ShardAllocation>>>> = {};
  #allocationEpoch = -1;
  #registry: readonly ServiceEntry[] = [];
  #contactIndex = 0;
  #contact: NodeAddress | undefined;
  #subscriber: ActorRef<TopologySnapshot> | undefined;
  #generation = 0;
  #subscribedAt = 0;
  #lastSnapshotAt = -Infinity;
  #lastRefreshAt = 0;
  #connected = Promise.withResolvers<void>();
  #hasSnapshot = false;
  #lastProblem: string | undefined;
  #timer: { cancel(): void } | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  #distributed: Distributed | undefined;
  readonly #ensured = new Map<number, Promise<void>>();
  /** Per shard count of the structures: the members (ids) asked to host their regions. */
  readonly #ensuredOn = new Map<number, Set<string>>();

  private constructor(
    options: ClusterClientOptions,
    system: ActorSystem,
    transport: TcpTransport,
    remoting: Remoting,
    serializer: Serializer,
    log: Logger,
    contacts: NodeAddress[],
  ) {
    this.systemName = options.systemName;
    this.#system = system;
    this.#transport = transport;
    this.#remoting = remoting;
    this.#serializer = serializer;
    this.#log = log;
    this.#clock = options.clock ?? realClock;
    this.#map = options.addressMap ?? ((a) => a);
    this.#contacts = contacts;
    this.#refresh = positive("topologyRefresh", options.topologyRefresh, 1000);
    this.#topologyTimeout = positive("topologyTimeout", options.topologyTimeout, 3000);
    this.#askTimeout = positive("askTimeout", options.askTimeout, 5000);
    this.#bufferSize = positive("bufferSize", options.bufferSize, 1000);
    this.#bufferTimeout = positive("bufferTimeout", options.bufferTimeout, 10_000);
    this.#failureThreshold = positive("breaker.failures", options.breaker?.failures, 3);
    this.#resetAfter = positive("breaker.resetAfter", options.breaker?.resetAfter, 1000);
    this.#maxResetAfter = positive("breaker.maxResetAfter", options.breaker?.maxResetAfter, 10_000);
    this.#probeTimeout = positive("breaker.probeTimeout", options.breaker?.probeTimeout, 1000);
    void this.#connected.promise.catch(() => {});
  }

  /**
   * Connects to the cluster: binds the client's listener, subscribes to the topology through the
   * first contact point that answers (retrying every contact point with backoff while the
   * cluster is not up yet), and resolves once the first snapshot arrived.
   *
   * @param options Contact points, system name, credentials, tuning.
   * @returns The connected client.
   * @throws {ClusterUnavailableError} `CONNECT_TIMEOUT` when no contact answered within
   * `connectTimeout`; `REFUSED` when a contact refused the client's credentials.
   * @throws {TypeError} on bad options.
   */
  static async connect(options: ClusterClientOptions): Promise<ClusterClient> {
    if (options === null || typeof options !== "object") {
      throw new TypeError("Cannot connect a ClusterClient: options are required");
    }
    if (typeof options.systemName !== "string" || options.systemName === "") {
      throw new TypeError("Cannot connect a ClusterClient: systemName must be a non-empty string");
    }
    if (!Array.isArray(options.contactPoints) || options.contactPoints.length === 0) {
      throw new TypeError(
        "Cannot connect a ClusterClient: contactPoints must list at least one node",
      );
    }
    if (options.addressMap !== undefined && typeof options.addressMap !== "function") {
      throw new TypeError("Cannot connect a ClusterClient: addressMap must be a function");
    }
    const connectTimeout = positive("connectTimeout", options.connectTimeout, 30_000);
    const map = options.addressMap ?? ((a: NodeAddress) => a);
    const contacts = options.contactPoints.map((c) =>
      map(typeof c === "string" ? parseNodeAddress(c) : { host: c.host, port: c.port })
    );
    const base = options.logger ?? consoleLogger(options.logLevel ?? "warn", "[casty:client]");
    const ref: { client?: ClusterClient } = {};
    const log: Logger = {
      debug: (m, ...d) => base.debug(m, ...d),
      info: (m, ...d) => base.info(m, ...d),
      warn: (m, ...d) => {
        if (ref.client) ref.client.#problem(m);
        base.warn(m, ...d);
      },
      error: (m, ...d) => {
        if (ref.client) ref.client.#problem(m);
        base.error(m, ...d);
      },
    };
    const clientHost = options.clientHost ?? "127.0.0.1";
    const transport = await TcpTransport.start({
      ...options.transport,
      systemName: options.systemName,
      host: options.advertisedHost ?? clientHost,
      port: options.advertisedPort ?? options.clientPort ?? 0,
      bindHost: clientHost,
      bindPort: options.clientPort ?? 0,
      tls: options.tls,
      secret: options.secret,
      clock: options.clock,
      logger: log,
    });
    const system = new ActorSystem({ name: options.systemName, logger: log, clock: options.clock });
    const serializer = options.serializer ?? new TaggedJsonSerializer();
    registerWire(serializer);
    const remoting = new Remoting({
      system,
      transport,
      serializer,
      log,
      unreachableTimeout: options.transport?.unreachableTimeout,
      addressMap: options.addressMap,
    });
    const client = new ClusterClient(
      options,
      system,
      transport,
      remoting,
      serializer,
      log,
      contacts,
    );
    ref.client = client;
    client.#start();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), connectTimeout);
    });
    try {
      const result = await Promise.race([client.#connected.promise, expired]);
      if (result === "timeout") {
        throw new ClusterUnavailableError(
          `Cannot connect to cluster "${options.systemName}" via ${
            contacts.map(key).join(", ")
          }: no topology within ${connectTimeout} ms${
            client.#lastProblem ? ` (last problem: ${client.#lastProblem})` : ""
          }`,
        );
      }
      return client;
    } catch (err) {
      await client.close();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The client's own address (where nodes reach the actors it hosts). */
  get selfAddress(): NodeAddress {
    return this.#transport.selfAddress;
  }

  /** The client's local actor system (hosts reply actors and spawned actors). */
  get system(): ActorSystem {
    return this.#system;
  }

  /** Whether {@linkcode ClusterClient.close} was called. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /** The same as {@linkcode ClusterClient.isClosed} (the distributed facade reads it). */
  get isShutdown(): boolean {
    return this.#closed;
  }

  /** The client's clock. */
  get clock(): Clock {
    return this.#clock;
  }

  /**
   * The distributed data structures (counter, map, set, queue, lock, semaphore, barrier), the
   * same facade as `node.distributed()`, over this client. The structures live on the nodes
   * (with the journal the nodes' own facades use). A lock or permit this client holds is
   * renewed while the client runs; `close()` gives it back at once, and once the client's
   * process dies the grant runs out after its lease and the next waiter gets it.
   *
   * @param options Ignored on a client (the nodes choose the journal).
   * @returns The facade.
   */
  distributed(options: DistributedOptions = {}): DistributedApi {
    void options;
    this.#distributed ??= new Distributed(this);
    return this.#distributed;
  }

  /**
   * Has every up member spawn the distributed structures' region of `numShards` shards; used
   * by {@linkcode ClusterClient.distributed} before the first request.
   *
   * @param numShards The structures' shard count.
   * @returns Resolves once the members answered (or the ask timeout passed).
   */
  ensureRegion(numShards: number): Promise<void> {
    let ready = this.#ensured.get(numShards);
    if (ready === undefined) {
      const asked = this.#ensuredOn.get(numShards) ?? new Set<string>();
      this.#ensuredOn.set(numShards, asked);
      ready = Promise.allSettled(
        this.#members.filter((m) => m.status === "up" && !asked.has(m.id)).map((m) =>
          this.#ensureOn(numShards, m, asked)
        ),
      ).then((results) => {
        if (!results.some((r) => r.status === "fulfilled" && r.value === true)) {
          this.#ensured.delete(numShards); // try again with the next handle
        }
      });
      this.#ensured.set(numShards, ready);
    }
    return ready;
  }

  /** Has member `m` spawn the structures' regions; forgets it on failure (asked again later). */
  #ensureOn(numShards: number, m: Member, asked: Set<string>): Promise<boolean> {
    asked.add(m.id);
    return this.#system.ask<unknown, boolean>(
      this.#remoting.refAt(this.#map(m.address), DISTRIBUTED_PATH),
      (replyTo) => ({ t: "ensure", shards: numShards, replyTo }),
      { timeout: this.#askTimeout },
    ).then((ok) => {
      if (ok !== true) asked.delete(m.id);
      return ok;
    }, (err) => {
      asked.delete(m.id);
      throw err;
    });
  }

  /**
   * Members that came up after `distributed()` was first used host the structures too: else,
   * once the members that were asked first are gone, no node could take their shards.
   */
  #ensureNewMembers(): void {
    for (const [numShards, asked] of this.#ensuredOn) {
      for (const m of this.#members) {
        if (m.status === "up" && !asked.has(m.id)) {
          this.#ensureOn(numShards, m, asked).catch(() => {});
        }
      }
    }
  }

  /**
   * The cluster as the client last saw it.
   *
   * @returns Members, leader, unreachable nodes, allocations with their epoch, registry, the
   * current contact, breakers that are not closed, and how many requests wait.
   */
  getClusterState(): ClientClusterState {
    const breakers: Record<string, BreakerState> = {};
    for (const [k, b] of this.#breakers) if (b.state !== "closed") breakers[k] = b.state;
    return {
      members: this.#members,
      leader: this.#leader,
      unreachable: this.#unreachable,
      allocations: this.#allocations,
      allocationEpoch: Math.max(0, this.#allocationEpoch),
      registry: this.#registry,
      contact: this.#contact,
      breakers,
      buffered: this.#waitingCount,
    };
  }

  /**
   * A ref to sharded type `typeName`: tell it `ShardEnvelope`s, ask it with
   * {@linkcode ClusterClient.ask} or {@linkcode ClusterClient.entityAsk}. The shard of an entity
   * is computed exactly as nodes do, so give the same `numShards` as the nodes.
   *
   * @param typeName The name the nodes spawned the sharded type under.
   * @param options Its shard count.
   * @returns The ref (the same one for the same type).
   * @throws {TypeError} on a bad name or shard count, or another count for a known type.
   */
  entityRef<M>(
    typeName: string,
    options: { readonly numShards?: number } = {},
  ): ClientEntityRef<M> {
    if (typeof typeName !== "string" || typeName === "" || typeName.includes("/")) {
      throw new TypeError(`Invalid sharded type name ${JSON.stringify(typeName)}`);
    }
    const numShards = options.numShards ?? 100;
    if (!Number.isInteger(numShards) || numShards < 1) {
      throw new TypeError(`numShards must be a positive integer, got ${numShards}`);
    }
    const known = this.#refs.get(typeName);
    if (known !== undefined) {
      if (known.numShards !== numShards) {
        throw new TypeError(
          `Cannot use sharded type "${typeName}" with ${numShards} shards: this client uses ${known.numShards}`,
        );
      }
      return known as ClientEntityRef<M>;
    }
    const ref = new ClientEntityRef<M>(
      typeName,
      numShards,
      this.systemName,
      (envelope, sink, paced) => this.#route(typeName, numShards, envelope, sink, paced),
    );
    this.#refs.set(typeName, ref as ClientEntityRef<unknown>);
    return ref;
  }

  /**
   * The same as {@linkcode ClusterClient.entityRef}, with the node API's signature (the factory
   * is not used: the nodes own the entities).
   *
   * @param typeName The sharded type.
   * @param _factory Ignored.
   * @param options Its shard count.
   * @returns The ref.
   */
  regionRef<M>(
    typeName: string,
    _factory?: (entityId: string) => Behavior<M>,
    options: { readonly numShards?: number } = {},
  ): ClientEntityRef<M> {
    return this.entityRef<M>(typeName, options);
  }

  /**
   * Asks an actor (a ref from {@linkcode ClusterClient.entityRef}, a ref from a lookup or a
   * message, or a local one) and waits for the reply. The reply comes to a temporary actor the
   * client hosts.
   *
   * @param target The actor.
   * @param factory Builds the request from the reply ref.
   * @param options Timeout (default the client's `askTimeout`) and abort signal.
   * @returns The reply.
   * @throws {AskTimeoutError} (rejection) when no reply arrives in time.
   * @throws {ClusterUnavailableError} (rejection) when the request could not be routed.
   */
  async ask<M, R>(
    target: ActorRef<M>,
    factory: (replyTo: ActorRef<R>) => M,
    options: AskOptions = {},
  ): Promise<R> {
    if (this.#closed) {
      throw new ClusterUnavailableError("Cannot ask: the client is closed");
    }
    const timeout = options.timeout ?? this.#askTimeout;
    const route = (target as Partial<ClientEntityRef<unknown>>)[ENTITY_REF];
    if (typeof route !== "function") {
      const node = nodeOf(target);
      try {
        const reply = await this.#system.ask<M, R>(target, factory, { ...options, timeout });
        if (node) this.#success(node);
        return reply;
      } catch (err) {
        if (node && err instanceof AskTimeoutError) this.#failure(node, "an ask timed out");
        throw err;
      }
    }
    const abort = new AbortController();
    const outer = options.signal;
    const onOuter = () => abort.abort(outer!.reason);
    outer?.addEventListener("abort", onOuter, { once: true });
    const sink: Sink = { fail: (e) => abort.abort(e) };
    const proxy: ActorRef<M> = {
      [ACTOR_REF]: true,
      path: target.path,
      address: target.address,
      tell: (msg: M) => route(msg as ShardEnvelope<unknown>, sink),
      send: (msg: M) => Promise.resolve(route(msg as ShardEnvelope<unknown>, sink)),
    };
    try {
      const reply = await this.#system.ask<M, R>(proxy, factory, {
        timeout,
        signal: abort.signal,
      });
      if (sink.node) this.#success(sink.node);
      return reply;
    } catch (err) {
      if (sink.node && err instanceof AskTimeoutError) this.#failure(sink.node, "an ask timed out");
      throw err;
    } finally {
      outer?.removeEventListener("abort", onOuter);
    }
  }

  /**
   * Asks one entity of a sharded type: wraps the request in a `ShardEnvelope`.
   *
   * @param ref The type's ref.
   * @param entityId The entity.
   * @param factory Builds the request from the reply ref.
   * @param options Timeout and abort signal.
   * @returns The reply.
   */
  entityAsk<M, R>(
    ref: ActorRef<ShardEnvelope<M>>,
    entityId: string,
    factory: (replyTo: ActorRef<R>) => M,
    options: AskOptions = {},
  ): Promise<R> {
    return this.ask<ShardEnvelope<M>, R>(
      ref,
      (replyTo) => new ShardEnvelope(entityId, factory(replyTo)),
      options,
    );
  }

  /**
   * The instances registered under `key` with the receptionist, from the latest snapshot.
   *
   * @param key The service key (or its name).
   * @returns The listing (empty when nothing is registered).
   */
  lookup<M>(key: ServiceKey<M> | string): Listing<M> {
    const k = typeof key === "string" ? new ServiceKey<M>(key) : key;
    const instances = this.#registry.filter((e) => e.key === k.name).map((e) => {
      const node = this.#map(e.node);
      return { ref: this.#remoting.refAt<M>(node, e.path), node };
    });
    return new Listing<M>(k, instances);
  }

  /**
   * Spawns an actor on the client, reachable from the cluster: refs to it inside messages
   * resolve on the nodes to this client's address.
   *
   * @param behavior The behavior.
   * @param name Its name (a root actor of the client's system).
   * @returns Its ref.
   * @throws {ClusterUnavailableError} when the client is closed.
   * @throws {ActorNameTakenError} when the client already has a root actor of that name.
   */
  spawn<M>(behavior: Behavior<M>, name: string): ActorRef<M>;
  /**
   * Spawns an actor on a node of the cluster (remote deployment). A behavior is a function and
   * cannot travel, so it must come from a `Behaviors.spawnable(key, factory)` factory defined in
   * a module both the nodes and the client import: what travels is the key and the (serialized)
   * arguments, and the node builds the behavior with its own copy of the factory. The actor is
   * a root actor of the node, at `/<name>` (so `node.lookup("/<name>")` finds it there); it
   * lives until it stops or its node does, whether or not the client is still connected.
   *
   * The promise resolves only once the node has spawned the actor, so no message sent to the
   * returned ref can arrive before its actor exists (the request travels on the nodes' control
   * lane and the ref's messages on the ordinary one, which keep no order between them).
   *
   * @param behavior A behavior made by a `spawnable` factory.
   * @param name Its name on the node (a root actor).
   * @param options The node, or `"any"`, and how long to wait.
   * @returns A ref to the actor on the node.
   * @throws {RemoteSpawnError} (rejection) `NOT_SPAWNABLE` for a behavior not made by a
   * `spawnable` factory, `NOT_A_MEMBER` for a node that is not an up member, `UNKNOWN_KEY` when
   * the node has no factory under the key, `FACTORY_FAILED` when it threw there.
   * @throws {ActorNameTakenError} (rejection) when the node already has a root actor `name`.
   * @throws {SerializationError} (rejection) when an argument cannot be serialized.
   * @throws {ClusterUnavailableError} (rejection) when no member can take it, or the node did
   * not answer within `timeout` (the actor may then exist there).
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { type ActorRef, Behaviors, ClusterClient, ClusteredActorSystem } from "@casty/casty";
   * // In a module that both the nodes and the client import:
   * const adder = Behaviors.spawnable("doc-adder", (start: number) => {
   *   let total = start;
   *   return Behaviors.receive<{ n: number; replyTo: ActorRef<number> }>((_ctx, m) => {
   *     total += m.n;
   *     m.replyTo.tell(total);
   *   });
   * });
   * await using node = await ClusteredActorSystem.start({ name: "doc", host: "127.0.0.1", port: 0, logLevel: "error" });
   * await using client = await ClusterClient.connect({ contactPoints: [node.selfAddress], systemName: "doc", connectTimeout: 10000 });
   * const ref = await client.spawn(adder(40), "adder", { node: "any" });
   * assert.equal(ref.address, `casty://doc@127.0.0.1:${node.selfAddress.port}/adder`);
   * assert.equal(await client.ask(ref, (replyTo) => ({ n: 2, replyTo }), { timeout: 5000 }), 42);
   * ```
   */
  spawn<M>(
    behavior: Behavior<M>,
    name: string,
    options: RemoteSpawnOptions,
  ): Promise<ActorRef<M>>;
  spawn<M>(
    behavior: Behavior<M>,
    name: string,
    options?: RemoteSpawnOptions,
  ): ActorRef<M> | Promise<ActorRef<M>> {
    if (options !== undefined) return this.#spawnOnNode(behavior, name, options);
    if (this.#closed) {
      throw new ClusterUnavailableError(`Cannot spawn "${name}": the client is closed`);
    }
    return this.#system.spawn(behavior, name);
  }

  async #spawnOnNode<M>(
    behavior: Behavior<M>,
    name: string,
    options: RemoteSpawnOptions,
  ): Promise<ActorRef<M>> {
    if (this.#closed) {
      throw new ClusterUnavailableError(`Cannot spawn "${name}": the client is closed`);
    }
    if (typeof name !== "string" || name === "" || name.includes("/")) {
      throw new TypeError(`Cannot spawn on a node: invalid actor name ${JSON.stringify(name)}`);
    }
    const tag = spawnableOf(behavior);
    if (tag === undefined) {
      throw new RemoteSpawnError(
        "NOT_SPAWNABLE",
        `Cannot spawn "${name}" on a node: its behavior was not made by a spawnable factory (a behavior is a function and cannot travel; define it with Behaviors.spawnable(key, factory) in a module the nodes import too)`,
      );
    }
    try {
      this.#serializer.serialize(tag.args);
    } catch (err) {
      throw new SerializationError(
        `Cannot spawn "${name}" on a node: the arguments of spawnable "${tag.key}" cannot be serialized (${
          err instanceof Error ? err.message : String(err)
        })`,
        { cause: err },
      );
    }
    const timeout = options.timeout ?? this.#askTimeout;
    const node = options.node === "any"
      ? this.#pickNode(name, options.role)
      : this.#memberNode(name, options.node);
    let reply: SpawnReply;
    try {
      reply = await this.#system.ask<SpawnRequest, SpawnReply>(
        this.#remoting.refAt(node, SPAWN_PATH),
        (replyTo) => ({ t: "spawn", key: tag.key, args: tag.args, name, replyTo }),
        { timeout },
      );
    } catch (err) {
      if (!(err instanceof AskTimeoutError)) throw err;
      this.#failure(node, "a spawn request got no answer");
      throw new ClusterUnavailableError(
        `Cannot spawn "${name}" on ${key(node)}: no answer after ${timeout} ms`,
        { cause: err },
      );
    }
    if (!reply.ok) throw spawnReplyError(reply, `/${name}`);
    this.#success(node);
    return this.#remoting.refAt<M>(node, reply.path);
  }

  /** The rule of `node: "any"` (see {@linkcode RemoteSpawnOptions.node}); the dialed address. */
  #pickNode(name: string, role: string | undefined): NodeAddress {
    const candidates = this.#members
      .filter((m) => m.status === "up" && (role === undefined || m.roles.includes(role)))
      .map((m) => this.#map(m.address))
      .filter((a) => this.#available(a))
      .sort((a, b) => key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);
    if (candidates.length === 0) {
      throw new ClusterUnavailableError(
        `Cannot spawn "${name}": no up member${
          role === undefined ? "" : ` with role "${role}"`
        } can take it`,
      );
    }
    return candidates[entityShard(name, candidates.length)];
  }

  /** The dialed address of the up member `node` names (advertised or dialed form). */
  #memberNode(name: string, node: string | NodeAddress): NodeAddress {
    if (
      typeof node !== "string" &&
      (typeof node?.host !== "string" || typeof node?.port !== "number")
    ) {
      throw new TypeError(
        `Cannot spawn "${name}" on a node: options.node must be "host:port", an address or "any"`,
      );
    }
    const wanted = typeof node === "string" ? parseNodeAddress(node) : node;
    const k = key(wanted);
    const member = this.#members.find((m) =>
      m.status === "up" && (key(m.address) === k || key(this.#map(m.address)) === k)
    );
    if (member === undefined) {
      throw new RemoteSpawnError(
        "NOT_A_MEMBER",
        `Cannot spawn "${name}" on ${k}: it is not an up member of cluster "${this.systemName}"`,
      );
    }
    return this.#map(member.address);
  }

  /**
   * A ref to the actor at `uri` (`casty://system@host:port/path`, mapped through `addressMap`).
   *
   * @param uri The actor's URI.
   * @returns The ref.
   */
  refFor<M>(uri: string): ActorRef<M> {
    const parsed = parseActorUri(uri);
    if (parsed.address === undefined) return this.#remoting.refFor<M>(uri);
    return this.#remoting.refAt<M>(this.#map(parsed.address), parsed.path);
  }

  /**
   * Stops the client: first gives back the locks and permits it holds through
   * {@linkcode ClusterClient.distributed} (waiting at most `askTimeout`; what is not confirmed
   * runs out after its lease), then requests still waiting fail with `CLIENT_CLOSED` (and become
   * dead letters), the subscription ends, connections close.
   */
  close(): Promise<void> {
    this.#closing ??= this.#doClose();
    return this.#closing;
  }

  /** The same as {@linkcode ClusterClient.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #doClose(): Promise<void> {
    // Locks and permits held through this client are given back now (bounded), not after
    // their lease; the client still routes while it does.
    if (this.#hasSnapshot) {
      await releaseAllHeld(this, this.#askTimeout).catch((err) =>
        this.#log.warn("Cannot release the locks and permits this client holds", err)
      );
    }
    this.#closed = true;
    this.#timer?.cancel();
    this.#connected.reject(
      new ClusterUnavailableError("Cannot connect: the client is closed"),
    );
    for (const list of this.#waiting.values()) {
      for (const p of list) {
        this.#fail(
          p,
          new ClusterUnavailableError(
            `Cannot route to shard ${p.shard} of "${p.type}": the client is closed`,
          ),
        );
      }
    }
    this.#waiting.clear();
    this.#waitingCount = 0;
    if (this.#contact !== undefined && this.#subscriber !== undefined) {
      try {
        this.#remoting.refAt(this.#contact, TOPOLOGY_PATH).tell(
          new UnsubscribeTopology(this.#subscriber),
        );
      } catch {
        // best effort
      }
    }
    this.#remoting.close();
    await this.#transport.shutdown();
    await this.#system.shutdown();
  }

  // ---- topology ---------------------------------------------------------------------------

  #start(): void {
    this.#remoting.onPeer((peer, up) => {
      if (this.#closed) return;
      if (up) return;
      const node = { host: peer.host, port: peer.port };
      if (this.#contact !== undefined && key(this.#contact) === key(node)) {
        this.#lastProblem = `lost the connection to ${key(node)}`;
        this.#failover();
      }
      if (this.#breakers.has(key(node)) || this.#isMember(node)) {
        this.#failure(node, "its connection was lost");
      }
    });
    this.#system.eventStream.subscribe(DeadLetter, (d) => this.#onDeadLetter(d));
    this.#subscribe();
    this.#schedule();
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = this.#clock.setTimeout(() => {
      try {
        this.#tick();
      } catch (err) {
        this.#log.error("client tick failed", err);
      }
      this.#schedule();
    }, Math.min(100, this.#refresh));
  }

  #tick(): void {
    const now = this.#clock.now();
    // No answer from the contact for too long: the next contact point or learned member.
    if (
      now - this.#subscribedAt >= this.#topologyTimeout &&
      now - this.#lastSnapshotAt >= this.#topologyTimeout
    ) {
      if (this.#contact !== undefined && this.#lastProblem === undefined) {
        this.#lastProblem = `no topology from ${key(this.#contact)}`;
      }
      this.#failover();
    } else if (now - this.#lastRefreshAt >= this.#refresh) {
      // Renew: the topology actor answers with the current snapshot at once and keeps one
      // subscription per subscriber, so a subscription lost on the node's side comes back.
      this.#lastRefreshAt = now;
      this.#sendSubscribe();
    }
    for (const b of this.#breakers.values()) {
      if (b.state === "open" && now >= b.openUntil && !b.probing) {
        b.state = "halfOpen";
        this.#probe(b);
      }
    }
    this.#expire(now);
    // Shards whose slow-path message got no allocation in time: let the waiting ones try again.
    for (const [k, at] of this.#slowPathed) {
      if (now - at >= 2 * this.#refresh && this.#waiting.has(k)) {
        this.#flush();
        break;
      }
    }
  }

  #candidates(): NodeAddress[] {
    const all = new Map<string, NodeAddress>();
    for (const c of this.#contacts) all.set(key(c), c);
    for (const m of this.#members) {
      if (m.status !== "up") continue;
      const a = this.#map(m.address);
      if (!all.has(key(a))) all.set(key(a), a);
    }
    const unreachable = new Set(this.#unreachable.map((u) => key(this.#map(u))));
    const list = [...all.values()];
    const usable = list.filter((a) =>
      !unreachable.has(key(a)) && this.#breakers.get(key(a))?.state !== "open"
    );
    return usable.length > 0 ? usable : list;
  }

  #failover(): void {
    if (this.#closed) return;
    const old = this.#contact;
    if (old !== undefined && this.#subscriber !== undefined) {
      try {
        this.#remoting.refAt(old, TOPOLOGY_PATH).tell(new UnsubscribeTopology(this.#subscriber));
      } catch {
        // best effort
      }
    }
    this.#contactIndex++;
    this.#subscribe();
  }

  #subscribe(): void {
    (this.#subscriber as ActorRef<unknown> | undefined)?.tell(STOP);
    const candidates = this.#candidates();
    let next = candidates[this.#contactIndex % candidates.length];
    if (candidates.length > 1 && this.#contact !== undefined && key(next) === key(this.#contact)) {
      next = candidates[++this.#contactIndex % candidates.length];
    }
    this.#contact = next;
    const generation = ++this.#generation;
    this.#subscriber = this.#system.spawn(
      Behaviors.receive<TopologySnapshot | typeof STOP>((_ctx, msg) => {
        if (msg === STOP || generation !== this.#generation) return Behaviors.stopped();
        this.#onSnapshot(msg);
        return Behaviors.same();
      }),
      `_client-topology-${generation}`,
    );
    this.#subscribedAt = this.#clock.now();
    this.#lastRefreshAt = this.#subscribedAt;
    this.#log.debug(`subscribing to the topology of ${key(next)}`);
    this.#sendSubscribe();
  }

  #sendSubscribe(): void {
    if (this.#contact === undefined || this.#subscriber === undefined || this.#closed) return;
    this.#remoting.refAt(this.#contact, TOPOLOGY_PATH).tell(
      new SubscribeTopology(this.#subscriber),
    );
  }

  #onSnapshot(s: TopologySnapshot): void {
    if (this.#closed || !(s instanceof TopologySnapshot)) return;
    this.#lastSnapshotAt = this.#clock.now();
    this.#lastProblem = undefined;
    const known = new Set(this.#members.map((m) => m.id));
    if (known.size > 0 && s.members.length > 0 && !s.members.some((m) => known.has(m.id))) {
      // Not one member in common: the whole cluster restarted, and its epochs start again.
      this.#log.info("the cluster restarted: taking its allocations from epoch 0");
      this.#allocationEpoch = -1;
    }
    this.#members = s.members;
    this.#leader = s.leader;
    this.#unreachable = s.unreachable;
    this.#registry = s.registry;
    if (s.allocationEpoch >= this.#allocationEpoch) {
      this.#allocationEpoch = s.allocationEpoch;
      this.#allocations = s.allocations;
    } else {
      this.#log.debug(
        `kept allocations of epoch ${this.#allocationEpoch}: the contact sent epoch ${s.allocationEpoch}`,
      );
    }
    this.#routes.clear();
    for (const k of [...this.#slowPathed.keys()]) {
      const [type, shard] = splitKey(k);
      if (this.#allocations[type]?.[shard] !== undefined) this.#slowPathed.delete(k);
    }
    const members = new Set(s.members.map((m) => key(this.#map(m.address))));
    for (const k of [...this.#breakers.keys()]) if (!members.has(k)) this.#breakers.delete(k);
    if (!this.#hasSnapshot) {
      this.#hasSnapshot = true;
      this.#connected.resolve();
    }
    this.#ensureNewMembers();
    this.#flush();
  }

  #problem(message: string): void {
    if (this.#closed) return;
    this.#lastProblem = message;
    if (!this.#hasSnapshot && /refused our handshake|handshake refused/.test(message)) {
      this.#connected.reject(
        new ClusterUnavailableError(`Cannot connect to cluster "${this.systemName}": ${message}`),
      );
    }
  }

  #isMember(node: NodeAddress): boolean {
    return this.#members.some((m) => key(this.#map(m.address)) === key(node));
  }

  // ---- routing ----------------------------------------------------------------------------

  #route(
    type: string,
    numShards: number,
    envelope: ShardEnvelope<unknown>,
    sink?: Sink,
    paced = false,
  ): Promise<void> | void {
    const shard = entityShard(envelope.entityId, numShards);
    if (this.#waitingCount === 0) {
      // Hot path: a known owner that can take it, nothing waiting ahead of it.
      const r = this.#routes.get(type)?.[shard];
      if (r !== undefined) {
        if (sink) sink.node = r.node;
        if (paced) return r.ref.send(envelope);
        r.ref.tell(envelope);
        return;
      }
    }
    const p: Pending = { type, shard, envelope, at: this.#clock.now(), sink };
    if (this.#closed) {
      this.#fail(
        p,
        new ClusterUnavailableError(
          `Cannot route to shard ${shard} of "${type}": the client is closed`,
        ),
      );
      return;
    }
    const k = `${type}#${shard}`;
    if (this.#waiting.has(k) || !this.#attempt(p, k)) this.#buffer(p, k);
  }

  /** Sends `p` if its node can take it now; false when it has to wait. */
  #attempt(p: Pending, k: string): boolean {
    const allocation = this.#allocations[p.type]?.[p.shard];
    if (allocation !== undefined) {
      // A shard in hand-off: what its owner gets now waits there and is then forwarded (the
      // slow path), so it waits here for the new owner instead, as an Akka region buffers
      // during a hand-off. With the client buffer full, the owner's region buffers it.
      if (
        allocation.handoff === true &&
        (this.#waiting.has(k) || this.#waitingCount < this.#bufferSize)
      ) return false;
      const owner = this.#map(allocation.primary);
      if (!this.#available(owner)) return false;
      let routes = this.#routes.get(p.type);
      if (routes === undefined) this.#routes.set(p.type, routes = []);
      routes[p.shard] = {
        node: owner,
        ref: this.#remoting.refAt<ShardEnvelope<unknown>>(owner, `/${p.type}`),
      };
      this.#sendTo(owner, p);
      return true;
    }
    // Unknown shard: one message goes through any region (which allocates and forwards), the
    // next ones wait for the allocation to show up in the topology.
    // If no allocation shows up within two refreshes, that message was lost (its node died, or
    // had no region): send the next one, through another node, or nothing ever allocates it.
    const now = this.#clock.now();
    const at = this.#slowPathed.get(k);
    if (at !== undefined && now - at < 2 * this.#refresh) return false;
    const via = this.#anyAvailable(at !== undefined ? ++this.#slowPathTurn : 0);
    if (via === undefined) return false;
    this.#slowPathed.set(k, now);
    this.#sendTo(via, p);
    this.#lastRefreshAt = 0; // ask for a fresh snapshot on the next tick
    return true;
  }

  #sendTo(node: NodeAddress, p: Pending): void {
    if (p.sink) p.sink.node = node;
    try {
      this.#remoting.refAt<ShardEnvelope<unknown>>(node, `/${p.type}`).tell(p.envelope);
    } catch (err) {
      p.sink?.fail(err instanceof Error ? err : new Error(String(err)));
      throw err;
    }
  }

  #available(node: NodeAddress): boolean {
    const b = this.#breakers.get(key(node));
    if (b !== undefined && b.state !== "closed") return false;
    if (this.#unreachable.some((u) => key(this.#map(u)) === key(node))) return false;
    // A node that is down or gone gets nothing more: wait for its shards' new allocation.
    const m = this.#members.find((x) => key(this.#map(x.address)) === key(node));
    return m === undefined
      ? this.#members.length === 0
      : m.status === "up" || m.status === "leaving" || m.status === "joining";
  }

  /** The contact if it can take messages, else an up member; `turn` > 0 rotates among them. */
  #anyAvailable(turn = 0): NodeAddress | undefined {
    const up: NodeAddress[] = [];
    if (this.#contact !== undefined && this.#available(this.#contact) && this.#hasSnapshot) {
      up.push(this.#contact);
    }
    for (const m of this.#members) {
      const a = this.#map(m.address);
      if (m.status === "up" && this.#available(a) && !up.some((x) => key(x) === key(a))) {
        up.push(a);
      }
    }
    return up.length === 0 ? undefined : up[turn % up.length];
  }

  #buffer(p: Pending, k: string): void {
    if (this.#waitingCount >= this.#bufferSize) {
      this.#fail(
        p,
        new ClusterUnavailableError(
          `Cannot route to shard ${p.shard} of "${p.type}": the client buffer is full (${this.#bufferSize} requests)`,
        ),
      );
      return;
    }
    let list = this.#waiting.get(k);
    if (list === undefined) this.#waiting.set(k, list = []);
    list.push(p);
    this.#waitingCount++;
  }

  #flush(): void {
    for (const [k, list] of [...this.#waiting]) {
      let i = 0;
      try {
        while (i < list.length && this.#attempt(list[i], k)) i++;
      } catch (err) {
        i++; // that one failed for good (serialization): its ask was failed, move on
        this.#log.error(`Cannot send a buffered message for ${k}`, err);
      }
      this.#waitingCount -= i;
      if (i === list.length) this.#waiting.delete(k);
      else if (i > 0) this.#waiting.set(k, list.slice(i));
    }
  }

  #expire(now: number): void {
    for (const [k, list] of [...this.#waiting]) {
      let i = 0;
      while (i < list.length && now - list[i].at >= this.#bufferTimeout) {
        const p = list[i++];
        const allocation = this.#allocations[p.type]?.[p.shard];
        const why = allocation === undefined
          ? "its shard has no allocation yet"
          : allocation.handoff === true
          ? `its hand-off from ${key(this.#map(allocation.primary))} did not end`
          : `its node ${key(this.#map(allocation.primary))} is unavailable`;
        this.#fail(
          p,
          new ClusterUnavailableError(
            `Cannot route to shard ${p.shard} of "${p.type}": ${why} after ${this.#bufferTimeout} ms`,
          ),
        );
      }
      this.#waitingCount -= i;
      if (i === list.length) this.#waiting.delete(k);
      else if (i > 0) this.#waiting.set(k, list.slice(i));
    }
  }

  #fail(p: Pending, error: ClusterUnavailableError): void {
    this.#system.eventStream.publish(
      new DeadLetter(
        p.envelope,
        `casty://${this.systemName}/${p.type}`,
        "undeliverable",
        error.message,
      ),
    );
    p.sink?.fail(error);
  }

  // ---- circuit breaker --------------------------------------------------------------------

  #breaker(node: NodeAddress): Breaker {
    let b = this.#breakers.get(key(node));
    if (b === undefined) {
      b = {
        node,
        state: "closed",
        failures: 0,
        backoff: this.#resetAfter,
        openUntil: 0,
        probing: false,
      };
      this.#breakers.set(key(node), b);
    }
    return b;
  }

  #failure(node: NodeAddress, why: string): void {
    if (this.#closed) return;
    const b = this.#breaker(node);
    b.failures++;
    if (b.state === "closed" && b.failures >= this.#failureThreshold) {
      this.#routes.clear();
      b.state = "open";
      b.openUntil = this.#clock.now() + b.backoff;
      this.#log.warn(
        `circuit breaker for ${key(node)} opened after ${b.failures} failures (last: ${why})`,
      );
    } else if (b.state === "closed" && !b.probing) {
      // A failure is a hint: check the node now rather than wait for requests to time out.
      this.#probe(b);
    }
  }

  #success(node: NodeAddress): void {
    const b = this.#breakers.get(key(node));
    if (b === undefined) return;
    const wasClosed = b.state === "closed";
    b.failures = 0;
    b.state = "closed";
    b.backoff = this.#resetAfter;
    if (!wasClosed) {
      this.#log.warn(`circuit breaker for ${key(node)} closed`);
      this.#flush();
    }
  }

  /** One probe: a topology request to the node. */
  #probe(b: Breaker): void {
    b.probing = true;
    const target = this.#remoting.refAt<GetTopology>(b.node, TOPOLOGY_PATH);
    this.#system.ask<GetTopology, TopologySnapshot>(
      target,
      (replyTo) => new GetTopology(replyTo),
      { timeout: this.#probeTimeout },
    ).then(
      () => {
        b.probing = false;
        this.#success(b.node);
      },
      () => {
        b.probing = false;
        if (this.#closed || this.#breakers.get(key(b.node)) !== b) return;
        if (b.state === "halfOpen") {
          b.backoff = Math.min(b.backoff * 2, this.#maxResetAfter);
          b.state = "open";
          b.openUntil = this.#clock.now() + b.backoff;
        } else {
          this.#failure(b.node, "a probe got no answer");
        }
      },
    );
  }

  #onDeadLetter(d: DeadLetter): void {
    if (d.reason !== "undeliverable" || typeof d.recipient !== "string") return;
    if (!d.recipient.includes("@")) return;
    // A full outbound queue is the sender outrunning the socket, not the node failing: opening
    // the breaker would only push the next requests into the (smaller) client buffer.
    if (d.detail === "queue-overflow") return;
    try {
      const address = parseActorUri(d.recipient).address;
      if (address !== undefined && !(d.message instanceof GetTopology)) {
        this.#failure(address, `a message was undeliverable (${d.detail ?? "unknown"})`);
      }
    } catch {
      // not a node URI
    }
  }
}

function splitKey(k: string): [string, number] {
  const i = k.lastIndexOf("#");
  return [k.slice(0, i), Number(k.slice(i + 1))];
}

function nodeOf(ref: ActorRef<unknown>): NodeAddress | undefined {
  const node = (ref as { node?: NodeAddress }).node;
  return node !== undefined && typeof node.host === "string" ? node : undefined;
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !(value > 0) || !Number.isFinite(value)) {
    throw new TypeError(
      `Cannot connect a ClusterClient: ${name} must be a positive number, got ${value}`,
    );
  }
  return value;
}

/** Registers the classes nodes send to clients (and clients to nodes) with the serializer. */
function registerWire(serializer: Serializer): void {
  const s = serializer as Partial<{ register(cls: unknown, tag: string): unknown }>;
  if (typeof s.register !== "function") return;
  const classes: (readonly [unknown, string])[] = [
    [Terminated, "casty.Terminated"],
    [SubscribeTopology, "casty.SubscribeTopology"],
    [UnsubscribeTopology, "casty.UnsubscribeTopology"],
    [ResolveNode, "casty.ResolveNode"],
    [GetTopology, "casty.GetTopology"],
    [TopologySnapshot, "casty.TopologySnapshot"],
    [ShardEnvelope, "casty.ShardEnvelope"],
    [ShardForward, "casty.ShardForward"],
    ...RECEPTIONIST_WIRE,
  ];
  for (const [cls, tag] of classes) {
    try {
      s.register(cls, tag);
    } catch {
      // already registered
    }
  }
}
