import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  DEFAULT_MAX_FRAME_SIZE,
  encodeFrame,
  FRAME_BATCH,
  FRAME_HANDSHAKE,
  FRAME_MESSAGE,
  FrameDecoder,
  FrameError,
  type FrameType,
} from "../../src/remote/_framing.ts";
import { randomBytes, seededRandom } from "../_helpers/random.ts";

type Frame = { type: FrameType; payload: Uint8Array };

function decodeAll(decoder: FrameDecoder, chunks: Uint8Array[]): Frame[] {
  const frames: Frame[] = [];
  for (const chunk of chunks) {
    const error = decoder.push(
      chunk,
      (type, payload) => frames.push({ type, payload: payload.slice() }),
    );
    assert.equal(error, undefined);
  }
  return frames;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function header(length: number, type: number): Uint8Array {
  return new Uint8Array([
    length >>> 24,
    (length >>> 16) & 255,
    (length >>> 8) & 255,
    length & 255,
    type,
  ]);
}

describe("encodeFrame()", () => {
  it("writes a big-endian length that counts the type byte", () => {
    const frame = encodeFrame(FRAME_MESSAGE, new Uint8Array([7, 8, 9]));
    assert.deepEqual([...frame], [0, 0, 0, 4, FRAME_MESSAGE, 7, 8, 9]);
  });
});

describe("FrameDecoder", () => {
  it("decodes frames under random chunking, byte for byte", () => {
    const random = seededRandom(42);
    for (let round = 0; round < 200; round++) {
      const frames: Frame[] = [];
      const count = 1 + Math.floor(random() * 20);
      for (let i = 0; i < count; i++) {
        const size = random() < 0.1 ? Math.floor(random() * 70_000) : Math.floor(random() * 200);
        const type = [
          FRAME_HANDSHAKE,
          FRAME_MESSAGE,
          FRAME_BATCH,
        ][Math.floor(random() * 3)] as FrameType;
        frames.push({ type, payload: randomBytes(random, size) });
      }
      const wire = concat(frames.map((f) => encodeFrame(f.type, f.payload)));
      const chunks: Uint8Array[] = [];
      for (let o = 0; o < wire.length;) {
        const n = random() < 0.3 ? 1 + Math.floor(random() * 6) : 1 + Math.floor(random() * 9000);
        chunks.push(wire.slice(o, o + n));
        o += n;
      }
      const decoder = new FrameDecoder();
      assert.deepEqual(decodeAll(decoder, chunks), frames);
      assert.equal(decoder.bufferedBytes, 0);
      assert.equal(decoder.finish(), undefined);
    }
  });

  it("decodes a stream fed one byte at a time", () => {
    const frames: Frame[] = [
      { type: FRAME_MESSAGE, payload: new Uint8Array([1, 2, 3]) },
      { type: FRAME_BATCH, payload: new Uint8Array(0) },
      { type: FRAME_HANDSHAKE, payload: new TextEncoder().encode("{}") },
    ];
    const wire = concat(frames.map((f) => encodeFrame(f.type, f.payload)));
    const chunks = [...wire].map((b) => new Uint8Array([b]));
    assert.deepEqual(decodeAll(new FrameDecoder(), chunks), frames);
  });

  it("reports a zero length", () => {
    const error = new FrameDecoder().push(header(0, 1), () => assert.fail("no frame"));
    assert.equal(error?.kind, "zero-length");
    assert.equal(error?.code, "BAD_FRAME");
  });

  it("reports an oversized length from the length field alone, before any body", () => {
    const decoder = new FrameDecoder({ maxFrameSize: 1000 });
    const error = decoder.push(header(1001, FRAME_MESSAGE).subarray(0, 4), () => {});
    assert.equal(error?.kind, "oversized");
    assert.equal(decoder.bufferedBytes, 0);
  });

  it("allocates a frame body as its bytes arrive, not as its header claims", () => {
    const decoder = new FrameDecoder();
    const size = DEFAULT_MAX_FRAME_SIZE - 1;
    const seen: Uint8Array[] = [];
    const onFrame = (_type: number, payload: Uint8Array) => seen.push(payload);
    // A header claiming 16 MiB, then silence: 64 KiB held, not 16 MiB.
    assert.equal(decoder.push(header(size + 1, FRAME_MESSAGE), onFrame), undefined);
    assert.ok(decoder.allocatedBytes <= 64 * 1024, `${decoder.allocatedBytes} bytes allocated`);
    // Bytes that do arrive grow the buffer to at most twice what arrived.
    const chunk = new Uint8Array(1024 * 1024);
    for (let i = 0; i < chunk.length; i++) chunk[i] = i & 0xff;
    decoder.push(chunk, onFrame);
    assert.ok(decoder.allocatedBytes <= 2 * 1024 * 1024, `${decoder.allocatedBytes} allocated`);
    assert.equal(decoder.bufferedBytes, chunk.length);
    // The rest completes the frame, byte for byte.
    let left = size - chunk.length;
    while (left > 0) {
      const n = Math.min(left, chunk.length);
      decoder.push(chunk.subarray(0, n), onFrame);
      left -= n;
    }
    assert.equal(seen.length, 1);
    assert.equal(seen[0].length, size);
    assert.equal(seen[0][1024 * 1024 + 5], 5);
    assert.equal(seen[0][size - 1], (size - 1 - 15 * 1024 * 1024) & 0xff);
    assert.equal(decoder.allocatedBytes, 0);
  });

  it("accepts a frame of exactly the maximum size", () => {
    const decoder = new FrameDecoder({ maxFrameSize: 1000 });
    const frames = decodeAll(decoder, [encodeFrame(FRAME_MESSAGE, new Uint8Array(999))]);
    assert.equal(frames.length, 1);
  });

  it("defaults the maximum to 16 MiB", () => {
    assert.equal(new FrameDecoder().maxFrameSize, DEFAULT_MAX_FRAME_SIZE);
    const error = new FrameDecoder().push(header(DEFAULT_MAX_FRAME_SIZE + 1, 1), () => {});
    assert.equal(error?.kind, "oversized");
  });

  it("reports an unknown type", () => {
    const error = new FrameDecoder().push(header(2, 0x7f), () => {});
    assert.equal(error?.kind, "unknown-type");
  });

  it("reports a truncated frame when the stream ends", () => {
    const decoder = new FrameDecoder();
    const wire = encodeFrame(FRAME_MESSAGE, new Uint8Array(10));
    assert.equal(decoder.push(wire.subarray(0, 8), () => {}), undefined);
    assert.equal(decoder.finish()?.kind, "truncated");
  });

  it("stays failed after an error and never throws", () => {
    const decoder = new FrameDecoder();
    const first = decoder.push(header(0, 1), () => {});
    const second = decoder.push(
      encodeFrame(FRAME_MESSAGE, new Uint8Array(1)),
      () => assert.fail("no frame"),
    );
    assert.equal(second, first);
  });

  it("survives random garbage without throwing, reporting a FrameError or bounded frames", () => {
    const random = seededRandom(7);
    let failed = 0;
    for (let i = 0; i < 2000; i++) {
      const decoder = new FrameDecoder({ maxFrameSize: 1 << 20 });
      const garbage = randomBytes(random, 1 + Math.floor(random() * 64));
      const error = decoder.push(garbage, (_type, payload) => {
        assert.ok(payload.length <= garbage.length, "a frame is never longer than its input");
      });
      const end = decoder.finish();
      if (error !== undefined) {
        failed++;
        assert.ok(error instanceof FrameError, String(error));
        assert.equal(decoder.push(garbage, () => assert.fail("no frame after an error")), error);
      } else if (end !== undefined) {
        assert.equal(end.kind, "truncated");
      }
    }
    assert.ok(failed > 0, "random bytes are mostly malformed");
  });

  it("stops delivering once stop() is called inside a frame handler", () => {
    const decoder = new FrameDecoder();
    const wire = concat([
      encodeFrame(FRAME_MESSAGE, new Uint8Array(1)),
      encodeFrame(FRAME_MESSAGE, new Uint8Array(1)),
    ]);
    let seen = 0;
    decoder.push(wire, () => {
      seen++;
      decoder.stop();
    });
    assert.equal(seen, 1);
  });
});
