/**
 * `ClusteredActorSystem`: an actor system on the network.
 *
 * @module
 */
import type { ActorRef } from "../actor/actor_ref.ts";
import type { SpawnOptions } from "../actor/actor_context.ts";
import {
  ActorSystem,
  type ActorSystemOptions,
  type AskFactory,
  type AskOptions,
  type ReplyOf,
  spawnChildOf,
} from "../actor/actor_system.ts";
import type { Behavior } from "../actor/behaviors.ts";
import { type Clock, realClock } from "../actor/clock.ts";
import { ClusterUnavailableError } from "./errors.ts";
import { consoleLogger, type Logger } from "../actor/logger.ts";
import { Terminated } from "../actor/events.ts";
import type { CastyConfig } from "../config/casty_config.ts";
import {
  type NodeAddress,
  parseActorUri,
  parseNodeAddress,
  sameNodeAddress,
} from "../remote/address.ts";
import { Remoting } from "../remote/remoting.ts";
import {
  type SerializableClass,
  type Serializer,
  TaggedJsonSerializer,
} from "../serialization/serialization.ts";
import { TcpTransport, type TcpTransportOptions } from "../remote/tcp_transport.ts";
import type { Transport } from "../remote/transport.ts";
import { readEnv } from "../runtime/env.ts";
import { Behaviors } from "../actor/behaviors.ts";
import type { TlsOptions } from "../runtime/tcp.ts";
import {
  BROADCAST_ASK,
  type BroadcastedBehavior,
  type BroadcastRef,
  type BroadcastReplies,
} from "./broadcast_ref.ts";
import {
  Find,
  type Listing,
  RECEPTIONIST_PATH,
  type ReceptionistCommand,
  registryOf,
  ServiceKey,
} from "./receptionist.ts";
import {
  type ConfiguredStartOptions,
  type ManagementHttpOptions,
  resolveStartOptions,
} from "./start_options.ts";
import { BARRIER_PATH, type BarrierMsg, BarrierService } from "./_barrier.ts";
import type { DowningOptions } from "./downing.ts";
import {
  LeaderChanged,
  MemberDowned,
  MemberRemoved,
  type MembershipEvent,
  ShutdownSelf,
  UnreachableMember,
} from "./events.ts";
import {
  CLUSTER_SYSTEM_ROOT,
  type ClusterExtension,
  type ClusterExtensionContext,
  type ClusterView,
  defaultExtensions,
  type EntityEnvelope,
  type ExtensionStop,
  markerOf,
  type ShardingPort,
  type SpawnHandler,
} from "./extension.ts";
import type { DistributedApi, DistributedOptions, DistributedProvider } from "./distributed_api.ts";
import { type Member, newMemberId } from "./member.ts";
import { Membership, type MembershipMessage, type MembershipOptions } from "./membership.ts";
import type { PhiAccrualOptions } from "./phi_accrual.ts";
import {
  GetTopology,
  ResolveNode,
  SubscribeTopology,
  topologyActor,
  type TopologyMsg,
  TopologySnapshot,
  UnsubscribeTopology,
} from "./topology.ts";

/** The reserved path of the membership protocol. */
const MEMBERSHIP_PATH = "/_cluster/_membership";

/** Transport tuning for {@linkcode ClusteredActorSystemOptions.transport}. */
export type TransportTuning = Partial<
  Pick<
    TcpTransportOptions,
    | "maxFrameSize"
    | "outboundQueueLimit"
    | "connectTimeout"
    | "handshakeTimeout"
    | "reconnectBackoff"
    | "unreachableTimeout"
    | "maxBatchBytes"
    | "writeHighWaterMark"
    | "shutdownGrace"
    | "tcp"
    | "idleTimeout"
    | "maxConnections"
    | "maxHandshakes"
    | "outboundQueueBytes"
    | "controlQueueLimit"
    | "maxInboundBacklog"
    | "maxInboundBacklogBytes"
  >
>;

/**
 * What a transport factory gets (see {@linkcode ClusteredActorSystemOptions.transportFactory}):
 * the node's identity and addresses, and the transport tuning.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ClusteredActorSystem, TcpTransport, type TransportFactorySettings } from "@casty/casty";
 * const seen: TransportFactorySettings[] = [];
 * await using node = await ClusteredActorSystem.start({
 *   name: "demo", host: "127.0.0.1", port: 0, logLevel: "error",
 *   transportFactory: (s) => {
 *     seen.push(s);
 *     return TcpTransport.start({ systemName: s.systemName, host: s.host, port: s.port, incarnation: s.incarnation });
 *   },
 * });
 * assert.equal(seen[0].incarnation, node.memberId);
 * ```
 */
