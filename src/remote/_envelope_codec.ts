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
 * The first byte of a keyed payload (see {@linkcode TextEnvelope}); JSON text never starts
 * with it, so it tells the two forms apart (with the default serializer on both sides).
 */
export const KEYED_PAYLOAD = 0x01;
/**
 * The first byte of an escaped payload: a serializer's bytes that start with
 * {@linkcode KEYED_PAYLOAD} or this byte travel behind it, so that the first byte of a payload
 * always says which form it is, whatever the serializers on either side.
 */
export const ESCAPED_PAYLOAD = 0x02;
/**
 * The first byte of a keyed payload of the second shape (a `ShardForward`): the same layout as
 * {@linkcode KEYED_PAYLOAD}'s, its text the JSON array of the instance's other fields.
 */
export const KEYED_FIELDS_PAYLOAD = 0x03;

/**
 * `bytes` as a payload: as they are, or behind {@linkcode ESCAPED_PAYLOAD} when they start
 * with a marker.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { escapePayload } from "./_envelope_codec.ts";
 * const json = new Uint8Array([0x7b, 0x7d]);
 * assert.equal(escapePayload(json), json);
 * assert.deepEqual([...escapePayload(new Uint8Array([0x01, 9]))], [0x02, 0x01, 9]);
 * ```
 */
export function escapePayload(bytes: Uint8Array): Uint8Array {
  if (!isMarked(bytes)) return bytes;
  const out = new Uint8Array(bytes.length + 1);
  out[0] = ESCAPED_PAYLOAD;
  out.set(bytes, 1);
  return out;
}

/**
 * Whether a payload starts with a marker: {@linkcode KEYED_PAYLOAD},
 * {@linkcode ESCAPED_PAYLOAD} or {@linkcode KEYED_FIELDS_PAYLOAD}.
 */
export function isMarked(payload: Uint8Array): boolean {
  const first = payload[0];
  return first === KEYED_PAYLOAD || first === ESCAPED_PAYLOAD || first === KEYED_FIELDS_PAYLOAD;
}

/** The longest key of a keyed payload, in UTF-16 units (at most 3 UTF-8 bytes each). */
export const MAX_KEY_UNITS = 0xffff / 3;

/**
 * An outbound envelope whose payload is still JSON text: the transport writes the text straight
 * into its batch buffer as UTF-8 (no `Uint8Array` per message, no copy). Anything else that
 * reads `payload` (a dead letter, a self-send, another transport) gets the bytes, encoded once.
 *
 * With a `key` (a `ShardEnvelope`'s entity id, at most {@linkcode MAX_KEY_UNITS} long), the
 * text is the envelope's message and the payload is the keyed form:
 * `[0x01][u16 BE key length][key UTF-8][text UTF-8]`; `marker` {@linkcode KEYED_FIELDS_PAYLOAD}
 * instead of 0x01 says the text is the array of a `ShardForward`'s other fields.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { queuedSize, readKeyed, TextEnvelope } from "./_envelope_codec.ts";
 * const envelope = new TextEnvelope("/user/a", '"é"', "user");
 * assert.deepEqual([...envelope.payload], [0x22, 0xc3, 0xa9, 0x22]);
 * assert.equal(envelope.payload, envelope.payload); // encoded once
 * assert.equal(queuedSize(envelope), 3);
 * const keyed = new TextEnvelope("/counter", "1", "user", "é");
 * assert.deepEqual([...keyed.payload], [0x01, 0, 2, 0xc3, 0xa9, 0x31]);
 * const parts = readKeyed(keyed.payload);
 * assert.ok(typeof parts !== "string" && parts.key === "é" && parts.value[0] === 0x31);
 * ```
 */
