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
import {
  envelopeSize,
  MAX_PATH_BYTES,
  readEnvelope,
  Utf8Cache,
  writeEnvelope,
} from "./_envelope_codec.ts";
import {
  DEFAULT_MAX_FRAME_SIZE,
  encodeFrame,
  FRAME_BATCH,
  FRAME_HANDSHAKE,
  FRAME_HANDSHAKE_ACK,
  FRAME_HANDSHAKE_REFUSE,
  FRAME_HEADER_SIZE,
  FRAME_MESSAGE,
  FrameDecoder,
  type FrameType,
  writeFrameHeader,
} from "./_framing.ts";
import { consoleLogger, type Logger } from "../actor/logger.ts";
import type {
  Envelope,
  PeerIdentity,
  Transport,
  TransportHandlers,
  UndeliverableReason,
} from "./transport.ts";

/** Exponential backoff between connection attempts to a peer. */
export interface ReconnectBackoff {
  /**
   * Delay after the first failure, in milliseconds.
   *
   * @default {100}
   */
  readonly min?: number;
  /**
   * Longest delay, in milliseconds.
   *
   * @default {10000}
   */
  readonly max?: number;
  /**
   * Growth per failed attempt.
   *
   * @default {2}
   */
  readonly factor?: number;
  /**
   * Random spread as a fraction of the delay (0.2 = ±20%).
   *
   * @default {0.2}
   */
  readonly jitter?: number;
}

/** Options of {@linkcode TcpTransport.start}. */
export interface TcpTransportOptions extends TransportHandlers {
  /** The actor system's name; peers must use the same one. */
  readonly systemName: string;
  /** The host this node advertises to peers (and binds, unless `bindHost` is given). */
  readonly host: string;
  /** The port to bind and advertise; 0 picks a free port. */
  readonly port: number;
  /** The host to bind, such as `"0.0.0.0"`, when it differs from the advertised host. */
  readonly bindHost?: string;
  /**
   * The port to bind when it differs from the advertised `port` (behind NAT, a port mapping
   * or a proxy). Defaults to `port`.
   */
  readonly bindPort?: number;
  /** Mutual TLS for every connection. */
  readonly tls?: TlsOptions;
  /**
   * Largest frame (type byte + payload) accepted or sent, in bytes.
   *
   * @default {16777216}
   */
  readonly maxFrameSize?: number;
  /** Clock for reconnect backoff, handshake timeouts and the unreachable timeout. */
  readonly clock?: Clock;
  /** Where to report connection events and errors. Defaults to warnings on the console. */
  readonly logger?: Logger;
  /**
   * Envelopes queued per peer (not yet written to its socket) before new ones overflow
   * to `onUndeliverable`.
   *
   * @default {100000}
   */
  readonly outboundQueueLimit?: number;
  /**
   * Milliseconds to establish a TCP (and TLS) connection.
   *
   * @default {5000}
   */
  readonly connectTimeout?: number;
  /**
   * Milliseconds for a new connection to complete the casty handshake.
   *
   * @default {5000}
   */
  readonly handshakeTimeout?: number;
  /** Backoff between connection attempts. */
  readonly reconnectBackoff?: ReconnectBackoff;
  /**
   * Milliseconds without a connection after which a peer's queued envelopes go to
   * `onUndeliverable` as `"unreachable"`.
   *
   * @default {30000}
   */
  readonly unreachableTimeout?: number;
  /**
   * Largest batch frame payload, in bytes; envelopes sent in the same tick are packed
   * into batch frames up to this size.
   *
   * @default {65536}
   */
  readonly maxBatchBytes?: number;
  /**
   * Bytes a connection may buffer before the transport stops writing to it and keeps
   * envelopes in the peer's queue.
   *
   * @default {1048576}
   */
  readonly writeHighWaterMark?: number;
  /**
   * Milliseconds `shutdown()` waits for connections to flush before cutting them.
   *
   * @default {1000}
   */
  readonly shutdownGrace?: number;
  /** The TCP implementation; defaults to the current runtime's. */
  readonly tcp?: Tcp;
  /** Random numbers in [0, 1) for backoff jitter. Defaults to `Math.random`. */
  readonly random?: () => number;
  /**
   * This run's incarnation id (the node identity shared with the cluster layer); a random
   * one when left out.
   */
  readonly incarnation?: string;
}