export interface TransportFactorySettings {
  /** The system name; peers with another one are refused. */
  readonly systemName: string;
  /** The advertised host. */
  readonly host: string;
  /** The advertised port (`0`: any free port). */
  readonly port: number;
  /** The interface to bind, when it differs from `host`. */
  readonly bindHost?: string;
  /** The port to bind, when it differs from `port`. */
  readonly bindPort?: number;
  /** Mutual TLS. */
  readonly tls?: TlsOptions;
  /** The cluster's shared secret (the option, else `CASTY_CLUSTER_SECRET`). */
  readonly secret?: string;
  /** Accept unauthenticated peers on a non-loopback address. */
  readonly insecure?: boolean;
  /**
   * Remote messages still waiting in local mailboxes; the transport stops reading while it
   * is high (inbound flow control).
   */
  readonly inboundBacklog?: () => number;
  /** The node's incarnation: the transport must advertise exactly this one. */
  readonly incarnation: string;
  /** The node's clock. */
  readonly clock: Clock;
  /** The node's logger. */
  readonly logger: Logger;
  /** Transport tuning from the options. */
  readonly tuning: TransportTuning;
}

/** Options of {@linkcode ClusteredActorSystem.start}. */
export interface ClusteredActorSystemOptions extends ActorSystemOptions {
  /** The system name; every node of a cluster must use the same one. */
  name: string;
  /** The host this node advertises to others (and binds, unless `bindHost` is given). */
  host: string;
  /** The port to listen on; `0` picks a free port (see `selfAddress`). */
  port: number;
  /** The interface to bind, when it differs from the advertised `host`. */
  bindHost?: string;
  /** The port to bind, when it differs from the advertised `port` (NAT, proxies). */
  bindPort?: number;
  /** Mutual TLS between nodes: PEM strings or file paths. */
  tls?: TlsOptions;
  /**
   * A secret every node shares, proven in each handshake (challenge-response; never sent).
   * Defaults to the `CASTY_CLUSTER_SECRET` environment variable.
   */
  secret?: string;
  /**
   * Bind a non-loopback address with neither `tls` nor `secret` (accepting unauthenticated
   * peers, with a loud warning).
   * @default {false}
   */
  insecure?: boolean;
  /** The message serializer. @default {new TaggedJsonSerializer()} */
  serializer?: Serializer;
  /** Transport tuning (frame size, queue bounds, backoff, …). */
  transport?: TransportTuning;
  /**
   * Nodes to join through, as `"host:port"` or `{ host, port }`. Any of them may be down.
   * Without seeds (or when this node is the first seed and no other answers) the node forms a
   * new cluster.
   */
  seedNodes?: readonly (string | NodeAddress)[];
  /** This node's roles (for role-aware placement). */
  roles?: readonly string[];
  /** `start()` resolves only once this many members are up. */
  requiredQuorum?: number;
  /**
   * How long `start()` waits for `requiredQuorum`, in ms.
   * @default {60000}
   */
  quorumTimeout?: number;
  /** Gossip tuning. @default {{ interval: 1000, fanout: 3 }} */
  gossip?: MembershipOptions["gossip"];
  /** Heartbeats. @default {{ interval: 500, availabilityCheckInterval: 2000 }} */
  heartbeat?: MembershipOptions["heartbeat"];
  /** Phi accrual failure detector tuning (threshold 8, max sample size 200, …). */
  failureDetector?: PhiAccrualOptions;
  /** Split-brain resolution (keep-majority after `stableAfter` ms). */
  downing?: DowningOptions;
  /** Join retry tuning. */
  join?: MembershipOptions["join"];
  /**
   * How long a graceful `leave()` (also run by `shutdown()`) waits to be removed, in ms.
   * @default {10000}
   */
  leaveTimeout?: number;
  /**
   * Makes the node-to-node transport (the port of this node to the network). Defaults to
   * `TcpTransport.start`; `testCluster` plugs an in-memory transport here. The transport must
   * advertise `settings.incarnation`.
   */
  transportFactory?: (settings: TransportFactorySettings) => Promise<Transport>;
  /**
   * Random numbers in [0, 1) for the incarnation id and membership's choices (a seeded source
   * makes simulated runs reproducible).
   * @default {Math.random}
   */
  random?: () => number;
  /**
   * Serve the management HTTP endpoints and the live dashboard on this port (off when absent;
   * needs the management module, which `@casty/casty` loads).
   */
  http?: ManagementHttpOptions;
  /**
   * Cluster features to start on this node (internal extension point; see
   * {@linkcode ClusterExtension}).
   */
  extensions?: readonly ClusterExtension[];
}

const tcpTransportFactory = (s: TransportFactorySettings): Promise<Transport> =>
  TcpTransport.start({
    ...s.tuning,
    systemName: s.systemName,
    host: s.host,
    port: s.port,
    bindHost: s.bindHost,
    bindPort: s.bindPort,
    tls: s.tls,
    secret: s.secret,
    insecure: s.insecure,
    inboundBacklog: s.inboundBacklog,
    clock: s.clock,
    logger: s.logger,
    incarnation: s.incarnation,
  });

