// Outbound batching: envelopes taken off a peer's lanes are encoded into MESSAGE and BATCH
// frames in one buffer per socket write; and the reading of a BATCH frame's entries.
//   BATCH payload: ([u32 BE entry length][envelope])*
// One pass: each envelope is written straight into a reused scratch buffer (a text payload as
// UTF-8, with no intermediate bytes), its length patched in after it, and a frame's header
// once the frame is closed; the write gets an exact-size copy of the scratch.

import { type Utf8Buffer, utf8Buffer } from "../runtime/utf8.ts";
import { MAX_PATH_BYTES, queuedSize, TextEnvelope, Utf8Cache } from "./_envelope_codec.ts";
import { FRAME_BATCH, FRAME_HEADER_SIZE, FRAME_MESSAGE, writeFrameHeader } from "./_framing.ts";
import type { Link, Peer } from "./_peer_link.ts";
import type { Envelope } from "./transport.ts";

/** Which of a peer's lanes a write takes envelopes from. */
export type Lanes = "both" | "control" | "user";

/** The scratch buffer's usual size; one grown past it for a huge envelope is dropped after. */
const SCRATCH = 512 * 1024;

/** Encodes a peer's queued envelopes into frames (one encoder per transport). */
export class BatchEncoder {
  readonly #maxBatchBytes: number;
  // Separate caches so that each one's last-hit shortcut serves one role.
  readonly #recipients = new Utf8Cache();
  readonly #senders = new Utf8Cache();
  #scratch: Utf8Buffer = utf8Buffer(SCRATCH);

  /** @param maxBatchBytes Largest batch frame payload, in bytes. */
  constructor(maxBatchBytes: number) {
    this.#maxBatchBytes = maxBatchBytes;
  }

  /** Whether the envelope fits in a frame; the common small case avoids encoding paths. */
  fits(envelope: Envelope, maxFrameSize: number): boolean {
    const senderLength = envelope.sender?.length ?? 0;
    const payloadBound = envelope instanceof TextEnvelope
      ? textBound(envelope.text, envelope.key)
      : envelope.payload.length;
    // A UTF-16 code unit is at most 3 UTF-8 bytes.
    if (
      3 * (envelope.recipient.length + senderLength) + payloadBound + 5 <= maxFrameSize &&
      3 * Math.max(envelope.recipient.length, senderLength) <= MAX_PATH_BYTES
    ) return true;
    const recipient = this.#recipients.get(envelope.recipient);
    const sender = envelope.sender === undefined ? undefined : this.#senders.get(envelope.sender);
    return recipient.length <= MAX_PATH_BYTES && (sender?.length ?? 0) <= MAX_PATH_BYTES &&
      4 + recipient.length + (sender?.length ?? 0) + envelope.payload.length + 1 <= maxFrameSize;
  }

