/**
 * TCP over `Deno.listen` / `Deno.connect`. TLS is delegated to the `node:tls`
 * implementation, which supports the mutual authentication casty needs.
 *
 * @module
 */

import { setImmediate } from "node:timers";
import { BaseConnection, READ_SLICE_MS } from "../_connection.ts";
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

const READ_BUFFER_SIZE = 256 * 1024;
// After an accept error (EMFILE, ENFILE, ECONNABORTED, ...) the listener waits this long,
// doubling up to ACCEPT_RETRY_MAX, and accepts again.
const ACCEPT_RETRY_MIN = 10;
const ACCEPT_RETRY_MAX = 1000;
// Small queued writes are merged into one syscall up to this size.
const COALESCE_LIMIT = 1024 * 1024;

class DenoConnection extends BaseConnection {
  #conn: Deno.TcpConn;
  #queue: Uint8Array[] = [];
  #buffered = 0;
  #writing = false;
  #ending = false;
  #done = false;
  #paused = false;
  #wake: (() => void) | undefined;

  constructor(conn: Deno.TcpConn) {
    const remote = conn.remoteAddr as Deno.NetAddr;
    super({ host: remote.hostname, port: remote.port });
    this.#conn = conn;
    conn.setNoDelay(true);
    conn.setKeepAlive(true);
    void this.#readLoop();
  }

  get bufferedAmount(): number {
    return this.#buffered;
  }

  write(bytes: Uint8Array): void {
    if (this.#done || this.#ending || bytes.length === 0) return;
    this.#queue.push(bytes);
    this.#buffered += bytes.length;
    if (!this.#writing) void this.#writeLoop();
  }

  close(): void {
    if (this.#done || this.#ending) return;
    this.#ending = true;
    if (!this.#writing) void this.#shutdownWrite();
  }

  destroy(): void {
    this.#finish();
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async #readLoop(): Promise<void> {
    const buffer = new Uint8Array(READ_BUFFER_SIZE);
    let slice = performance.now();
    try {
      while (!this.#done) {
        if (this.#paused) {
          await new Promise<void>((resolve) => this.#wake = resolve);
          slice = performance.now();
          continue;
        }
        const n = await this.#conn.read(buffer);
        if (n === null) break;
        if (!this.#ending) this.emitData(buffer.slice(0, n));
        // A read that finds data waiting resolves without a turn of the event loop.
        if (performance.now() - slice >= READ_SLICE_MS) {
          await new Promise<void>((resolve) => void setImmediate(resolve));
          slice = performance.now();
        }
      }
      this.#finish();
    } catch (error) {
      this.#finish(this.#done ? undefined : asError(error));
    }
  }

  async #writeLoop(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#queue.length > 0 && !this.#done) {
        const chunk = this.#takeChunk();
        let offset = 0;
        while (offset < chunk.length) {
          offset += await this.#conn.write(chunk.subarray(offset));
        }
        this.#buffered -= chunk.length;
      }
    } catch (error) {
      this.#writing = false;
      this.#finish(asError(error));
      return;
    }
    this.#writing = false;
    if (this.#done) return;
    if (this.#ending) void this.#shutdownWrite();
    else this.emitDrain();
  }

  #takeChunk(): Uint8Array {
    const queue = this.#queue;
    const first = queue.shift()!;
    if (queue.length === 0 || first.length >= COALESCE_LIMIT) return first;
    let size = first.length;
    let count = 0;
    while (count < queue.length && size + queue[count].length <= COALESCE_LIMIT) {
      size += queue[count].length;
      count++;
    }
    if (count === 0) return first;
    const merged = new Uint8Array(size);
    merged.set(first, 0);
    let offset = first.length;
    for (const part of queue.splice(0, count)) {
      merged.set(part, offset);
      offset += part.length;
    }
    return merged;
  }

  async #shutdownWrite(): Promise<void> {
    // Half-close: the peer sees EOF after every byte we wrote, closes its side, and our
    // read loop's EOF then releases the socket.
    try {
      await this.#conn.closeWrite();
    } catch {
      this.#finish();
    }
  }

  #finish(error?: Error): void {
    if (this.#done) return;
    this.#done = true;
    this.resume();
    this.#queue = [];
    this.#buffered = 0;
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
    this.emitClose(error);
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function listen(
  host: string,
  port: number,
  options: TcpListenOptions,
): Promise<TcpListener> {
  if (options.tls) return nodeTcp.listen(host, port, options);
  const listener = Deno.listen({ hostname: host, port, transport: "tcp" });
  const bound = listener.addr as Deno.NetAddr;
  let closed = false;
  let retry: { timer: ReturnType<typeof setTimeout>; wake: () => void } | undefined;
  const acceptLoop = (async () => {
    let delay = ACCEPT_RETRY_MIN;
    while (!closed) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (closed || error instanceof Deno.errors.BadResource) return;
        // One failed accept (out of file descriptors, an aborted connection) must not end
        // the listener: report it, back off briefly, and accept again.
        const err = asError(error);
        options.onError?.(
          new Error(`accept failed (${err.message}); retrying in ${delay} ms`, { cause: err }),
        );
        await new Promise<void>((resolve) => {
          retry = { timer: setTimeout(resolve, delay), wake: resolve };
        });
        retry = undefined;
        delay = Math.min(ACCEPT_RETRY_MAX, delay * 2);
        continue;
      }
      delay = ACCEPT_RETRY_MIN;
      try {
        options.onAccept(new DenoConnection(conn));
      } catch (error) {
        options.onError?.(asError(error));
      }
    }
  })();
  return Promise.resolve({
    host,
    port: bound.port,
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      if (retry !== undefined) {
        clearTimeout(retry.timer);
        retry.wake();
      }
      try {
        listener.close();
      } catch {
        // already closed
      }
      await acceptLoop;
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
  const abort = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    abort.abort();
  }, timeout);
  try {
    const conn = await Deno.connect({
      hostname: host,
      port,
      transport: "tcp",
      signal: abort.signal,
    });
    return new DenoConnection(conn);
  } catch (error) {
    throw new TcpConnectError(host, port, timedOut ? "timeout" : "failed", { cause: error });
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The `Deno.listen` / `Deno.connect` implementation of {@linkcode Tcp} (Deno only).
 *
 * @example Echo over loopback
 * ```ts
 * import assert from "node:assert/strict";
 * import { denoTcp } from "./tcp.ts";
 * const listener = await denoTcp.listen("127.0.0.1", 0, {
 *   onAccept: (conn) => conn.onData((chunk) => conn.write(chunk)),
 * });
 * const conn = await denoTcp.connect("127.0.0.1", listener.port);
 * const echoed = new Promise<Uint8Array>((resolve) => conn.onData(resolve));
 * conn.write(new Uint8Array([1, 2, 3]));
 * assert.ok((await echoed).length === 3);
 * conn.destroy();
 * await listener.close();
 * ```
 */
export const denoTcp: Tcp = { name: "deno", listen, connect };
