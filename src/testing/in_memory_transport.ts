/**
 * A {@linkcode Transport} on an {@linkcode InMemoryNetwork} and a simulated clock: whole
 * `ClusteredActorSystem`s run in one process, deterministically, with connections that are
 * made by a handshake, break under partitions and kills, and report every envelope they cannot
 * deliver.
 *
 * @module
 */
import type { Cancellable, Clock } from "../actor/clock.ts";
import { formatNodeAddress, type NodeAddress } from "../remote/address.ts";
import { consoleLogger, type Logger } from "../actor/logger.ts";
import type {
  Envelope,
  PeerIdentity,
  Transport,
  TransportHandlers,
  UndeliverableReason,
} from "../remote/transport.ts";
import { InMemoryNetwork } from "./in_memory_network.ts";
import type { SimulatedClock } from "./simulated_clock.ts";

/** The first retransmission of an unanswered hello, as TCP resends a SYN (then doubling). */
const HELLO_RETRANSMIT_MS = 1000;

/**
 * What an {@linkcode InMemoryTransport} sends over its {@linkcode InMemoryNetwork}: handshake,
 * acknowledgement, refusal and envelope frames.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TransportFrame } from "@casty/casty/testing";
 * const f: TransportFrame = { type: "refuse", reason: "system-mismatch" };
 * assert.equal(f.type, "refuse");
 * ```
 */

export type TransportFrame =
  | {
    readonly type: "hello";
    readonly system: string;
    readonly identity: PeerIdentity;
  }
  | { readonly type: "ack"; readonly link: number; readonly identity: PeerIdentity }
  | { readonly type: "refuse"; readonly reason: string }
  | { readonly type: "envelope"; readonly link: number; readonly envelope: Envelope };

/**
 * Makes an {@linkcode InMemoryNetwork} for in-memory transports: binary payloads are passed as
 * they are (never through JSON), counted by their size, and kept in order per pair of nodes.
 *
 * @param clock The simulated clock.
 * @param latency One-way delay in ms (fixed or per message).
 * @default {1}
 * @returns The network.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SimulatedClock, transportNetwork } from "@casty/casty/testing";
 * const net = transportNetwork(new SimulatedClock());
 * assert.equal(net.stats.messages, 0);
 * ```
 */
export function transportNetwork(
  clock: SimulatedClock,
  latency: number | ((from: NodeAddress, to: NodeAddress) => number) = 1,
): InMemoryNetwork<TransportFrame> {
  return new InMemoryNetwork<TransportFrame>(
    clock,
    {
      latency,
      serialize: false,
      fifo: true,
      measure: (f: TransportFrame) =>
        f.type === "envelope"
          ? f.envelope.payload.length + f.envelope.recipient.length +
            (f.envelope.sender?.length ?? 0) + 9
          : 64,
    },
  );
}

/**
 * Options of {@linkcode InMemoryTransport}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type InMemoryTransportOptions, SimulatedClock, transportNetwork } from "@casty/casty/testing";
 * const clock = new SimulatedClock();
 * const o: InMemoryTransportOptions = {
 *   network: transportNetwork(clock), clock, systemName: "s",
 *   address: { host: "127.0.0.1", port: 1 }, incarnation: "i1", outboundQueueLimit: 10,
 * };
 * assert.equal(o.outboundQueueLimit, 10);
 * ```
 */
export interface InMemoryTransportOptions extends TransportHandlers {
  /** The shared network (see {@linkcode transportNetwork}). */
  readonly network: InMemoryNetwork<TransportFrame>;
  /** The clock of every timer (the network's simulated clock). */
  readonly clock: Clock;
  /** The actor system's name; peers with another one are refused. */
  readonly systemName: string;
  /** The address this node listens on and advertises. */
  readonly address: NodeAddress;
  /** This run's incarnation id (the node identity). */
  readonly incarnation: string;
  /**
   * User-lane envelopes queued per peer before new ones overflow to `onUndeliverable`.
   * @default {100000}
   */
  readonly outboundQueueLimit?: number;
  /**
   * Milliseconds a dial waits for the handshake's answer.
   * @default {5000}
   */
  readonly connectTimeout?: number;
  /**
   * Milliseconds without a connection after which queued envelopes are undeliverable.
   * @default {30000}
   */
  readonly unreachableTimeout?: number;
  /** Pause between dials: `min` doubling up to `max` ms. @default {{ min: 100, max: 2000 }} */
  readonly reconnectBackoff?: { readonly min?: number; readonly max?: number };
  /**
   * Largest envelope payload, in bytes.
   * @default {16777216}
   */
  readonly maxFrameSize?: number;
  /** Where connection events are logged. Defaults to warnings and errors on the console. */
  readonly logger?: Logger;
}

