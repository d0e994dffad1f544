import { freePort } from "../../src/testing/partition_proxy.ts";
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { TcpTransport, type TcpTransportOptions } from "../../src/remote/tcp_transport.ts";
import type { Envelope } from "../../src/remote/transport.ts";
import {
  FRAME_BATCH,
  FRAME_HANDSHAKE,
  FRAME_HANDSHAKE_ACK,
  FRAME_HANDSHAKE_AUTH,
  FRAME_HANDSHAKE_CHALLENGE,
  FRAME_MESSAGE,
} from "../../src/remote/_framing.ts";
import { helloBody, json, RawPeer } from "../_helpers/raw_peer.ts";
import { defaultTcp } from "../../src/runtime/select.ts";
import type { TcpConnection } from "../../src/runtime/tcp.ts";
import { startTransportNode, type TransportNode } from "../_helpers/transport_node.ts";
import { waitUntil } from "../_helpers/child_process.ts";

type Node = TransportNode;

function startNode(options: Partial<TcpTransportOptions> = {}): Promise<Node> {
  return startTransportNode("test", options);
}

function seqPayload(seq: number): Uint8Array {
  const p = new Uint8Array(8);
  new DataView(p.buffer).setUint32(0, seq);
  return p;
}

function seqOf(envelope: Envelope): number {
  return new DataView(envelope.payload.buffer, envelope.payload.byteOffset).getUint32(0);
}

