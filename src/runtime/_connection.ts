// Shared plumbing of the runtime adapters: handler registration, chunks that arrive before
// a data handler exists, and close/drain notification exactly once per event.

import { setImmediate } from "node:timers";
import type { SocketAddress, TcpConnection } from "./tcp.ts";

/**
 * A socket that always has data waiting must not starve the rest of the process (timers,
 * heartbeats, lease renewals, other sockets): once its reads have run this long (ms) without a
 * turn of the event loop, reading pauses until the next turn. On Deno a read that finds data
 * waiting resolves without a turn (and so do `node:net`'s data events there); a node receiving
 * a client's burst stalled its timers for 350–860 ms.
 */
export const READ_SLICE_MS = 5;

/** Base of every adapter's connection; subclasses move bytes, this class moves events. */
export abstract class BaseConnection implements TcpConnection {
  readonly remoteAddress: SocketAddress;
  #dataHandler: ((chunk: Uint8Array) => void) | undefined;
  #early: Uint8Array[] = [];
  #closeHandlers: ((error?: Error) => void)[] = [];
  #drainHandlers: (() => void)[] = [];
  #closed = false;
  #closeError: Error | undefined;
  /** When the current run of reads without a turn of the event loop began (-1: none). */
  #sliceStart = -1;
  #yielding = false;
  #held = false;
  readonly #endSlice = () => {
    this.#sliceStart = -1;
  };

  constructor(remoteAddress: SocketAddress) {
    this.remoteAddress = remoteAddress;
  }

  abstract get bufferedAmount(): number;
  abstract write(bytes: Uint8Array): void;
  abstract close(): void;
  abstract pause(): void;
  abstract resume(): void;
  abstract destroy(): void;

  get closed(): boolean {
    return this.#closed;
  }

  onData(handler: (chunk: Uint8Array) => void): void {
    this.#dataHandler = handler;
    const early = this.#early;
    this.#early = [];
    for (const chunk of early) this.#deliver(chunk);
  }

  onClose(handler: (error?: Error) => void): void {
    if (this.#closed) queueMicrotask(() => handler(this.#closeError));
    else this.#closeHandlers.push(handler);
  }

  onDrain(handler: () => void): void {
    this.#drainHandlers.push(handler);
  }

  /** Called by subclasses with each chunk read. */
  protected emitData(chunk: Uint8Array): void {
    if (this.#closed) return;
    if (this.#dataHandler === undefined) this.#early.push(chunk);
    else this.#deliver(chunk);
  }

  /**
   * For adapters whose reads arrive as socket events: emits `chunk`, then pauses reading with
   * `pauseSocket` until the next turn of the event loop once reads have run
   * {@linkcode READ_SLICE_MS} without one (`resumeSocket` then, unless the caller paused).
   */
  protected emitDataFairly(
    chunk: Uint8Array,
    pauseSocket: () => void,
    resumeSocket: () => void,
  ): void {
    if (this.#sliceStart < 0) {
      this.#sliceStart = performance.now();
      setImmediate(this.#endSlice); // any turn of the event loop ends the run
    }
    this.emitData(chunk);
    if (this.#yielding || this.#closed || performance.now() - this.#sliceStart < READ_SLICE_MS) {
      return;
    }
    this.#yielding = true;
    pauseSocket();
    setImmediate(() => {
      this.#yielding = false;
      if (!this.#held && !this.#closed) resumeSocket();
    });
  }

  /** Subclasses call it from `pause()`: reading stays paused until `resumeReading`. */
  protected holdReading(): void {
    this.#held = true;
  }

  /** Subclasses call it from `resume()`: whether to resume the socket now (not mid-yield). */
  protected resumeReading(): boolean {
    this.#held = false;
    return !this.#yielding;
  }

  /** Called by subclasses when the write buffer became empty. */
  protected emitDrain(): void {
    if (this.#closed) return;
    for (const handler of this.#drainHandlers) handler();
  }

  /** Called by subclasses once the socket is gone; later calls are ignored. */
  protected emitClose(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeError = error;
    this.#early = [];
    const handlers = this.#closeHandlers;
    this.#closeHandlers = [];
    this.#drainHandlers = [];
    for (const handler of handlers) handler(error);
  }

  #deliver(chunk: Uint8Array): void {
    try {
      this.#dataHandler!(chunk);
    } catch (error) {
      // A throwing handler is a bug in the layer above; make it visible through onClose
      // instead of letting it escape into the runtime's socket callback.
      this.emitClose(error instanceof Error ? error : new Error(String(error)));
      this.destroy();
    }
  }
}
