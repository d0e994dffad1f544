// Bounded resources of TcpTransport on real sockets: the control lane, queues bounded in bytes,
// the writable signal, idle connections, connection and handshake caps, forgotten peers.

import { freePort } from "../../src/testing/partition_proxy.ts";
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { TcpTransportOptions } from "../../src/remote/tcp_transport.ts";
import { startTransportNode, type TransportNode } from "../_helpers/transport_node.ts";
import { waitUntil } from "../_helpers/child_process.ts";
import { RawPeer } from "../_helpers/raw_peer.ts";

type Node = TransportNode;

function startNode(options: Partial<TcpTransportOptions> = {}): Promise<Node> {
  return startTransportNode("res", options);
}

const bytes = (n: number, fill = 0): Uint8Array => new Uint8Array(n).fill(fill);

describe("TcpTransport lanes and queues", () => {
  it("writes control envelopes before queued user envelopes, and never overflows them", async () => {
    const port = await freePort();
    const target = { host: "127.0.0.1", port };
    const a = await startNode({ outboundQueueLimit: 1000 });
    let b: Node | undefined;
    try {
      // Queued while the peer is down: 1,500 user envelopes (500 overflow), then 5 control.
      for (let i = 0; i < 1500; i++) {
        a.transport.send(target, { recipient: "/user/sink", payload: bytes(8, 1) });
      }
      for (let i = 0; i < 5; i++) {
        a.transport.send(target, {
          recipient: "/_cluster/hb",
          payload: bytes(8, 2),
          lane: "control",
        });
      }
      assert.equal(a.undeliverable.length, 500);
      assert.ok(a.undeliverable.every((u) => u.reason === "queue-overflow"));
      assert.equal(a.transport.queuedCount(target), 1000);
      b = await startNode({ port });
      await waitUntil(() => b!.inbound.length === 1005, 10_000, "all queued envelopes");
      const order = b.inbound.map((x) => x.envelope.recipient);
      assert.deepEqual(order.slice(0, 5), Array(5).fill("/_cluster/hb"));
      assert.equal(a.transport.queuedCount(target), 0);
      assert.equal(a.transport.queuedBytes(target), 0);
    } finally {
      await a.transport.shutdown();
      await b?.transport.shutdown();
    }
  });

  it("overtakes a deep user backlog on a live connection with a control envelope", async () => {
    const a = await startNode({ writeHighWaterMark: 64 * 1024 });
    const b = await startNode();
    try {
      a.transport.send(b.transport.selfAddress, { recipient: "/warm", payload: bytes(1) });
      await waitUntil(() => b.inbound.length === 1, 5000, "connected");
      for (let i = 0; i < 2000; i++) {
        a.transport.send(b.transport.selfAddress, {
          recipient: "/user/bulk",
          payload: bytes(10_000),
        });
      }
      a.transport.send(b.transport.selfAddress, {
        recipient: "/_cluster/heartbeat",
        payload: bytes(8),
        lane: "control",
      });
      await waitUntil(() => b.inbound.length === 2002, 20_000, "everything delivered");
      const at = b.inbound.findIndex((x) => x.envelope.recipient === "/_cluster/heartbeat");
      assert.ok(at > 0 && at < 200, `the control envelope arrived at position ${at} of 2002`);
    } finally {
      await a.transport.shutdown();
      await b.transport.shutdown();
    }
  });

  it("bounds each queue in bytes as well as in count", async () => {
    const target = { host: "127.0.0.1", port: await freePort() };
    const a = await startNode({ outboundQueueBytes: 2500 });
    try {
      for (let i = 0; i < 3; i++) {
        a.transport.send(target, { recipient: "/u", payload: bytes(1000) });
      }
      assert.equal(a.transport.queuedCount(target), 2);
      assert.equal(a.transport.queuedBytes(target), 2000);
      assert.deepEqual(a.undeliverable.map((u) => u.reason), ["queue-overflow"]);
      // The control lane has its own budget.
      a.transport.send(target, { recipient: "/_cluster/x", payload: bytes(1000), lane: "control" });
      assert.equal(a.undeliverable.length, 1);
    } finally {
      await a.transport.shutdown();
    }
  });

  it("wakes whenWritable when the queue drains into a connection, without polling", async () => {
    const port = await freePort();
    const target = { host: "127.0.0.1", port };
    const a = await startNode({ outboundQueueLimit: 10 });
    let b: Node | undefined;
    try {
      for (let i = 0; i < 10; i++) a.transport.send(target, { recipient: "/u", payload: bytes(4) });
      let woke = false;
      const writable = a.transport.whenWritable(target).then(() => {
        woke = true;
      });
      const aborted = new AbortController();
      const cancelled = a.transport.whenWritable(target, aborted.signal);
      aborted.abort(new Error("gave up"));
      await assert.rejects(cancelled, /gave up/);
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(woke, false, "woke while the queue was still full");
      b = await startNode({ port });
      await writable;
      await waitUntil(() => b!.inbound.length === 10, 5000, "drained");
      await a.transport.whenWritable(target); // room now: resolves at once
    } finally {
      await a.transport.shutdown();
      await b?.transport.shutdown();
    }
  });

  it("wakes whenWritable when the queue is dropped", async () => {
    const target = { host: "127.0.0.1", port: await freePort() };
    const a = await startNode({ outboundQueueLimit: 2 });
    try {
      a.transport.send(target, { recipient: "/u", payload: bytes(4) });
      a.transport.send(target, { recipient: "/u", payload: bytes(4) });
      const writable = a.transport.whenWritable(target);
      assert.equal(a.transport.dropQueued(target, "unreachable"), 2);
      await writable;
      assert.deepEqual(a.undeliverable.map((u) => u.reason), ["unreachable", "unreachable"]);
    } finally {
      await a.transport.shutdown();
    }
  });
});