export class TextEnvelope implements Envelope {
  readonly recipient: string;
  readonly lane: "control" | "user";
  /** The payload as text (or, with a key, the value part of the keyed payload). */
  readonly text: string;
  /** The key of a keyed payload; `undefined` for a plain one. */
  readonly key: string | undefined;
  /** A keyed payload's first byte. */
  readonly marker: number;
  constructor(
    recipient: string,
    text: string,
    lane: "control" | "user",
    key?: string,
    marker: number = KEYED_PAYLOAD,
  ) {
    if (key !== undefined && key.length > MAX_KEY_UNITS) {
      throw new RangeError(`Cannot send a keyed payload: the key is longer than ${MAX_KEY_UNITS}`);
    }
    this.recipient = recipient;
    this.text = text;
    this.lane = lane;
    this.key = key;
    this.marker = marker;
  }
  /** The payload bytes, encoded on first use (kept aside: no field per envelope). */
  get payload(): Uint8Array {
    let bytes = textBytes.get(this);
    if (bytes === undefined) {
      if (this.key === undefined) {
        bytes = encoder.encode(this.text);
      } else {
        const key = encoder.encode(this.key);
        const text = encoder.encode(this.text);
        bytes = new Uint8Array(3 + key.length + text.length);
        bytes[0] = this.marker;
        bytes[1] = key.length >>> 8;
        bytes[2] = key.length & 0xff;
        bytes.set(key, 3);
        bytes.set(text, 3 + key.length);
      }
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
  if (!(envelope instanceof TextEnvelope)) return envelope.payload.length;
  return envelope.key === undefined
    ? envelope.text.length
    : 3 + envelope.key.length + envelope.text.length;
}

/**
 * The key and the value bytes (a view) of a keyed payload (one starting with
 * {@linkcode KEYED_PAYLOAD} or {@linkcode KEYED_FIELDS_PAYLOAD}), or what is malformed.
 */
export function readKeyed(payload: Uint8Array): { key: string; value: Uint8Array } | string {
  if (payload.length < 3) return "keyed payload shorter than its header";
  const length = (payload[1] << 8) | payload[2];
  if (3 + length > payload.length) return "keyed payload's key overruns the payload";
  let key: string;
  try {
    key = length === 0 ? "" : decodeText(keys, payload, 3, 3 + length, 0);
  } catch {
    return "keyed payload's key is not valid UTF-8";
  }
  return { key, value: payload.subarray(3 + length) };
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

// Paths (and keys) repeat, so decoded strings are kept in a small hash table keyed by their
// bytes; a hit costs a hash and a compare instead of a decode and a new string. Keys (entity
// ids) have a table of their own, so that many of them never push the few hot paths out.
interface TextTable {
  readonly bytes: (Uint8Array | undefined)[];
  readonly text: string[];
  // The slot of the previous hit per role (0 recipient, 1 sender): checked before hashing,
  // since consecutive envelopes usually share their paths.
  readonly last: number[];
}

function textTable(): TextTable {
  return { bytes: new Array(CACHE_SLOTS), text: new Array(CACHE_SLOTS), last: [0, 0] };
}

const paths = textTable();
const keys = textTable();

function sameBytes(known: Uint8Array, bytes: Uint8Array, start: number, length: number): boolean {
  if (known.length !== length) return false;
  for (let i = 0; i < length; i++) {
    if (known[i] !== bytes[start + i]) return false;
  }
  return true;
}

function decodeText(
  table: TextTable,
  bytes: Uint8Array,
  start: number,
  end: number,
  role: 0 | 1,
): string {
  const length = end - start;
  if (length > 128) return decoder.decode(bytes.subarray(start, end));
  const last = table.last[role];
  const recent = table.bytes[last];
  if (recent !== undefined && sameBytes(recent, bytes, start, length)) return table.text[last];
  let hash = 0x811c9dc5;
  let ascii = 0;
  for (let i = start; i < end; i++) {
    const b = bytes[i];
    hash = Math.imul(hash ^ b, 0x01000193);
    ascii |= b;
  }
  const slot = (hash >>> 0) & (CACHE_SLOTS - 1);
  table.last[role] = slot;
  const known = table.bytes[slot];
  if (known !== undefined && sameBytes(known, bytes, start, length)) return table.text[slot];
  const view = bytes.subarray(start, end);
  const text = ascii < 0x80
    ? String.fromCharCode.apply(null, view as unknown as number[])
    : decoder.decode(view);
  table.bytes[slot] = view.slice();
  table.text[slot] = text;
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
    recipient = decodeText(paths, bytes, o, o + recipientLength, 0);
    o += recipientLength;
    const senderLength = (bytes[o] << 8) | bytes[o + 1];
    o += 2;
    if (senderLength !== NO_SENDER) {
      if (o + senderLength > end) return "sender overruns the envelope";
      sender = decodeText(paths, bytes, o, o + senderLength, 1);
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
