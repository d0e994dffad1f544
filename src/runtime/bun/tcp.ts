/**
 * TCP over `Bun.listen` / `Bun.connect`. TLS is delegated to the `node:tls`
 * implementation so that mutual TLS behaves the same on every runtime.
 *
 * @module
 */

import { BaseConnection } from "../_connection.ts";
import { nodeTcp } from "../node/tcp.ts";
import {
  DEFAULT_CONNECT_TIMEOUT,
  type Tcp,
  TcpConnectError,
  type TcpConnection,
  type TcpConnectOptions,
  type TcpListener,
  type TcpListenOptions,
} from "../tcp.ts";

// The slice of Bun's socket API used here, declared locally so that `deno check` passes
// without bun-types.
interface BunSocket {
  data: BunConnection | undefined;
  readonly remoteAddress: string;
  readonly remotePort?: number;
  write(data: Uint8Array, byteOffset?: number, byteLength?: number): number;
  end(): void;
  terminate(): void;
  setNoDelay?(noDelay: boolean): boolean;
  setKeepAlive?(enable: boolean, initialDelay?: number): boolean;
  pause?(): void;
  resume?(): void;
}

interface BunSocketHandler {
  open?(socket: BunSocket): void;
  data(socket: BunSocket, data: Uint8Array): void;
  drain?(socket: BunSocket): void;
  close?(socket: BunSocket, error?: Error): void;
  error?(socket: BunSocket, error: Error): void;
}

interface BunListener {
  readonly port: number;
  stop(closeActiveConnections?: boolean): void;
}

interface BunApi {
  listen(options: { hostname: string; port: number; socket: BunSocketHandler }): BunListener;
  connect(
    options: { hostname: string; port: number; socket: BunSocketHandler },
  ): Promise<BunSocket>;
}

function bun(): BunApi {
  const api = (globalThis as { Bun?: BunApi }).Bun;
  if (api === undefined) throw new TypeError("Cannot use the Bun TCP adapter outside Bun");
  return api;
}

class BunConnection extends BaseConnection {
  #socket: BunSocket;
  #pending: Uint8Array[] = [];
  // Bytes of #pending[0] already written.
  #pendingOffset = 0;
  #buffered = 0;
  #ending = false;
  #done = false;
  #error: Error | undefined;

  constructor(socket: BunSocket) {
    super({ host: socket.remoteAddress, port: socket.remotePort ?? 0 });
    this.#socket = socket;
    socket.data = this;
    socket.setNoDelay?.(true);
    socket.setKeepAlive?.(true, 30);
  }

  get bufferedAmount(): number {
    return this.#buffered;
  }

  /** What the socket does not take at once is copied: callers may reuse their buffers. */
  get copiesWrites(): boolean {
    return true;
  }

