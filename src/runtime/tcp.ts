/**
 * The one small TCP interface that the rest of casty programs against. Each runtime
 * implements it in its own folder (`deno/`, `bun/`, `node/`); `select.ts` picks one at
 * start-up. TLS (always mutual) goes through `node:tls` on every runtime.
 *
 * @module
 */

import { CastyError } from "../actor/errors.ts";

/** A host and port pair as seen on a socket. */
export interface SocketAddress {
  /** Host name or IP address. */
  readonly host: string;
  /** TCP port. */
  readonly port: number;
}

/**
 * Mutual TLS material: this node's certificate chain and private key, and the CA that
 * peers' certificates must chain to. Values are PEM text, or paths to PEM files.
 */
export interface TlsOptions {
  /** PEM certificate (chain) of this node, or a path to it. */
  readonly cert: string;
  /** PEM private key of this node, or a path to it. */
  readonly key: string;
  /** PEM certificate(s) of the CA that peers must present a certificate from, or a path. */
  readonly ca: string;
  /**
   * Whether a client checks that the server certificate's SANs match the dialled host
   * (an IP SAN for an IP address). Certificates made by `tests/_fixtures/tls/make.sh`
   * carry `IP:127.0.0.1` and `DNS:localhost`, so the check can stay on.
   *
   * @default {true}
   */
  readonly verifyHostname?: boolean;
}

/** Options of {@linkcode Tcp.listen}. */
export interface TcpListenOptions {
  /** Called with each accepted connection (after the TLS handshake, with TLS). */
  readonly onAccept: (connection: TcpConnection) => void;
  /** Mutual TLS; plain TCP when absent. */
  readonly tls?: TlsOptions;
  /**
   * Called with failures that belong to no accepted connection, such as a client that
   * fails the TLS handshake (no certificate, unknown CA).
   */
  readonly onError?: (error: Error) => void;
}

/** Options of {@linkcode Tcp.connect}. */
export interface TcpConnectOptions {
  /**
   * Milliseconds to wait for the connection (and TLS handshake) before giving up.
   *
   * @default {5000}
   */
  readonly timeout?: number;
  /** Mutual TLS; plain TCP when absent. */
  readonly tls?: TlsOptions;
}

/** A bound server socket. */
export interface TcpListener {
  /** The host the listener is bound to. */
  readonly host: string;
  /** The port actually bound (useful when listening on port 0). */
  readonly port: number;
  /** Stops accepting connections; connections already accepted stay open. */
  close(): Promise<void>;
}

/**
 * A connected byte stream. Writes never lose bytes: when the socket cannot take them
 * they are buffered and flushed as it drains, and {@linkcode TcpConnection.bufferedAmount}
 * tells callers how much is waiting so they can apply backpressure.
 */
export interface TcpConnection {
  /** The peer's address. */
  readonly remoteAddress: SocketAddress;
  /** Bytes accepted by `write` that the socket has not taken yet. */
  readonly bufferedAmount: number;
  /** True once the connection is closed (by either side) or destroyed. */
  readonly closed: boolean;
  /**
   * With TLS, the names in the peer certificate's subject alternative names (DNS names and
   * IP addresses, as written); `undefined` on plain TCP.
   */
  readonly peerNames?: readonly string[];
  /**
   * Queues bytes for sending. The caller must not modify `bytes` afterwards. Writing to a
   * closed connection does nothing.
   */
  write(bytes: Uint8Array): void;
  /**
   * True when `write` never keeps `bytes` after it returns (what the socket does not take at
   * once is copied), so that the caller may reuse its buffer for the next write.
   */
  readonly copiesWrites?: boolean;
  /**
   * Sets the data handler. Each chunk is a fresh buffer owned by the handler. Chunks that
   * arrived before a handler was set are delivered when it is set.
   */
  onData(handler: (chunk: Uint8Array) => void): void;
  /** Adds a handler called once when the connection closes, with the error if it failed. */
  onClose(handler: (error?: Error) => void): void;
  /** Adds a handler called whenever the write buffer becomes empty after having data. */
  onDrain(handler: () => void): void;
  /**
   * Stops reading from the socket until {@linkcode TcpConnection.resume}: the kernel's receive
   * buffer fills and TCP flow control slows the sender.
   */
  pause(): void;
  /** Reads again after {@linkcode TcpConnection.pause}. */
  resume(): void;
  /** Flushes what is buffered, then closes. */
  close(): void;
  /** Closes at once, discarding buffered bytes. */
  destroy(): void;
}

/** A runtime's TCP implementation. */
export interface Tcp {
  /** Which implementation this is. */
  readonly name: "deno" | "bun" | "node";
  /**
   * Binds a listening socket.
   *
   * @param host Host or IP address to bind.
   * @param port Port to bind, 0 for any free port.
   * @param options Accept callback and optional TLS.
   * @returns The listener, with the port actually bound.
   */
  listen(host: string, port: number, options: TcpListenOptions): Promise<TcpListener>;
  /**
   * Opens a connection with TCP_NODELAY on.
   *
   * @param host Host to dial.
   * @param port Port to dial.
   * @param options Timeout and optional TLS.
   * @returns The connection.
   * @throws {TcpConnectError} When the connection fails or times out.
   */
  connect(host: string, port: number, options?: TcpConnectOptions): Promise<TcpConnection>;
}

/**
 * A TCP (or TLS) connection could not be established.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TcpConnectError } from "@casty/casty/remote";
 * const err = new TcpConnectError("127.0.0.1", 1, "timeout");
 * assert.equal(err.code, "TCP_CONNECT");
 * assert.equal(err.message, "Cannot connect to 127.0.0.1:1: timed out");
 * ```
 */
export class TcpConnectError extends CastyError {
  /** The dialled host. */
  readonly host: string;
  /** The dialled port. */
  readonly port: number;
  /** Why it failed. */
  readonly reason: "timeout" | "failed";
  /**
   * Creates a TcpConnectError.
   *
   * @param host Dialled host.
   * @param port Dialled port.
   * @param reason `"timeout"` or `"failed"`.
   * @param options Optional cause.
   */
  constructor(host: string, port: number, reason: "timeout" | "failed", options?: {
    cause?: unknown;
  }) {
    const detail = reason === "timeout"
      ? "timed out"
      : String((options?.cause as Error | undefined)?.message ?? "failed");
    super("TCP_CONNECT", `Cannot connect to ${host}:${port}: ${detail}`, options);
    this.name = "TcpConnectError";
    this.host = host;
    this.port = port;
    this.reason = reason;
  }
}

/** The default connect timeout in milliseconds. */
export const DEFAULT_CONNECT_TIMEOUT = 5000;
