// The raw baseline of the remote benches: `[u32 BE length][UTF-8 JSON]` frames written
// straight to the runtime's native socket, and a reader that reassembles them. Shared by
// remote_bench.ts, remote_actor_bench.ts and their peers so every baseline is the same code.
import type { TcpConnection } from "../src/runtime/tcp.ts";

const encoder = new TextEncoder();

/** Writes `count` JSON frames of `message(seq)` (seq from `from`) in 64 KiB writes, pacing on
 * the socket's buffered amount. */
export async function sendRawFrames(
  conn: TcpConnection,
  from: number,
  count: number,
  message: (seq: number) => unknown,
): Promise<void> {
  const CHUNK = 64 * 1024;
  let buf = new Uint8Array(CHUNK);
  let o = 0;
  for (let seq = from; seq < from + count; seq++) {
    if (CHUNK - o < 512) {
      conn.write(buf.subarray(0, o));
      buf = new Uint8Array(CHUNK);
      o = 0;
      if (conn.bufferedAmount > 1024 * 1024) {
        await new Promise<void>((resolve) => {
          const check = () => (conn.bufferedAmount > 256 * 1024 ? setTimeout(check, 0) : resolve());
          check();
        });
      }
    }
    const { written } = encoder.encodeInto(JSON.stringify(message(seq)), buf.subarray(o + 4));
    buf[o] = written! >>> 24;
    buf[o + 1] = (written! >>> 16) & 255;
    buf[o + 2] = (written! >>> 8) & 255;
    buf[o + 3] = written! & 255;
    o += 4 + written!;
  }
  if (o > 0) conn.write(buf.subarray(0, o));
}

/** Writes one JSON frame. */
export function writeRawFrame(conn: TcpConnection, value: unknown): void {
  const body = encoder.encode(JSON.stringify(value));
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length);
  out.set(body, 4);
  conn.write(out);
}

/** Calls `onFrame` with the body of every complete frame that arrives on `conn`. */
export function readRawFrames(conn: TcpConnection, onFrame: (body: Uint8Array) => void): void {
  let rest: Uint8Array | undefined;
  conn.onData((chunk) => {
    let buf = chunk;
    if (rest !== undefined) {
      buf = new Uint8Array(rest.length + chunk.length);
      buf.set(rest);
      buf.set(chunk, rest.length);
      rest = undefined;
    }
    let o = 0;
    while (buf.length - o >= 4) {
      const len = ((buf[o] << 24) | (buf[o + 1] << 16) | (buf[o + 2] << 8) | buf[o + 3]) >>> 0;
      if (buf.length - o - 4 < len) break;
      onFrame(buf.subarray(o + 4, o + 4 + len));
      o += 4 + len;
    }
    if (o < buf.length) rest = buf.slice(o);
  });
}
