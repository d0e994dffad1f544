// Wire frames between nodes: [u32 BE length][u8 type][payload], where `length` counts the
// type byte plus the payload. The decoder is incremental (any chunking), validates the
// length against a maximum before buffering a body, and reports malformed input as a value
// instead of throwing into socket callbacks.

import { CastyError } from "../actor/errors.ts";

/** Dialer → acceptor: JSON `{ v, system, host, port, incarnation, maxFrameSize, nonce }`. */
export const FRAME_HANDSHAKE = 0x00;
/** One envelope (see `_envelope_codec.ts`). */
export const FRAME_MESSAGE = 0x01;
/** Acceptor → dialer: the handshake is accepted (the last handshake frame); JSON `{}`. */
export const FRAME_HANDSHAKE_ACK = 0x02;
/** Either side: the handshake is refused; JSON `{ reason }` that reveals nothing more. */
export const FRAME_HANDSHAKE_REFUSE = 0x03;
/** Several envelopes, each as `[u32 BE length][envelope]`. */
export const FRAME_BATCH = 0x04;
/**
 * Acceptor → dialer: its identity, its nonce and, with a shared secret, its proof; JSON
 * `{ v, host, port, incarnation, maxFrameSize, nonce, proof? }`.
 */
export const FRAME_HANDSHAKE_CHALLENGE = 0x05;
/** Dialer → acceptor: the dialer's proof (with a shared secret); JSON `{ proof? }`. */
export const FRAME_HANDSHAKE_AUTH = 0x06;

/** Every frame type this version understands. */
export type FrameType =
  | typeof FRAME_HANDSHAKE
  | typeof FRAME_MESSAGE
  | typeof FRAME_HANDSHAKE_ACK
  | typeof FRAME_HANDSHAKE_REFUSE
  | typeof FRAME_BATCH
  | typeof FRAME_HANDSHAKE_CHALLENGE
  | typeof FRAME_HANDSHAKE_AUTH;

/** Bytes before the payload: the length and the type. */
export const FRAME_HEADER_SIZE = 5;
/** The default maximum of a frame's `length` field (type byte + payload): 16 MiB. */
export const DEFAULT_MAX_FRAME_SIZE: number = 16 * 1024 * 1024;

/**
 * Whether `type` is a known frame type.
 *
 * @example
 * ```ts
 * import { FRAME_BATCH, isFrameType } from "./_framing.ts";
 * import assert from "node:assert/strict";
 * assert.ok(isFrameType(FRAME_BATCH) && !isFrameType(0x7f));
 * ```
 */
export function isFrameType(type: number): type is FrameType {
  return type >= FRAME_HANDSHAKE && type <= FRAME_HANDSHAKE_AUTH;
}

/**
 * Writes a frame header for a payload of `payloadLength` bytes at `offset`.
 *
 * @example
 * ```ts
 * import { FRAME_MESSAGE, writeFrameHeader } from "./_framing.ts";
 * const out = new Uint8Array(5);
 * writeFrameHeader(out, 0, FRAME_MESSAGE, 3);
 * import assert from "node:assert/strict";
 * assert.ok(out[3] === 4 && out[4] === FRAME_MESSAGE);
 * ```
 */
export function writeFrameHeader(
  target: Uint8Array,
  offset: number,
  type: FrameType,
  payloadLength: number,
): void {
  const length = payloadLength + 1;
  target[offset] = length >>> 24;
  target[offset + 1] = (length >>> 16) & 0xff;
  target[offset + 2] = (length >>> 8) & 0xff;
  target[offset + 3] = length & 0xff;
  target[offset + 4] = type;
}

/**
 * Encodes one complete frame.
 *
 * @example
 * ```ts
 * import { encodeFrame, FRAME_MESSAGE } from "./_framing.ts";
 * const frame = encodeFrame(FRAME_MESSAGE, new Uint8Array([7]));
 * import assert from "node:assert/strict";
 * assert.equal(frame.join(), "0,0,0,2,1,7");
 * ```
 */
export function encodeFrame(type: FrameType, payload: Uint8Array): Uint8Array {
  const frame = new Uint8Array(FRAME_HEADER_SIZE + payload.length);
  writeFrameHeader(frame, 0, type, payload.length);
  frame.set(payload, FRAME_HEADER_SIZE);
  return frame;
}

