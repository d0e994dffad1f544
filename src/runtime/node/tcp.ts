/**
 * TCP and TLS over `node:net` / `node:tls`. This is the fallback on any runtime that has
 * Node compatibility, and the TLS implementation on every runtime.
 *
 * @module
 */

import * as net from "node:net";
import * as tls from "node:tls";
import { readFileSync } from "node:fs";
import { BaseConnection } from "../_connection.ts";
import {
  DEFAULT_CONNECT_TIMEOUT,
  type Tcp,
  TcpConnectError,
  type TcpConnection,
  type TcpConnectOptions,
  type TcpListener,
  type TcpListenOptions,
  type TlsOptions,
} from "../tcp.ts";

class NodeConnection extends BaseConnection {
  #socket: net.Socket;
  #error: Error | undefined;

  constructor(socket: net.Socket) {
    super({ host: socket.remoteAddress ?? "", port: socket.remotePort ?? 0 });
    this.#socket = socket;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, KEEPALIVE_DELAY);
    const pause = () => socket.pause();
    const resume = () => {
      if (!socket.destroyed) socket.resume();
    };
    socket.on("data", (data: Uint8Array) => {
      // A plain view: Buffer's slice() shares memory, Uint8Array's copies, and callers
      // should get the standard semantics.
      this.emitDataFairly(
        new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
        pause,
        resume,
      );
    });
    socket.on("drain", () => this.emitDrain());
    socket.on("error", (error: Error) => {
      this.#error ??= error;
    });
    socket.on("close", () => this.emitClose(this.#error));
  }

  get bufferedAmount(): number {
    return this.#socket.writableLength;
  }

  get peerNames(): readonly string[] | undefined {
    if (!(this.#socket instanceof tls.TLSSocket)) return undefined;
    return subjectAltNames(this.#socket.getPeerCertificate()?.subjectaltname);
  }

  write(bytes: Uint8Array): void {
    if (this.closed || this.#socket.writableEnded) return;
    this.#socket.write(bytes);
  }

  close(): void {
    if (!this.closed) this.#socket.end();
  }

  pause(): void {
    this.holdReading();
    this.#socket.pause();
  }

  resume(): void {
    if (this.resumeReading()) this.#socket.resume();
  }

  destroy(): void {
    this.#socket.destroy();
  }
}

/** Milliseconds of silence before TCP keepalive probes start. */
const KEEPALIVE_DELAY = 30_000;

/**
 * The DNS and IP entries of a certificate's `subjectaltname` string
 * (`"DNS:localhost, IP Address:127.0.0.1"`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { subjectAltNames } from "./tcp.ts";
 * assert.deepEqual(subjectAltNames("DNS:a.example, IP Address:127.0.0.1, email:x@y"), [
 *   "a.example",
 *   "127.0.0.1",
 * ]);
 * ```
 */
export function subjectAltNames(san: string | undefined): string[] {
  if (!san) return [];
  const names: string[] = [];
  for (const part of san.split(/,\s*/)) {
    const m = /^(DNS|IP Address):(.+)$/.exec(part.trim());
    if (m) names.push(m[2].trim());
  }
  return names;
}

/** Reads a PEM value that is either PEM text or a path to a PEM file. */
export function resolvePem(value: string): string {
  return value.includes("-----BEGIN") ? value : readFileSync(value, "utf8");
}

function secureContextOptions(options: TlsOptions): tls.SecureContextOptions {
  return {
    cert: resolvePem(options.cert),
    key: resolvePem(options.key),
    ca: resolvePem(options.ca),
  };
}

async function listen(
  host: string,
  port: number,
  options: TcpListenOptions,
): Promise<TcpListener> {
  const accept = (socket: net.Socket) => options.onAccept(new NodeConnection(socket));
  const server = options.tls
    ? tls.createServer(
      { ...secureContextOptions(options.tls), requestCert: true, rejectUnauthorized: true },
      accept,
    )
    : net.createServer({ noDelay: true }, accept);
  // A client that fails the TLS handshake (no certificate, wrong CA) must not take the
  // server down; the socket is already destroyed by node:tls.
  server.on("tlsClientError", (error: Error) => options.onError?.(error));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", (error: Error) => options.onError?.(error));
  const bound = server.address() as net.AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    host,
    port: bound.port,
    close(): Promise<void> {
      // server.close's callback waits for every accepted connection to end; we only stop
      // accepting, the owners of the connections close them.
      closing ??= new Promise((resolve) => {
        server.close();
        setTimeout(resolve, 0);
      });
      return closing;
    },
  };
}

function connect(
  host: string,
  port: number,
  options: TcpConnectOptions = {},
): Promise<TcpConnection> {
  const timeout = options.timeout ?? DEFAULT_CONNECT_TIMEOUT;
  return new Promise((resolve, reject) => {
    let socket: net.Socket;
    let connectEvent: string;
    if (options.tls) {
      const checkIdentity = options.tls.verifyHostname === false
        ? { checkServerIdentity: () => undefined }
        : {};
      socket = tls.connect({ host, port, ...secureContextOptions(options.tls), ...checkIdentity });
      connectEvent = "secureConnect";
    } else {
      socket = net.connect({ host, port, noDelay: true });
      connectEvent = "connect";
    }
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new TcpConnectError(host, port, "timeout"));
    }, timeout);
    const onError = (error: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(new TcpConnectError(host, port, "failed", { cause: error }));
    };
    socket.once("error", onError);
    socket.once(connectEvent, () => {
      clearTimeout(timer);
      socket.off("error", onError);
      resolve(new NodeConnection(socket));
    });
  });
}

/**
 * The `node:net` / `node:tls` implementation of {@linkcode Tcp}.
 *
 * @example Echo over loopback
 * ```ts
 * import assert from "node:assert/strict";
 * import { nodeTcp } from "./tcp.ts";
 * const listener = await nodeTcp.listen("127.0.0.1", 0, {
 *   onAccept: (conn) => conn.onData((chunk) => conn.write(chunk)),
 * });
 * const conn = await nodeTcp.connect("127.0.0.1", listener.port);
 * const echoed = new Promise<Uint8Array>((resolve) => conn.onData(resolve));
 * conn.write(new Uint8Array([1, 2, 3]));
 * assert.ok((await echoed).length === 3);
 * conn.destroy();
 * await listener.close();
 * ```
 */
export const nodeTcp: Tcp = { name: "node", listen, connect };