/** Largest frame accepted before a connection has completed its handshake. */
const HANDSHAKE_MAX_FRAME = 64 * 1024;
/** Bytes encoded per socket write. */
const WRITE_CHUNK = 256 * 1024;
/** Bytes written per flush before yielding to the event loop. */
const FLUSH_SLICE = 4 * 1024 * 1024;
const PROTOCOL_VERSION = 1;

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/** Refusal reasons carried by a HANDSHAKE_REFUSE frame. */
type RefuseReason =
  | "system-mismatch"
  | "superseded"
  | "address-conflict"
  | "shutting-down"
  | "protocol";

/** Refusals after which queued envelopes are given up instead of retried. */
const FATAL_REFUSALS: ReadonlySet<string> = new Set([
  "system-mismatch",
  "address-conflict",
  "protocol",
]);

interface Hello {
  readonly system: string;
  readonly host: string;
  readonly port: number;
  readonly incarnation: string;
  readonly maxFrameSize: number;
}

/** A growable ring buffer: O(1) push and shift without array re-indexing. */
class Fifo<T> {
  #items: (T | undefined)[] = new Array(16);
  #mask = 15;
  #head = 0;
  #length = 0;
  get length(): number {
    return this.#length;
  }
  push(item: T): void {
    if (this.#length > this.#mask) this.#grow();
    this.#items[(this.#head + this.#length) & this.#mask] = item;
    this.#length++;
  }
  peek(): T {
    return this.#items[this.#head] as T;
  }
  shift(): T {
    const item = this.#items[this.#head] as T;
    this.#items[this.#head] = undefined;
    this.#head = (this.#head + 1) & this.#mask;
    this.#length--;
    return item;
  }
  sum(of: (item: T) => number): number {
    let total = 0;
    for (let i = 0; i < this.#length; i++) {
      total += of(this.#items[(this.#head + i) & this.#mask] as T);
    }
    return total;
  }
  takeAll(): T[] {
    const items: T[] = [];
    while (this.#length > 0) items.push(this.shift());
    return items;
  }
  #grow(): void {
    const old = this.#items;
    const size = old.length * 2;
    const items: (T | undefined)[] = new Array(size);
    for (let i = 0; i < this.#length; i++) items[i] = old[(this.#head + i) & this.#mask];
    this.#items = items;
    this.#mask = size - 1;
    this.#head = 0;
  }
}

type LinkState = "handshaking" | "active" | "closed";

class Link {
  readonly conn: TcpConnection;
  readonly outbound: boolean;
  readonly decoder: FrameDecoder = new FrameDecoder({ maxFrameSize: HANDSHAKE_MAX_FRAME });
  state: LinkState = "handshaking";
  peer: Peer | undefined;
  identity: PeerIdentity | undefined;
  timer: Cancellable | undefined;
  lingerTimer: Cancellable | undefined;
  maxFrame = HANDSHAKE_MAX_FRAME;
  refusal: string | undefined;
  closeReason: string | undefined;
  onFrame: (type: FrameType, payload: Uint8Array) => void = () => {};
  constructor(conn: TcpConnection, outbound: boolean, peer?: Peer) {
    this.conn = conn;
    this.outbound = outbound;
    this.peer = peer;
  }
  describe(): string {
    const remote = this.identity ?? this.peer?.address ?? this.conn.remoteAddress;
    return `${this.outbound ? "to" : "from"} ${formatNodeAddress(remote)}`;
  }
}

class Peer {
  key: string;
  address: NodeAddress;
  incarnation: string | undefined;
  active: Link | undefined;
  dialing: Link | undefined;
  connecting = false;
  readonly queue: Fifo<Envelope> = new Fifo();
  attempts = 0;
  nextAttemptAt = 0;
  downSince: number | undefined;
  retryTimer: Cancellable | undefined;
  flushScheduled = false;
  continuation: ReturnType<typeof setTimeout> | undefined;
  /** Callers of `whenWritable` waiting for room in `queue`. */
  writeWaiters: (() => void)[] | undefined;
  constructor(key: string, address: NodeAddress) {
    this.key = key;
    this.address = address;
  }
}

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
 * assert.equal((await received.promise), "hi");
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
  #tcp: Tcp;
  #tls: TlsOptions | undefined;
  #clock: Clock;
  #log: Logger;
  #random: () => number;
  #maxFrameSize: number;
  #queueLimit: number;
  #connectTimeout: number;
  #handshakeTimeout: number;
  #backoff: Required<ReconnectBackoff>;
  #unreachableTimeout: number;
  #maxBatchBytes: number;
  #highWater: number;
  #shutdownGrace: number;
  #peers = new Map<string, Peer>();
  #aliases = new Map<string, string>();
  // send() is hot and callers reuse address objects: remember which peer an address object
  // resolved to, checked against its host/port and the generation of the peer table.
  #lookups = new WeakMap<NodeAddress, { host: string; port: number; gen: number; peer: Peer }>();
  #generation = 0;
  #links = new Set<Link>();
  #dials = new Set<Promise<void>>();
  // Separate caches so that each one's last-hit shortcut serves one role.
  #recipients = new Utf8Cache();
  #senders = new Utf8Cache();
  #selfQueue: Envelope[] = [];
  #state: "running" | "stopping" | "stopped" = "running";
  #shutdown: Promise<void> | undefined;
  // Scratch arrays reused by #encode.
  #batchEnvelopes: Envelope[] = [];
  #batchRecipients: Uint8Array[] = [];
  #batchSenders: (Uint8Array | undefined)[] = [];
  #batchSizes: number[] = [];

  private constructor(
    options: TcpTransportOptions,
    listener: TcpListener,
    tcp: Tcp,
    incarnation: string,
    maxFrameSize: number,
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
    this.#clock = options.clock ?? realClock;
    this.#log = options.logger ?? consoleLogger("warn", "[casty:remote]");
    this.#random = options.random ?? Math.random;
    this.#maxFrameSize = maxFrameSize;
    this.#queueLimit = positive("outboundQueueLimit", options.outboundQueueLimit, 100_000);
    this.#connectTimeout = positive("connectTimeout", options.connectTimeout, 5000);
    this.#handshakeTimeout = positive("handshakeTimeout", options.handshakeTimeout, 5000);
    const backoff = options.reconnectBackoff ?? {};
    this.#backoff = {
      min: positive("reconnectBackoff.min", backoff.min, 100),
      max: positive("reconnectBackoff.max", backoff.max, 10_000),
      factor: positive("reconnectBackoff.factor", backoff.factor, 2),
      jitter: Math.min(1, Math.max(0, backoff.jitter ?? 0.2)),
    };
    this.#unreachableTimeout = positive("unreachableTimeout", options.unreachableTimeout, 30_000);
    this.#maxBatchBytes = positive("maxBatchBytes", options.maxBatchBytes, 64 * 1024);
    this.#highWater = positive("writeHighWaterMark", options.writeHighWaterMark, 1024 * 1024);
    this.#shutdownGrace = positive("shutdownGrace", options.shutdownGrace, 1000);
  }

  /**
   * Binds the listener and returns a running transport.
   *
   * @param options Identity, addresses, TLS, limits and callbacks.
   * @returns The transport, with `selfAddress.port` set to the bound port.
   * @throws {TypeError} When an option is invalid.
   * @throws {AddressError} When `host` or `port` is invalid.
   * @throws {Error} When the port cannot be bound.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { TcpTransport } from "./tcp_transport.ts";
   * await using node = await TcpTransport.start({ systemName: "s", host: "127.0.0.1", port: 0 });
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
    const tcp = options.tcp ?? defaultTcp();
    // Connections accepted before the constructor has run wait in `early`.
    const ref: { transport?: TcpTransport } = {};
    const early: TcpConnection[] = [];
    const listener = await tcp.listen(
      options.bindHost ?? options.host,
      options.bindPort ?? options.port,
      {
        tls: options.tls,
        onAccept: (conn) => ref.transport ? ref.transport.#accept(conn) : early.push(conn),
        onError: (error) => {
          if (ref.transport) ref.transport.#log.warn(`Rejected connection: ${error.message}`);
        },
      },
    );
    const transport = new TcpTransport(
      options,
      listener,
      tcp,
      options.incarnation ?? crypto.randomUUID(),
      maxFrameSize,
    );
    ref.transport = transport;
    for (const conn of early) transport.#accept(conn);
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
   * assert.equal(node.connectionCount, 0);
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
   * assert.equal(node.connectedPeers().length, 0);
   * ```
   */
  connectedPeers(): PeerIdentity[] {
    const result: PeerIdentity[] = [];
    for (const peer of this.#peers.values()) {
      if (peer.active?.identity) result.push(peer.active.identity);
    }
    return result;
  }

  /** The bound of each peer's outbound queue (envelopes). */
  get outboundQueueLimit(): number {
    return this.#queueLimit;
  }

  /**
   * Envelopes queued for `to` and not yet written to its socket; senders can use it to
   * apply backpressure before the queue overflows.
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
    const cached = this.#lookups.get(to);
    if (
      cached !== undefined && cached.gen === this.#generation && cached.host === to.host &&
      cached.port === to.port
    ) return cached.peer.queue.length;
    return this.#peers.get(this.#resolve(formatNodeAddress(to)))?.queue.length ?? 0;
  }

  /**
   * Payload bytes queued for `to` and not yet written to its socket.
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
    const peer = this.#peers.get(this.#resolve(formatNodeAddress(to)));
    return peer === undefined ? 0 : peer.queue.sum((e) => e.payload.length);
  }

  /**
   * Resolves once the queue for `to` has room for another envelope (at once when it has);
   * rejects with the signal's reason when `signal` aborts first.
   *
   * @param to The peer.
   * @param signal Aborts the wait.
   * @returns A promise that resolves when a send would not overflow.
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
    const peer = this.#peers.get(this.#resolve(formatNodeAddress(to)));
    if (peer === undefined || peer.queue.length < this.#queueLimit || this.#state !== "running") {
      return Promise.resolve();
    }
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    const waiters = (peer.writeWaiters ??= []);
    const onAbort = () => {
      const i = waiters.indexOf(wake);
      if (i >= 0) waiters.splice(i, 1);
      reject(signal!.reason);
    };
    const wake = () => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    };
    waiters.push(wake);
    signal?.addEventListener("abort", onAbort, { once: true });
    return promise;
  }

  #wakeWriters(peer: Peer): void {
    const waiters = peer.writeWaiters;
    if (
      waiters === undefined || (peer.queue.length >= this.#queueLimit && this.#state === "running")
    ) {
      return;
    }
    // Wake as many waiters as there is room for (all of them once stopped).
    const room = this.#state === "running" ? this.#queueLimit - peer.queue.length : waiters.length;
    const woken = waiters.splice(0, Math.max(0, room));
    if (waiters.length === 0) peer.writeWaiters = undefined;
    for (const wake of woken) wake();
  }

  /**
   * Reports every envelope queued for `to` as undeliverable now, instead of after
   * `unreachableTimeout` — for when the cluster has downed or removed that node. A peer with a
   * live connection is left alone; later sends to `to` are queued (and dialled) as usual.
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
    const peer = this.#peers.get(this.#resolve(formatNodeAddress(to)));
    if (peer === undefined || peer.active !== undefined || peer.queue.length === 0) return 0;
    const given = peer.queue.takeAll();
    this.#undeliverable(peer.address, given, reason);
    this.#wakeWriters(peer);
    return given.length;
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
   * in the order sent; those sent in the same tick share batch frames. Failures never
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
    if (typeof envelope?.recipient !== "string" || !(envelope.payload instanceof Uint8Array)) {
      throw new TypeError(
        "Cannot send: an envelope needs a string recipient and a Uint8Array payload",
      );
    }
    if (this.#state !== "running") {
      this.#undeliverable(to, [envelope], "shutdown");
      return;
    }
    if (!this.#fits(envelope)) {
      this.#log.error(`Cannot send to "${envelope.recipient}": envelope exceeds the frame size`, {
        to: formatNodeAddress(to),
        maxFrameSize: this.#maxFrameSize,
      });
      this.#undeliverable(to, [envelope], "too-large");
      return;
    }
    let peer: Peer;
    const cached = this.#lookups.get(to);
    if (
      cached !== undefined && cached.gen === this.#generation && cached.host === to.host &&
      cached.port === to.port
    ) {
      peer = cached.peer;
    } else {
      const key = this.#resolve(formatNodeAddress(to));
      if (key === this.#selfKey) {
        this.#sendToSelf(envelope);
        return;
      }
      peer = this.#peerFor(key, to);
      this.#lookups.set(to, { host: to.host, port: to.port, gen: this.#generation, peer });
    }
    if (peer.queue.length >= this.#queueLimit) {
      this.#undeliverable(peer.address, [envelope], "queue-overflow");
      return;
    }
    peer.queue.push(envelope);
    if (peer.active !== undefined) this.#scheduleFlush(peer);
    else this.#ensureDial(peer);
  }

  /** Whether the envelope fits in a frame; the common small case avoids encoding paths. */
  #fits(envelope: Envelope): boolean {
    const senderLength = envelope.sender?.length ?? 0;
    // A UTF-16 code unit is at most 3 UTF-8 bytes.
    if (
      3 * (envelope.recipient.length + senderLength) + envelope.payload.length + 5 <=
        this.#maxFrameSize &&
      3 * Math.max(envelope.recipient.length, senderLength) <= MAX_PATH_BYTES
    ) return true;
    const recipient = this.#recipients.get(envelope.recipient);
    const sender = envelope.sender === undefined ? undefined : this.#senders.get(envelope.sender);
    return recipient.length <= MAX_PATH_BYTES && (sender?.length ?? 0) <= MAX_PATH_BYTES &&
      envelopeSize(recipient, sender, envelope.payload) + 1 <= this.#maxFrameSize;
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

  /** Same as {@linkcode TcpTransport.shutdown}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }

  // ---- connections -----------------------------------------------------------------

  #accept(conn: TcpConnection): void {
    if (this.#state !== "running") {
      conn.destroy();
      return;
    }
    const link = new Link(conn, false);
    this.#attach(link);
  }

  #attach(link: Link): void {
    this.#links.add(link);
    link.onFrame = (type, payload) => this.#onFrame(link, type, payload);
    link.timer = this.#clock.setTimeout(() => {
      link.timer = undefined;
      if (link.state === "handshaking") {
        this.#log.warn(
          `Closing connection ${link.describe()}: no handshake within ${this.#handshakeTimeout} ms`,
        );
        this.#closeLink(link, "handshake timeout", false);
      }
    }, this.#handshakeTimeout);
    link.conn.onData((chunk) => {
      if (link.state === "closed") return;
      const error = link.decoder.push(chunk, link.onFrame);
      if (error !== undefined && (link.state as LinkState) !== "closed") {
        this.#log.error(`Closing connection ${link.describe()}: ${error.message}`, {
          kind: error.kind,
        });
        this.#closeLink(link, error.message, false);
      }
    });
    link.conn.onClose((error) => this.#onLinkClosed(link, error));
  }

  async #dial(peer: Peer): Promise<void> {
    peer.connecting = true;
    let conn: TcpConnection;
    try {
      conn = await this.#tcp.connect(peer.address.host, peer.address.port, {
        timeout: this.#connectTimeout,
        tls: this.#tls,
      });
    } catch (error) {
      peer.connecting = false;
      if (this.#state === "running") this.#dialFailed(peer, (error as Error).message);
      return;
    }
    peer.connecting = false;
    if (this.#state !== "running" || peer.active !== undefined) {
      // Shut down meanwhile, or the peer's own connection won the race.
      conn.destroy();
      if (this.#state === "running") this.#scheduleFlush(peer);
      return;
    }
    const link = new Link(conn, true, peer);
    peer.dialing = link;
    this.#attach(link);
    this.#writeHello(link, FRAME_HANDSHAKE);
  }

  #writeHello(link: Link, type: typeof FRAME_HANDSHAKE | typeof FRAME_HANDSHAKE_ACK): void {
    const hello = {
      v: PROTOCOL_VERSION,
      system: this.systemName,
      host: this.selfAddress.host,
      port: this.selfAddress.port,
      incarnation: this.incarnation,
      maxFrameSize: this.#maxFrameSize,
    };
    link.conn.write(encodeFrame(type, textEncoder.encode(JSON.stringify(hello))));
  }

  #refuse(link: Link, reason: RefuseReason, message: string): void {
    const body = textEncoder.encode(JSON.stringify({ reason, message }));
    link.conn.write(encodeFrame(FRAME_HANDSHAKE_REFUSE, body));
    this.#closeLink(link, `refused: ${message}`, true);
  }

  #onFrame(link: Link, type: FrameType, payload: Uint8Array): void {
    if (link.state === "active") {
      if (type === FRAME_BATCH) this.#onBatch(link, payload);
      else if (type === FRAME_MESSAGE) this.#onMessage(link, payload, 0, payload.length);
      else this.#protocolError(link, `unexpected frame type 0x0${type} after the handshake`);
      return;
    }
    if (link.state === "closed") return;
    if (!link.outbound) {
      if (type !== FRAME_HANDSHAKE) {
        this.#protocolError(link, `expected a handshake, got frame type 0x0${type}`);
        return;
      }
      const hello = parseHello(payload);
      if (typeof hello === "string") {
        this.#log.error(`Refusing connection ${link.describe()}: ${hello}`);
        this.#refuse(link, "protocol", hello);
        return;
      }
      this.#onHandshake(link, hello);
      return;
    }
    if (type === FRAME_HANDSHAKE_ACK) {
      const hello = parseHello(payload);
      if (typeof hello === "string") this.#protocolError(link, hello);
      else this.#onAck(link, hello);
    } else if (type === FRAME_HANDSHAKE_REFUSE) {
      this.#onRefuse(link, payload);
    } else {
      this.#protocolError(link, `expected a handshake reply, got frame type 0x0${type}`);
    }
  }

  #onHandshake(link: Link, hello: Hello): void {
    const from = `${hello.host}:${hello.port}`;
    if (this.#state !== "running") {
      this.#refuse(link, "shutting-down", `${this.#selfKey} is shutting down`);
      return;
    }
    if (hello.system !== this.systemName) {
      const message =
        `system name "${hello.system}" of ${from} does not match "${this.systemName}"`;
      this.#log.error(`Refused handshake: ${message}`);
      this.#refuse(link, "system-mismatch", message);
      return;
    }
    const address = { host: hello.host, port: hello.port };
    const key = formatNodeAddress(address);
    if (key === this.#selfKey) {
      const message = `${from} is this node's own address`;
      this.#log.error(`Refused handshake: ${message}`);
      this.#refuse(link, "address-conflict", message);
      return;
    }
    const peer = this.#peerFor(key, address);
    if (peer.connecting || peer.dialing !== undefined) {
      // Simultaneous connect: the connection dialled by the lower address wins.
      if (compareNodeAddresses(this.selfAddress, address) < 0) {
        this.#log.debug(`Refusing connection from ${from}: our own connection wins the race`);
        this.#refuse(link, "superseded", "the connection dialled by the lower address wins");
        return;
      }
      const mine = peer.dialing;
      peer.dialing = undefined;
      if (mine !== undefined) this.#closeLink(mine, "superseded by the peer's connection", false);
    }
    this.#writeHello(link, FRAME_HANDSHAKE_ACK);
    this.#activate(peer, link, hello);
  }

  #onAck(link: Link, hello: Hello): void {
    let peer = link.peer!;
    if (hello.system !== this.systemName) {
      const message =
        `system name "${hello.system}" of ${peer.key} does not match "${this.systemName}"`;
      this.#log.error(`Handshake failed: ${message}`);
      link.refusal = "system-mismatch";
      this.#closeLink(link, message, false);
      return;
    }
    if (peer.dialing !== link) {
      this.#closeLink(link, "superseded", false);
      return;
    }
    const address = { host: hello.host, port: hello.port };
    const key = formatNodeAddress(address);
    if (key !== peer.key) peer = this.#rekey(peer, link, key, address);
    if (peer.dialing === link) peer.dialing = undefined;
    this.#activate(peer, link, hello);
  }

  /** The dialled address turned out to be an alias of the peer's advertised one. */
  #rekey(peer: Peer, link: Link, key: string, address: NodeAddress): Peer {
    this.#log.debug(`${peer.key} advertises itself as ${key}`);
    this.#aliases.set(peer.key, key);
    this.#generation++;
    const existing = this.#peers.get(key);
    this.#peers.delete(peer.key);
    peer.dialing = undefined;
    if (existing === undefined) {
      peer.key = key;
      peer.address = address;
      this.#peers.set(key, peer);
      return peer;
    }
    for (const envelope of peer.queue.takeAll()) existing.queue.push(envelope);
    this.#wakeWriters(peer);
    peer.retryTimer?.cancel();
    link.peer = existing;
    if (existing.dialing !== undefined) {
      const other = existing.dialing;
      existing.dialing = undefined;
      this.#closeLink(other, "superseded", false);
    }
    return existing;
  }