/** What was wrong with a frame. */
export type FrameErrorKind = "zero-length" | "oversized" | "unknown-type" | "truncated";

/**
 * Malformed input on a connection; the connection must be closed.
 *
 * @example
 * ```ts
 * import { FrameError } from "./_framing.ts";
 * const err = new FrameError("oversized", "too big");
 * import assert from "node:assert/strict";
 * assert.ok(err.code === "BAD_FRAME" && err.kind === "oversized");
 * ```
 */
export class FrameError extends CastyError {
  /** What was wrong. */
  readonly kind: FrameErrorKind;
  /** Creates a FrameError. */
  constructor(kind: FrameErrorKind, message: string) {
    super("BAD_FRAME", message);
    this.name = "FrameError";
    this.kind = kind;
  }
}

/** Options of {@linkcode FrameDecoder}. */
export interface FrameDecoderOptions {
  /**
   * The largest accepted `length` field (type byte + payload).
   *
   * @default {DEFAULT_MAX_FRAME_SIZE}
   */
  maxFrameSize?: number;
}

/** Receives a decoded frame; `payload` may be a view into the chunk passed to `push`. */
export type FrameHandler = (type: FrameType, payload: Uint8Array) => void;

/** Bytes first allocated for a frame body that did not arrive whole; it grows as bytes arrive. */
const INITIAL_BODY_BYTES = 64 * 1024;

/**
 * Incremental frame decoder for one connection: accepts any chunking, checks each length
 * against {@linkcode FrameDecoder.maxFrameSize} before buffering the body, allocates a body
 * as its bytes arrive (a header claiming 16 MiB followed by silence holds 64 KiB, not
 * 16 MiB), and returns errors instead of throwing.
 *
 * @example
 * ```ts
 * import { encodeFrame, FRAME_MESSAGE, FrameDecoder } from "./_framing.ts";
 * const decoder = new FrameDecoder({ maxFrameSize: 1024 });
 * const frame = encodeFrame(FRAME_MESSAGE, new Uint8Array([1, 2]));
 * let seen = 0;
 * decoder.push(frame.subarray(0, 3), () => seen++);
 * decoder.push(frame.subarray(3), () => seen++);
 * import assert from "node:assert/strict";
 * assert.equal(seen, 1);
 * const bad = decoder.push(new Uint8Array([0, 0, 0, 0]), () => {});
 * assert.equal(bad?.kind, "zero-length");
 * ```
 */
export class FrameDecoder {
  /** The largest accepted `length`; may be changed between frames (after a handshake). */
  maxFrameSize: number;
  #header = new Uint8Array(FRAME_HEADER_SIZE);
  #headerFill = 0;
  #body: Uint8Array | undefined;
  #bodySize = 0;
  #bodyFill = 0;
  #bodyType: FrameType = FRAME_MESSAGE;
  #error: FrameError | undefined;
  #stopped = false;

  constructor(options: FrameDecoderOptions = {}) {
    this.maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
  }

  /** The error that poisoned this decoder, if any. */
  get error(): FrameError | undefined {
    return this.#error;
  }

  /** Bytes of an incomplete frame held so far. */
  get bufferedBytes(): number {
    return this.#headerFill + this.#bodyFill;
  }

  /** Bytes allocated for the incomplete frame's body (at most twice what has arrived, or 64 KiB). */
  get allocatedBytes(): number {
    return this.#body?.length ?? 0;
  }

  /** Makes every later `push` (including the rest of the current one) a no-op. */
  stop(): void {
    this.#stopped = true;
  }