describe("TcpTransport", () => {
  it("exchanges ordered messages both ways between two nodes", async () => {
    const a = await startNode();
    const b = await startNode();
    try {
      for (let i = 0; i < 1000; i++) {
        a.transport.send(b.transport.selfAddress, {
          recipient: "/user/b",
          sender: "/user/a",
          payload: seqPayload(i),
        });
        b.transport.send(a.transport.selfAddress, { recipient: "/user/a", payload: seqPayload(i) });
      }
      await waitUntil(
        () => a.inbound.length === 1000 && b.inbound.length === 1000,
        10_000,
        "messages",
      );
      assert.deepEqual(b.inbound.map((m) => seqOf(m.envelope)), [...Array(1000).keys()]);
      assert.deepEqual(a.inbound.map((m) => seqOf(m.envelope)), [...Array(1000).keys()]);
      assert.equal(b.inbound[0].envelope.recipient, "/user/b");
      assert.equal(b.inbound[0].envelope.sender, "/user/a");
      assert.equal(a.inbound[0].envelope.sender, undefined);
      assert.equal(b.inbound[0].from.incarnation, a.transport.incarnation);
      assert.equal(b.inbound[0].from.port, a.transport.selfAddress.port);
      await waitUntil(
        () => a.transport.connectionCount === 1 && b.transport.connectionCount === 1,
        5000,
        "one connection per node pair",
      );
      assert.equal(a.connected.length, 1);
      assert.equal(a.connected[0].incarnation, b.transport.incarnation);
      assert.equal(a.undeliverable.length + b.undeliverable.length, 0);
    } finally {
      await a.transport.shutdown();
      await b.transport.shutdown();
    }
  });

  it("resolves simultaneous connects to one connection without reordering", async () => {
    let raced = 0;
    for (let round = 0; round < 10; round++) {
      const a = await startNode();
      const b = await startNode();
      try {
        // Both sides send before either has a connection: both dial at once.
        for (let i = 0; i < 300; i++) {
          a.transport.send(b.transport.selfAddress, { recipient: "/x", payload: seqPayload(i) });
          b.transport.send(a.transport.selfAddress, { recipient: "/x", payload: seqPayload(i) });
        }
        await waitUntil(
          () => a.inbound.length === 300 && b.inbound.length === 300,
          10_000,
          "messages",
        );
        assert.deepEqual(a.inbound.map((m) => seqOf(m.envelope)), [...Array(300).keys()]);
        assert.deepEqual(b.inbound.map((m) => seqOf(m.envelope)), [...Array(300).keys()]);
        await waitUntil(
          () => a.transport.connectionCount === 1 && b.transport.connectionCount === 1,
          5000,
          "a single connection",
        );
        assert.equal(a.connected.length, 1);
        assert.equal(b.connected.length, 1);
        const lower = a.transport.selfAddress.port < b.transport.selfAddress.port ? a : b;
        raced += lower.log.find("debug", /own connection wins the race/).length;
      } finally {
        await a.transport.shutdown();
        await b.transport.shutdown();
      }
    }
    assert.ok(raced > 0, "at least one round had both dials meet");
  });

  it("refuses a peer with another system name and logs it on both sides", async () => {
    const a = await startNode({ systemName: "alpha" });
    const b = await startNode({ systemName: "beta" });
    try {
      b.transport.send(a.transport.selfAddress, { recipient: "/x", payload: seqPayload(1) });
      await waitUntil(() => b.undeliverable.length === 1, 5000, "refusal");
      assert.equal(b.undeliverable[0].reason, "refused");
      assert.equal(a.inbound.length, 0);
      // The acceptor logs when the dialer's refusal reaches it, which may come after the
      // dialer has given up its envelope.
      await waitUntil(
        () => a.log.find("error", /system name "beta".*"alpha"/).length > 0,
        5000,
        "the acceptor's log of the refusal",
      );
      assert.equal(a.log.find("error", /system name "beta".*"alpha"/).length, 1);
      assert.ok(b.log.find("error", /refused our handshake/).length >= 1);
      await waitUntil(() => a.transport.connectionCount === 0, 5000, "refused connection closed");
    } finally {
      await a.transport.shutdown();
      await b.transport.shutdown();
    }
  });

  it("sends queue overflow, then shutdown leftovers, to onUndeliverable", async () => {
    const port = await freePort();
    const a = await startNode({ outboundQueueLimit: 10 });
    const to = { host: "127.0.0.1", port };
    for (let i = 0; i < 25; i++) a.transport.send(to, { recipient: "/x", payload: seqPayload(i) });
    assert.equal(a.undeliverable.length, 15);
    assert.ok(a.undeliverable.every((u) => u.reason === "queue-overflow"));
    assert.deepEqual(
      a.undeliverable.map((u) => seqOf(u.envelope)),
      [...Array(15).keys()].map((i) => i + 10),
    );
    assert.equal(a.transport.queuedCount(to), 10);
    await a.transport.shutdown();
    assert.equal(a.undeliverable.length, 25);
    assert.deepEqual(
      a.undeliverable.slice(15).map((u) => [u.reason, seqOf(u.envelope)]),
      [...Array(10).keys()].map((i) => ["shutdown", i]),
    );
    a.transport.send(to, { recipient: "/x", payload: seqPayload(99) });
    assert.equal(a.undeliverable.at(-1)?.reason, "shutdown");
  });

  it("gives up queued envelopes as unreachable after unreachableTimeout", async () => {
    const port = await freePort();
    const a = await startNode({ unreachableTimeout: 200, reconnectBackoff: { min: 20, max: 60 } });
    try {
      for (let i = 0; i < 3; i++) {
        a.transport.send({ host: "127.0.0.1", port }, { recipient: "/x", payload: seqPayload(i) });
      }
      await waitUntil(() => a.undeliverable.length === 3, 5000, "unreachable");
      assert.ok(a.undeliverable.every((u) => u.reason === "unreachable"));
      assert.equal(a.log.find("warn", /unreachable/).length, 1);
    } finally {
      await a.transport.shutdown();
    }
  });

  it("reconnects with backoff once an unreachable peer comes up, keeping order", async () => {
    const port = await freePort();
    const a = await startNode({ reconnectBackoff: { min: 20, max: 80 } });
    let b: Node | undefined;
    try {
      for (let i = 0; i < 50; i++) {
        a.transport.send({ host: "127.0.0.1", port }, { recipient: "/x", payload: seqPayload(i) });
      }
      await new Promise((resolve) => setTimeout(resolve, 150));
      assert.ok(a.log.find("debug", /Cannot connect to .* \(attempt [2-9]/).length > 0, "retried");
      b = await startNode({ port });
      await waitUntil(() => b!.inbound.length === 50, 5000, "queued messages after reconnect");
      assert.deepEqual(b.inbound.map((m) => seqOf(m.envelope)), [...Array(50).keys()]);
      assert.equal(a.undeliverable.length, 0);
    } finally {
      await a.transport.shutdown();
      await b?.transport.shutdown();
    }
  });

  it("stopAccepting refuses new connections; an open one stays, a dialer keeps its queue", async () => {
    const a = await startNode();
    const b = await startNode({ reconnectBackoff: { min: 20, max: 60 } });
    const c = await startNode();
    const to = c.transport.selfAddress;
    try {
      a.transport.send(to, { recipient: "/x", payload: seqPayload(1) });
      await waitUntil(() => c.inbound.length === 1, 5000, "the first message");
      await c.transport.stopAccepting();
      a.transport.send(to, { recipient: "/x", payload: seqPayload(2) }); // open connection
      b.transport.send(to, { recipient: "/x", payload: seqPayload(3) }); // a new one
      await waitUntil(() => c.inbound.length === 2, 5000, "the message on the open connection");
      await waitUntil(
        () => b.log.find("debug", /Cannot connect to .* \(attempt [2-9]/).length > 0,
        5000,
        "b's dials to be refused and retried",
      );
      assert.deepEqual(c.inbound.map((m) => [m.from.port, seqOf(m.envelope)]), [
        [a.transport.selfAddress.port, 1],
        [a.transport.selfAddress.port, 2],
      ]);
      assert.equal(b.transport.queuedCount(to), 1, "kept, not flushed or lost");
      assert.equal(b.undeliverable.length, 0);
      assert.equal(b.transport.dropQueued(to, "unreachable"), 1);
      assert.deepEqual(b.undeliverable.map((u) => [u.reason, seqOf(u.envelope)]), [
        ["unreachable", 3],
      ]);
    } finally {
      await Promise.all([a, b, c].map((n) => n.transport.shutdown()));
    }
  });

  it("recognises a restarted peer by its new incarnation", async () => {
    const a = await startNode();
    let b = await startNode();
    const port = b.transport.selfAddress.port;
    try {
      const first = b.transport.incarnation;
      a.transport.send(b.transport.selfAddress, { recipient: "/x", payload: seqPayload(0) });
      await waitUntil(() => b.inbound.length === 1, 5000, "first message");
      await b.transport.shutdown();
      await waitUntil(() => a.disconnected.length === 1, 5000, "disconnect seen");
      assert.equal(a.disconnected[0].incarnation, first);
      b = await startNode({ port });
      a.transport.send({ host: "127.0.0.1", port }, { recipient: "/x", payload: seqPayload(1) });
      await waitUntil(() => b.inbound.length === 1, 5000, "message to the new incarnation");
      assert.equal(a.connected.length, 2);
      assert.notEqual(a.connected[1].incarnation, first);
      assert.equal(a.connected[1].incarnation, b.transport.incarnation);
    } finally {
      await a.transport.shutdown();
      await b.transport.shutdown();
    }
  });

  it("rejects envelopes larger than the maximum frame size", async () => {
    const a = await startNode({ maxFrameSize: 1024 });
    try {
      a.transport.send({ host: "127.0.0.1", port: 9 }, {
        recipient: "/x",
        payload: new Uint8Array(2000),
      });
      assert.equal(a.undeliverable.length, 1);
      assert.equal(a.undeliverable[0].reason, "too-large");
    } finally {
      await a.transport.shutdown();
    }
  });

  it("sends large envelopes intact alongside small ones", async () => {
    const a = await startNode();
    const b = await startNode();
    try {
      const big = new Uint8Array(3 * 1024 * 1024).map((_, i) => i & 255);
      a.transport.send(b.transport.selfAddress, { recipient: "/x", payload: seqPayload(0) });
      a.transport.send(b.transport.selfAddress, { recipient: "/big", payload: big });
      a.transport.send(b.transport.selfAddress, { recipient: "/x", payload: seqPayload(2) });
      await waitUntil(() => b.inbound.length === 3, 10_000, "messages");
      assert.deepEqual(b.inbound.map((m) => m.envelope.recipient), ["/x", "/big", "/x"]);
      assert.deepEqual(b.inbound[1].envelope.payload, big);
    } finally {
      await a.transport.shutdown();
      await b.transport.shutdown();
    }
  });

  it("delivers envelopes addressed to itself", async () => {
    const a = await startNode();
    try {
      a.transport.send(a.transport.selfAddress, { recipient: "/me", payload: seqPayload(5) });
      await waitUntil(() => a.inbound.length === 1, 2000, "loopback");
      assert.equal(a.inbound[0].from.incarnation, a.transport.incarnation);
      assert.equal(a.transport.connectionCount, 0);
    } finally {
      await a.transport.shutdown();
    }
  });

  it("batches envelopes sent in the same tick into batch frames", async () => {
    const a = await startNode();
    const raw = { host: "127.0.0.1", port: 1 };
    const peer = await RawPeer.connect(a.transport.selfAddress.port);
    const frames = peer.frames;
    try {
      peer.sendJson(FRAME_HANDSHAKE, helloBody("test", raw.host, raw.port));
      const challenge = await peer.next();
      assert.equal(challenge.type, FRAME_HANDSHAKE_CHALLENGE);
      assert.equal(json(challenge).incarnation, a.transport.incarnation);
      // An unauthenticated node (no secret, no TLS) names its system in the challenge.
      assert.equal(json(challenge).system, "test");
      peer.sendJson(FRAME_HANDSHAKE_AUTH, {});
      assert.equal((await peer.next()).type, FRAME_HANDSHAKE_ACK);
      await waitUntil(() => a.connected.length === 1, 2000, "raw peer connected");
      for (let i = 0; i < 100; i++) {
        a.transport.send(raw, { recipient: "/r", payload: seqPayload(i) });
      }
      let envelopes = 0;
      const count = () => {
        envelopes = 0;
        for (const f of frames.slice(2)) {
          if (f.type === FRAME_MESSAGE) envelopes++;
          else if (f.type === FRAME_BATCH) {
            for (let o = 0; o < f.payload.length;) {
              const n = new DataView(f.payload.buffer, f.payload.byteOffset + o).getUint32(0);
              o += 4 + n;
              envelopes++;
            }
          }
        }
        return envelopes;
      };
      await waitUntil(() => count() === 100, 5000, "100 envelopes");
      assert.ok(frames.slice(2).some((f) => f.type === FRAME_BATCH));
      assert.ok(frames.length - 2 < 10, `${frames.length - 2} frames for 100 envelopes`);
    } finally {
      peer.destroy();
      await a.transport.shutdown();
    }
  });

  it("closes a connection that never completes the handshake", async () => {
    const a = await startNode({ handshakeTimeout: 150 });
    const conn: TcpConnection = await defaultTcp().connect(
      "127.0.0.1",
      a.transport.selfAddress.port,
    );
    try {
      conn.onData(() => {});
      const closed = new Promise<void>((resolve) => conn.onClose(() => resolve()));
      await waitUntil(() => a.transport.connectionCount === 1, 2000, "accepted");
      await closed;
      await waitUntil(() => a.transport.connectionCount === 0, 2000, "closed");
      assert.equal(a.log.find("warn", /no handshake within 150 ms/).length, 1);
    } finally {
      conn.destroy();
      await a.transport.shutdown();
    }
  });

  it("closes a connection that sends garbage, and keeps serving its other peers", async () => {
    const a = await startNode();
    const b = await startNode();
    const conn = await defaultTcp().connect("127.0.0.1", a.transport.selfAddress.port);
    try {
      b.transport.send(a.transport.selfAddress, { recipient: "/x", payload: seqPayload(0) });
      await waitUntil(() => a.inbound.length === 1, 5000, "first message");
      const closed = new Promise<void>((resolve) => conn.onClose(() => resolve()));
      conn.onData(() => {});
      conn.write(new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
      await closed;
      assert.ok(a.log.find("error", /Closing connection/).length >= 1);
      b.transport.send(a.transport.selfAddress, { recipient: "/x", payload: seqPayload(1) });
      await waitUntil(() => a.inbound.length === 2, 5000, "second message");
      assert.equal(a.transport.connectionCount, 1);
    } finally {
      conn.destroy();
      await a.transport.shutdown();
      await b.transport.shutdown();
    }
  });

  it("validates its options", async () => {
    await assert.rejects(
      TcpTransport.start({ systemName: "", host: "127.0.0.1", port: 0 }),
      TypeError,
    );
    await assert.rejects(
      TcpTransport.start({ systemName: "s", host: "127.0.0.1", port: 0, outboundQueueLimit: -1 }),
      TypeError,
    );
  });
});
