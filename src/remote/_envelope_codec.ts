// Binary form of an envelope inside MESSAGE and BATCH frames:
//   [u16 BE recipient length][recipient UTF-8][u16 BE sender length | 0xFFFF = none]
//   [sender UTF-8][payload: the rest]
// Paths repeat a lot, so their UTF-8 bytes are cached on the way out and decoded with an
// ASCII fast path on the way in.

import type { Envelope } from "./transport.ts";

/** Sender length value meaning "no sender". */
const NO_SENDER = 0xffff;
/** The longest recipient or sender path, in UTF-8 bytes. */
export const MAX_PATH_BYTES = 0xfffe;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * An outbound envelope whose payload is still JSON text: the transport writes the text straight
 * into its batch buffer as UTF-8 (no `Uint8Array` per message, no copy). Anything else that
 * reads `payload` (a dead letter, a self-send, another transport) gets the bytes, encoded once.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { queuedSize, TextEnvelope } from "./_envelope_codec.ts";
 * const envelope = new TextEnvelope("/user/a", '"é"', "user");
 * assert.deepEqual([...envelope.payload], [0x22, 0xc3, 0xa9, 0x22]);
 * assert.equal(envelope.payload, envelope.payload); // encoded once
 * assert.equal(queuedSize(envelope), 3);
 * ```
 */
export class TextEnvelope implements Envelope {
  readonly recipient: string;
  readonly lane: "control" | "user";
  /** The payload as text; its UTF-8 bytes are the payload. */
  readonly text: string;
  constructor(recipient: string, text: string, lane: "control" | "user") {
    this.recipient = recipient;
    this.text = text;
    this.lane = lane;
  }
  /** The UTF-8 bytes of `text`, encoded on first use (kept aside: no field per envelope). */
  get payload(): Uint8Array {
    let bytes = textBytes.get(this);
    if (bytes === undefined) {
      bytes = encoder.encode(this.text);
      textBytes.set(this, bytes);
    }
    return bytes;
  }
}

const textBytes = new WeakMap<TextEnvelope, Uint8Array>();

/**
 * What an outbound envelope counts for in the byte bounds of a queue: its payload's length,
 * or a text payload's UTF-16 length (its bytes for ASCII; the memory the string holds).
 */
export function queuedSize(envelope: Envelope): number {
  return envelope instanceof TextEnvelope ? envelope.text.length : envelope.payload.length;
}

/** A bounded string → UTF-8 cache (cleared wholesale when full: paths are few and hot). */
export class Utf8Cache {
  #map = new Map<string, Uint8Array>();
  #limit: number;
  #lastText = "";
  #lastBytes: Uint8Array = new Uint8Array(0);
  constructor(limit = 4096) {
    this.#limit = limit;
  }
  get(text: string): Uint8Array {
    if (text === this.#lastText) return this.#lastBytes;
    let bytes = this.#map.get(text);
    if (bytes === undefined) {
      bytes = encoder.encode(text);
      if (this.#map.size >= this.#limit) this.#map.clear();
      this.#map.set(text, bytes);
    }
    this.#lastText = text;
    this.#lastBytes = bytes;
    return bytes;
  }
}

const CACHE_SLOTS = 512;
const cachedBytes: (Uint8Array | undefined)[] = new Array(CACHE_SLOTS);
const cachedText: string[] = new Array(CACHE_SLOTS);

// Paths repeat, so decoded strings are kept in a small hash table keyed by their bytes;
// a hit costs a hash and a compare instead of a decode and a new string.
// The slot of the previous hit per role (0 recipient, 1 sender): checked before hashing,
// since consecutive envelopes usually share their paths.
const lastSlot = [0, 0];

function sameBytes(known: Uint8Array, bytes: Uint8Array, start: number, length: number): boolean {
  if (known.length !== length) return false;
  for (let i = 0; i < length; i++) {
    if (known[i] !== bytes[start + i]) return false;
  }
  return true;
}

function decodeText(bytes: Uint8Array, start: number, end: number, role: 0 | 1): string {
  const length = end - start;
  if (length > 128) return decoder.decode(bytes.subarray(start, end));
  const last = lastSlot[role];
  const recent = cachedBytes[last];
  if (recent !== undefined && sameBytes(recent, bytes, start, length)) return cachedText[last];
  let hash = 0x811c9dc5;
  let ascii = 0;
  for (let i = start; i < end; i++) {
    const b = bytes[i];
    hash = Math.imul(hash ^ b, 0x01000193);
    ascii |= b;
  }
  const slot = (hash >>> 0) & (CACHE_SLOTS - 1);
  lastSlot[role] = slot;
  const known = cachedBytes[slot];
  if (known !== undefined && sameBytes(known, bytes, start, length)) return cachedText[slot];
  const view = bytes.subarray(start, end);
  const text = ascii < 0x80
    ? String.fromCharCode.apply(null, view as unknown as number[])
    : decoder.decode(view);
  cachedBytes[slot] = view.slice();
  cachedText[slot] = text;
  return text;
}

/**
 * Decodes an envelope. With `copyPayload` the payload gets its own buffer; otherwise it is
 * a view into `bytes`.
 *
 * @returns The envelope, or an error message when the bytes are malformed.
 */
export function readEnvelope(
  bytes: Uint8Array,
  start: number,
  end: number,
  copyPayload: boolean,
): Envelope | string {
  if (end - start < 4) return "envelope shorter than its header";
  let o = start;
  const recipientLength = (bytes[o] << 8) | bytes[o + 1];
  o += 2;
  if (o + recipientLength + 2 > end) return "recipient overruns the envelope";
  let recipient: string;
  let sender: string | undefined;
  try {
    recipient = decodeText(bytes, o, o + recipientLength, 0);
    o += recipientLength;
    const senderLength = (bytes[o] << 8) | bytes[o + 1];
    o += 2;
    if (senderLength !== NO_SENDER) {
      if (o + senderLength > end) return "sender overruns the envelope";
      sender = decodeText(bytes, o, o + senderLength, 1);
      o += senderLength;
    }
  } catch {
    return "path is not valid UTF-8";
  }
  let payload: Uint8Array;
  if (copyPayload) {
    payload = new Uint8Array(end - o);
    for (let i = 0; i < payload.length; i++) payload[i] = bytes[o + i];
  } else {
    payload = bytes.subarray(o, end);
  }
  return sender === undefined ? { recipient, payload } : { recipient, sender, payload };
}
