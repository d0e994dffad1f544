/**
 * {@linkcode TcpTransport}: node-to-node connections over TCP (optionally mutual TLS),
 * independent of actors. One connection per node pair, a handshake that checks the system
 * name and exchanges incarnations, per-peer bounded outbound queues, batching, and
 * reconnection with exponential backoff and jitter.
 *
 * Delivery is at most once: envelopes still queued survive reconnects in order, and every
 * envelope that cannot be sent goes to `onUndeliverable`; bytes already handed to a socket
 * that then dies are lost, as with any protocol without acknowledgements.
 *
 * @module
 */

import { type Cancellable, type Clock, realClock } from "../actor/clock.ts";
import { defaultTcp } from "../runtime/select.ts";
import type { Tcp, TcpConnection, TcpListener, TlsOptions } from "../runtime/tcp.ts";
import {
  compareNodeAddresses,
  formatNodeAddress,
  type NodeAddress,
  nodeAddress,
} from "./address.ts";
import { readEnvelope, TextEnvelope } from "./_envelope_codec.ts";
import { BatchEncoder, readBatch } from "./_batch_codec.ts";
import { Link, type LinkState, type Peer, pending } from "./_peer_link.ts";
import { PeerTable } from "./_peer_table.ts";
import {
  nonNegative,
  positive,
  type ReconnectBackoff,
  type TcpTransportOptions,
} from "./_tcp_options.ts";
import { DEFAULT_MAX_FRAME_SIZE, FRAME_BATCH, FRAME_MESSAGE, type FrameType } from "./_framing.ts";
import { InsecureBindError, isLoopbackHost, secretKey } from "./_auth.ts";
import { type Challenge, establish, Handshake, type Hello } from "./_handshake.ts";
import { consoleLogger, type Logger } from "../actor/logger.ts";
import type {
  Envelope,
  PeerIdentity,
  Transport,
  TransportHandlers,
  UndeliverableReason,
} from "./transport.ts";

export type { ReconnectBackoff, TcpTransportOptions };

/** Bytes encoded per socket write. */
const WRITE_CHUNK = 256 * 1024;
/** Bytes written per flush before yielding to the event loop. */
const FLUSH_SLICE = 4 * 1024 * 1024;

/**
 * Node-to-node transport over TCP, optionally with mutual TLS.
 *
 * @example Two nodes in one process
 * ```ts
 * import assert from "node:assert/strict";
 * import { TcpTransport } from "./tcp_transport.ts";
 * const received = Promise.withResolvers<string>();
 * await using a = await TcpTransport.start({
 *   systemName: "demo",
 *   host: "127.0.0.1",
 *   port: 0,
 *   onInbound: (_from, env) => received.resolve(new TextDecoder().decode(env.payload)),
 * });
 * await using b = await TcpTransport.start({ systemName: "demo", host: "127.0.0.1", port: 0 });
 * b.send(a.selfAddress, { recipient: "/greeter", payload: new TextEncoder().encode("hi") });
 * assert.equal(await received.promise, "hi");
 * ```
 */