  write(bytes: Uint8Array): void {
    if (this.#done || this.#ending || bytes.length === 0) return;
    if (this.#pending.length > 0) {
      this.#pending.push(bytes.slice());
      this.#buffered += bytes.length;
      return;
    }
    const written = Math.max(0, this.#socket.write(bytes));
    if (written < bytes.length) {
      this.#pending.push(bytes.slice(written));
      this.#pendingOffset = 0;
      this.#buffered += bytes.length - written;
    }
  }

  close(): void {
    if (this.#done || this.#ending) return;
    this.#ending = true;
    if (this.#pending.length === 0) this.#socket.end();
  }

  readonly #pauseSocket = () => {
    if (!this.#done) this.#socket.pause?.();
  };
  readonly #resumeSocket = () => {
    if (!this.#done) this.#socket.resume?.();
  };

  pause(): void {
    this.holdReading();
    this.#pauseSocket();
  }

  resume(): void {
    if (this.resumeReading()) this.#resumeSocket();
  }

  destroy(): void {
    if (this.#done) return;
    this.#socket.terminate();
    this.handleClose();
  }

  handleData(data: Uint8Array): void {
    // Bun hands out Buffers; a plain view keeps standard Uint8Array semantics (and speed:
    // subarray on a Buffer goes through its species constructor).
    if (this.#ending) return;
    this.emitDataFairly(
      new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
      this.#pauseSocket,
      this.#resumeSocket,
    );
  }

  handleDrain(): void {
    while (this.#pending.length > 0) {
      const chunk = this.#pending[0];
      const offset = this.#pendingOffset;
      const written = this.#socket.write(chunk, offset, chunk.length - offset);
      if (written <= 0) return;
      this.#buffered -= written;
      if (offset + written < chunk.length) {
        this.#pendingOffset = offset + written;
        return;
      }
      this.#pending.shift();
      this.#pendingOffset = 0;
    }
    if (this.#ending) this.#socket.end();
    else this.emitDrain();
  }

  handleError(error: Error): void {
    this.#error ??= error;
  }

  handleClose(error?: Error): void {
    if (this.#done) return;
    this.#done = true;
    this.#pending = [];
    this.#buffered = 0;
    this.emitClose(error ?? this.#error);
  }
}

function handlers(onOpen?: (socket: BunSocket) => void): BunSocketHandler {
  return {
    open: onOpen,
    data: (socket, data) => socket.data?.handleData(data),
    drain: (socket) => socket.data?.handleDrain(),
    error: (socket, error) => socket.data?.handleError(error),
    close: (socket, error) => socket.data?.handleClose(error ?? undefined),
  };
}

function listen(
  host: string,
  port: number,
  options: TcpListenOptions,
): Promise<TcpListener> {
  if (options.tls) return nodeTcp.listen(host, port, options);
  const server = bun().listen({
    hostname: host,
    port,
    socket: handlers((socket) => options.onAccept(new BunConnection(socket))),
  });
  let stopped = false;
  return Promise.resolve({
    host,
    port: server.port,
    close(): Promise<void> {
      if (!stopped) {
        stopped = true;
        server.stop(false);
      }
      return Promise.resolve();
    },
  });
}

async function connect(
  host: string,
  port: number,
  options: TcpConnectOptions = {},
): Promise<TcpConnection> {
  if (options.tls) return nodeTcp.connect(host, port, options);
  const timeout = options.timeout ?? DEFAULT_CONNECT_TIMEOUT;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let timedOut = false;
  // The connection object is made in `open`, before any data callback can run.
  const attempt = bun().connect({
    hostname: host,
    port,
    socket: handlers((socket) => void new BunConnection(socket)),
  });
  const expiry = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timedOut = true;
      reject(new TcpConnectError(host, port, "timeout"));
    }, timeout);
  });
  try {
    const socket = await Promise.race([attempt, expiry]);
    return socket.data ?? new BunConnection(socket);
  } catch (error) {
    if (timedOut) {
      // The dial may still succeed later; nobody wants that socket any more.
      attempt.then((socket) => socket.terminate(), () => {});
      throw error;
    }
    throw new TcpConnectError(host, port, "failed", { cause: error });
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The `Bun.listen` / `Bun.connect` implementation of {@linkcode Tcp} (Bun only).
 *
 * @example Echo over loopback (under Bun)
 * ```ts ignore
 * import assert from "node:assert/strict";
 * import { bunTcp } from "./tcp.ts";
 * const listener = await bunTcp.listen("127.0.0.1", 0, {
 *   onAccept: (conn) => conn.onData((chunk) => conn.write(chunk)),
 * });
 * const conn = await bunTcp.connect("127.0.0.1", listener.port);
 * const echoed = new Promise<Uint8Array>((resolve) => conn.onData(resolve));
 * conn.write(new Uint8Array([1, 2, 3]));
 * assert.ok((await echoed).length === 3);
 * conn.destroy();
 * await listener.close();
 * ```
 */
export const bunTcp: Tcp = { name: "bun", listen, connect };