  #onRefuse(link: Link, payload: Uint8Array): void {
    let reason = "protocol";
    let message = "malformed refusal";
    try {
      const parsed = JSON.parse(textDecoder.decode(payload));
      if (typeof parsed?.reason === "string") reason = parsed.reason;
      if (typeof parsed?.message === "string") message = parsed.message;
    } catch {
      // keep the defaults
    }
    link.refusal = reason;
    if (reason === "superseded" || reason === "shutting-down") {
      this.#log.debug(`${link.peer!.key} refused our connection: ${message}`);
    } else {
      this.#log.error(`${link.peer!.key} refused our handshake: ${message}`, { reason });
    }
    this.#closeLink(link, `refused: ${message}`, false);
  }

  #activate(peer: Peer, link: Link, hello: Hello): void {
    link.state = "active";
    link.timer?.cancel();
    link.timer = undefined;
    link.peer = peer;
    link.identity = Object.freeze({
      host: hello.host,
      port: hello.port,
      incarnation: hello.incarnation,
    });
    link.maxFrame = Math.min(this.#maxFrameSize, hello.maxFrameSize);
    link.decoder.maxFrameSize = this.#maxFrameSize;
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

  #protocolError(link: Link, message: string): void {
    this.#log.error(`Closing connection ${link.describe()}: ${message}`);
    link.refusal ??= "protocol";
    this.#closeLink(link, message, false);
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
      if (this.#state === "running" && peer.queue.length > 0) this.#ensureDial(peer);
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
      if (peer.queue.length > 0) this.#ensureDial(peer);
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
    if (refusal !== undefined && FATAL_REFUSALS.has(refusal)) {
      this.#undeliverable(peer.address, peer.queue.takeAll(), "refused");
      this.#wakeWriters(peer);
    } else if (peer.queue.length > 0 && now - peer.downSince >= this.#unreachableTimeout) {
      this.#log.warn(
        `${peer.key} unreachable for ${
          Math.round(now - peer.downSince)
        } ms; giving up queued envelopes`,
        { queued: peer.queue.length, reason },
      );
      this.#undeliverable(peer.address, peer.queue.takeAll(), "unreachable");
      this.#wakeWriters(peer);
    } else if (refusal !== "superseded") {
      this.#log.debug(`Cannot connect to ${peer.key} (attempt ${peer.attempts}): ${reason}`, {
        retryIn: delay,
      });
    }
    if (peer.queue.length > 0) this.#ensureDial(peer);
  }

  // ---- outbound ----------------------------------------------------------------------

  #peerFor(key: string, address: NodeAddress): Peer {
    let peer = this.#peers.get(key);
    if (peer === undefined) {
      peer = new Peer(key, { host: address.host, port: address.port });
      this.#peers.set(key, peer);
    }
    return peer;
  }

  #resolve(key: string): string {
    return this.#aliases.get(key) ?? key;
  }

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
    const link = peer.active;
    if (link === undefined || link.state !== "active" || peer.continuation !== undefined) return;
    const conn = link.conn;
    let written = 0;
    while (peer.queue.length > 0) {
      const room = this.#highWater - conn.bufferedAmount;
      if (room <= 0) return; // resumed by the connection's drain event
      if (written >= FLUSH_SLICE) {
        // Let reads and other peers run; continue on the next turn of the event loop.
        peer.continuation = setTimeout(() => {
          peer.continuation = undefined;
          this.#flush(peer);
        }, 0);
        return;
      }
      const bytes = this.#encode(peer, link, Math.min(room, WRITE_CHUNK));
      if (bytes !== undefined) {
        conn.write(bytes);
        written += bytes.length;
      }
    }
  }

  /** Takes envelopes off the peer's queue and encodes them as frames, about `target` bytes. */
  #encode(peer: Peer, link: Link, target: number): Uint8Array | undefined {
    const queue = peer.queue;
    const envelopes = this.#batchEnvelopes;
    const recipients = this.#batchRecipients;
    const senders = this.#batchSenders;
    const sizes = this.#batchSizes;
    const maxPayload = link.maxFrame - 1;
    let estimate = 0;
    while (queue.length > 0 && estimate < target) {
      const envelope = queue.peek();
      const recipient = this.#recipients.get(envelope.recipient);
      const sender = envelope.sender === undefined ? undefined : this.#senders.get(envelope.sender);
      const size = envelopeSize(recipient, sender, envelope.payload);
      if (size > maxPayload) {
        queue.shift();
        this.#log.error(
          `Cannot send to "${envelope.recipient}": envelope exceeds the peer's frame size`,
          {
            to: peer.key,
            maxFrameSize: link.maxFrame,
          },
        );
        this.#undeliverable(peer.address, [envelope], "too-large");
        continue;
      }
      if (envelopes.length > 0 && estimate + size + 9 > target) break;
      queue.shift();
      envelopes.push(envelope);
      recipients.push(recipient);
      senders.push(sender);
      sizes.push(size);
      estimate += size + 9;
    }
    const n = envelopes.length;
    if (peer.writeWaiters !== undefined) this.#wakeWriters(peer);
    if (n === 0) return undefined;
    const batchLimit = Math.min(this.#maxBatchBytes, maxPayload);
    // Group consecutive envelopes into batch frames; a group of one is a message frame.
    const groupEnds: number[] = [];
    const groupPayloads: number[] = [];
    let total = 0;
    for (let i = 0; i < n;) {
      let j = i;
      let payload = 0;
      while (j < n && payload + 4 + sizes[j] <= batchLimit) {
        payload += 4 + sizes[j];
        j++;
      }
      if (j - i <= 1) {
        j = i + 1;
        payload = -1;
        total += FRAME_HEADER_SIZE + sizes[i];
      } else {
        total += FRAME_HEADER_SIZE + payload;
      }
      groupEnds.push(j);
      groupPayloads.push(payload);
      i = j;
    }
    const out = new Uint8Array(total);
    let offset = 0;
    let start = 0;
    for (let g = 0; g < groupEnds.length; g++) {
      const end = groupEnds[g];
      const payload = groupPayloads[g];
      if (payload < 0) {
        writeFrameHeader(out, offset, FRAME_MESSAGE, sizes[start]);
        offset = writeEnvelope(
          out,
          offset + FRAME_HEADER_SIZE,
          recipients[start],
          senders[start],
          envelopes[start].payload,
        );
      } else {
        writeFrameHeader(out, offset, FRAME_BATCH, payload);
        offset += FRAME_HEADER_SIZE;
        for (let k = start; k < end; k++) {
          const size = sizes[k];
          out[offset] = size >>> 24;
          out[offset + 1] = (size >>> 16) & 0xff;
          out[offset + 2] = (size >>> 8) & 0xff;
          out[offset + 3] = size & 0xff;
          offset = writeEnvelope(out, offset + 4, recipients[k], senders[k], envelopes[k].payload);
        }
      }
      start = end;
    }
    envelopes.length = 0;
    recipients.length = 0;
    senders.length = 0;
    sizes.length = 0;
    return out;
  }

  // ---- inbound -----------------------------------------------------------------------

  #onMessage(link: Link, bytes: Uint8Array, start: number, end: number): void {
    // A view, not a copy: receive chunks are never reused, and a copy per small payload
    // costs more than the rest of the receive path on V8.
    const envelope = readEnvelope(bytes, start, end, false);
    if (typeof envelope === "string") {
      this.#protocolError(link, `malformed envelope: ${envelope}`);
      return;
    }
    this.#deliver(link.identity!, envelope);
  }

  #onBatch(link: Link, payload: Uint8Array): void {
    const end = payload.length;
    let o = 0;
    while (o < end && link.state === "active") {
      if (end - o < 4) {
        this.#protocolError(link, "malformed batch: truncated entry length");
        return;
      }
      const size = ((payload[o] << 24) | (payload[o + 1] << 16) | (payload[o + 2] << 8) |
        payload[o + 3]) >>> 0;
      o += 4;
      if (size > end - o) {
        this.#protocolError(link, "malformed batch: entry overruns the frame");
        return;
      }
      this.#onMessage(link, payload, o, o + size);
      o += size;
    }
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
    await this.#listener.close();
    for (const peer of this.#peers.values()) {
      peer.retryTimer?.cancel();
      peer.retryTimer = undefined;
      if (peer.continuation !== undefined) clearTimeout(peer.continuation);
      peer.continuation = undefined;
      this.#undeliverable(peer.address, peer.queue.takeAll(), "shutdown");
      this.#wakeWriters(peer);
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

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !(value > 0) || !Number.isFinite(value)) {
    throw new TypeError(`Cannot start transport: ${name} must be a positive number`);
  }
  return value;
}

function parseHello(payload: Uint8Array): Hello | string {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(textDecoder.decode(payload));
  } catch {
    return "handshake is not valid JSON";
  }
  if (typeof parsed !== "object" || parsed === null) return "handshake is not an object";
  const { system, host, port, incarnation, maxFrameSize } = parsed;
  if (typeof system !== "string" || system.length === 0 || system.length > 256) {
    return "handshake has no valid system name";
  }
  if (typeof host !== "string" || host.length === 0 || host.length > 256) {
    return "handshake has no valid host";
  }
  if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
    return "handshake has no valid port";
  }
  if (typeof incarnation !== "string" || incarnation.length === 0 || incarnation.length > 128) {
    return "handshake has no valid incarnation";
  }
  const frame = typeof maxFrameSize === "number" && Number.isInteger(maxFrameSize) &&
      maxFrameSize >= 1024
    ? maxFrameSize
    : DEFAULT_MAX_FRAME_SIZE;
  return { system, host, port, incarnation, maxFrameSize: frame };
}
