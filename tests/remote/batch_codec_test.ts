// Outbound encoding (src/remote/_batch_codec.ts) on real sockets: envelopes whose payload is
// still text (`TextEnvelope`, what Remoting sends with the default serializer) are written as
// UTF-8 straight into the batch buffer. A raw acceptor on 127.0.0.1 reads the frames byte for
// byte: one envelope is a MESSAGE frame, several a BATCH frame, and text, bytes, non-ASCII,
// sender paths and envelopes larger than the scratch buffer all arrive exactly.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  encodeFrame,
  FRAME_BATCH,
  FRAME_HANDSHAKE,
  FRAME_HANDSHAKE_ACK,
  FRAME_HANDSHAKE_AUTH,
  FRAME_HANDSHAKE_CHALLENGE,
  FRAME_MESSAGE,
  FrameDecoder,
  type FrameType,
} from "../../src/remote/_framing.ts";
import { readEnvelope, TextEnvelope } from "../../src/remote/_envelope_codec.ts";
import { readBatch } from "../../src/remote/_batch_codec.ts";
import { PROTOCOL_VERSION } from "../../src/remote/_handshake_frames.ts";
import type { Envelope } from "../../src/remote/transport.ts";
import { defaultTcp } from "../../src/runtime/select.ts";
import type { TcpConnection } from "../../src/runtime/tcp.ts";
import { startTransportNode } from "../_helpers/transport_node.ts";
import { waitUntil } from "../_helpers/child_process.ts";

const SYSTEM = "batch-codec-test";

function frame(type: FrameType, body: unknown): Uint8Array {
  return encodeFrame(type, new TextEncoder().encode(JSON.stringify(body)));
}

/** A listener that completes the handshake as an unauthenticated acceptor, then records frames. */
async function rawAcceptor(maxFrameSize = 64 << 20) {
  const frames: { type: FrameType; payload: Uint8Array }[] = [];
  const conns: TcpConnection[] = [];
  const listener = await defaultTcp().listen("127.0.0.1", 0, {
    onAccept: (conn) => {
      conns.push(conn);
      const decoder = new FrameDecoder({ maxFrameSize: 64 << 20 });
      conn.onData((chunk) =>
        decoder.push(chunk, (type, payload) => {
          if (type === FRAME_HANDSHAKE) {
            conn.write(frame(FRAME_HANDSHAKE_CHALLENGE, {
              v: PROTOCOL_VERSION,
              host: "127.0.0.1",
              port: listener.port,
              incarnation: "raw",
              maxFrameSize,
              nonce: "cd".repeat(32),
            }));
          } else if (type === FRAME_HANDSHAKE_AUTH) {
            conn.write(frame(FRAME_HANDSHAKE_ACK, {}));
          } else {
            frames.push({ type, payload: payload.slice() });
          }
        })
      );
    },
  });
  return {
    frames,
    port: listener.port,
    /** Every envelope received, in order. */
    envelopes(): Envelope[] {
      const out: Envelope[] = [];
      for (const f of frames) {
        if (f.type === FRAME_MESSAGE) {
          out.push(readEnvelope(f.payload, 0, f.payload.length, true) as Envelope);
        } else {
          assert.equal(f.type, FRAME_BATCH);
          const bad = readBatch(f.payload, (start, end) => {
            out.push(readEnvelope(f.payload, start, end, true) as Envelope);
            return true;
          });
          assert.equal(bad, undefined);
        }
      }
      return out;
    },
    async close() {
      for (const conn of conns) conn.destroy();
      await listener.close();
    },
  };
}

const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

