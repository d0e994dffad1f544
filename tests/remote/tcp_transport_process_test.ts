import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { TcpTransport } from "../../src/remote/tcp_transport.ts";
import type { PeerIdentity } from "../../src/remote/transport.ts";
import { HelperProcess, waitUntil } from "../_helpers/child_process.ts";
import { CollectingLogger } from "../_helpers/logger.ts";

const helper = fileURLToPath(new URL("../_helpers/remote_node.ts", import.meta.url));

function payload(seq: number): Uint8Array {
  // ~100 bytes: a sequence number and filler derived from it.
  const p = new Uint8Array(100);
  p[0] = seq >>> 24;
  p[1] = (seq >>> 16) & 255;
  p[2] = (seq >>> 8) & 255;
  p[3] = seq & 255;
  for (let i = 4; i < p.length; i++) p[i] = (seq + i) & 255;
  return p;
}

function seqOf(p: Uint8Array): number {
  return ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0;
}

function fnv(payloads: Iterable<Uint8Array>): number {
  let h = 0x811c9dc5;
  for (const p of payloads) {
    for (let i = 0; i < p.length; i++) h = Math.imul(h ^ p[i], 0x01000193) >>> 0;
  }
  return h;
}

describe("TcpTransport between two processes", () => {
  it("exchanges 100,000 ordered messages each way", { timeout: 120_000 }, async () => {
    const total = 100_000;
    const child = HelperProcess.start(helper, [JSON.stringify({ expect: total })]);
    let echoed = 0;
    let inOrder = true;
    const undeliverable: string[] = [];
    const transport = await TcpTransport.start({
      systemName: "test",
      host: "127.0.0.1",
      port: 0,
      logger: new CollectingLogger(),
      onInbound: (_from, envelope) => {
        if (seqOf(envelope.payload) !== echoed) inOrder = false;
        echoed++;
      },
      onUndeliverable: (_to, _env, reason) => undeliverable.push(reason),
    });
    try {
      const ready = await child.waitFor((e) => e.event === "ready", 30_000);
      const to = { host: "127.0.0.1", port: ready.port as number };
      let sent = 0;
      const deadline = Date.now() + 60_000;
      while (sent < total) {
        assert.ok(Date.now() < deadline, "sending took too long");
        // Respect backpressure: keep the outbound queue well under its limit.
        while (sent < total && transport.queuedCount(to) < 20_000) {
          transport.send(to, { recipient: "/sink", sender: "/source", payload: payload(sent++) });
        }
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      const done = await child.waitFor((e) => e.event === "done", 60_000);
      assert.equal(done.count, total);
      assert.equal(done.inOrder, true);
      const expected = fnv((function* () {
        for (let i = 0; i < total; i++) yield payload(i);
      })());
      assert.equal(done.checksum, expected);
      await waitUntil(() => echoed === total, 60_000, "all echoes");
      assert.ok(inOrder, "echoes arrived in order");
      assert.deepEqual(undeliverable, []);
    } finally {
      await transport.shutdown();
      await child.stop();
    }
  });

  it("resumes traffic with a SIGKILLed peer once it restarts, seeing its new incarnation", {
    timeout: 60_000,
  }, async () => {
    let child = HelperProcess.start(helper, [JSON.stringify({})]);
    const connected: PeerIdentity[] = [];
    const disconnected: PeerIdentity[] = [];
    const echoes: { seq: number; incarnation: string }[] = [];
    const transport = await TcpTransport.start({
      systemName: "test",
      host: "127.0.0.1",
      port: 0,
      logger: new CollectingLogger(),
      reconnectBackoff: { min: 20, max: 200 },
      onInbound: (from, envelope) =>
        echoes.push({ seq: seqOf(envelope.payload), incarnation: from.incarnation }),
      onPeerConnected: (peer) => connected.push(peer),
      onPeerDisconnected: (peer) => disconnected.push(peer),
    });
    try {
      const first = await child.waitFor((e) => e.event === "ready", 30_000);
      const to = { host: "127.0.0.1", port: first.port as number };
      transport.send(to, { recipient: "/echo", payload: payload(0) });
      await waitUntil(() => echoes.length === 1, 10_000, "first echo");
      assert.equal(echoes[0].incarnation, first.incarnation);

      child.kill("SIGKILL");
      await child.exited;
      await waitUntil(() => disconnected.length === 1, 10_000, "disconnect after SIGKILL");
      assert.equal(disconnected[0].incarnation, first.incarnation);

      // Sent while the peer is down: queued, retried with backoff, delivered after restart.
      for (let i = 1; i <= 10; i++) transport.send(to, { recipient: "/echo", payload: payload(i) });
      child = HelperProcess.start(helper, [JSON.stringify({ port: to.port })]);
      const second = await child.waitFor((e) => e.event === "ready", 30_000);
      assert.notEqual(second.incarnation, first.incarnation);
      await waitUntil(() => echoes.length === 11, 15_000, "echoes from the restarted peer");
      assert.deepEqual(echoes.slice(1).map((e) => e.seq), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      assert.ok(echoes.slice(1).every((e) => e.incarnation === second.incarnation));
      assert.deepEqual(connected.map((p) => p.incarnation), [
        first.incarnation,
        second.incarnation,
      ]);
    } finally {
      await transport.shutdown();
      await child.stop();
    }
  });
});