  /**
   * Feeds bytes; calls `onFrame` for every complete frame, in order.
   *
   * @returns The error if the input is malformed (the same error on every later call).
   */
  push(chunk: Uint8Array, onFrame: FrameHandler): FrameError | undefined {
    if (this.#error !== undefined) return this.#error;
    const end = chunk.length;
    let pos = 0;
    while (pos < end && !this.#stopped) {
      if (this.#body !== undefined) {
        const take = Math.min(this.#bodySize - this.#bodyFill, end - pos);
        const body = this.#reserve(this.#bodyFill + take);
        body.set(chunk.subarray(pos, pos + take), this.#bodyFill);
        this.#bodyFill += take;
        pos += take;
        if (this.#bodyFill === this.#bodySize) {
          this.#body = undefined;
          this.#bodyFill = 0;
          onFrame(this.#bodyType, body);
        }
        continue;
      }
      if (this.#headerFill === 0 && end - pos >= FRAME_HEADER_SIZE) {
        // Fast path: a whole header in this chunk.
        const length = ((chunk[pos] << 24) | (chunk[pos + 1] << 16) | (chunk[pos + 2] << 8) |
          chunk[pos + 3]) >>> 0;
        const type = chunk[pos + 4];
        const error = this.#validate(length) ?? this.#validateType(type);
        if (error !== undefined) return this.#fail(error);
        const start = pos + FRAME_HEADER_SIZE;
        const bodyEnd = start + length - 1;
        if (bodyEnd <= end) {
          pos = bodyEnd;
          onFrame(type as FrameType, chunk.subarray(start, bodyEnd));
        } else {
          this.#startBody(type as FrameType, length - 1);
          pos = start;
        }
        continue;
      }
      // Slow path: the header straddles chunks.
      const header = this.#header;
      while (this.#headerFill < FRAME_HEADER_SIZE && pos < end) {
        header[this.#headerFill++] = chunk[pos++];
      }
      if (this.#headerFill >= 4) {
        const length = ((header[0] << 24) | (header[1] << 16) | (header[2] << 8) | header[3]) >>>
          0;
        const error = this.#validate(length);
        if (error !== undefined) return this.#fail(error);
        if (this.#headerFill === FRAME_HEADER_SIZE) {
          const typeError = this.#validateType(header[4]);
          if (typeError !== undefined) return this.#fail(typeError);
          this.#headerFill = 0;
          if (length === 1) onFrame(header[4] as FrameType, new Uint8Array(0));
          else this.#startBody(header[4] as FrameType, length - 1);
        }
      }
    }
    return undefined;
  }

  /**
   * Call when the stream ends.
   *
   * @returns A `"truncated"` error if a frame was incomplete.
   */
  finish(): FrameError | undefined {
    if (this.#error !== undefined) return this.#error;
    if (!this.#stopped && this.bufferedBytes > 0) {
      return this.#fail(
        new FrameError(
          "truncated",
          `Cannot decode frame: stream ended after ${this.bufferedBytes} bytes of an incomplete frame`,
        ),
      );
    }
    return undefined;
  }

  #startBody(type: FrameType, size: number): void {
    this.#body = new Uint8Array(Math.min(size, INITIAL_BODY_BYTES));
    this.#bodySize = size;
    this.#bodyFill = 0;
    this.#bodyType = type;
  }

  /** The body buffer, grown (doubling, capped at the frame's size) to hold `needed` bytes. */
  #reserve(needed: number): Uint8Array {
    const body = this.#body!;
    if (needed <= body.length) return body;
    const grown = new Uint8Array(Math.min(this.#bodySize, Math.max(needed, body.length * 2)));
    grown.set(body.subarray(0, this.#bodyFill));
    this.#body = grown;
    return grown;
  }

  #validate(length: number): FrameError | undefined {
    if (length === 0) {
      return new FrameError("zero-length", "Cannot decode frame: length 0 (no type byte)");
    }
    if (length > this.maxFrameSize) {
      return new FrameError(
        "oversized",
        `Cannot decode frame: length ${length} exceeds the maximum of ${this.maxFrameSize} bytes`,
      );
    }
    return undefined;
  }

  #validateType(type: number): FrameError | undefined {
    return isFrameType(type)
      ? undefined
      : new FrameError("unknown-type", `Cannot decode frame: unknown frame type 0x${hex(type)}`);
  }

  #fail(error: FrameError): FrameError {
    this.#error = error;
    this.#body = undefined;
    this.#headerFill = 0;
    this.#bodyFill = 0;
    return error;
  }
}

function hex(n: number): string {
  return n.toString(16).padStart(2, "0");
}
