/**
 * `ClusteredActorSystem`: an actor system on the network.
 *
 * @module
 */
import type { ActorRef } from "../actor/actor_ref.ts";
import { ActorSystem, type ActorSystemOptions } from "../actor/actor_system.ts";
import { Terminated } from "../actor/events.ts";
import type { CastyConfig } from "../config/casty_config.ts";
import { type NodeAddress, parseActorUri, sameNodeAddress } from "../remote/address.ts";
import { Remoting } from "../remote/remoting.ts";
import { type Serializer, TaggedJsonSerializer } from "../remote/serialization.ts";
import { TcpTransport, type TcpTransportOptions } from "../remote/tcp_transport.ts";
import type { TlsOptions } from "../runtime/tcp.ts";

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
  >
>;

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
  /** Mutual TLS between nodes: PEM strings or file paths. */
  tls?: TlsOptions;
  /** The message serializer. @default {new TaggedJsonSerializer()} */
  serializer?: Serializer;
  /** Transport tuning (frame size, queue bounds, backoff, …). */
  transport?: TransportTuning;
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
 * import { ClusteredActorSystem, Behaviors, type ActorRef } from "@casty/casty";
 * type Ping = { replyTo: ActorRef<string> };
 * await using a = await ClusteredActorSystem.start({ name: "demo", host: "127.0.0.1", port: 0 });
 * await using b = await ClusteredActorSystem.start({ name: "demo", host: "127.0.0.1", port: 0 });
 * a.spawn(Behaviors.receive<Ping>((_ctx, msg) => msg.replyTo.tell("pong")), "ponger");
 * const remote = b.lookup<Ping>(`casty://demo@127.0.0.1:${a.selfAddress.port}/ponger`)!;
 * console.assert((await b.ask(remote, (replyTo) => ({ replyTo }))) === "pong");
 * ```
 */
export class ClusteredActorSystem extends ActorSystem {
  readonly #transport: TcpTransport;
  readonly #remoting: Remoting;
  readonly #self: NodeAddress;

  /**
   * Starts a node: binds the transport, then creates the system. Resolves once bound.
   *
   * @throws {TcpConnectError | Error} when the port cannot be bound.
   */
  static async start(options: ClusteredActorSystemOptions): Promise<ClusteredActorSystem> {
    const transport = await TcpTransport.start({
      ...options.transport,
      systemName: options.name,
      host: options.host,
      port: options.port,
      bindHost: options.bindHost,
      tls: options.tls,
      clock: options.clock,
      logger: options.logger,
    });
    return new ClusteredActorSystem(options, transport);
  }

  /**
   * Starts a node from a {@linkcode CastyConfig}: `[system]`, `[cluster]` and `[transport]`
   * give the defaults, `overrides` win.
   */
  static fromConfig(
    config: CastyConfig,
    overrides: Partial<ClusteredActorSystemOptions> = {},
  ): Promise<ClusteredActorSystem> {
    const c = config.cluster;
    const t = config.transport;
    return ClusteredActorSystem.start({
      config,
      name: config.system.name,
      host: c.host,
      port: c.port,
      bindHost: c.bindHost,
      tls: c.tls,
      transport: {
        maxFrameSize: t.maxFrameSize,
        outboundQueueLimit: t.outboundQueueLimit,
        connectTimeout: t.connectTimeout,
        handshakeTimeout: t.handshakeTimeout,
        unreachableTimeout: t.unreachableTimeout,
        maxBatchBytes: t.maxBatchBytes,
        writeHighWaterMark: t.writeHighWaterMark,
        shutdownGrace: t.shutdownGrace,
        reconnectBackoff: t.reconnectBackoff,
      },
      ...overrides,
    });
  }

  /**
   * Use {@linkcode ClusteredActorSystem.start}; the constructor takes an already bound
   * transport.
   */
  constructor(options: ClusteredActorSystemOptions, transport: TcpTransport) {
    super(options);
    this.#transport = transport;
    this.#self = transport.selfAddress;
    const serializer = options.serializer ?? new TaggedJsonSerializer();
    if (serializer instanceof TaggedJsonSerializer) {
      try {
        serializer.register(Terminated, "casty.Terminated");
      } catch {
        // already registered by the caller
      }
    }
    this.#remoting = new Remoting({
      system: this,
      core: this.core,
      transport,
      serializer,
      log: this.log,
    });
  }

  /** The address this node is bound to and advertises (`port` is the real one for port 0). */
  get selfAddress(): NodeAddress {
    return this.#self;
  }

  /** The remoting layer (refs, reserved-path handlers). */
  get remoting(): Remoting {
    return this.#remoting;
  }

  /** The node-to-node transport. */
  get transport(): TcpTransport {
    return this.#transport;
  }

  /**
   * Finds an actor: a local path (`/a/b`), a local URI, or a full remote URI
   * (`casty://system@host:port/path`), which returns a remote ref without a network round trip.
   */
  override lookup<M = unknown>(pathOrUri: string): ActorRef<M> | undefined {
    if (!pathOrUri.startsWith("casty://")) return super.lookup<M>(pathOrUri);
    const uri = parseActorUri(pathOrUri);
    if (uri.system !== this.name) return undefined;
    if (!uri.address || sameNodeAddress(uri.address, this.#self)) {
      return super.lookup<M>(uri.path);
    }
    return this.#remoting.refFor<M>(pathOrUri);
  }

  /** Stops the actors (user first, then system), then closes the network. */
  protected override async doShutdown(): Promise<void> {
    await super.doShutdown();
    this.#remoting.close();
    await this.#transport.shutdown();
  }
}