describe("TcpTransport connection limits", () => {
  it("closes idle connections, and reconnects for the next message", async () => {
    const a = await startNode({ idleTimeout: 200 });
    const b = await startNode();
    try {
      a.transport.send(b.transport.selfAddress, { recipient: "/x", payload: bytes(1) });
      await waitUntil(() => b.inbound.length === 1, 5000, "first message");
      await waitUntil(() => a.transport.connectionCount === 0, 5000, "idle connection closed");
      assert.ok(a.log.find("debug", /idle for \d+ ms/).length >= 1);
      await waitUntil(() => b.transport.connectionCount === 0, 5000, "closed on both sides");
      a.transport.send(b.transport.selfAddress, { recipient: "/x", payload: bytes(2) });
      await waitUntil(() => b.inbound.length === 2, 5000, "message after reconnect");
    } finally {
      await a.transport.shutdown();
      await b.transport.shutdown();
    }
  });

  it("keeps a main connection open while the peers' control connections are busy", async () => {
    const a = await startNode({ idleTimeout: 300 });
    const b = await startNode({ idleTimeout: 300 });
    const beat = setInterval(() => {
      for (const [from, to] of [[a, b], [b, a]]) {
        from.transport.send(to.transport.selfAddress, {
          recipient: "/_cluster/heartbeat",
          payload: bytes(1),
          lane: "control",
        });
      }
    }, 50);
    try {
      a.transport.send(b.transport.selfAddress, { recipient: "/x", payload: bytes(1) });
      await waitUntil(() => b.inbound.some((x) => x.envelope.recipient === "/x"), 5000, "user");
      const beats = () => b.inbound.filter((x) => x.envelope.recipient === "/_cluster/heartbeat");
      const before = beats().length;
      // Five idle timeouts of heartbeats only: the main connection stays.
      await waitUntil(() => beats().length >= before + 30, 10_000, "heartbeats");
      assert.equal(a.disconnected.length + b.disconnected.length, 0);
      assert.equal(a.transport.connectedPeers().length, 1);
      assert.equal(a.transport.connectionCount, 3, "main connection and two control ones");
    } finally {
      clearInterval(beat);
      await a.transport.shutdown();
      await b.transport.shutdown();
    }
  });

  it("caps handshakes in progress and open connections", async () => {
    const a = await startNode({ maxHandshakes: 2, maxConnections: 3 });
    const raws: RawPeer[] = [];
    try {
      for (let i = 0; i < 3; i++) raws.push(await RawPeer.connect(a.transport.selfAddress.port));
      await raws[2].waitClosed();
      assert.equal(a.log.find("warn", /maxHandshakes 2/).length, 1);
      assert.ok(!raws[0].closed && !raws[1].closed);
      raws[0].destroy();
      raws[1].destroy();
      await waitUntil(() => a.transport.connectionCount === 0, 5000, "raw sockets gone");
      const b = await startNode();
      try {
        b.transport.send(a.transport.selfAddress, { recipient: "/x", payload: bytes(1) });
        await waitUntil(() => a.inbound.length === 1, 5000, "a real peer gets in");
        for (let i = 0; i < 3; i++) raws.push(await RawPeer.connect(a.transport.selfAddress.port));
        await raws[5].waitClosed();
        assert.ok(!raws[3].closed && !raws[4].closed);
        assert.equal(a.log.find("warn", /maxConnections 3/).length, 1);
        assert.equal(a.transport.connectedPeers().length, 1);
      } finally {
        await b.transport.shutdown();
      }
    } finally {
      for (const raw of raws) raw.destroy();
      await a.transport.shutdown();
    }
  });

  it("forgets a removed peer's entries, at once or once its connection closes", async () => {
    const a = await startNode();
    const b = await startNode();
    try {
      const gone = { host: "127.0.0.1", port: await freePort() };
      a.transport.send(gone, { recipient: "/x", payload: bytes(1) });
      assert.equal(a.transport.peerCount, 1);
      assert.equal(a.transport.forget(gone), true);
      assert.equal(a.transport.peerCount, 0);
      assert.deepEqual(a.undeliverable.map((u) => u.reason), ["unreachable"]);

      a.transport.send(b.transport.selfAddress, { recipient: "/x", payload: bytes(1) });
      await waitUntil(() => b.inbound.length === 1, 5000, "connected");
      assert.equal(a.transport.forget(b.transport.selfAddress), false);
      assert.equal(a.transport.peerCount, 1);
      await b.transport.shutdown();
      await waitUntil(() => a.transport.peerCount === 0, 5000, "entry dropped after close");
    } finally {
      await a.transport.shutdown();
      await b.transport.shutdown();
    }
  });
});