describe("Batch encoding", () => {
  it("writes one envelope as a MESSAGE frame and several as a BATCH frame, text and bytes alike", async () => {
    const raw = await rawAcceptor();
    const node = await startTransportNode(SYSTEM);
    const to = { host: "127.0.0.1", port: raw.port };
    try {
      node.transport.send(to, new TextEnvelope("/alone", '{"n":0}', "user"));
      await waitUntil(() => raw.frames.length === 1, 5000, "the first frame");
      assert.equal(raw.frames[0].type, FRAME_MESSAGE);
      // Sent in one tick: one BATCH frame, in order, text and bytes mixed.
      const texts = ['{"a":"é"}', '"🎉 ünïcödé"', "[" + "1,".repeat(300) + "1]", '"x"'];
      for (const [i, text] of texts.entries()) {
        node.transport.send(to, new TextEnvelope(`/t${i}`, text, "user"));
        node.transport.send(to, {
          recipient: `/b${i}`,
          sender: "/user/sénder",
          payload: new Uint8Array([i, 255, 0]),
        });
      }
      await waitUntil(() => raw.envelopes().length === 9, 5000, "every envelope");
      assert.equal(raw.frames.length, 2);
      assert.equal(raw.frames[1].type, FRAME_BATCH);
      const got = raw.envelopes();
      assert.equal(got[0].recipient, "/alone");
      assert.equal(decode(got[0].payload), '{"n":0}');
      for (const [i, text] of texts.entries()) {
        const t = got[1 + 2 * i];
        const b = got[2 + 2 * i];
        assert.equal(t.recipient, `/t${i}`);
        assert.equal(t.sender, undefined);
        assert.deepEqual(t.payload, new TextEncoder().encode(text));
        assert.equal(b.recipient, `/b${i}`);
        assert.equal(b.sender, "/user/sénder");
        assert.deepEqual([...b.payload], [i, 255, 0]);
      }
      assert.equal(node.transport.queuedBytes(to), 0);
    } finally {
      await node.transport.shutdown();
      await raw.close();
    }
  });

  it("carries texts larger than the batch and scratch buffers, and counts queued text in the byte bound", async () => {
    const raw = await rawAcceptor();
    const node = await startTransportNode(SYSTEM, { maxBatchBytes: 1024 });
    const to = { host: "127.0.0.1", port: raw.port };
    try {
      const big = JSON.stringify("ü".repeat(400_000)); // 800 kB of UTF-8
      const small = '"s"';
      node.transport.send(to, new TextEnvelope("/small", small, "user"));
      node.transport.send(to, new TextEnvelope("/big", big, "user"));
      node.transport.send(to, new TextEnvelope("/small", small, "user"));
      // Queued before the connection is up: counted by text length.
      assert.equal(node.transport.queuedBytes(to), big.length + 2 * small.length);
      await waitUntil(() => raw.envelopes().length === 3, 10_000, "every envelope");
      const got = raw.envelopes();
      assert.deepEqual(got.map((e) => e.recipient), ["/small", "/big", "/small"]);
      assert.equal(decode(got[1].payload), big);
      assert.equal(decode(got[2].payload), small);
      // Nothing larger than the batch bound was put in a BATCH frame.
      for (const f of raw.frames) {
        if (f.type === FRAME_BATCH) assert.ok(f.payload.length <= 1024);
      }
      assert.equal(node.transport.queuedBytes(to), 0);
    } finally {
      await node.transport.shutdown();
      await raw.close();
    }
  });

  it("refuses a text envelope whose UTF-8 exceeds the peer's frame size, and sends the rest", async () => {
    // The peer announces 4 KiB frames; this node allows 16 MiB, so only the encoder can tell.
    const raw = await rawAcceptor(4096);
    const node = await startTransportNode(SYSTEM);
    const to = { host: "127.0.0.1", port: raw.port };
    try {
      node.transport.send(to, new TextEnvelope("/ok", '"fine"', "user"));
      // 1,500 × "€" is 4,500 bytes: over the peer's frame size.
      node.transport.send(to, new TextEnvelope("/huge", "€".repeat(1500), "user"));
      // 2,000 ASCII units could take 6,000 bytes but take 2,000: it fits.
      node.transport.send(to, new TextEnvelope("/ok", "x".repeat(2000), "user"));
      await waitUntil(
        () => raw.envelopes().length === 2 && node.undeliverable.length === 1,
        5000,
        "two delivered, one too large",
      );
      assert.equal(node.undeliverable[0].reason, "too-large");
      assert.equal(node.undeliverable[0].envelope.recipient, "/huge");
      // The dead letter still has the bytes.
      assert.equal(decode(node.undeliverable[0].envelope.payload), "€".repeat(1500));
      assert.deepEqual(raw.envelopes().map((e) => e.recipient), ["/ok", "/ok"]);
      assert.equal(decode(raw.envelopes()[1].payload), "x".repeat(2000));
    } finally {
      await node.transport.shutdown();
      await raw.close();
    }
  });

  it("delivers a text envelope sent to this node's own address as its bytes", async () => {
    const node = await startTransportNode(SYSTEM);
    try {
      node.transport.send(node.transport.selfAddress, new TextEnvelope("/me", '"ça"', "user"));
      await waitUntil(() => node.inbound.length === 1, 5000, "the self-send");
      assert.equal(decode(node.inbound[0].envelope.payload), '"ça"');
    } finally {
      await node.transport.shutdown();
    }
  });
});
