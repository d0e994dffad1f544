import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { TcpTransport } from "../../src/remote/tcp_transport.ts";
import { PROTOCOL_VERSION } from "../../src/remote/_handshake_frames.ts";
import type { Envelope } from "../../src/remote/transport.ts";
import {
  encodeFrame,
  FRAME_BATCH,
  FRAME_HANDSHAKE,
  FRAME_HANDSHAKE_AUTH,
  FRAME_MESSAGE,
  type FrameType,
} from "../../src/remote/_framing.ts";
import { defaultTcp } from "../../src/runtime/select.ts";
import { CollectingLogger } from "../_helpers/logger.ts";
import { waitUntil } from "../_helpers/child_process.ts";
import { randomBytes, seededRandom } from "../_helpers/random.ts";

const FRAMES = 10_000;
const CONCURRENCY = 64;
const encoder = new TextEncoder();

function header(length: number, type: number): Uint8Array {
  return new Uint8Array([
    length >>> 24,
    (length >>> 16) & 255,
    (length >>> 8) & 255,
    length & 255,
    type,
  ]);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A hello of this protocol version and, sent ahead without waiting for the challenge, an empty proof. */
function handshake(port: number): Uint8Array {
  const hello = {
    v: PROTOCOL_VERSION,
    system: "fuzz",
    host: "127.0.0.1",
    port,
    incarnation: `fuzz-${port}`,
    maxFrameSize: 1 << 20,
    nonce: "0f".repeat(32),
  };
  return concat(
    encodeFrame(FRAME_HANDSHAKE, encoder.encode(JSON.stringify(hello))),
    encodeFrame(FRAME_HANDSHAKE_AUTH, encoder.encode("{}")),
  );
}

// Fuzzed handshakes claim privileged ports, which no test node (bound to port 0) can have:
// claiming a real node's address would legitimately replace that node's connection.
function fakePort(int: (n: number) => number): number {
  return 1 + int(1000);
}

/** One fuzzed input: bytes for a fresh connection. */
function fuzzCase(random: () => number, i: number): Uint8Array {
  const int = (n: number) => Math.floor(random() * n);
  switch (i % 8) {
    case 0: // random bytes before any handshake
      return randomBytes(random, 1 + int(64));
    case 1: // absurd length
      return concat(header(0x7fffffff + int(0x7fffffff), int(256)), randomBytes(random, int(32)));
    case 2: // zero length
      return header(0, int(256)).subarray(0, 4);
    case 3: { // valid length, garbage body, any type
      const body = randomBytes(random, int(200));
      return concat(header(body.length + 1, int(8)), body);
    }
    case 4: { // truncated: the header promises more than is sent
      const body = randomBytes(random, int(100));
      return concat(header(body.length + 2 + int(1000), int(5)), body);
    }
    case 5: { // a handshake with malformed fields
      const variants = [
        { system: "fuzz" },
        { system: "fuzz", host: "127.0.0.1", port: -1, incarnation: "x" },
        { system: 5, host: [], port: "x" },
        "just a string",
        null,
      ];
      return encodeFrame(
        FRAME_HANDSHAKE,
        encoder.encode(JSON.stringify(variants[int(variants.length)])),
      );
    }
    case 6: { // a valid handshake, then a garbage message or batch
      const type = (random() < 0.5 ? FRAME_MESSAGE : FRAME_BATCH) as FrameType;
      return concat(
        handshake(fakePort(int)),
        encodeFrame(type, randomBytes(random, int(300))),
      );
    }
    default: { // a valid handshake, then a random frame header and bytes
      const body = randomBytes(random, int(64));
      return concat(
        handshake(fakePort(int)),
        header(int(2) ? body.length + 1 : 0xffffffff, int(256)),
        body,
      );
    }
  }
}

describe("TcpTransport under fuzzed input", () => {
  it(`survives ${FRAMES} fuzzed frames, keeps serving a good peer and leaks no connection`, {
    timeout: 180_000,
  }, async () => {
    const log = new CollectingLogger();
    const inbound: Envelope[] = [];
    const a = await TcpTransport.start({
      systemName: "fuzz",
      host: "127.0.0.1",
      port: 0,
      logger: log,
      handshakeTimeout: 2000,
      // On a loaded machine the fuzzing can outlast the idle timeout, which would close the
      // good peer's quiet connection that the test counts on.
      idleTimeout: 0,
      onInbound: (from, envelope) => {
        if (from.incarnation.startsWith("fuzz-")) return; // garbage that happened to decode
        inbound.push(envelope);
      },
      onUndeliverable: () => {},
    });
    const b = await TcpTransport.start({
      systemName: "fuzz",
      host: "127.0.0.1",
      port: 0,
      logger: new CollectingLogger(),
      idleTimeout: 0,
    });
    const tcp = defaultTcp();
    try {
      b.send(a.selfAddress, { recipient: "/before", payload: new Uint8Array([1]) });
      await waitUntil(() => inbound.length === 1, 5000, "message before fuzzing");

      const random = seededRandom(2024);
      let next = 0;
      let serverClosed = 0;
      const worker = async () => {
        while (next < FRAMES) {
          const bytes = fuzzCase(random, next++);
          const conn = await tcp.connect("127.0.0.1", a.selfAddress.port, { timeout: 5000 });
          const closed = new Promise<boolean>((resolve) => {
            const timer = setTimeout(() => resolve(false), 5000);
            conn.onClose(() => {
              clearTimeout(timer);
              resolve(true);
            });
          });
          conn.onData(() => {});
          // Split the input at a random point to exercise partial reads on the node.
          const cut = Math.floor(random() * bytes.length);
          conn.write(bytes.subarray(0, cut));
          conn.write(bytes.subarray(cut));
          conn.close();
          if (await closed) serverClosed++;
          conn.destroy();
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      assert.equal(serverClosed, FRAMES);

      // Every fuzzed connection is gone; only the good peer's remains.
      await waitUntil(
        () => a.connectionCount === 1,
        10_000,
        () => `fuzzed connections closed (open: ${a.connectionCount})`,
      );
      assert.ok(
        log.find(
          "error",
          /Cannot decode frame|Closing connection|Refusing connection|ended mid-frame/,
        ).length > FRAMES / 2,
      );

      b.send(a.selfAddress, { recipient: "/after", payload: new Uint8Array([2]) });
      await waitUntil(() => inbound.length === 2, 5000, "message after fuzzing");
      assert.deepEqual(inbound.map((e) => e.recipient), ["/before", "/after"]);

      const c = await TcpTransport.start({
        systemName: "fuzz",
        host: "127.0.0.1",
        port: 0,
        logger: new CollectingLogger(),
      });
      try {
        c.send(a.selfAddress, { recipient: "/new", payload: new Uint8Array([3]) });
        await waitUntil(() => inbound.length === 3, 5000, "message from a new peer");
      } finally {
        await c.shutdown();
      }
      await waitUntil(() => a.connectionCount === 1, 5000, "new peer's connection closed");
    } finally {
      await a.shutdown();
      await b.shutdown();
    }
  });
});
