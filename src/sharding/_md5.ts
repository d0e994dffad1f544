/**
 * MD5 in pure TypeScript (WebCrypto has no MD5). Used only for shard ids, never for security.
 *
 * @module
 */

/** Sets `h` to MD5's initial state. */
function start(h: Int32Array): Int32Array {
  h[0] = 0x67452301;
  h[1] = 0xefcdab89 | 0;
  h[2] = 0x98badcfe | 0;
  h[3] = 0x10325476;
  return h;
}

// The four round functions, each one step: `b + rotl(a + F(b, c, d) + x + t, s)` (small
// enough to be inlined: the 64 steps below are straight-line code with constant shifts).
const ff = (a: number, b: number, c: number, d: number, x: number, s: number, t: number) => {
  const n = (a + ((b & c) | (~b & d)) + x + t) | 0;
  return (((n << s) | (n >>> (32 - s))) + b) | 0;
};
const gg = (a: number, b: number, c: number, d: number, x: number, s: number, t: number) => {
  const n = (a + ((b & d) | (c & ~d)) + x + t) | 0;
  return (((n << s) | (n >>> (32 - s))) + b) | 0;
};
const hh = (a: number, b: number, c: number, d: number, x: number, s: number, t: number) => {
  const n = (a + (b ^ c ^ d) + x + t) | 0;
  return (((n << s) | (n >>> (32 - s))) + b) | 0;
};
const ii = (a: number, b: number, c: number, d: number, x: number, s: number, t: number) => {
  const n = (a + (c ^ (b | ~d)) + x + t) | 0;
  return (((n << s) | (n >>> (32 - s))) + b) | 0;
};

/** Runs MD5's 64 steps over one 16-word block `m` and adds the result into the state `h`. */
function block(h: Int32Array, m: Int32Array): void {
  let a = h[0], b = h[1], c = h[2], d = h[3];
  a = ff(a, b, c, d, m[0], 7, -680876936);
  d = ff(d, a, b, c, m[1], 12, -389564586);
  c = ff(c, d, a, b, m[2], 17, 606105819);
  b = ff(b, c, d, a, m[3], 22, -1044525330);
  a = ff(a, b, c, d, m[4], 7, -176418897);
  d = ff(d, a, b, c, m[5], 12, 1200080426);
  c = ff(c, d, a, b, m[6], 17, -1473231341);
  b = ff(b, c, d, a, m[7], 22, -45705983);
  a = ff(a, b, c, d, m[8], 7, 1770035416);
  d = ff(d, a, b, c, m[9], 12, -1958414417);
  c = ff(c, d, a, b, m[10], 17, -42063);
  b = ff(b, c, d, a, m[11], 22, -1990404162);
  a = ff(a, b, c, d, m[12], 7, 1804603682);
  d = ff(d, a, b, c, m[13], 12, -40341101);
  c = ff(c, d, a, b, m[14], 17, -1502002290);
  b = ff(b, c, d, a, m[15], 22, 1236535329);
  a = gg(a, b, c, d, m[1], 5, -165796510);
  d = gg(d, a, b, c, m[6], 9, -1069501632);
  c = gg(c, d, a, b, m[11], 14, 643717713);
  b = gg(b, c, d, a, m[0], 20, -373897302);
  a = gg(a, b, c, d, m[5], 5, -701558691);
  d = gg(d, a, b, c, m[10], 9, 38016083);
  c = gg(c, d, a, b, m[15], 14, -660478335);
  b = gg(b, c, d, a, m[4], 20, -405537848);
  a = gg(a, b, c, d, m[9], 5, 568446438);
  d = gg(d, a, b, c, m[14], 9, -1019803690);
  c = gg(c, d, a, b, m[3], 14, -187363961);
  b = gg(b, c, d, a, m[8], 20, 1163531501);
  a = gg(a, b, c, d, m[13], 5, -1444681467);
  d = gg(d, a, b, c, m[2], 9, -51403784);
  c = gg(c, d, a, b, m[7], 14, 1735328473);
  b = gg(b, c, d, a, m[12], 20, -1926607734);
  a = hh(a, b, c, d, m[5], 4, -378558);
  d = hh(d, a, b, c, m[8], 11, -2022574463);
  c = hh(c, d, a, b, m[11], 16, 1839030562);
  b = hh(b, c, d, a, m[14], 23, -35309556);
  a = hh(a, b, c, d, m[1], 4, -1530992060);
  d = hh(d, a, b, c, m[4], 11, 1272893353);
  c = hh(c, d, a, b, m[7], 16, -155497632);
  b = hh(b, c, d, a, m[10], 23, -1094730640);
  a = hh(a, b, c, d, m[13], 4, 681279174);
  d = hh(d, a, b, c, m[0], 11, -358537222);
  c = hh(c, d, a, b, m[3], 16, -722521979);
  b = hh(b, c, d, a, m[6], 23, 76029189);
  a = hh(a, b, c, d, m[9], 4, -640364487);
  d = hh(d, a, b, c, m[12], 11, -421815835);
  c = hh(c, d, a, b, m[15], 16, 530742520);
  b = hh(b, c, d, a, m[2], 23, -995338651);
  a = ii(a, b, c, d, m[0], 6, -198630844);
  d = ii(d, a, b, c, m[7], 10, 1126891415);
  c = ii(c, d, a, b, m[14], 15, -1416354905);
  b = ii(b, c, d, a, m[5], 21, -57434055);
  a = ii(a, b, c, d, m[12], 6, 1700485571);
  d = ii(d, a, b, c, m[3], 10, -1894986606);
  c = ii(c, d, a, b, m[10], 15, -1051523);
  b = ii(b, c, d, a, m[1], 21, -2054922799);
  a = ii(a, b, c, d, m[8], 6, 1873313359);
  d = ii(d, a, b, c, m[15], 10, -30611744);
  c = ii(c, d, a, b, m[6], 15, -1560198380);
  b = ii(b, c, d, a, m[13], 21, 1309151649);
  a = ii(a, b, c, d, m[4], 6, -145523070);
  d = ii(d, a, b, c, m[11], 10, -1120210379);
  c = ii(c, d, a, b, m[2], 15, 718787259);
  b = ii(b, c, d, a, m[9], 21, -343485551);
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
  // An ASCII id of up to 55 characters is one block: its words are built straight from the
  // characters (no byte buffer).
  if (n <= 55) {
    const m = words;
    for (let j = 0; j < 16; j++) m[j] = 0;
    let i = 0;
    for (; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c >= 0x80) break;
      m[i >> 2] |= c << ((i & 3) << 3);
    }
    if (i === n) {
      m[n >> 2] |= 0x80 << ((n & 3) << 3);
      m[14] = n << 3;
      const h = start(state);
      block(h, m);
      return bigEndian(h[0]);
    }
  }
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
  return bigEndian(h[0]);
}

/** The digest starts with the first state word in little-endian order: read it big-endian. */
function bigEndian(a0: number): number {
  return (((a0 & 0xff) << 24) | (((a0 >>> 8) & 0xff) << 16) | (((a0 >>> 16) & 0xff) << 8) |
    (a0 >>> 24)) >>> 0;
}
