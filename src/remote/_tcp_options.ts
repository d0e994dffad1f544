// The options of TcpTransport.start, and the checks of their numbers.

import type { Clock } from "../actor/clock.ts";
import type { Logger } from "../actor/logger.ts";
import type { Tcp, TlsOptions } from "../runtime/tcp.ts";
import type { TransportHandlers } from "./transport.ts";

/** Exponential backoff between connection attempts to a peer. */
export interface ReconnectBackoff {
  /**
   * Delay after the first failure, in milliseconds.
   *
   * @default {100}
   */
  readonly min?: number;
  /**
   * Longest delay, in milliseconds. Short, because it bounds how long a link stays down after
   * the network heals (heartbeats and gossip wait for it): one dial every 2 s to a dead peer is
   * cheap, 10 s of a healed partition still looking cut is not.
   *
   * @default {2000}
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
  /**
   * Mutual TLS for every connection. A peer's certificate must also name (SAN DNS or IP) the
   * host the peer claims in the handshake, unless `tls.verifyHostname` is `false`.
   */
  readonly tls?: TlsOptions;
  /**
   * A secret shared by every node of the cluster, proven in each handshake by both sides
   * (HMAC-SHA256 challenge-response over fresh nonces and the claimed identities; the secret
   * never crosses the wire). A peer without it cannot complete a handshake.
   */
  readonly secret?: string;
  /**
   * Accept unauthenticated peers on a non-loopback address (neither `tls` nor `secret`),
   * with a loud warning. Without it such a bind throws {@linkcode InsecureBindError}.
   *
   * @default {false}
   */
  readonly insecure?: boolean;
  /**
   * Milliseconds without a byte in either direction after which a connection is closed
   * (cluster heartbeats keep cluster links busy); 0 never closes idle connections.
   *
   * @default {60000}
   */
  readonly idleTimeout?: number;
  /**
   * Open connections (handshaking or not) beyond which new inbound ones are closed at once.
   *
   * @default {1024}
   */
  readonly maxConnections?: number;
  /**
   * Inbound connections still handshaking beyond which new inbound ones are closed at once.
   *
   * @default {256}
   */
  readonly maxHandshakes?: number;
  /**
   * Envelopes delivered to `onInbound` and not yet processed by the receiver (such as the
   * messages waiting in the mailboxes of the actors they were delivered to). When it reaches
   * `maxInboundBacklog` envelopes, or `maxInboundBacklogBytes` at the average size of recent
   * inbound envelopes, the transport stops reading from its main connections — TCP flow
   * control then slows the senders — until the backlog is back under half of both. Control
   * connections keep reading. Without it, inbound envelopes are read as fast as they arrive.
   */
  readonly inboundBacklog?: () => number;
  /**
   * The inbound backlog, in envelopes, at which reading pauses (see `inboundBacklog`).
   *
   * @default {100000}
   */
  readonly maxInboundBacklog?: number;
  /**
   * The inbound backlog, in payload bytes (estimated from the average inbound envelope), at
   * which reading pauses (see `inboundBacklog`).
   *
   * @default {33554432}
   */
  readonly maxInboundBacklogBytes?: number;
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
   * Envelopes queued per peer on the user lane (not yet written to its socket) before new
   * ones overflow to `onUndeliverable`.
   *
   * @default {100000}
   */
  readonly outboundQueueLimit?: number;
  /**
   * Payload bytes queued per peer on each lane before new envelopes overflow to
   * `onUndeliverable` (an envelope is always accepted into an empty lane). A payload that is
   * still text (remote tells with the default serializer) counts its UTF-16 length.
   *
   * @default {67108864}
   */
  readonly outboundQueueBytes?: number;
  /**
   * Envelopes queued per peer on the control lane (`lane: "control"`: heartbeats, gossip,
   * system messages), which is written before the user lane and bounded separately.
   *
   * @default {100000}
   */
  readonly controlQueueLimit?: number;
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

/** `value`, or `fallback` when it is left out; throws unless it is a finite number ≥ 0. */
export function nonNegative(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !(value >= 0) || !Number.isFinite(value)) {
    throw new TypeError(`Cannot start transport: ${name} must be a non-negative number`);
  }
  return value;
}

/** `value`, or `fallback` when it is left out; throws unless it is a finite number > 0. */
export function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !(value > 0) || !Number.isFinite(value)) {
    throw new TypeError(`Cannot start transport: ${name} must be a positive number`);
  }
  return value;
}
