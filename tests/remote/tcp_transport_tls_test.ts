import { describe, it } from "node:test";
import assert from "node:assert/strict";
// Only this test talks to node:tls directly: our own TLS client always presents a
// certificate, and here we need one that does not.
import * as tls from "node:tls";
import { TcpTransport, type TcpTransportOptions } from "../../src/remote/tcp_transport.ts";
import type { Envelope, UndeliverableReason } from "../../src/remote/transport.ts";
import { defaultTcp } from "../../src/runtime/select.ts";
import { encodeFrame, FRAME_HANDSHAKE } from "../../src/remote/_framing.ts";
import { tlsFixtures } from "../_helpers/tls_fixtures.ts";
import { CollectingLogger } from "../_helpers/logger.ts";
import { waitUntil } from "../_helpers/child_process.ts";

interface Node {
  transport: TcpTransport;
  inbound: Envelope[];
  undeliverable: UndeliverableReason[];
  log: CollectingLogger;
}

async function startNode(options: Partial<TcpTransportOptions>): Promise<Node> {
  const node = { inbound: [], undeliverable: [], log: new CollectingLogger() } as unknown as Node;
  node.transport = await TcpTransport.start({
    systemName: "secure",
    host: "127.0.0.1",
    port: 0,
    logger: node.log,
    reconnectBackoff: { min: 20, max: 100 },
    onInbound: (_from, envelope) => node.inbound.push(envelope),
    onUndeliverable: (_to, _envelope, reason) => node.undeliverable.push(reason),
    ...options,
  });
  return node;
}

const hello = encodeFrame(
  FRAME_HANDSHAKE,
  new TextEncoder().encode(
    JSON.stringify({ v: 1, system: "secure", host: "127.0.0.1", port: 1, incarnation: "x" }),
  ),
);

describe("TcpTransport with mutual TLS", () => {
  it("exchanges messages between nodes with certificates from the shared CA", async () => {
    const a = await startNode({ tls: { ...tlsFixtures.node1, ca: tlsFixtures.ca } });
    const b = await startNode({ tls: { ...tlsFixtures.node2, ca: tlsFixtures.ca } });
    try {
      for (let i = 0; i < 100; i++) {
        a.transport.send(b.transport.selfAddress, {
          recipient: "/b",
          payload: new Uint8Array([i]),
        });
        b.transport.send(a.transport.selfAddress, {
          recipient: "/a",
          payload: new Uint8Array([i]),
        });
      }
      await waitUntil(
        () => a.inbound.length === 100 && b.inbound.length === 100,
        10_000,
        "messages",
      );
      assert.deepEqual(b.inbound.map((e) => e.payload[0]), [...Array(100).keys()]);
      assert.deepEqual(a.inbound.map((e) => e.payload[0]), [...Array(100).keys()]);
    } finally {
      await a.transport.shutdown();
      await b.transport.shutdown();
    }
  });

  it("refuses a node whose certificate comes from another CA", async () => {
    const a = await startNode({ tls: { ...tlsFixtures.node1, ca: tlsFixtures.ca } });
    const rogue = await startNode({
      tls: { ...tlsFixtures.rogue, ca: tlsFixtures.ca },
      unreachableTimeout: 300,
    });
    try {
      rogue.transport.send(a.transport.selfAddress, {
        recipient: "/a",
        payload: new Uint8Array([1]),
      });
      await waitUntil(() => rogue.undeliverable.length === 1, 10_000, "rogue gives up");
      assert.equal(rogue.undeliverable[0], "unreachable");
      assert.equal(a.inbound.length, 0);
      assert.ok(a.log.find("warn", /Rejected connection/).length > 0);
      await waitUntil(() => a.transport.connectionCount === 0, 5000, "no rogue connection left");
    } finally {
      await a.transport.shutdown();
      await rogue.transport.shutdown();
    }
  });

  it("refuses a client that presents no certificate", async () => {
    const a = await startNode({ tls: { ...tlsFixtures.node1, ca: tlsFixtures.ca } });
    try {
      const socket = tls.connect({
        host: "127.0.0.1",
        port: a.transport.selfAddress.port,
        ca: tlsFixtures.ca,
      });
      const outcome = await new Promise<string>((resolve) => {
        const timer = setTimeout(() => resolve("timeout"), 5000);
        socket.on("secureConnect", () => socket.write(hello));
        socket.on("data", () => {
          clearTimeout(timer);
          resolve("data");
        });
        socket.on("error", () => {});
        socket.on("close", () => {
          clearTimeout(timer);
          resolve("closed");
        });
      });
      socket.destroy();
      assert.equal(outcome, "closed");
      assert.equal(a.inbound.length, 0);
      await waitUntil(() => a.log.find("warn", /Rejected connection/).length > 0, 5000, "logged");
      assert.equal(a.transport.connectionCount, 0);
    } finally {
      await a.transport.shutdown();
    }
  });

  it("closes a plain TCP client on a TLS port", async () => {
    const a = await startNode({ tls: { ...tlsFixtures.node1, ca: tlsFixtures.ca } });
    try {
      const conn = await defaultTcp().connect("127.0.0.1", a.transport.selfAddress.port);
      const closed = new Promise<void>((resolve) => conn.onClose(() => resolve()));
      conn.onData(() => {});
      conn.write(hello);
      await closed;
      assert.equal(a.inbound.length, 0);
      assert.equal(a.transport.connectionCount, 0);
    } finally {
      await a.transport.shutdown();
    }
  });
});