  /**
   * Takes envelopes off the peer's lanes (control first) and encodes them as frames, about
   * `target` bytes; an envelope larger than the link's frame size goes to `tooLarge`. The
   * result is a fresh copy, or, when the link's connection copies what it cannot write at once
   * (`copiesWrites`), a view of the scratch buffer valid until the next call.
   */
  encode(
    peer: Peer,
    link: Link,
    target: number,
    lanes: Lanes,
    tooLarge: (peer: Peer, link: Link, envelope: Envelope) => void,
  ): Uint8Array | undefined {
    const maxPayload = link.maxFrame - 1;
    const batchLimit = Math.min(this.#maxBatchBytes, maxPayload);
    let scratch = this.#scratch;
    let out = scratch.bytes;
    let o = 0;
    let frame = -1; // offset of the open frame's header
    let frameBytes = 0;
    let entries = 0;
    while (o < target) {
      const control = lanes === "control" || (lanes === "both" && peer.control.length > 0);
      const queue = control ? peer.control : peer.queue;
      if (queue.length === 0) break;
      const envelope = queue.peek()!;
      const recipient = this.#recipients.get(envelope.recipient);
      const sender = envelope.sender === undefined ? undefined : this.#senders.get(envelope.sender);
      const paths = 4 + recipient.length + (sender?.length ?? 0);
      // The most bytes the envelope can take (a UTF-16 unit is at most 3 UTF-8 bytes).
      let text = envelope instanceof TextEnvelope ? envelope.text : undefined;
      const key = text !== undefined ? (envelope as TextEnvelope).key : undefined;
      let most = paths + (text !== undefined ? textBound(text, key) : envelope.payload.length);
      if (most > maxPayload) {
        // A text payload's bound is loose: only its bytes can tell.
        text = undefined;
        most = paths + envelope.payload.length;
        if (most > maxPayload) {
          queue.shift();
          if (control) peer.controlBytes -= queuedSize(envelope);
          else peer.queueBytes -= queuedSize(envelope);
          tooLarge(peer, link, envelope);
          continue;
        }
      }
      if (o > 0 && o + most + 9 > target) break;
      if (o + most + 9 > out.length) {
        const grown = utf8Buffer(Math.max(2 * out.length, o + most + 9));
        grown.bytes.set(out.subarray(0, o));
        scratch = grown;
        out = grown.bytes;
      }
      queue.shift();
      if (control) peer.controlBytes -= queuedSize(envelope);
      else peer.queueBytes -= queuedSize(envelope);
      if (frame >= 0 && frameBytes + 4 + most > batchLimit) {
        o = closeFrame(out, frame, frameBytes, entries, o);
        frame = -1;
      }
      if (frame < 0) {
        frame = o;
        o += FRAME_HEADER_SIZE;
        frameBytes = 0;
        entries = 0;
      }
      const entry = o;
      o += 4;
      out[o++] = recipient.length >>> 8;
      out[o++] = recipient.length & 0xff;
      o = copyInto(out, o, recipient);
      if (sender === undefined) {
        out[o++] = 0xff;
        out[o++] = 0xff;
      } else {
        out[o++] = sender.length >>> 8;
        out[o++] = sender.length & 0xff;
        o = copyInto(out, o, sender);
      }
      if (text !== undefined) {
        if (key !== undefined) {
          // The keyed form (see TextEnvelope): the key's length is patched in once written.
          out[o] = (envelope as TextEnvelope).marker;
          const n = key.length === 0 ? 0 : scratch.write(key, o + 3);
          out[o + 1] = n >>> 8;
          out[o + 2] = n & 0xff;
          o += 3 + n;
        }
        o += scratch.write(text, o);
      } else {
        o = copyInto(out, o, envelope.payload);
      }
      const size = o - entry - 4;
      out[entry] = size >>> 24;
      out[entry + 1] = (size >>> 16) & 0xff;
      out[entry + 2] = (size >>> 8) & 0xff;
      out[entry + 3] = size & 0xff;
      frameBytes += 4 + size;
      entries++;
    }
    if (frame < 0) return undefined;
    o = closeFrame(out, frame, frameBytes, entries, o);
    if (out.length > SCRATCH) {
      this.#scratch = utf8Buffer(SCRATCH);
      return out.subarray(0, o);
    }
    return link.conn.copiesWrites === true ? out.subarray(0, o) : out.slice(0, o);
  }
}

/** The most UTF-8 bytes of a text payload (a UTF-16 unit is at most 3 bytes). */
function textBound(text: string, key: string | undefined): number {
  return 3 * text.length + (key === undefined ? 0 : 3 + 3 * key.length);
}

// Small copies are faster as a loop than through TypedArray.prototype.set.
function copyInto(target: Uint8Array, offset: number, source: Uint8Array): number {
  const n = source.length;
  if (n < 64) {
    for (let i = 0; i < n; i++) target[offset + i] = source[i];
  } else {
    target.set(source, offset);
  }
  return offset + n;
}

/**
 * Writes the header of the frame at `frame` whose entries end at `end`: a BATCH frame, or a
 * MESSAGE frame when it holds one envelope (its length prefix removed); returns the new end.
 */
function closeFrame(
  out: Uint8Array,
  frame: number,
  payload: number,
  entries: number,
  end: number,
): number {
  if (entries > 1) {
    writeFrameHeader(out, frame, FRAME_BATCH, payload);
    return end;
  }
  const start = frame + FRAME_HEADER_SIZE;
  out.copyWithin(start, start + 4, end);
  writeFrameHeader(out, frame, FRAME_MESSAGE, payload - 4);
  return end - 4;
}

/**
 * Calls `entry` with the bounds of each envelope of a BATCH frame's payload, in order, while it
 * returns true; returns what is malformed, if anything.
 */
export function readBatch(
  payload: Uint8Array,
  entry: (start: number, end: number) => boolean,
): string | undefined {
  const end = payload.length;
  let o = 0;
  while (o < end) {
    if (end - o < 4) return "malformed batch: truncated entry length";
    const size = ((payload[o] << 24) | (payload[o + 1] << 16) | (payload[o + 2] << 8) |
      payload[o + 3]) >>> 0;
    o += 4;
    if (size > end - o) return "malformed batch: entry overruns the frame";
    if (!entry(o, o + size)) return undefined;
    o += size;
  }
  return undefined;
}