/** A connection between two transports, shared by both ends so that both see it break. */
interface Link {
  readonly id: number;
  open: boolean;
  readonly ends: Map<string, InMemoryTransport>;
}

/** Per network: the live transports by address and the open link of each pair. */
interface Registry {
  readonly transports: Map<string, InMemoryTransport>;
  readonly links: Map<string, Link>;
  nextLink: number;
}

const registries = new WeakMap<object, Registry>();

function registryOf(network: object): Registry {
  let r = registries.get(network);
  if (r === undefined) {
    r = { transports: new Map(), links: new Map(), nextLink: 1 };
    registries.set(network, r);
  }
  return r;
}

function pairKey(a: string, b: string): string {
  return a < b ? `${a}|${b}` : `${b}|${a}`;
}

class Peer {
  readonly key: string;
  readonly address: NodeAddress;
  link: Link | undefined;
  identity: PeerIdentity | undefined;
  control: Envelope[] = [];
  user: Envelope[] = [];
  userBytes = 0;
  dialTimer: Cancellable | undefined;
  retryTimer: Cancellable | undefined;
  unreachableTimer: Cancellable | undefined;
  attempts = 0;
  waiters: (() => void)[] | undefined;
  constructor(key: string, address: NodeAddress) {
    this.key = key;
    this.address = address;
  }
}

/**
 * A transport over an {@linkcode InMemoryNetwork}: the in-process twin of `TcpTransport` that
 * `testCluster` runs whole clusters on.
 *
 * Connections are made by a handshake (hello → ack, or a refusal for another system name) over
 * the network, so they take the network's latency and fail under its partitions; a send across
 * a partition breaks the connection at both ends (`onPeerDisconnected`), and the envelopes wait
 * in the peer's queue while dials are retried with backoff, until `unreachableTimeout` makes them
 * undeliverable. A killed transport ({@linkcode InMemoryTransport.kill}) vanishes like a crashed
 * process: its connections break and nothing it had queued is reported.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InMemoryTransport, SimulatedClock, transportNetwork } from "@casty/casty/testing";
 * const clock = new SimulatedClock();
 * const network = transportNetwork(clock);
 * const got: string[] = [];
 * const a = new InMemoryTransport({
 *   network, clock, systemName: "demo", address: { host: "127.0.0.1", port: 1 }, incarnation: "a1",
 * });
 * const b = new InMemoryTransport({
 *   network, clock, systemName: "demo", address: { host: "127.0.0.1", port: 2 }, incarnation: "b1",
 *   onInbound: (from, env) => got.push(`${from.incarnation}:${new TextDecoder().decode(env.payload)}`),
 * });
 * a.send(b.selfAddress, { recipient: "/x", payload: new TextEncoder().encode("hi") });
 * clock.advance(10);
 * assert.deepEqual(got, ["a1:hi"]);
 * await a.shutdown();
 * await b.shutdown();
 * ```
 */
export class InMemoryTransport implements Transport {
  /** The system name. */
  readonly systemName: string;
  /** The advertised address. */
  readonly selfAddress: NodeAddress;
  /** This run's incarnation id. */
  readonly incarnation: string;
  readonly #network: InMemoryNetwork<TransportFrame>;
  readonly #registry: Registry;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #key: string;
  readonly #identity: PeerIdentity;
  readonly #peers = new Map<string, Peer>();
  readonly #queueLimit: number;
  readonly #connectTimeout: number;
  readonly #unreachableTimeout: number;
  readonly #backoffMin: number;
  readonly #backoffMax: number;
  readonly #maxFrameSize: number;
  #handlers: TransportHandlers;
  #selfQueue: Envelope[] = [];
  #accepting = true;
  #state: "running" | "stopped" = "running";

