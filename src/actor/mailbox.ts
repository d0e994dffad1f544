/**
 * Mailbox configuration and the queue behind it.
 *
 * @module
 */

/** What a bounded mailbox does when it is full. */
export type OverflowStrategy = "dropNew" | "dropOldest" | "backpressure";

/** Options of {@linkcode Mailbox}. */
export interface MailboxOptions {
  /**
   * Maximum number of queued messages; `undefined` means unbounded.
   * @default {undefined}
   */
  capacity?: number;
  /**
   * What to do when full: drop the incoming message, drop the oldest queued one (both become
   * `DeadLetter`s), or `"backpressure"`: `tell` throws `MailboxFullError` and `send` waits.
   * @default {"dropNew"}
   */
  overflow?: OverflowStrategy;
}

/**
 * The mailbox configuration of an actor. The default is unbounded.
 *
 * @example
 * ```ts
 * import { ActorSystem, Behaviors, Mailbox } from "@casty/casty";
 * await using system = new ActorSystem();
 * const ref = system.spawn(Behaviors.ignore<string>(), "bounded", {
 *   mailbox: new Mailbox({ capacity: 100, overflow: "dropOldest" }),
 * });
 * ref.tell("x");
 * ```
 */
export class Mailbox {
  /** Capacity, or `undefined` for unbounded. */
  readonly capacity: number | undefined;
  /** Overflow strategy. */
  readonly overflow: OverflowStrategy;

  /**
   * Creates a Mailbox.
   *
   * @param options Capacity and overflow strategy.
   * @throws {RangeError} when the capacity is not a positive integer.
   * @throws {TypeError} when the overflow strategy is unknown.
   */
  constructor(options: MailboxOptions = {}) {
    const { capacity, overflow = "dropNew" } = options;
    if (capacity !== undefined && (!Number.isInteger(capacity) || capacity < 1)) {
      throw new RangeError(`Mailbox capacity must be a positive integer, got ${capacity}`);
    }
    if (overflow !== "dropNew" && overflow !== "dropOldest" && overflow !== "backpressure") {
      throw new TypeError(
        `Mailbox overflow must be "dropNew", "dropOldest" or "backpressure", got "${overflow}"`,
      );
    }
    this.capacity = capacity;
    this.overflow = overflow;
  }

  /** The default unbounded mailbox. */
  static readonly unbounded: Mailbox = new Mailbox();
}

/** @internal A growable ring buffer: O(1) push and shift, no per-message allocation. */
export class RingQueue<T> {
  #buf: (T | undefined)[];
  #head = 0;
  #size = 0;
  #mask: number;

  constructor(initialCapacity = 8) {
    let cap = 2;
    while (cap < initialCapacity) cap <<= 1;
    this.#buf = new Array(cap);
    this.#mask = cap - 1;
  }

  get length(): number {
    return this.#size;
  }

  push(value: T): void {
    if (this.#size === this.#buf.length) this.#grow();
    this.#buf[(this.#head + this.#size) & this.#mask] = value;
    this.#size++;
  }

  shift(): T | undefined {
    if (this.#size === 0) return undefined;
    const value = this.#buf[this.#head];
    this.#buf[this.#head] = undefined;
    this.#head = (this.#head + 1) & this.#mask;
    this.#size--;
    return value;
  }

  peek(): T | undefined {
    return this.#size === 0 ? undefined : this.#buf[this.#head];
  }

  clear(): T[] {
    const out: T[] = [];
    while (this.#size > 0) out.push(this.shift() as T);
    return out;
  }

  #grow(): void {
    const old = this.#buf;
    const next = new Array<T | undefined>(old.length * 2);
    for (let i = 0; i < this.#size; i++) next[i] = old[(this.#head + i) & this.#mask];
    this.#buf = next;
    this.#head = 0;
    this.#mask = next.length - 1;
  }
}