/** Options of {@linkcode ClusteredActorSystem.waitFor} and friends. */
export interface ClusterWaitOptions {
  /**
   * Milliseconds to wait.
   * @default {60000}
   */
  timeout?: number;
}

/**
 * An actor system whose actors are reachable from other nodes: refs carry
 * `casty://system@host:port/path` URIs, refs inside messages work on the receiving side (a remote
 * `ask` and `replyTo` just work), `lookup(uri)` returns remote refs, and `ctx.watch` works on
 * remote actors. It extends {@linkcode ActorSystem}: local spawns, ask and the event stream work
 * the same.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ClusteredActorSystem, Behaviors, type ActorRef } from "@casty/casty";
 * type Ping = { replyTo: ActorRef<string> };
 * await using a = await ClusteredActorSystem.start({ name: "demo", host: "127.0.0.1", port: 0 });
 * await using b = await ClusteredActorSystem.start({ name: "demo", host: "127.0.0.1", port: 0 });
 * a.spawn(Behaviors.receive<Ping>((_ctx, msg) => msg.replyTo.tell("pong")), "ponger");
 * const remote = b.lookup<Ping>(`casty://demo@127.0.0.1:${a.selfAddress.port}/ponger`)!;
 * assert.equal((await b.ask(remote, (replyTo) => ({ replyTo }))), "pong");
 * ```
 */
export class ClusteredActorSystem extends ActorSystem {
  readonly #transport: Transport;
  readonly #remoting: Remoting;
  readonly #self: NodeAddress;
  readonly #membership: Membership;
  readonly #barriers: BarrierService;
  readonly #memberId: string;
  readonly #leaveTimeout: number;
  readonly #topologyListeners = new Set<() => void>();
  readonly #serializer: Serializer;
  readonly #clusterRoot: ActorRef<never>;
  readonly #topology: ActorRef<TopologyMsg>;
  readonly #eventListeners = new Set<(event: MembershipEvent) => void>();
  readonly #spawnHandlers = new Map<string, SpawnHandler>();
  readonly #extensions: { readonly name: string; stop: ExtensionStop | undefined }[] = [];
  readonly #leaveHooks: (() => Promise<void>)[] = [];
  readonly #stableAfter: number;
  readonly #roles: readonly string[];
  readonly #options: Readonly<ClusteredActorSystemOptions>;
  #sharding: ShardingPort | undefined;
  #distributed: DistributedProvider | undefined;
  #removed: PromiseWithResolvers<void> = Promise.withResolvers<void>();
  #leaving = false;
  /** Set when the cluster told this node to shut down (downed, or on the minority side). */
  #toldToStop = false;