export class TcpTransport implements Transport {
  readonly systemName: string;
  readonly selfAddress: NodeAddress;
  readonly incarnation: string;
  #selfKey: string;
  #selfIdentity: PeerIdentity;
  #handlers: TransportHandlers;
  #listener: TcpListener;
  #listenerClosed: Promise<void> | undefined;
  #accepting = true;
  #tcp: Tcp;
  #tls: TlsOptions | undefined;
  #handshake: Handshake;
  #idleTimeout: number;
  #idleTimer: Cancellable | undefined;
  #maxConnections: number;
  #maxHandshakes: number;
  #backlog: (() => number) | undefined;
  #maxBacklog: number;
  #maxBacklogBytes: number;
  /** Moving average of inbound payload sizes, to turn a backlog count into bytes. */
  #inboundAverage = 0;
  #inboundPaused = false;
  #resumeTimer: Cancellable | undefined;
  #clock: Clock;
  #log: Logger;
  #random: () => number;
  #maxFrameSize: number;
  #connectTimeout: number;
  #backoff: Required<ReconnectBackoff>;
  #unreachableTimeout: number;
  #highWater: number;
  #shutdownGrace: number;
  #peers: PeerTable;
  #links = new Set<Link>();
  #dials = new Set<Promise<void>>();
  #selfQueue: Envelope[] = [];
  #state: "running" | "stopping" | "stopped" = "running";
  #shutdown: Promise<void> | undefined;
  #batches: BatchEncoder;
  /** An envelope larger than a peer's frame size, found while encoding. */
  #tooLarge = (peer: Peer, link: Link, envelope: Envelope): void => {
    this.#log.error(
      `Cannot send to "${envelope.recipient}": envelope exceeds the peer's frame size`,
      {
        to: peer.key,
        maxFrameSize: link.maxFrame,
      },
    );
    this.#undeliverable(peer.address, [envelope], "too-large");
  };

  private constructor(
    options: TcpTransportOptions,
    listener: TcpListener,
    tcp: Tcp,
    incarnation: string,
    maxFrameSize: number,
    key: CryptoKey | undefined,
  ) {
    this.systemName = options.systemName;
    this.selfAddress = Object.freeze({
      host: options.host,
      port: options.port === 0 ? listener.port : options.port,
    });
    this.incarnation = incarnation;
    this.#selfKey = formatNodeAddress(this.selfAddress);
    this.#selfIdentity = Object.freeze({ ...this.selfAddress, incarnation });
    this.#handlers = pickHandlers(options);
    this.#listener = listener;
    this.#tcp = tcp;
    this.#tls = options.tls;
    this.#idleTimeout = nonNegative("idleTimeout", options.idleTimeout, 60_000);
    this.#maxConnections = positive("maxConnections", options.maxConnections, 1024);
    this.#maxHandshakes = positive("maxHandshakes", options.maxHandshakes, 256);
    this.#peers = new PeerTable({
      queueLimit: positive("outboundQueueLimit", options.outboundQueueLimit, 100_000),
      queueBytesLimit: positive("outboundQueueBytes", options.outboundQueueBytes, 64 << 20),
      controlLimit: positive("controlQueueLimit", options.controlQueueLimit, 100_000),
      maxFrameSize,
    });
    this.#backlog = options.inboundBacklog;
    this.#maxBacklog = positive("maxInboundBacklog", options.maxInboundBacklog, 100_000);
    this.#maxBacklogBytes = positive(
      "maxInboundBacklogBytes",
      options.maxInboundBacklogBytes,
      32 << 20,
    );
    this.#clock = options.clock ?? realClock;
    this.#log = options.logger ?? consoleLogger("warn", "[casty:remote]");
    this.#random = options.random ?? Math.random;
    this.#maxFrameSize = maxFrameSize;
    this.#connectTimeout = positive("connectTimeout", options.connectTimeout, 5000);
    const backoff = options.reconnectBackoff ?? {};
    this.#backoff = {
      min: positive("reconnectBackoff.min", backoff.min, 100),
      max: positive("reconnectBackoff.max", backoff.max, 2000),
      factor: positive("reconnectBackoff.factor", backoff.factor, 2),
      jitter: Math.min(1, Math.max(0, backoff.jitter ?? 0.2)),
    };
    this.#unreachableTimeout = positive("unreachableTimeout", options.unreachableTimeout, 30_000);
    this.#batches = new BatchEncoder(positive("maxBatchBytes", options.maxBatchBytes, 64 * 1024));
    this.#highWater = positive("writeHighWaterMark", options.writeHighWaterMark, 1024 * 1024);
    this.#shutdownGrace = positive("shutdownGrace", options.shutdownGrace, 1000);
    this.#handshake = new Handshake({
      systemName: this.systemName,
      selfAddress: this.selfAddress,
      incarnation,
      maxFrameSize,
      key,
      tls: options.tls !== undefined,
      checkNames: options.tls !== undefined && options.tls.verifyHostname !== false,
      timeout: positive("handshakeTimeout", options.handshakeTimeout, 5000),
      clock: this.#clock,
      log: this.#log,
    }, {
      running: () => this.#state === "running",
      proven: (link, hello) => this.#onProven(link, hello),
      accepted: (link, challenge) => this.#onAccepted(link, challenge),
      close: (link, reason, graceful) => this.#closeLink(link, reason, graceful),
    });
  }

  /**
   * Binds the listener and returns a running transport.
   *
   * @param options Identity, addresses, TLS, limits and callbacks.
   * @returns The transport, with `selfAddress.port` set to the bound port.
   * @throws {TypeError} When an option is invalid.
   * @throws {AddressError} When `host` or `port` is invalid.
   * @throws {InsecureBindError} When the bound host is not a loopback address and neither
   * `tls` nor `secret` is set (and `insecure` is not `true`).
   * @throws {Error} When the port cannot be bound.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { TcpTransport } from "./tcp_transport.ts";
   * await using node = await TcpTransport.start({
   *   systemName: "s",
   *   host: "127.0.0.1",
   *   port: 0,
   *   secret: "a secret every node of the cluster shares",
   * });
   * assert.ok(node.selfAddress.port > 0);
   * ```
   */
  static async start(options: TcpTransportOptions): Promise<TcpTransport> {
    if (typeof options.systemName !== "string" || options.systemName.length === 0) {
      throw new TypeError("Cannot start transport: systemName must be a non-empty string");
    }
    nodeAddress(options.host, options.port);
    const maxFrameSize = positive("maxFrameSize", options.maxFrameSize, DEFAULT_MAX_FRAME_SIZE);
    if (maxFrameSize < 1024) {
      throw new RangeError("Cannot start transport: maxFrameSize must be at least 1024");
    }
    if (
      options.secret !== undefined && (typeof options.secret !== "string" || options.secret === "")
    ) {
      throw new TypeError("Cannot start transport: secret must be a non-empty string");
    }
    const bindHost = options.bindHost ?? options.host;
    if (
      !isLoopbackHost(bindHost) && options.tls === undefined && options.secret === undefined
    ) {
      if (options.insecure !== true) throw new InsecureBindError(bindHost);
      (options.logger ?? consoleLogger("warn", "[casty:remote]")).warn(
        `INSECURE: cluster port on "${bindHost}" accepts unauthenticated peers (insecure: true); ` +
          `anyone who can reach it can join, send to any actor and down nodes; set \`secret\` or \`tls\``,
      );
    }
    const key = options.secret === undefined ? undefined : await secretKey(options.secret);
    const tcp = options.tcp ?? defaultTcp();
    // Connections accepted before the constructor has run wait in `early`.
    const ref: { transport?: TcpTransport } = {};
    const early: TcpConnection[] = [];
    const listener = await tcp.listen(
      bindHost,
      options.bindPort ?? options.port,
      {
        tls: options.tls,
        onAccept: (conn) => ref.transport ? ref.transport.#accept(conn) : early.push(conn),
        onError: (error) => {
          if (ref.transport) {
            ref.transport.#log.warn(`Rejected connection: ${error.message}`);
          }
        },
      },
    );
    const transport = new TcpTransport(
      options,
      listener,
      tcp,
      options.incarnation ?? crypto.randomUUID(),
      maxFrameSize,
      key,
    );
    ref.transport = transport;
    for (const conn of early) transport.#accept(conn);
    transport.#armIdleSweep();
    transport.#log.debug(`Listening on ${formatNodeAddress(transport.selfAddress)}`, {
      incarnation: transport.incarnation,
    });
    return transport;
  }

  /**
   * Number of open connections, including ones still handshaking.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { TcpTransport } from "./tcp_transport.ts";
   * await using node = await TcpTransport.start({ systemName: "s", host: "127.0.0.1", port: 0 });
   * assert.ok(node.connectionCount === 0);
   * ```
   */
  get connectionCount(): number {
    return this.#links.size;
  }

  /**
   * Peers with a live, handshaken connection.
   *
   * @returns Their addresses and incarnations.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { TcpTransport } from "./tcp_transport.ts";
   * await using node = await TcpTransport.start({ systemName: "s", host: "127.0.0.1", port: 0 });
   * assert.ok(node.connectedPeers().length === 0);
   * ```
   */
  connectedPeers(): PeerIdentity[] {
    const result: PeerIdentity[] = [];
    for (const peer of this.#peers.values()) {
      if (peer.active?.identity) result.push(peer.active.identity);
    }
    return result;
  }

  /** The bound of each peer's user-lane outbound queue (envelopes). */
  get outboundQueueLimit(): number {
    return this.#peers.queueLimit;
  }

  /**
   * Envelopes queued for `to` on the user lane and not yet written to its connection;
   * senders can use it to apply backpressure before the queue overflows.
   *
   * @param to The peer.
   * @returns The queue length (0 for an unknown peer).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { TcpTransport } from "./tcp_transport.ts";
   * await using node = await TcpTransport.start({ systemName: "s", host: "127.0.0.1", port: 0 });
   * assert.equal(node.queuedCount({ host: "127.0.0.1", port: 1 }), 0);
   * ```
   */
  queuedCount(to: NodeAddress): number {
    return this.#peers.find(to)?.queue.length ?? 0;
  }

  /**
   * Payload bytes queued for `to` on the user lane and not yet written (a payload that is
   * still text, as remote tells with the default serializer are, counts its UTF-16 length).
   *
   * @param to The peer.
   * @returns The bytes (0 for an unknown peer).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { TcpTransport } from "./tcp_transport.ts";
   * await using node = await TcpTransport.start({ systemName: "s", host: "127.0.0.1", port: 0 });
   * assert.equal(node.queuedBytes({ host: "127.0.0.1", port: 1 }), 0);
   * ```
   */
  queuedBytes(to: NodeAddress): number {
    return this.#peers.find(to)?.queueBytes ?? 0;
  }

  /**
   * Resolves once `to`'s user-lane queue has room for another envelope (at once when it has),
   * woken by the queue draining into the connection or being given up — no polling; rejects
   * with the signal's reason when `signal` aborts first.
   *
   * @param to The peer.
   * @param signal Cancels the wait.
   * @returns When an envelope sent to `to` would not overflow.
   *
   * @example
   * ```ts
   * import { TcpTransport } from "./tcp_transport.ts";
   * await using node = await TcpTransport.start({ systemName: "s", host: "127.0.0.1", port: 0 });
   * await node.whenWritable({ host: "127.0.0.1", port: 1 });
   * ```
   */
  whenWritable(to: NodeAddress, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const peer = this.#peers.find(to);
    if (peer === undefined || this.#state !== "running" || this.#peers.hasRoom(peer)) {
      return Promise.resolve();
    }
    return this.#peers.waitForRoom(peer, signal);
  }

  /**
   * Reports every envelope queued for `to` (both lanes) as undeliverable now, instead of after
   * `unreachableTimeout` — for when the cluster has downed or removed that node. A peer with a
   * live connection is left alone (its queue is draining); later sends to `to` are queued (and
   * dialled) as usual.
   *
   * @param to The peer.
   * @param reason The reason given to the undeliverable callback.
   * @returns How many envelopes were given up.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { TcpTransport } from "./tcp_transport.ts";
   * await using node = await TcpTransport.start({ systemName: "s", host: "127.0.0.1", port: 0 });
   * assert.equal(node.dropQueued({ host: "127.0.0.1", port: 1 }), 0);
   * ```
   */
  dropQueued(to: NodeAddress, reason: UndeliverableReason = "unreachable"): number {
    const peer = this.#peers.get(this.#peers.resolve(formatNodeAddress(to)));
    if (peer === undefined || peer.active !== undefined) return 0;
    const given = this.#peers.takeAll(peer);
    this.#undeliverable(peer.address, given, reason);
    return given.length;
  }

  /**
   * Forgets a node the cluster removed: gives up what is queued for it (`"unreachable"`),
   * stops dialling it and drops its peer, alias and incarnation entries. A node with a live
   * connection (a restarted incarnation at the same address, or one still leaving) keeps its
   * entry until that connection closes with nothing queued.
   *
   * @param to The node's advertised address.
   * @returns Whether the entry was dropped now.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { TcpTransport } from "./tcp_transport.ts";
   * await using node = await TcpTransport.start({ systemName: "s", host: "127.0.0.1", port: 0 });
   * node.send({ host: "127.0.0.1", port: 1 }, { recipient: "/a", payload: new Uint8Array(1) });
   * assert.equal(node.peerCount, 1);
   * assert.ok(node.forget({ host: "127.0.0.1", port: 1 }));
   * assert.equal(node.peerCount, 0);
   * ```
   */
  forget(to: NodeAddress): boolean {
    const key = this.#peers.resolve(formatNodeAddress(to));
    const peer = this.#peers.get(key);
    if (peer === undefined) {
      this.#peers.dropAliases(key);
      return false;
    }
    if (peer.active !== undefined) {
      peer.forgetWhenUnused = true;
      return false;
    }
    this.#undeliverable(peer.address, this.#peers.takeAll(peer), "unreachable");
    this.#dropPeer(peer);
    return true;
  }

  /**
   * Peer entries held (connected, dialling, or with envelopes queued).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { TcpTransport } from "./tcp_transport.ts";
   * await using node = await TcpTransport.start({ systemName: "s", host: "127.0.0.1", port: 0 });
   * assert.equal(node.peerCount, 0);
   * ```
   */
  get peerCount(): number {
    return this.#peers.size;
  }

  #dropPeer(peer: Peer): void {
    peer.retryTimer?.cancel();
    peer.retryTimer = undefined;
    if (peer.continuation !== undefined) clearTimeout(peer.continuation);
    peer.continuation = undefined;
    const dialing = peer.dialing;
    peer.dialing = undefined;
    if (dialing !== undefined) this.#closeLink(dialing, "peer forgotten", false);
    const control = peer.controlOut;
    peer.controlOut = undefined;
    if (control !== undefined) this.#closeLink(control, "peer forgotten", false);
    this.#peers.remove(peer);
  }

  /**
   * Replaces the callbacks (fields left out are removed).
   *
   * @param handlers The new callbacks.
   *
   * @example
   * ```ts
   * import { TcpTransport } from "./tcp_transport.ts";
   * await using node = await TcpTransport.start({ systemName: "s", host: "127.0.0.1", port: 0 });
   * node.setHandlers({ onInbound: (from, envelope) => console.log(from, envelope) });
   * ```
   */
  setHandlers(handlers: TransportHandlers): void {
    this.#handlers = pickHandlers(handlers);
  }

  /**
   * Queues an envelope for `to`, connecting if needed. Envelopes to one peer are written
   * in the order sent per lane (`envelope.lane: "control"` is written before the user lane
   * and bounded separately); those sent in the same tick share batch frames. Failures never
   * throw: they reach `onUndeliverable` (`"queue-overflow"`, `"refused"`,
   * `"unreachable"`, `"shutdown"`, `"too-large"`).
   *
   * @param to The peer's advertised address (this node's own address loops back).
   * @param envelope Recipient path, optional sender, serialized payload.
   * @throws {TypeError} When the envelope is not an envelope.
   *
   * @example
   * ```ts
   * import { TcpTransport } from "./tcp_transport.ts";
   * await using node = await TcpTransport.start({ systemName: "s", host: "127.0.0.1", port: 0 });
   * node.send(node.selfAddress, { recipient: "/self", payload: new Uint8Array([1]) });
   * ```
   */
  send(to: NodeAddress, envelope: Envelope): void {
    if (
      typeof envelope?.recipient !== "string" ||
      !(envelope instanceof TextEnvelope || envelope.payload instanceof Uint8Array)
    ) {
      throw new TypeError(
        "Cannot send: an envelope needs a string recipient and a Uint8Array payload",
      );
    }
    if (this.#state !== "running") {
      this.#undeliverable(to, [envelope], "shutdown");
      return;
    }
    if (!this.#batches.fits(envelope, this.#maxFrameSize)) {
      this.#log.error(`Cannot send to "${envelope.recipient}": envelope exceeds the frame size`, {
        to: formatNodeAddress(to),
        maxFrameSize: this.#maxFrameSize,
      });
      this.#undeliverable(to, [envelope], "too-large");
      return;
    }
    let peer = this.#peers.cached(to);
    if (peer === undefined) {
      const key = this.#peers.resolve(formatNodeAddress(to));
      if (key === this.#selfKey) {
        this.#sendToSelf(envelope);
        return;
      }
      peer = this.#peers.peerFor(key, to);
      this.#peers.remember(to, peer);
    }
    if (!this.#peers.enqueue(peer, envelope)) {
      if (envelope.lane === "control") {
        this.#log.warn(`Control lane to ${peer.key} overflows; dropping "${envelope.recipient}"`, {
          queued: peer.control.length,
        });
      }
      this.#undeliverable(peer.address, [envelope], "queue-overflow");
      return;
    }
    if (envelope.lane === "control" && peer.controlOut === undefined && peer.active !== undefined) {
      this.#ensureControl(peer);
    }
    if (peer.active !== undefined) this.#scheduleFlush(peer);
    else this.#ensureDial(peer);
  }

  /**
   * Stops listening, hands queued envelopes to `onUndeliverable` as `"shutdown"`, flushes
   * and closes every connection (cutting those that take longer than `shutdownGrace`),
   * and cancels every timer. Calling it again returns the same promise.
   *
   * @returns When everything is closed.
   *
   * @example
   * ```ts
   * import { TcpTransport } from "./tcp_transport.ts";
   * const node = await TcpTransport.start({ systemName: "s", host: "127.0.0.1", port: 0 });
   * await node.shutdown();
   * ```
   */
  shutdown(): Promise<void> {
    this.#shutdown ??= this.#doShutdown();
    return this.#shutdown;
  }

  /**
   * Stops accepting new connections (closes the listener); open connections stay until
   * {@linkcode TcpTransport.shutdown}. A peer that dials afterwards is refused and keeps its
   * queue.
   *
   * @returns When the listener is closed.
   *
   * @example
   * ```ts
   * import { TcpTransport } from "./tcp_transport.ts";
   * const node = await TcpTransport.start({ systemName: "s", host: "127.0.0.1", port: 0 });
   * await node.stopAccepting();
   * await node.shutdown();
   * ```
   */
  stopAccepting(): Promise<void> {
    this.#accepting = false;
    this.#listenerClosed ??= this.#listener.close();
    return this.#listenerClosed;
  }

  /** Same as {@linkcode TcpTransport.shutdown}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }

  // ---- connections -----------------------------------------------------------------

  #accept(conn: TcpConnection): void {
    if (this.#state !== "running" || !this.#accepting) {
      conn.destroy();
      return;
    }
    if (this.#links.size >= this.#maxConnections) {
      this.#log.warn(
        `Closing connection from ${formatNodeAddress(conn.remoteAddress)}: ` +
          `${this.#links.size} connections open (maxConnections ${this.#maxConnections})`,
      );
      conn.destroy();
      return;
    }
    let handshaking = 0;
    for (const link of this.#links) {
      if (!link.outbound && link.state === "handshaking") handshaking++;
    }
    if (handshaking >= this.#maxHandshakes) {
      this.#log.warn(
        `Closing connection from ${formatNodeAddress(conn.remoteAddress)}: ` +
          `${handshaking} handshakes in progress (maxHandshakes ${this.#maxHandshakes})`,
      );
      conn.destroy();
      return;
    }
    const link = new Link(conn, false);
    this.#attach(link);
  }

  #attach(link: Link): void {
    this.#links.add(link);
    link.lastActivity = this.#clock.now();
    link.onFrame = (type, payload) => this.#onFrame(link, type, payload);
    this.#handshake.begin(link);
    link.conn.onData((chunk) => {
      if (link.state === "closed") return;
      link.lastActivity = this.#clock.now();
      const error = link.decoder.push(chunk, link.onFrame);
      if (this.#backlog !== undefined && !this.#inboundPaused && this.#backlogOver(1)) {
        this.#pauseInbound();
      }
      if (error !== undefined && (link.state as LinkState) !== "closed") {
        this.#log.error(`Closing connection ${link.describe()}: ${error.message}`, {
          kind: error.kind,
        });
        this.#closeLink(link, error.message, false);
      }
    });
    link.conn.onClose((error) => this.#onLinkClosed(link, error));
  }

  #connect(peer: Peer): Promise<TcpConnection> {
    return this.#tcp.connect(peer.address.host, peer.address.port, {
      timeout: this.#connectTimeout,
      tls: this.#tls,
    });
  }

  /** Starts the handshake on a dialled connection. */
  #sendHello(link: Link): void {
    this.#attach(link);
    this.#handshake.hello(link);
  }

  async #dial(peer: Peer): Promise<void> {
    peer.connecting = true;
    let conn: TcpConnection;
    try {
      conn = await this.#connect(peer);
    } catch (error) {
      peer.connecting = false;
      if (this.#state === "running") this.#dialFailed(peer, (error as Error).message);
      return;
    }
    peer.connecting = false;
    if (
      this.#state !== "running" || peer.active !== undefined ||
      this.#peers.get(peer.key) === undefined
    ) {
      // Shut down meanwhile, the peer's own connection won the race, or it was forgotten.
      conn.destroy();
      if (this.#state === "running" && peer.active !== undefined) this.#scheduleFlush(peer);
      return;
    }
    const link = new Link(conn, true, peer);
    peer.dialing = link;
    this.#sendHello(link);
  }

  /** Dials a control connection to an already connected peer (once at a time). */
  #ensureControl(peer: Peer): void {
    if (this.#state !== "running" || peer.controlOut !== undefined || peer.controlDialing) return;
    peer.controlDialing = true;
    const dial = this.#dialControl(peer);
    this.#dials.add(dial);
    void dial.finally(() => this.#dials.delete(dial));
  }

  async #dialControl(peer: Peer): Promise<void> {
    let conn: TcpConnection;
    try {
      conn = await this.#connect(peer);
    } catch (error) {
      // The control lane falls back to the main connection.
      peer.controlDialing = false;
      this.#log.debug(
        `Cannot open a control connection to ${peer.key}: ${(error as Error).message}`,
      );
      return;
    }
    if (this.#state !== "running" || this.#peers.get(peer.key) !== peer) {
      peer.controlDialing = false;
      conn.destroy();
      return;
    }
    const link = new Link(conn, true, peer);
    link.control = true;
    this.#sendHello(link);
  }

  /** Makes a handshaken control connection active (either side). */
  #activateControl(link: Link, hello: Hello | Challenge): void {
    link.control = true;
    establish(link, hello, this.#maxFrameSize);
    this.#log.debug(`Control connection ${link.describe()} open`);
    const peer = link.peer;
    if (link.outbound && peer !== undefined) {
      peer.controlDialing = false;
      peer.controlOut = link;
      link.conn.onDrain(() => {
        if (peer.controlOut === link) this.#flush(peer);
      });
      this.#scheduleFlush(peer);
    }
  }

  #onFrame(link: Link, type: FrameType, payload: Uint8Array): void {
    if (link.state === "active") {
      if (type === FRAME_BATCH) this.#onBatch(link, payload);
      else if (type === FRAME_MESSAGE) this.#onMessage(link, payload, 0, payload.length);
      else this.#protocolError(link, `unexpected frame type 0x0${type} after the handshake`);
    } else if (link.state === "handshaking") {
      this.#handshake.onFrame(link, type, payload);
    }
  }

  /** Acceptor: the dialer proved its claims; resolve a connection race, then accept. */
  #onProven(link: Link, hello: Hello): void {
    if (hello.control) {
      this.#handshake.ack(link);
      this.#activateControl(link, hello);
      return;
    }
    const claimed = formatNodeAddress(hello);
    const address = { host: hello.host, port: hello.port };
    const peer = this.#peers.peerFor(claimed, address);
    const active = peer.active;
    if (peer.connecting || peer.dialing !== undefined || active?.outbound === true) {
      // Two connections between the same pair: the one dialled by the lower address wins.
      if (compareNodeAddresses(this.selfAddress, address) < 0) {
        this.#log.debug(`Refusing connection from ${claimed}: our own connection wins the race`);
        this.#handshake.refuse(
          link,
          "superseded",
          "the connection dialled by the lower address wins",
        );
        return;
      }
      const mine = peer.dialing;
      peer.dialing = undefined;
      if (mine !== undefined) this.#closeLink(mine, "superseded by the peer's connection", false);
    }
    this.#handshake.ack(link);
    this.#activate(peer, link, hello);
  }

  /** Dialer: the acceptor accepted. */
  #onAccepted(link: Link, challenge: Challenge): void {
    let peer = link.peer!;
    if (link.control) {
      if (this.#peers.get(peer.key) !== peer || peer.controlOut !== undefined) {
        peer.controlDialing = false;
        this.#closeLink(link, "control connection no longer needed", false);
        return;
      }
      this.#activateControl(link, challenge);
      return;
    }
    if (peer.dialing !== link) {
      this.#closeLink(link, "superseded", false);
      return;
    }
    const address = { host: challenge.host, port: challenge.port };
    const key = formatNodeAddress(address);
    if (key !== peer.key) peer = this.#rekey(peer, link, key, address);
    if (peer.dialing === link) peer.dialing = undefined;
    this.#activate(peer, link, challenge);
  }

  /** The dialled address turned out to be an alias of the peer's advertised one. */
  #rekey(peer: Peer, link: Link, key: string, address: NodeAddress): Peer {
    this.#log.debug(`${peer.key} advertises itself as ${key}`);
    const existing = this.#peers.rekey(peer, key, address);
    if (existing === peer) return peer;
    peer.retryTimer?.cancel();
    link.peer = existing;
    if (existing.dialing !== undefined) {
      const other = existing.dialing;
      existing.dialing = undefined;
      this.#closeLink(other, "superseded", false);
    }
    return existing;
  }

  #activate(peer: Peer, link: Link, hello: Hello | Challenge): void {
    link.peer = peer;
    establish(link, hello, this.#maxFrameSize);
    if (this.#inboundPaused) link.conn.pause(); // a main connection; control ones never pause
    link.conn.onDrain(() => {
      if (peer.active === link) this.#flush(peer);
    });
    const old = peer.active;
    peer.active = link;
    peer.attempts = 0;
    peer.nextAttemptAt = 0;
    peer.downSince = undefined;
    peer.retryTimer?.cancel();
    peer.retryTimer = undefined;
    const previous = peer.incarnation;
    peer.incarnation = hello.incarnation;
    this.#log.debug(`Connected ${link.describe()}`, {
      incarnation: hello.incarnation,
      restarted: previous !== undefined && previous !== hello.incarnation,
    });
    if (old !== undefined && old !== link) {
      this.#closeLink(old, "replaced by a new connection", false);
      if (old.identity!.incarnation !== hello.incarnation) {
        this.#call(
          "onPeerDisconnected",
          () => this.#handlers.onPeerDisconnected?.(old.identity!, "replaced by a new incarnation"),
        );
      }
    }
    if (old === undefined || old.identity!.incarnation !== hello.incarnation) {
      this.#call("onPeerConnected", () => this.#handlers.onPeerConnected?.(link.identity!));
    }
    this.#scheduleFlush(peer);
  }

  /**
   * Inbound flow control: stops reading every connection while the receiver's backlog is at
   * `maxInboundBacklog`, checking every few milliseconds for it to fall under half of that.
   */
  /** Whether the inbound backlog is at `fraction` of either bound. */
  #backlogOver(fraction: number): boolean {
    const n = this.#backlog!();
    return n >= this.#maxBacklog * fraction ||
      n * this.#inboundAverage >= this.#maxBacklogBytes * fraction;
  }

  #pauseInbound(): void {
    this.#inboundPaused = true;
    for (const link of this.#links) {
      if (link.state === "active" && !link.control) link.conn.pause();
    }
    this.#log.debug(`Pausing reads: inbound backlog of ${this.#backlog!()} envelopes`);
    let delay = 0;
    const check = (): void => {
      this.#resumeTimer = undefined;
      if (this.#state !== "running") return;
      if (this.#backlogOver(0.5)) {
        delay = Math.min(10, delay * 2 + 1);
        this.#resumeTimer = this.#clock.setTimeout(check, delay);
        return;
      }
      this.#inboundPaused = false;
      for (const link of this.#links) {
        link.lastActivity = this.#clock.now();
        link.conn.resume();
      }
    };
    this.#resumeTimer = this.#clock.setTimeout(check, 0);
  }

  /** Closes connections idle for `idleTimeout`; re-arms itself while running. */
  #armIdleSweep(): void {
    if (this.#idleTimeout === 0 || this.#state !== "running") return;
    const every = Math.max(10, Math.min(5000, this.#idleTimeout / 4));
    this.#idleTimer = this.#clock.setTimeout(() => {
      this.#idleTimer = undefined;
      const now = this.#clock.now();
      for (const link of [...this.#links]) {
        if (link.state !== "active" || this.#inboundPaused) continue;
        // A peer whose control connection is busy (heartbeats) keeps its main one open too.
        const control = link.control ? undefined : link.peer?.controlOut;
        const idle = now - Math.max(link.lastActivity, control?.lastActivity ?? 0);
        if (idle >= this.#idleTimeout && !(link.peer !== undefined && pending(link.peer))) {
          this.#log.debug(`Closing connection ${link.describe()}: idle for ${Math.round(idle)} ms`);
          this.#closeLink(link, `idle for ${Math.round(idle)} ms`, true);
        }
      }
      this.#armIdleSweep();
    }, every);
  }

  #protocolError(link: Link, message: string): void {
    this.#handshake.protocolError(link, message);
  }

  #closeLink(link: Link, reason: string, graceful: boolean): void {
    if (link.state === "closed") return;
    link.state = "closed";
    link.closeReason = reason;
    link.decoder.stop();
    link.timer?.cancel();
    link.timer = undefined;
    if (graceful) {
      link.conn.close();
      // A peer that never closes its side must not keep the socket forever.
      link.lingerTimer = this.#clock.setTimeout(() => link.conn.destroy(), this.#shutdownGrace);
    } else {
      link.conn.destroy();
    }
    this.#detach(link, reason);
  }

  #onLinkClosed(link: Link, error?: Error): void {
    this.#links.delete(link);
    link.lingerTimer?.cancel();
    link.lingerTimer = undefined;
    if (link.state !== "closed") {
      link.state = "closed";
      link.timer?.cancel();
      link.timer = undefined;
      const truncated = link.decoder.finish();
      const reason = error?.message ?? truncated?.message ?? "closed by peer";
      link.closeReason = reason;
      if (truncated !== undefined) {
        this.#log.error(`Connection ${link.describe()} ended mid-frame: ${truncated.message}`);
      } else {
        this.#log.debug(`Connection ${link.describe()} closed: ${reason}`);
      }
      this.#detach(link, reason);
    }
  }

  /** Unhooks a closed link from its peer and reacts (reconnect, retry, give up). */
  #detach(link: Link, reason: string): void {
    const peer = link.peer;
    if (peer === undefined) return;
    if (link.control) {
      // Control envelopes fall back to the main connection until the next control dial.
      if (peer.controlOut === link) peer.controlOut = undefined;
      else peer.controlDialing = false;
      return;
    }
    if (peer.active === link) {
      peer.active = undefined;
      peer.downSince = this.#clock.now();
      if (peer.continuation !== undefined) {
        clearTimeout(peer.continuation);
        peer.continuation = undefined;
      }
      this.#call(
        "onPeerDisconnected",
        () => this.#handlers.onPeerDisconnected?.(link.identity!, reason),
      );
      if (this.#state === "running" && pending(peer)) this.#ensureDial(peer);
      else if (peer.forgetWhenUnused && !pending(peer)) this.#dropPeer(peer);
    } else if (peer.dialing === link) {
      peer.dialing = undefined;
      if (this.#state === "running") this.#dialFailed(peer, reason, link.refusal);
    }
  }

  // ---- reconnection ------------------------------------------------------------------

  #ensureDial(peer: Peer): void {
    if (
      this.#state !== "running" || peer.active !== undefined || peer.dialing !== undefined ||
      peer.connecting || peer.retryTimer !== undefined
    ) return;
    const delay = peer.nextAttemptAt - this.#clock.now();
    if (delay <= 0) {
      this.#trackDial(peer);
      return;
    }
    peer.retryTimer = this.#clock.setTimeout(() => {
      peer.retryTimer = undefined;
      if (pending(peer)) this.#ensureDial(peer);
    }, delay);
  }

  #trackDial(peer: Peer): void {
    const dial = this.#dial(peer);
    this.#dials.add(dial);
    void dial.finally(() => this.#dials.delete(dial));
  }

  #dialFailed(peer: Peer, reason: string, refusal?: string): void {
    const now = this.#clock.now();
    peer.attempts++;
    peer.downSince ??= now;
    const { min, max, factor, jitter } = this.#backoff;
    const base = Math.min(max, min * factor ** (peer.attempts - 1));
    const delay = Math.round(base * (1 - jitter + 2 * jitter * this.#random()));
    peer.nextAttemptAt = now + delay;
    if (refusal === "refused") {
      this.#undeliverable(peer.address, this.#peers.takeAll(peer), "refused");
    } else if (pending(peer) && now - peer.downSince >= this.#unreachableTimeout) {
      this.#log.warn(
        `${peer.key} unreachable for ${
          Math.round(now - peer.downSince)
        } ms; giving up queued envelopes`,
        { queued: peer.queue.length + peer.control.length, reason },
      );
      this.#undeliverable(peer.address, this.#peers.takeAll(peer), "unreachable");
    } else if (refusal !== "superseded") {
      this.#log.debug(`Cannot connect to ${peer.key} (attempt ${peer.attempts}): ${reason}`, {
        retryIn: delay,
      });
    }
    if (pending(peer)) this.#ensureDial(peer);
  }

  // ---- outbound ----------------------------------------------------------------------

  #sendToSelf(envelope: Envelope): void {
    this.#selfQueue.push(envelope);
    if (this.#selfQueue.length > 1) return;
    queueMicrotask(() => {
      const batch = this.#selfQueue;
      this.#selfQueue = [];
      for (const env of batch) this.#deliver(this.#selfIdentity, env);
    });
  }

  #scheduleFlush(peer: Peer): void {
    if (peer.flushScheduled) return;
    peer.flushScheduled = true;
    queueMicrotask(() => {
      peer.flushScheduled = false;
      this.#flush(peer);
    });
  }

  #flush(peer: Peer): void {
    const ctl = peer.controlOut;
    const separate = ctl !== undefined && ctl.state === "active";
    if (separate && peer.control.length > 0) {
      let sent = false;
      while (peer.control.length > 0 && ctl.conn.bufferedAmount < this.#highWater) {
        const bytes = this.#batches.encode(peer, ctl, WRITE_CHUNK, "control", this.#tooLarge);
        if (bytes !== undefined) {
          ctl.conn.write(bytes);
          sent = true;
        }
      }
      if (sent) ctl.lastActivity = this.#clock.now();
    }
    const link = peer.active;
    if (link === undefined || link.state !== "active" || peer.continuation !== undefined) return;
    const conn = link.conn;
    const lanes = separate ? "user" : "both";
    let written = 0;
    while (separate ? peer.queue.length > 0 : pending(peer)) {
      const room = this.#highWater - conn.bufferedAmount;
      if (room <= 0) break; // resumed by the connection's drain event
      if (written >= FLUSH_SLICE) {
        // Let reads and other peers run; continue on the next turn of the event loop.
        peer.continuation = setTimeout(() => {
          peer.continuation = undefined;
          this.#flush(peer);
        }, 0);
        break;
      }
      const bytes = this.#batches.encode(
        peer,
        link,
        Math.min(room, WRITE_CHUNK),
        lanes,
        this.#tooLarge,
      );
      if (bytes !== undefined) {
        conn.write(bytes);
        written += bytes.length;
      }
    }
    if (written > 0) link.lastActivity = this.#clock.now();
    this.#peers.wakeWriters(peer);
  }

  // ---- inbound -----------------------------------------------------------------------

  #onMessage(link: Link, bytes: Uint8Array, start: number, end: number): void {
    // A view, not a copy: receive chunks are never reused, and a copy per small payload
    // costs more than the rest of the receive path on V8.
    this.#inboundAverage += (end - start - this.#inboundAverage) * 0.015625; // 1/64
    const envelope = readEnvelope(bytes, start, end, false);
    if (typeof envelope === "string") {
      this.#protocolError(link, `malformed envelope: ${envelope}`);
      return;
    }
    this.#deliver(link.identity!, envelope);
  }

  #onBatch(link: Link, payload: Uint8Array): void {
    const malformed = readBatch(payload, (start, end) => {
      this.#onMessage(link, payload, start, end);
      return link.state === "active";
    });
    if (malformed !== undefined) this.#protocolError(link, malformed);
  }

  #deliver(from: PeerIdentity, envelope: Envelope): void {
    const handler = this.#handlers.onInbound;
    if (handler === undefined) {
      this.#log.warn(`No inbound handler; dropping an envelope for "${envelope.recipient}"`, {
        from: formatNodeAddress(from),
      });
      return;
    }
    try {
      handler(from, envelope);
    } catch (error) {
      this.#log.error(`onInbound threw: ${(error as Error)?.message ?? error}`);
    }
  }

  #undeliverable(to: NodeAddress, envelopes: Envelope[], reason: UndeliverableReason): void {
    if (envelopes.length === 0) return;
    const handler = this.#handlers.onUndeliverable;
    if (handler === undefined) {
      this.#log.warn(`${envelopes.length} envelope(s) to ${formatNodeAddress(to)} undeliverable`, {
        reason,
      });
      return;
    }
    for (const envelope of envelopes) {
      try {
        handler(to, envelope, reason);
      } catch (error) {
        this.#log.error(`onUndeliverable threw: ${(error as Error)?.message ?? error}`);
      }
    }
  }

  #call(name: string, fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.#log.error(`${name} threw: ${(error as Error)?.message ?? error}`);
    }
  }

  // ---- shutdown ----------------------------------------------------------------------

  async #doShutdown(): Promise<void> {
    this.#state = "stopping";
    this.#idleTimer?.cancel();
    this.#idleTimer = undefined;
    this.#resumeTimer?.cancel();
    this.#resumeTimer = undefined;
    await this.stopAccepting();
    for (const peer of this.#peers.values()) {
      peer.retryTimer?.cancel();
      peer.retryTimer = undefined;
      if (peer.continuation !== undefined) clearTimeout(peer.continuation);
      peer.continuation = undefined;
      this.#undeliverable(peer.address, this.#peers.takeAll(peer), "shutdown");
      this.#peers.wakeWriters(peer, true);
    }
    let graceTimer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise<void>((resolve) => {
      graceTimer = setTimeout(resolve, this.#shutdownGrace);
    });
    await Promise.race([Promise.allSettled([...this.#dials]), grace]);
    const closed: Promise<void>[] = [];
    for (const link of [...this.#links]) {
      closed.push(new Promise((resolve) => link.conn.onClose(() => resolve())));
      this.#closeLink(link, "transport shutdown", link.state === "active");
    }
    await Promise.race([Promise.all(closed), grace]);
    clearTimeout(graceTimer);
    for (const link of [...this.#links]) {
      link.conn.destroy();
      link.lingerTimer?.cancel();
    }
    await Promise.all(closed);
    this.#state = "stopped";
  }
}

function pickHandlers(source: TransportHandlers): TransportHandlers {
  return {
    onInbound: source.onInbound,
    onUndeliverable: source.onUndeliverable,
    onPeerConnected: source.onPeerConnected,
    onPeerDisconnected: source.onPeerDisconnected,
  };
}
