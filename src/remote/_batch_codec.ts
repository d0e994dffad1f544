// Outbound batching: envelopes taken off a peer's lanes are encoded into MESSAGE and BATCH
// frames in one buffer per socket write; and the reading of a BATCH frame's entries.
//   BATCH payload: ([u32 BE entry length][envelope])*

import { envelopeSize, MAX_PATH_BYTES, Utf8Cache, writeEnvelope } from "./_envelope_codec.ts";
import { FRAME_BATCH, FRAME_HEADER_SIZE, FRAME_MESSAGE, writeFrameHeader } from "./_framing.ts";
import type { Link, Peer } from "./_peer_link.ts";
import type { Envelope } from "./transport.ts";

/** Which of a peer's lanes a write takes envelopes from. */
export type Lanes = "both" | "control" | "user";

/** Encodes a peer's queued envelopes into frames (one encoder per transport). */
export class BatchEncoder {
  readonly #maxBatchBytes: number;
  // Separate caches so that each one's last-hit shortcut serves one role.
  readonly #recipients = new Utf8Cache();
  readonly #senders = new Utf8Cache();
  // Scratch arrays reused by encode.
  readonly #envelopes: Envelope[] = [];
  readonly #recipientBytes: Uint8Array[] = [];
  readonly #senderBytes: (Uint8Array | undefined)[] = [];
  readonly #sizes: number[] = [];

  /** @param maxBatchBytes Largest batch frame payload, in bytes. */
  constructor(maxBatchBytes: number) {
    this.#maxBatchBytes = maxBatchBytes;
  }

  /** Whether the envelope fits in a frame; the common small case avoids encoding paths. */
  fits(envelope: Envelope, maxFrameSize: number): boolean {
    const senderLength = envelope.sender?.length ?? 0;
    // A UTF-16 code unit is at most 3 UTF-8 bytes.
    if (
      3 * (envelope.recipient.length + senderLength) + envelope.payload.length + 5 <=
        maxFrameSize &&
      3 * Math.max(envelope.recipient.length, senderLength) <= MAX_PATH_BYTES
    ) return true;
    const recipient = this.#recipients.get(envelope.recipient);
    const sender = envelope.sender === undefined ? undefined : this.#senders.get(envelope.sender);
    return recipient.length <= MAX_PATH_BYTES && (sender?.length ?? 0) <= MAX_PATH_BYTES &&
      envelopeSize(recipient, sender, envelope.payload) + 1 <= maxFrameSize;
  }

  /**
   * Takes envelopes off the peer's lanes (control first) and encodes them as frames, about
   * `target` bytes; an envelope larger than the link's frame size goes to `tooLarge`.
   */
  encode(
    peer: Peer,
    link: Link,
    target: number,
    lanes: Lanes,
    tooLarge: (peer: Peer, link: Link, envelope: Envelope) => void,
  ): Uint8Array | undefined {
    const envelopes = this.#envelopes;
    const recipients = this.#recipientBytes;
    const senders = this.#senderBytes;
    const sizes = this.#sizes;
    const maxPayload = link.maxFrame - 1;
    let estimate = 0;
    while (estimate < target) {
      const control = lanes === "control" || (lanes === "both" && peer.control.length > 0);
      const queue = control ? peer.control : peer.queue;
      if (queue.length === 0) break;
      const envelope = queue.peek()!;
      const recipient = this.#recipients.get(envelope.recipient);
      const sender = envelope.sender === undefined ? undefined : this.#senders.get(envelope.sender);
      const size = envelopeSize(recipient, sender, envelope.payload);
      if (size > maxPayload) {
        queue.shift();
        if (control) peer.controlBytes -= envelope.payload.length;
        else peer.queueBytes -= envelope.payload.length;
        tooLarge(peer, link, envelope);
        continue;
      }
      if (envelopes.length > 0 && estimate + size + 9 > target) break;
      queue.shift();
      if (control) peer.controlBytes -= envelope.payload.length;
      else peer.queueBytes -= envelope.payload.length;
      envelopes.push(envelope);
      recipients.push(recipient);
      senders.push(sender);
      sizes.push(size);
      estimate += size + 9;
    }
    const n = envelopes.length;
    if (n === 0) return undefined;
    const batchLimit = Math.min(this.#maxBatchBytes, maxPayload);
    // Group consecutive envelopes into batch frames; a group of one is a message frame.
    const groupEnds: number[] = [];
    const groupPayloads: number[] = [];
    let total = 0;
    for (let i = 0; i < n;) {
      let j = i;
      let payload = 0;
      while (j < n && payload + 4 + sizes[j] <= batchLimit) {
        payload += 4 + sizes[j];
        j++;
      }
      if (j - i <= 1) {
        j = i + 1;
        payload = -1;
        total += FRAME_HEADER_SIZE + sizes[i];
      } else {
        total += FRAME_HEADER_SIZE + payload;
      }
      groupEnds.push(j);
      groupPayloads.push(payload);
      i = j;
    }
    const out = new Uint8Array(total);
    let offset = 0;
    let start = 0;
    for (let g = 0; g < groupEnds.length; g++) {
      const end = groupEnds[g];
      const payload = groupPayloads[g];
      if (payload < 0) {
        writeFrameHeader(out, offset, FRAME_MESSAGE, sizes[start]);
        offset = writeEnvelope(
          out,
          offset + FRAME_HEADER_SIZE,
          recipients[start],
          senders[start],
          envelopes[start].payload,
        );
      } else {
        writeFrameHeader(out, offset, FRAME_BATCH, payload);
        offset += FRAME_HEADER_SIZE;
        for (let k = start; k < end; k++) {
          const size = sizes[k];
          out[offset] = size >>> 24;
          out[offset + 1] = (size >>> 16) & 0xff;
          out[offset + 2] = (size >>> 8) & 0xff;
          out[offset + 3] = size & 0xff;
          offset = writeEnvelope(out, offset + 4, recipients[k], senders[k], envelopes[k].payload);
        }
      }
      start = end;
    }
    envelopes.length = 0;
    recipients.length = 0;
    senders.length = 0;
    sizes.length = 0;
    return out;
  }
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