  /**
   * Starts a node: binds the transport, then creates the system. Resolves once bound.
   * With `config`, the file's `[system]`, `[cluster]` and `[transport]` tables give every
   * setting the options leave out (merged field by field; an `undefined` option keeps the
   * file's value).
   *
   * @throws {TcpConnectError | Error} when the port cannot be bound.
   */
  static async start(
    startOptions: ClusteredActorSystemOptions | ConfiguredStartOptions,
  ): Promise<ClusteredActorSystem> {
    let options = resolveStartOptions(startOptions);
    const seeds = (options.seedNodes ?? []).map((s) =>
      typeof s === "string" ? parseNodeAddress(s) : s
    );
    if (options.requiredQuorum !== undefined) {
      if (!Number.isInteger(options.requiredQuorum) || options.requiredQuorum < 1) {
        throw new RangeError(
          `requiredQuorum must be a positive integer, got ${options.requiredQuorum}`,
        );
      }
    }
    // One logger for the transport and the system, so logLevel applies to both.
    const logger = options.logger ?? consoleLogger(options.logLevel ?? "info");
    options = {
      ...options,
      logger,
      secret: options.secret ?? readEnv("CASTY_CLUSTER_SECRET"),
    };
    // One identity per node start, shared by the transport's handshake and the membership.
    const clock = options.clock ?? realClock;
    const incarnation = newMemberId(clock.wallNow(), options.random);
    const factory = options.transportFactory ?? tcpTransportFactory;
    const ref: { node?: ClusteredActorSystem } = {};
    const transport = await factory({
      systemName: options.name,
      host: options.host,
      port: options.port,
      bindHost: options.bindHost,
      bindPort: options.bindPort,
      tls: options.tls,
      secret: options.secret,
      insecure: options.insecure,
      inboundBacklog: () => (ref.node === undefined ? 0 : ref.node.#remoting.inboundBacklog()),
      incarnation,
      clock,
      logger,
      tuning: options.transport ?? {},
    });
    let node: ClusteredActorSystem;
    try {
      node = new ClusteredActorSystem({ ...options, seedNodes: seeds }, transport);
      ref.node = node;
    } catch (err) {
      await transport.shutdown();
      throw err;
    }
    try {
      const given = options.extensions ?? [];
      const all = [
        ...defaultExtensions().filter((d) => !given.some((e) => e.name === d.name)),
        ...given,
      ];
      for (const extension of all) await node.#startExtension(extension);
    } catch (err) {
      await node.shutdown();
      throw err;
    }
    node.#membership.start();
    if (options.requiredQuorum !== undefined) {
      try {
        await node.waitFor(options.requiredQuorum, { timeout: options.quorumTimeout ?? 60_000 });
      } catch (err) {
        await node.shutdown();
        throw err;
      }
    }
    return node;
  }

  /**
   * Starts a node from a {@linkcode CastyConfig}: `[system]`, `[cluster]` and `[transport]`
   * give the defaults, `overrides` win.
   */
  static fromConfig(
    config: CastyConfig,
    overrides: Partial<ClusteredActorSystemOptions> = {},
  ): Promise<ClusteredActorSystem> {
    return ClusteredActorSystem.start({ ...overrides, config });
  }

  /**
   * Use {@linkcode ClusteredActorSystem.start}; the constructor takes an already bound
   * transport, whose incarnation becomes this node's member id, and does not start joining.
   */
  constructor(options: ClusteredActorSystemOptions, transport: Transport) {
    super(options);
    this.#options = options;
    this.#transport = transport;
    this.#self = transport.selfAddress;
    const serializer = options.serializer ?? new TaggedJsonSerializer();
    this.#serializer = serializer;
    if (serializer instanceof TaggedJsonSerializer) {
      try {
        serializer.register(Terminated, "casty.Terminated");
      } catch {
        // already registered by the caller
      }
    }
    for (
      const cls of [
        SubscribeTopology,
        UnsubscribeTopology,
        ResolveNode,
        GetTopology,
        TopologySnapshot,
      ]
    ) {
      if (serializer instanceof TaggedJsonSerializer) {
        try {
          serializer.register(cls, `casty.${cls.name}`);
        } catch {
          // already registered
        }
      }
    }
    this.#remoting = new Remoting({
      system: this,
      transport,
      serializer,
      log: this.log,
      isMember: (node) =>
        (this.#membership?.members ?? []).some((m) =>
          sameNodeAddress(m.address, node) && m.status !== "removed"
        ),
      unreachableTimeout: options.transport?.unreachableTimeout,
    });
    this.#leaveTimeout = options.leaveTimeout ?? 10_000;
    this.#stableAfter = options.downing?.stableAfter ?? 4_000;
    this.#roles = [...(options.roles ?? [])];
    this.#memberId = transport.incarnation;
    const seeds = (options.seedNodes ?? []) as NodeAddress[];
    this.#membership = new Membership({
      self: { address: this.#self, id: this.#memberId, roles: options.roles ?? [] },
      seedNodes: seeds,
      clock: this.clock,
      send: (to, msg) => this.#remoting.sendSystem(to, MEMBERSHIP_PATH, msg),
      onEvent: (e) => this.#onMembershipEvent(e),
      onLeaderEpoch: () => this.#barriers?.leaderChanged(),
      log: (level, message) => level === "error" ? this.log.error(message) : this.log.warn(message),
      gossip: options.gossip,
      heartbeat: options.heartbeat,
      failureDetector: options.failureDetector,
      downing: options.downing,
      join: options.join,
      random: options.random,
    });
    this.#remoting.registerHandler(
      MEMBERSHIP_PATH,
      (from, msg) => this.#membership.receive(from, msg as MembershipMessage),
    );
    // A dropped connection is a hint for the failure detector to look again soon.
    this.#remoting.onPeer((peer, up) => {
      if (!up) this.#membership.connectionLost(peer);
    });
    this.#barriers = new BarrierService({
      self: this.#self,
      clock: this.clock,
      leader: () => this.#membership.leader,
      epoch: () => this.#membership.leaderEpoch,
      isLeader: () => this.#membership.isLeader,
      send: (to, msg) => this.#remoting.sendSystem(to, BARRIER_PATH, msg),
    });
    this.#remoting.registerHandler(
      BARRIER_PATH,
      (_from, msg) => this.#barriers.receive(msg as BarrierMsg),
    );
    this.#clusterRoot = super.spawn(Behaviors.ignore<never>(), CLUSTER_SYSTEM_ROOT.slice(1));
    this.#topology = spawnChildOf(
      this.#clusterRoot,
      topologyActor(() => this.#snapshot()),
      "_topology",
    );
  }

  /**
   * Spawns a root actor; a special behavior of a cluster feature (such as
   * `Behaviors.sharded(...)`) is handed to the extension that registered its marker.
   *
   * @throws {ActorNameTakenError} when a live root actor has the name.
   * @throws {TypeError} on an invalid name, or for a special behavior no extension handles.
   */
  override spawn<M>(
    behavior: BroadcastedBehavior<M>,
    name: string,
    options?: SpawnOptions,
  ): BroadcastRef<M>;
  /**
   * Spawns a root actor; a special behavior of a cluster feature (such as
   * `Behaviors.singleton(...)`) is handed to the extension that registered its marker.
   *
   * @throws {ActorNameTakenError} when a live root actor has the name.
   * @throws {TypeError} on an invalid name, or for a special behavior no extension handles.
   */
  override spawn<M>(behavior: Behavior<M>, name: string, options?: SpawnOptions): ActorRef<M>;
  override spawn<M>(behavior: Behavior<M>, name: string, options: SpawnOptions = {}): ActorRef<M> {
    if (behavior.kind === "marker") {
      const marker = markerOf(behavior);
      const handler = marker && this.#spawnHandlers.get(marker.marker);
      if (handler) return handler(behavior as Behavior<never>, name, options) as ActorRef<M>;
    }
    return super.spawn(behavior, name, options);
  }

  /**
   * Asks an actor and waits for its reply. On a {@linkcode BroadcastRef} it asks every node's
   * instance and resolves with a {@linkcode BroadcastReplies} array: the replies that arrived in
   * time, and in `missing` the nodes that did not answer (never an error for those).
   *
   * @throws {AskTimeoutError} (rejection) when a plain ask gets no reply within the timeout.
   */
  override ask<M, R = ReplyOf<M>>(
    target: BroadcastRef<M>,
    factory: NoInfer<AskFactory<M, R>>,
    options?: AskOptions,
  ): Promise<BroadcastReplies<R>>;
  /**
   * Asks an actor and waits for its reply.
   *
   * @throws {AskTimeoutError} (rejection) when no reply arrives within the timeout.
   */
  override ask<M, R = ReplyOf<M>>(
    target: ActorRef<M>,
    factory: NoInfer<AskFactory<M, R>>,
    options?: AskOptions,
  ): Promise<R>;
  override ask<M, R>(
    target: ActorRef<M>,
    factory: AskFactory<M, R>,
    options: AskOptions = {},
  ): Promise<unknown> {
    const collect = (target as Partial<BroadcastRef<M>>)[BROADCAST_ASK];
    if (typeof collect === "function") return collect(factory, options);
    return super.ask(target, factory, options);
  }

  /** The cluster as this node sees it (transport-independent). */
  get view(): ClusterView {
    const m = this.#membership;
    return {
      self: this.#self,
      incarnation: this.#memberId,
      members: m.members,
      leader: m.leader,
      unreachable: m.unreachable.map((x) => x.address),
    };
  }

  async #startExtension(extension: ClusterExtension): Promise<void> {
    if (!/^[a-z][a-z0-9-]*$/.test(extension.name)) {
      throw new TypeError(
        `Invalid cluster extension name ${JSON.stringify(extension.name)}: use a-z, 0-9 and "-"`,
      );
    }
    if (this.#extensions.some((e) => e.name === extension.name)) {
      throw new TypeError(`Cannot start cluster extension "${extension.name}": it is started`);
    }
    const ctx: ClusterExtensionContext = {
      node: this,
      options: this.#options,
      selfAddress: this.#self,
      incarnation: this.#memberId,
      clock: this.clock,
      log: this.log,
      systemName: this.name,
      spawnSystemActor: <M>(behavior: Behavior<M>, name = `_${extension.name}`) => {
        if (!name.startsWith("_")) {
          throw new TypeError(
            `Cannot spawn system actor "${CLUSTER_SYSTEM_ROOT}/${name}": names under ` +
              `${CLUSTER_SYSTEM_ROOT} start with "_"`,
          );
        }
        return spawnChildOf(this.#clusterRoot, behavior, name);
      },
      registerSerializable: (cls: SerializableClass, tag: string) => {
        const s = this.#serializer as Partial<{ register(c: SerializableClass, n: string): void }>;
        if (typeof s.register === "function") s.register(cls, tag);
      },
      subscribe: (listener) => {
        this.#eventListeners.add(listener);
        return () => this.#eventListeners.delete(listener);
      },
      view: () => this.view,
      refAt: <M>(node: NodeAddress, path: string) => this.#remoting.refAt<M>(node, path),
      registerHandler: (path, handler) => {
        if (!path.startsWith(`${CLUSTER_SYSTEM_ROOT}/`)) {
          throw new TypeError(
            `Cannot handle "${path}": system handlers live under ${CLUSTER_SYSTEM_ROOT}/`,
          );
        }
        this.#remoting.registerHandler(path, handler);
      },
      sendSystem: (node, path, message) => this.#remoting.sendSystem(node, path, message),
      registerSpawnHandler: (marker, handler) => {
        if (this.#spawnHandlers.has(marker)) {
          throw new Error(`Cannot handle marker "${marker}": another extension handles it`);
        }
        this.#spawnHandlers.set(marker, handler);
      },
      stableAfter: this.#stableAfter,
      onLeave: (hook) => void this.#leaveHooks.push(hook),
      provideSharding: (port) => {
        this.#sharding = port;
      },
      provideDistributed: (provider) => {
        this.#distributed = provider;
      },
      topologyChanged: () => {
        for (const l of [...this.#topologyListeners]) l();
        this.#topology.tell({ type: "topologyChanged" });
      },
    };
    const entry = { name: extension.name, stop: undefined as ExtensionStop | undefined };
    this.#extensions.push(entry);
    const stop = await extension.start(ctx);
    if (typeof stop === "function") entry.stop = stop;
  }

  /**
   * The region of sharded type `name` on this node: spawns `Behaviors.sharded(factory, options)`
   * under `name` the first time, returns the same ref afterwards.
   *
   * @throws {Error} when the sharding extension is not loaded (import `@casty/casty`).
   */
  regionRef<M>(
    name: string,
    factory: (entityId: string) => Behavior<M>,
    options: {
      numShards?: number;
      role?: string;
      passivateAfter?: number;
      replication?: { replicas: number; minAcks?: number; ackTimeout?: number };
    } = {},
  ): ActorRef<EntityEnvelope<M>> {
    return this.#shardingPort().regionRef(
      name,
      factory as (entityId: string) => Behavior<never>,
      options,
    ) as ActorRef<EntityEnvelope<M>>;
  }

  /**
   * Asks one entity of a sharded type: wraps `factory(replyTo)` in a `ShardEnvelope` for
   * `entityId` and waits for the reply.
   *
   * @throws {AskTimeoutError} (rejection) after `timeout` ms (default 5000).
   */
  entityAsk<M, R>(
    ref: ActorRef<EntityEnvelope<M>>,
    entityId: string,
    factory: (replyTo: ActorRef<R>) => M,
    options: AskOptions = {},
  ): Promise<R> {
    const port = this.#shardingPort();
    return this.ask<EntityEnvelope<M>, R>(
      ref,
      (replyTo) => port.envelope(entityId, factory(replyTo)) as EntityEnvelope<M>,
      options,
    );
  }

  /**
   * Counters, maps, sets and queues shared by the whole cluster, each a sharded entity (see
   * `@casty/casty/distributed`).
   *
   * @param options `journal` makes every structure persistent (give every node the same one).
   * @returns The facade.
   * @throws {Error} when the distributed extension is not loaded (import `@casty/casty`).
   */
  distributed(options: DistributedOptions = {}): DistributedApi {
    if (this.#distributed === undefined) {
      throw new Error(
        "Cannot use node.distributed(): the distributed extension is not loaded (import @casty/casty or @casty/casty/distributed)",
      );
    }
    return this.#distributed(options);
  }

  #shardingPort(): ShardingPort {
    if (this.#sharding === undefined) {
      throw new Error(
        "Cannot use sharding: the sharding extension is not loaded (import @casty/casty or @casty/casty/sharding)",
      );
    }
    return this.#sharding;
  }

  /** The address this node is bound to and advertises (`port` is the real one for port 0). */
  get selfAddress(): NodeAddress {
    return this.#self;
  }

  /** This node's roles (for role-aware placement). */
  get roles(): readonly string[] {
    return this.#roles;
  }

  /** This node's member incarnation id (a new one at every start). */
  get memberId(): string {
    return this.#memberId;
  }

  /** The membership engine (state, leader, reachability). */
  get membership(): Membership {
    return this.#membership;
  }

  /** Members as this node sees them. */
  get members(): readonly Member[] {
    return this.#membership.members;
  }

  /** The current leader as this node sees it. */
  get leader(): NodeAddress | undefined {
    return this.#membership.leader;
  }

  /**
   * The latest leader epoch this node knows (see `Membership.leaderEpoch`): it grows each time
   * leadership moves, and a leader acts only while it holds the latest one.
   */
  get leaderEpoch(): number {
    return this.#membership.leaderEpoch;
  }

  /**
   * Resolves once at least `n` members are `up` in this node's view.
   *
   * @throws {ClusterUnavailableError} (rejection) after `timeout` ms.
   */
  waitFor(n: number, options: ClusterWaitOptions = {}): Promise<TopologySnapshot> {
    const timeout = options.timeout ?? 60_000;
    const upCount = () => this.#membership.members.filter((m) => m.status === "up").length;
    if (upCount() >= n) return Promise.resolve(this.#snapshot());
    const { promise, resolve, reject } = Promise.withResolvers<TopologySnapshot>();
    const check = () => {
      if (upCount() >= n) {
        done();
        resolve(this.#snapshot());
      }
    };
    const timer = this.scheduler.internal(() => {
      done();
      reject(
        new ClusterUnavailableError(
          `Cannot reach ${n} up members: ${upCount()} after ${timeout} ms`,
        ),
      );
    }, timeout);
    const done = () => {
      timer.cancel();
      this.#topologyListeners.delete(check);
    };
    this.#topologyListeners.add(check);
    return promise;
  }

  /**
   * The cluster as this node sees it. With a `timeout`, waits up to that many ms for a
   * converged view (every member has seen the current membership), then resolves with the
   * view it has; without one (or `0`), resolves at once.
   */
  getClusterState(options: ClusterWaitOptions = {}): Promise<TopologySnapshot> {
    const timeout = options.timeout ?? 0;
    if (timeout <= 0 || this.#membership.isConverged || this.isShutdown) {
      return Promise.resolve(this.#snapshot());
    }
    const { promise, resolve } = Promise.withResolvers<TopologySnapshot>();
    const deadline = this.clock.now() + timeout;
    // Convergence follows gossip, which raises no event of its own: look again each gossip
    // round-trip's worth of time as well as on every membership event.
    let poll: { cancel(): void } | undefined;
    const check = () => {
      if (this.#membership.isConverged || this.isShutdown || this.clock.now() >= deadline) {
        poll?.cancel();
        this.#topologyListeners.delete(check);
        resolve(this.#snapshot());
        return;
      }
      poll?.cancel();
      poll = this.scheduler.internal(check, Math.min(50, deadline - this.clock.now()));
    };
    this.#topologyListeners.add(check);
    check();
    return promise;
  }

  /**
   * Waits until `n` nodes have called `barrier(name, n)`, then releases them all. Reusable.
   * A participant that becomes unreachable or leaves fails the round for everyone.
   *
   * @throws {BarrierMismatchError} when nodes disagree on `n`.
   * @throws {ClusterUnavailableError} when a participant dies or this node shuts down.
   */
  barrier(
    name: string,
    n: number,
    options: ClusterWaitOptions & { signal?: AbortSignal } = {},
  ): Promise<void> {
    return this.#barriers.arrive(name, n, options.timeout ?? 60_000, options.signal);
  }

  /**
   * Leaves the cluster gracefully (leaving → exiting → removed, seen by every member), then
   * shuts this node down. Resolves once stopped.
   */
  async leave(): Promise<void> {
    await this.#leaveGracefully();
    await this.shutdown();
  }

  /** Marks a member as down (it is then removed by the leader). */
  down(address: NodeAddress | string): void {
    this.#membership.down(typeof address === "string" ? parseNodeAddress(address) : address);
  }

  /** The remoting layer (refs, reserved-path handlers). */
  get remoting(): Remoting {
    return this.#remoting;
  }

  /** The node-to-node transport. */
  get transport(): Transport {
    return this.#transport;
  }

  /**
   * Finds an actor: a local path (`/a/b`), a local URI, or a full remote URI
   * (`casty://system@host:port/path`), which returns a remote ref without a network round trip.
   * With a {@linkcode ServiceKey}, resolves with the {@linkcode Listing} of the actors registered
   * under it on every node (from this node's copy of the registry).
   */
  override lookup<M>(key: ServiceKey<M>, options?: ClusterWaitOptions): Promise<Listing<M>>;
  /**
   * Finds an actor: a local path (`/a/b`), a local URI, or a full remote URI
   * (`casty://system@host:port/path`), which returns a remote ref without a network round trip.
   */
  override lookup<M = unknown>(pathOrUri: string): ActorRef<M> | undefined;
  override lookup<M = unknown>(
    pathOrUri: string | ServiceKey<M>,
    options: ClusterWaitOptions = {},
  ): ActorRef<M> | undefined | Promise<Listing<M>> {
    if (pathOrUri instanceof ServiceKey) {
      const key = pathOrUri;
      return this.ask<Find<M>, Listing<M>>(
        this.receptionist as ActorRef<Find<M>>,
        (replyTo) => new Find(key, replyTo),
        { timeout: options.timeout ?? 5000 },
      );
    }
    if (!pathOrUri.startsWith("casty://")) return super.lookup<M>(pathOrUri);
    const uri = parseActorUri(pathOrUri);
    if (uri.system !== this.name) return undefined;
    if (!uri.address || sameNodeAddress(uri.address, this.#self)) {
      return super.lookup<M>(uri.path);
    }
    return this.#remoting.refFor<M>(pathOrUri);
  }

  /**
   * This node's receptionist (`/_cluster/_receptionist`): send it `Register`, `Deregister`,
   * `Find`, `Subscribe` and `Unsubscribe`.
   */
  get receptionist(): ActorRef<ReceptionistCommand> {
    const ref = super.lookup<ReceptionistCommand>(RECEPTIONIST_PATH);
    if (ref === undefined) {
      throw new ClusterUnavailableError(`Cannot reach the receptionist: node is shut down`);
    }
    return ref;
  }

  /**
   * Leaves the cluster gracefully when other members are there (bounded by `leaveTimeout`),
   * stops the actors (user first, then system), then closes the network.
   */
  protected override async doShutdown(): Promise<void> {
    // On the way out, new connections are refused: a peer that dials now (say, a partition
    // healed as this node downed itself) keeps its queue and turns it into dead letters once it
    // learns that this node is gone, instead of flushing it into a process about to exit. A
    // node the cluster told to stop has nothing to hand over: it refuses them at once.
    if (!this.#toldToStop) await this.#leaveGracefully();
    await this.#transport.stopAccepting?.();
    this.#barriers.close();
    this.#membership.stop();
    await super.doShutdown();
    for (const extension of this.#extensions.splice(0).reverse()) {
      try {
        await extension.stop?.();
      } catch (err) {
        this.log.error(`cluster extension "${extension.name}" failed to stop`, err);
      }
    }
    this.#eventListeners.clear();
    this.#remoting.close();
    await this.#transport.shutdown();
  }

  async #leaveGracefully(): Promise<void> {
    const m = this.#membership;
    if (m.isTerminated) return;
    // Leaving needs a reachable leader to converge; with no reachable peer, just stop.
    const unreachable = m.unreachable;
    const others = m.members.some((x) =>
      !sameNodeAddress(x.address, this.#self) &&
      (x.status === "up" || x.status === "joining" || x.status === "leaving") &&
      !unreachable.some((u) => u.id === x.id)
    );
    if (!others) return;
    this.#leaving = true;
    if (this.#leaveHooks.length > 0) {
      let hookTimer: { cancel(): void } | undefined;
      await Promise.race([
        Promise.allSettled(this.#leaveHooks.map((h) => h())),
        new Promise<void>((resolve) => {
          hookTimer = this.scheduler.internal(resolve, this.#leaveTimeout);
        }),
      ]);
      hookTimer?.cancel();
    }
    m.leave();
    let timer: { cancel(): void } | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = this.scheduler.internal(() => {
        this.log.warn(`leave not confirmed within ${this.#leaveTimeout} ms; stopping anyway`);
        resolve();
      }, this.#leaveTimeout);
    });
    await Promise.race([this.#removed.promise, timeout]);
    timer?.cancel();
  }

  #snapshot(): TopologySnapshot {
    const m = this.#membership;
    const sharding = this.#sharding?.allocations();
    return new TopologySnapshot(
      m.members,
      m.leader,
      m.unreachable.map((x) => x.address),
      sharding?.allocations ?? {},
      sharding?.epoch ?? 0,
      registryOf(this),
      m.leaderEpoch,
    );
  }

  /** Whether another live incarnation than `member` is a member at its address. */
  #hasSuccessor(member: Member): boolean {
    return this.#membership.members.some((m) =>
      m.id !== member.id && sameNodeAddress(m.address, member.address) &&
      m.status !== "down" && m.status !== "removed"
    );
  }

  #onMembershipEvent(e: MembershipEvent): void {
    if (e instanceof ShutdownSelf) {
      this.#removed.resolve();
      if (!this.#leaving) {
        this.#toldToStop = true;
        this.log.warn(`cluster asked this node to shut down (${e.reason})`);
        if (!this.isShutdown) void this.shutdown();
      }
    } else if (e instanceof MemberRemoved || e instanceof MemberDowned) {
      // Clean-up keyed by address must spare a newer incarnation at the same address: its
      // watches, barrier arrivals and queued messages are not the departed one's.
      if (!sameNodeAddress(e.member.address, this.#self) && !this.#hasSuccessor(e.member)) {
        this.#remoting.nodeGone(e.member.address);
        this.#barriers.nodeLost(e.member.address);
        // Messages still queued for a node the cluster gave up on are dead letters now, not
        // after the transport's own unreachable timeout.
        this.#transport.dropQueued(e.member.address);
        // A removed member's peer, alias and incarnation entries go (or, while a connection to
        // that address is live, once it closes).
        if (e instanceof MemberRemoved) this.#transport.forget?.(e.member.address);
      }
    } else if (e instanceof UnreachableMember) {
      if (!this.#hasSuccessor(e.member)) this.#barriers.nodeLost(e.member.address);
    } else if (e instanceof LeaderChanged) {
      this.#barriers.leaderChanged();
    }
    this.eventStream.publish(e);
    for (const l of [...this.#eventListeners]) {
      try {
        l(e);
      } catch (err) {
        this.log.error("cluster extension listener failed", err);
      }
    }
    for (const l of [...this.#topologyListeners]) l();
    this.#topology.tell({ type: "topologyChanged" });
  }
}