  /**
   * Creates a transport and attaches it to the network at `options.address`.
   *
   * @param options Network, clock, identity, limits and callbacks.
   * @throws {Error} when another live transport is attached at that address.
   */
  constructor(options: InMemoryTransportOptions) {
    this.systemName = options.systemName;
    this.selfAddress = Object.freeze({ host: options.address.host, port: options.address.port });
    this.incarnation = options.incarnation;
    this.#network = options.network;
    this.#registry = registryOf(options.network);
    this.#clock = options.clock;
    this.#log = options.logger ?? consoleLogger("warn", "[casty:in-memory-transport]");
    this.#key = formatNodeAddress(this.selfAddress);
    this.#identity = Object.freeze({ ...this.selfAddress, incarnation: this.incarnation });
    this.#queueLimit = options.outboundQueueLimit ?? 100_000;
    this.#connectTimeout = options.connectTimeout ?? 5000;
    this.#unreachableTimeout = options.unreachableTimeout ?? 30_000;
    this.#backoffMin = options.reconnectBackoff?.min ?? 100;
    this.#backoffMax = options.reconnectBackoff?.max ?? 2000;
    this.#maxFrameSize = options.maxFrameSize ?? 16 * 1024 * 1024;
    this.#handlers = pickHandlers(options);
    if (this.#registry.transports.has(this.#key)) {
      throw new Error(`Cannot listen on ${this.#key}: the address is in use`);
    }
    this.#registry.transports.set(this.#key, this);
    this.#network.attach(this.selfAddress, (from, frame) => this.#onFrame(from, frame));
  }

