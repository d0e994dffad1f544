/**
 * MD5 in pure TypeScript (WebCrypto has no MD5). Used only for shard ids, never for security.
 *
 * @module
 */

const S = new Uint8Array([
  7,
  12,
  17,
  22,
  7,
  12,
  17,
  22,
  7,
  12,
  17,
  22,
  7,
  12,
  17,
  22,
  5,
  9,
  14,
  20,
  5,
  9,
  14,
  20,
  5,
  9,
  14,
  20,
  5,
  9,
  14,
  20,
  4,
  11,
  16,
  23,
  4,
  11,
  16,
  23,
  4,
  11,
  16,
  23,
  4,
  11,
  16,
  23,
  6,
  10,
  15,
  21,
  6,
  10,
  15,
  21,
  6,
  10,
  15,
  21,
  6,
  10,
  15,
  21,
]);
const K = new Int32Array(64);
for (let i = 0; i < 64; i++) K[i] = Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) | 0;

/** Sets `h` to MD5's initial state. */
function start(h: Int32Array): Int32Array {
  h[0] = 0x67452301;
  h[1] = 0xefcdab89 | 0;
  h[2] = 0x98badcfe | 0;
  h[3] = 0x10325476;
  return h;
}

/** Runs MD5's 64 steps over one 16-word block `m` and adds the result into the state `h`. */
function block(h: Int32Array, m: Int32Array): void {
  let a = h[0], b = h[1], c = h[2], d = h[3];
  for (let i = 0; i < 64; i++) {
    let f: number, g: number;
    if (i < 16) {
      f = (b & c) | (~b & d);
      g = i;
    } else if (i < 32) {
      f = (d & b) | (~d & c);
      g = (5 * i + 1) & 15;
    } else if (i < 48) {
      f = b ^ c ^ d;
      g = (3 * i + 5) & 15;
    } else {
      f = c ^ (b | ~d);
      g = (7 * i) & 15;
    }
    const x = (a + f + K[i] + m[g]) | 0;
    a = d;
    d = c;
    c = b;
    b = (b + ((x << S[i]) | (x >>> (32 - S[i])))) | 0;
  }
  h[0] = (h[0] + a) | 0;
  h[1] = (h[1] + b) | 0;
  h[2] = (h[2] + c) | 0;
  h[3] = (h[3] + d) | 0;
}

/**
 * The MD5 digest of `bytes`.
 *
 * @param bytes The input.
 * @returns The 16-byte digest.
 */
export function md5(bytes: Uint8Array): Uint8Array {
  const len = bytes.length;
  const total = (((len + 8) >>> 6) + 1) << 6;
  const buf = new Uint8Array(total);
  buf.set(bytes);
  buf[len] = 0x80;
  const view = new DataView(buf.buffer);
  view.setUint32(total - 8, (len * 8) >>> 0, true);
  view.setUint32(total - 4, Math.floor(len / 0x20000000), true);
  const h = start(new Int32Array(4));
  const m = new Int32Array(16);
  for (let off = 0; off < total; off += 64) {
    for (let j = 0; j < 16; j++) m[j] = view.getInt32(off + j * 4, true);
    block(h, m);
  }
  const out = new Uint8Array(16);
  const ov = new DataView(out.buffer);
  ov.setInt32(0, h[0], true);
  ov.setInt32(4, h[1], true);
  ov.setInt32(8, h[2], true);
  ov.setInt32(12, h[3], true);
  return out;
}

const encoder = new TextEncoder();
// Reused by md5Prefix: the padded UTF-8 message and its 16 words (no allocation per call).
let scratch = new Uint8Array(128);
const words = new Int32Array(16);
const state = new Int32Array(4);

/**
 * The first 4 bytes of the MD5 digest of the UTF-8 encoding of `text`, read as an unsigned
 * big-endian integer: what a shard number needs, computed without allocating (ASCII is encoded
 * inline; anything else goes through `TextEncoder.encodeInto` into a reused buffer).
 *
 * @param text The input.
 * @returns `(d[0] << 24 | d[1] << 16 | d[2] << 8 | d[3]) >>> 0` of the digest `d`.
 */
export function md5Prefix(text: string): number {
  const n = text.length;
  const room = n * 3 + 72; // worst case UTF-8 size plus padding
  if (scratch.length < room) scratch = new Uint8Array(Math.ceil(room / 64) * 64);
  const buf = scratch;
  let len = 0;
  for (; len < n; len++) {
    const c = text.charCodeAt(len);
    if (c >= 0x80) break;
    buf[len] = c;
  }
  if (len < n) len = encoder.encodeInto(text, buf).written;
  const total = (((len + 8) >>> 6) + 1) << 6;
  buf.fill(0, len, total);
  buf[len] = 0x80;
  const bitsLo = (len * 8) >>> 0;
  const bitsHi = Math.floor(len / 0x20000000);
  buf[total - 8] = bitsLo & 0xff;
  buf[total - 7] = (bitsLo >>> 8) & 0xff;
  buf[total - 6] = (bitsLo >>> 16) & 0xff;
  buf[total - 5] = bitsLo >>> 24;
  buf[total - 4] = bitsHi & 0xff;
  buf[total - 3] = (bitsHi >>> 8) & 0xff;
  buf[total - 2] = (bitsHi >>> 16) & 0xff;
  buf[total - 1] = bitsHi >>> 24;
  const h = start(state);
  const m = words;
  for (let off = 0; off < total; off += 64) {
    for (let j = 0, o = off; j < 16; j++, o += 4) {
      m[j] = buf[o] | (buf[o + 1] << 8) | (buf[o + 2] << 16) | (buf[o + 3] << 24);
    }
    block(h, m);
  }
  // The digest starts with the first state word in little-endian order.
  const a0 = h[0];
  return (((a0 & 0xff) << 24) | (((a0 >>> 8) & 0xff) << 16) | (((a0 >>> 16) & 0xff) << 8) |
    (a0 >>> 24)) >>> 0;
}
