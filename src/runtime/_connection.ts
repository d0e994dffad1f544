// Shared plumbing of the runtime adapters: handler registration, chunks that arrive before
// a data handler exists, and close/drain notification exactly once per event.

import type { SocketAddress, TcpConnection } from "./tcp.ts";

/** Base of every adapter's connection; subclasses move bytes, this class moves events. */
export abstract class BaseConnection implements TcpConnection {
  readonly remoteAddress: SocketAddress;
  #dataHandler: ((chunk: Uint8Array) => void) | undefined;
  #early: Uint8Array[] = [];
  #closeHandlers: ((error?: Error) => void)[] = [];
  #drainHandlers: (() => void)[] = [];
  #closed = false;
  #closeError: Error | undefined;

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
