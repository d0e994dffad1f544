// The handshake state machine (src/remote/_handshake.ts) at its edges, on real sockets: frames
// out of order, frames sent before our reply, hellos that cannot be accepted, and an acceptor
// that skips the challenge. Raw peers on 127.0.0.1 play the other side.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  encodeFrame,
  FRAME_HANDSHAKE,
  FRAME_HANDSHAKE_ACK,
  FRAME_HANDSHAKE_AUTH,
  FRAME_HANDSHAKE_CHALLENGE,
  FRAME_HANDSHAKE_REFUSE,
  FRAME_MESSAGE,
  FrameDecoder,
  type FrameType,
} from "../../src/remote/_framing.ts";
import { defaultTcp } from "../../src/runtime/select.ts";
import type { TcpConnection } from "../../src/runtime/tcp.ts";
import { startTransportNode } from "../_helpers/transport_node.ts";
import { waitUntil } from "../_helpers/child_process.ts";
import { helloBody, json, RawPeer } from "../_helpers/raw_peer.ts";

const SYSTEM = "handshake-test";
const SECRET = "a secret for the handshake edges";

function frame(type: FrameType, body: unknown): Uint8Array {
  return encodeFrame(type, new TextEncoder().encode(JSON.stringify(body)));
}

describe("Handshake, acceptor side", () => {
  it("closes a connection whose first frame is a message, delivering nothing", async () => {
    const a = await startTransportNode(SYSTEM);
    const raw = await RawPeer.connect(a.transport.selfAddress.port);
    try {
      raw.conn.write(new Uint8Array([0, 0, 0, 6, FRAME_MESSAGE, 0, 1, 0x2f, 0xff, 0xff]));
      await raw.waitClosed();
      assert.equal(a.log.find("error", /expected handshake frame 0x00, got 0x01/).length, 1);
      assert.equal(a.inbound.length, 0);
      assert.equal(a.transport.peerCount, 0);
    } finally {
      raw.destroy();
      await a.transport.shutdown();
    }
  });

  it("refuses a hello of another protocol version and one claiming the acceptor's own address", async () => {
    const a = await startTransportNode(SYSTEM);
    const own = a.transport.selfAddress;
    const cases: [Record<string, unknown>, boolean, RegExp][] = [
      [{ ...helloBody(SYSTEM, "127.0.0.1", 40002), v: 2 }, false, /protocol version 2, not 4/],
      // Version 3 had no keyed form for ShardForward: its payload 0x03 would be a serializer's.
      [{ ...helloBody(SYSTEM, "127.0.0.1", 40003), v: 3 }, false, /protocol version 3, not 4/],
      [helloBody(SYSTEM, own.host, own.port), true, /claims this node's own address/],
    ];
    try {
      for (const [hello, needsAuth, why] of cases) {
        const raw = await RawPeer.connect(own.port);
        try {
          raw.sendJson(FRAME_HANDSHAKE, hello);
          if (needsAuth) {
            assert.equal((await raw.next()).type, FRAME_HANDSHAKE_CHALLENGE);
            raw.sendJson(FRAME_HANDSHAKE_AUTH, {});
          }
          const refusal = await raw.next();
          assert.equal(refusal.type, FRAME_HANDSHAKE_REFUSE);
          assert.deepEqual(json(refusal), { reason: "refused" });
          await raw.waitClosed();
          assert.equal(a.log.find("error", why).length, 1, String(why));
        } finally {
          raw.destroy();
        }
      }
      assert.equal(a.connected.length, 0);
      assert.equal(a.transport.peerCount, 0);
    } finally {
      await a.transport.shutdown();
    }
  });

  it("closes a connection that sends its proof before the challenge arrives", async () => {
    const a = await startTransportNode(SYSTEM, { secret: SECRET });
    const raw = await RawPeer.connect(a.transport.selfAddress.port);
    try {
      // Both frames in one write: the acceptor is still computing its proof for the hello.
      const hello = frame(FRAME_HANDSHAKE, helloBody(SYSTEM, "127.0.0.1", 40003));
      const auth = frame(FRAME_HANDSHAKE_AUTH, { proof: "00".repeat(32) });
      const both = new Uint8Array(hello.length + auth.length);
      both.set(hello);
      both.set(auth, hello.length);
      raw.conn.write(both);
      await raw.waitClosed();
      assert.equal(a.log.find("error", /frame type 0x06 before our handshake reply/).length, 1);
      assert.ok(!raw.frames.some((f) => f.type === FRAME_HANDSHAKE_ACK), "it was accepted");
      assert.equal(a.connected.length, 0);
    } finally {
      raw.destroy();
      await a.transport.shutdown();
    }
  });
});

describe("Handshake, dialer side", () => {
  it("drops a connection whose acceptor acknowledges without a challenge, and keeps the envelope for a retry", async () => {
    const accepted: TcpConnection[] = [];
    const hellos: Record<string, unknown>[] = [];
    const listener = await defaultTcp().listen("127.0.0.1", 0, {
      onAccept: (conn) => {
        accepted.push(conn);
        const decoder = new FrameDecoder();
        conn.onData((chunk) =>
          decoder.push(chunk, (type, payload) => {
            if (type !== FRAME_HANDSHAKE) return;
            hellos.push(JSON.parse(new TextDecoder().decode(payload)));
            conn.write(frame(FRAME_HANDSHAKE_ACK, {}));
          })
        );
      },
    });
    const b = await startTransportNode(SYSTEM, { unreachableTimeout: 60_000 });
    try {
      b.transport.send({ host: "127.0.0.1", port: listener.port }, {
        recipient: "/x",
        payload: new Uint8Array([1]),
      });
      await waitUntil(
        () => b.log.find("error", /expected handshake frame 0x05, got 0x02/).length >= 2,
        5000,
        "two attempts refused by the dialer",
      );
      assert.equal(hellos[0].system, SYSTEM);
      assert.equal(hellos[0].v, 4);
      // A protocol error is not a refusal: the envelope stays queued for the next attempt.
      assert.equal(b.undeliverable.length, 0);
      assert.equal(b.transport.queuedCount({ host: "127.0.0.1", port: listener.port }), 1);
      assert.equal(b.connected.length, 0);
    } finally {
      await b.transport.shutdown();
      for (const conn of accepted) conn.destroy();
      await listener.close();
    }
  });
});