  /** Peers with an open connection. */
  connectedPeers(): PeerIdentity[] {
    const result: PeerIdentity[] = [];
    for (const p of this.#peers.values()) if (p.link?.open && p.identity) result.push(p.identity);
    return result;
  }

  /** Whether the transport was shut down or killed. */
  get isStopped(): boolean {
    return this.#state === "stopped";
  }

  /**
   * Sends an envelope to `to`: at once over an open connection, else queued while dialling.
   * Never throws; what cannot be delivered goes to `onUndeliverable`.
   */
  send(to: NodeAddress, envelope: Envelope): void {
    if (this.#state !== "running") {
      this.#undeliverable(to, [envelope], "shutdown");
      return;
    }
    if (envelope.payload.length > this.#maxFrameSize) {
      this.#log.error(`Cannot send to "${envelope.recipient}": envelope exceeds the frame size`);
      this.#undeliverable(to, [envelope], "too-large");
      return;
    }
    const key = formatNodeAddress(to);
    if (key === this.#key) {
      this.#sendToSelf(envelope);
      return;
    }
    const peer = this.#peerFor(key, to);
    const link = peer.link;
    if (link !== undefined && link.open) {
      if (!this.#network.isBlocked(this.selfAddress, peer.address)) {
        this.#network.send(this.selfAddress, peer.address, {
          type: "envelope",
          link: link.id,
          envelope: copy(envelope),
        });
        return;
      }
      // A partition: the connection breaks at both ends; this envelope waits for the next one.
      this.#closeLink(link, "connection lost (partition)");
    }
    if (envelope.lane === "control") {
      peer.control.push(envelope);
    } else {
      if (peer.user.length >= this.#queueLimit) {
        this.#undeliverable(peer.address, [envelope], "queue-overflow");
        return;
      }
      peer.user.push(envelope);
      peer.userBytes += envelope.payload.length;
    }
    this.#dial(peer);
  }

  /** User-lane envelopes queued for `to`, waiting for a connection. */
  queuedCount(to: NodeAddress): number {
    return this.#peers.get(formatNodeAddress(to))?.user.length ?? 0;
  }

  /** Payload bytes of the user-lane envelopes queued for `to`. */
  queuedBytes(to: NodeAddress): number {
    return this.#peers.get(formatNodeAddress(to))?.userBytes ?? 0;
  }

  /**
   * Resolves once `to`'s user-lane queue has room (at once when it has); rejects with the
   * signal's reason when `signal` aborts first.
   */
  whenWritable(to: NodeAddress, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const peer = this.#peers.get(formatNodeAddress(to));
    if (peer === undefined || peer.user.length < this.#queueLimit || this.#state !== "running") {
      return Promise.resolve();
    }
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    const waiters = (peer.waiters ??= []);
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

  /**
   * Drops every envelope queued for `to` (both lanes), each reported as undeliverable with
   * `reason`; returns how many.
   */
  dropQueued(to: NodeAddress, reason: UndeliverableReason = "unreachable"): number {
    const peer = this.#peers.get(formatNodeAddress(to));
    if (peer === undefined) return 0;
    return this.#giveUp(peer, reason);
  }

  /** Replaces the callbacks (fields left out are removed). */
  setHandlers(handlers: TransportHandlers): void {
    this.#handlers = pickHandlers(handlers);
  }

  /**
   * Closes every connection and detaches from the network; queued envelopes go to
   * `onUndeliverable` as `"shutdown"`.
   */
  shutdown(): Promise<void> {
    if (this.#state === "stopped") return Promise.resolve();
    for (const peer of this.#peers.values()) this.#giveUp(peer, "shutdown");
    this.#stop("peer shut down");
    return Promise.resolve();
  }

  /**
   * Vanishes like a killed process: no callback is called any more, connections break (peers
   * see them close), queued envelopes are lost silently, and the address is free for a new
   * incarnation.
   */
  kill(): void {
    if (this.#state === "stopped") return;
    this.#handlers = {};
    for (const peer of this.#peers.values()) {
      peer.control = [];
      peer.user = [];
      peer.userBytes = 0;
    }
    this.#stop("connection reset (peer killed)");
  }

  /**
   * Stops accepting new connections, as a closed listening socket would: hellos go unanswered
   * (the dialer retries, keeping its queue); open connections stay until shutdown.
   *
   * @returns A resolved promise.
   */
  stopAccepting(): Promise<void> {
    this.#accepting = false;
    return Promise.resolve();
  }

  /** Same as {@linkcode InMemoryTransport.shutdown}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }

  #stop(reason: string): void {
    this.#state = "stopped";
    for (const peer of this.#peers.values()) {
      if (peer.link?.open) this.#closeLink(peer.link, reason);
      this.#cancelTimers(peer);
      this.#wake(peer);
    }
    this.#network.detach(this.selfAddress);
    if (this.#registry.transports.get(this.#key) === this) {
      this.#registry.transports.delete(this.#key);
    }
  }

  #peerFor(key: string, address: NodeAddress): Peer {
    let peer = this.#peers.get(key);
    if (peer === undefined) {
      peer = new Peer(key, { host: address.host, port: address.port });
      this.#peers.set(key, peer);
    }
    return peer;
  }

  #sendToSelf(envelope: Envelope): void {
    this.#selfQueue.push(envelope);
    if (this.#selfQueue.length > 1) return;
    queueMicrotask(() => {
      const batch = this.#selfQueue;
      this.#selfQueue = [];
      for (const env of batch) this.#call(() => this.#handlers.onInbound?.(this.#identity, env));
    });
  }

  // ---- dialling ---------------------------------------------------------------------------

  #dial(peer: Peer): void {
    if (this.#state !== "running" || peer.dialTimer || peer.retryTimer || peer.link?.open) return;
    peer.unreachableTimer ??= this.#clock.setTimeout(() => {
      peer.unreachableTimer = undefined;
      if (!peer.link?.open) {
        const n = this.#giveUp(peer, "unreachable");
        if (n > 0) this.#log.warn(`${peer.key} unreachable: ${n} envelope(s) undeliverable`);
      }
    }, this.#unreachableTimeout);
    peer.attempts++;
    // Like TCP's SYN retransmissions (after 1 s, then 2 s, 4 s, …): a hello lost on a cut link is
    // sent again until `connectTimeout`, so a dial started during a cut connects about a second
    // after the heal, not only once the connect timeout ran out and the next dial came.
    const deadline = this.#clock.now() + this.#connectTimeout;
    let rto = HELLO_RETRANSMIT_MS;
    const arm = () => {
      peer.dialTimer = this.#clock.setTimeout(() => {
        peer.dialTimer = undefined;
        if (this.#clock.now() >= deadline) return this.#dialFailed(peer, "connect timeout");
        if (this.#state !== "running" || peer.link?.open) return;
        this.#sendHello(peer);
        rto *= 2;
        arm();
      }, Math.max(1, Math.min(rto, deadline - this.#clock.now())));
    };
    arm();
    if (!this.#network.isAttached(peer.address)) {
      // Nobody listens there: refused at once (after one hop), like ECONNREFUSED.
      // (`arm` set it: the narrowing above does not see that.)
      (peer.dialTimer as Cancellable | undefined)?.cancel();
      peer.dialTimer = this.#clock.setTimeout(() => {
        peer.dialTimer = undefined;
        this.#dialFailed(peer, "connection refused");
      }, 1);
      return;
    }
    this.#sendHello(peer);
  }

  #sendHello(peer: Peer): void {
    this.#network.send(this.selfAddress, peer.address, {
      type: "hello",
      system: this.systemName,
      identity: this.#identity,
    });
  }

  #dialFailed(peer: Peer, reason: string): void {
    if (this.#state !== "running" || peer.link?.open) return;
    this.#log.debug(`Cannot connect to ${peer.key}: ${reason}`);
    if (peer.control.length === 0 && peer.user.length === 0) return;
    const delay = Math.min(
      this.#backoffMax,
      this.#backoffMin * 2 ** Math.min(20, peer.attempts - 1),
    );
    peer.retryTimer = this.#clock.setTimeout(() => {
      peer.retryTimer = undefined;
      if (peer.control.length > 0 || peer.user.length > 0) this.#dial(peer);
    }, delay);
  }

  #onFrame(fromAddress: NodeAddress, frame: TransportFrame): void {
    if (this.#state !== "running") return;
    const key = formatNodeAddress(fromAddress);
    switch (frame.type) {
      case "hello":
        return this.#onHello(key, fromAddress, frame.system, frame.identity);
      case "ack": {
        const link = this.#registry.links.get(pairKey(this.#key, key));
        if (link !== undefined && link.id === frame.link && link.open) {
          this.#adopt(this.#peerFor(key, fromAddress), link, frame.identity);
        }
        return;
      }
      case "refuse": {
        const peer = this.#peers.get(key);
        if (peer === undefined) return;
        this.#log.error(`Connection to ${key} refused: ${frame.reason}`);
        peer.dialTimer?.cancel();
        peer.dialTimer = undefined;
        this.#giveUp(peer, "refused");
        return;
      }
      case "envelope": {
        const peer = this.#peers.get(key);
        let link = peer?.link;
        if (link === undefined || link.id !== frame.link) {
          // The first envelope on a connection whose ack is still on its way confirms it.
          const shared = this.#registry.links.get(pairKey(this.#key, key));
          if (shared === undefined || shared.id !== frame.link || !shared.open) return;
          const sender = this.#registry.transports.get(key);
          if (sender === undefined) return;
          const identity = sender.#identity;
          link = shared;
          this.#adopt(this.#peerFor(key, fromAddress), link, identity);
        }
        if (!link.open) return; // lost with the broken connection
        const from = this.#peers.get(key)!.identity!;
        this.#call(() => this.#handlers.onInbound?.(from, frame.envelope));
        return;
      }
    }
  }

  #onHello(key: string, address: NodeAddress, system: string, identity: PeerIdentity): void {
    if (!this.#accepting) return; // no listener any more: the dialer times out and retries
    if (system !== this.systemName) {
      this.#log.error(`Refused ${key}: system "${system}" is not "${this.systemName}"`);
      this.#network.send(this.selfAddress, address, { type: "refuse", reason: "system-mismatch" });
      return;
    }
    const pk = pairKey(this.#key, key);
    let link = this.#registry.links.get(pk);
    const dialer = this.#registry.transports.get(key);
    if (dialer === undefined || dialer.incarnation !== identity.incarnation) return; // died since
    if (link !== undefined && link.open && !link.ends.has(key)) link = undefined;
    if (link === undefined || !link.open || link.ends.get(key) !== dialer) {
      if (link?.open) this.#closeLink(link, "replaced by a new incarnation");
      link = { id: this.#registry.nextLink++, open: true, ends: new Map() };
      link.ends.set(this.#key, this);
      link.ends.set(key, dialer);
      this.#registry.links.set(pk, link);
    }
    this.#adopt(this.#peerFor(key, address), link, identity);
    this.#network.send(this.selfAddress, address, {
      type: "ack",
      link: link.id,
      identity: this.#identity,
    });
  }

  /** Makes `link` this side's connection to `peer`, then flushes what waited for it. */
  #adopt(peer: Peer, link: Link, identity: PeerIdentity): void {
    if (peer.link === link && peer.identity?.incarnation === identity.incarnation) return;
    peer.link = link;
    peer.identity = identity;
    peer.attempts = 0;
    peer.dialTimer?.cancel();
    peer.dialTimer = undefined;
    peer.retryTimer?.cancel();
    peer.retryTimer = undefined;
    peer.unreachableTimer?.cancel();
    peer.unreachableTimer = undefined;
    this.#log.debug(`Connected to ${peer.key}`, { incarnation: identity.incarnation });
    this.#call(() => this.#handlers.onPeerConnected?.(identity));
    // Control envelopes never wait behind user envelopes.
    const queued = [...peer.control, ...peer.user];
    peer.control = [];
    peer.user = [];
    peer.userBytes = 0;
    for (const env of queued) this.send(peer.address, env);
    this.#wake(peer);
  }

  /** Breaks a connection at both ends. */
  #closeLink(link: Link, reason: string): void {
    if (!link.open) return;
    link.open = false;
    for (const [, end] of link.ends) end.#linkClosed(link, reason);
  }

  #linkClosed(link: Link, reason: string): void {
    for (const peer of this.#peers.values()) {
      if (peer.link !== link) continue;
      peer.link = undefined;
      const identity = peer.identity;
      this.#log.debug(`Disconnected from ${peer.key}: ${reason}`);
      if (identity !== undefined) {
        this.#call(() => this.#handlers.onPeerDisconnected?.(identity, reason));
      }
      if (peer.control.length > 0 || peer.user.length > 0) this.#dial(peer);
    }
  }

  #giveUp(peer: Peer, reason: UndeliverableReason): number {
    const lost = [...peer.control, ...peer.user];
    peer.control = [];
    peer.user = [];
    peer.userBytes = 0;
    this.#undeliverable(peer.address, lost, reason);
    this.#wake(peer);
    return lost.length;
  }

  #cancelTimers(peer: Peer): void {
    peer.dialTimer?.cancel();
    peer.retryTimer?.cancel();
    peer.unreachableTimer?.cancel();
    peer.dialTimer = peer.retryTimer = peer.unreachableTimer = undefined;
  }

  #wake(peer: Peer): void {
    const waiters = peer.waiters;
    if (
      waiters === undefined || (peer.user.length >= this.#queueLimit && this.#state === "running")
    ) return;
    // Wake as many waiters as there is room for (all of them once stopped).
    const room = this.#state === "running" ? this.#queueLimit - peer.user.length : waiters.length;
    const woken = waiters.splice(0, Math.max(0, room));
    if (waiters.length === 0) peer.waiters = undefined;
    for (const wake of woken) wake();
  }

  #undeliverable(to: NodeAddress, envelopes: Envelope[], reason: UndeliverableReason): void {
    if (envelopes.length === 0) return;
    const handler = this.#handlers.onUndeliverable;
    if (handler === undefined) return;
    for (const env of envelopes) this.#call(() => handler(to, env, reason));
  }

  #call(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#log.error(`transport callback threw: ${(err as Error)?.message ?? err}`);
    }
  }
}

function copy(envelope: Envelope): Envelope {
  return { ...envelope, payload: envelope.payload.slice() };
}

function pickHandlers(h: TransportHandlers): TransportHandlers {
  return {
    onInbound: h.onInbound,
    onUndeliverable: h.onUndeliverable,
    onPeerConnected: h.onPeerConnected,
    onPeerDisconnected: h.onPeerDisconnected,
  };
}
