import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { Envelope, NodeAddress, PeerIdentity, UndeliverableReason } from "../../mod.ts";
import {
  InMemoryTransport,
  type InMemoryTransportOptions,
  SimulatedClock,
  transportNetwork,
} from "../../src/testing/mod.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A transport plus everything its callbacks reported. */
interface Node {
  readonly t: InMemoryTransport;
  readonly inbound: string[];
  readonly undeliverable: { text: string; reason: UndeliverableReason }[];
  readonly events: string[];
}

function world(latency = 1) {
  const clock = new SimulatedClock();
  const network = transportNetwork(clock, latency);
  const nodes: Node[] = [];
  const node = (
    port: number,
    extra: Partial<InMemoryTransportOptions> = {},
  ): Node => {
    const inbound: string[] = [];
    const undeliverable: { text: string; reason: UndeliverableReason }[] = [];
    const events: string[] = [];
    const t = new InMemoryTransport({
      network,
      clock,
      systemName: "sys",
      address: { host: "127.0.0.1", port },
      incarnation: `inc-${port}-${clock.now()}`,
      logger: { debug() {}, info() {}, warn() {}, error() {} },
      onInbound: (from: PeerIdentity, env: Envelope) =>
        inbound.push(`${from.port}:${env.recipient}:${dec.decode(env.payload)}`),
      onUndeliverable: (_to: NodeAddress, env: Envelope, reason: UndeliverableReason) =>
        undeliverable.push({ text: dec.decode(env.payload), reason }),
      onPeerConnected: (p: PeerIdentity) => events.push(`up ${p.port} ${p.incarnation}`),
      onPeerDisconnected: (p: PeerIdentity) => events.push(`down ${p.port}`),
      ...extra,
    });
    const n = { t, inbound, undeliverable, events };
    nodes.push(n);
    return n;
  };
  const send = (from: Node, to: Node, text: string, lane?: "control" | "user") =>
    from.t.send(to.t.selfAddress, {
      recipient: lane === "control" ? "/_cluster/x" : "/user/x",
      payload: enc.encode(text),
      lane,
    });
  const stop = async () => {
    for (const n of nodes) await n.t.shutdown();
  };
  return { clock, network, node, send, stop };
}

describe("InMemoryTransport", () => {
  it("connects by a handshake and delivers in order, with each side's identity", async () => {
    const w = world(3);
    try {
      const a = w.node(1);
      const b = w.node(2);
      for (let i = 0; i < 50; i++) w.send(a, b, `m${i}`);
      assert.equal(a.t.queuedCount(b.t.selfAddress), 50, "queued while the handshake runs");
      assert.equal(a.t.queuedBytes(b.t.selfAddress), 50 * 2 + 40);
      w.clock.advance(2);
      assert.equal(b.inbound.length, 0, "nothing arrives before the latency has passed");
      w.clock.advance(20);
      assert.deepEqual(b.inbound, Array.from({ length: 50 }, (_, i) => `1:/user/x:m${i}`));
      assert.deepEqual(a.events, [`up 2 ${b.t.incarnation}`]);
      assert.deepEqual(b.events, [`up 1 ${a.t.incarnation}`]);
      assert.equal(a.t.queuedCount(b.t.selfAddress), 0);
      w.send(b, a, "back");
      w.clock.advance(3);
      assert.deepEqual(a.inbound, ["2:/user/x:back"]);
      assert.ok(w.network.stats.bytes > 0);
    } finally {
      await w.stop();
    }
  });

  it("delivers to itself without the network", async () => {
    const w = world();
    try {
      const a = w.node(1);
      w.send(a, a, "self");
      await Promise.resolve();
      assert.deepEqual(a.inbound, ["1:/user/x:self"]);
      assert.equal(w.network.stats.messages, 0);
    } finally {
      await w.stop();
    }
  });

  it("refuses a peer with another system name: its queue becomes undeliverable", async () => {
    const w = world();
    try {
      const a = w.node(1);
      const b = w.node(2, { systemName: "other" });
      w.send(a, b, "lost");
      w.clock.advance(10);
      assert.deepEqual(b.inbound, []);
      assert.deepEqual(a.undeliverable, [{ text: "lost", reason: "refused" }]);
    } finally {
      await w.stop();
    }
  });

  it("breaks the connection across a partition, retries, and delivers after heal", async () => {
    const w = world();
    try {
      const a = w.node(1);
      const b = w.node(2);
      w.send(a, b, "before");
      w.clock.advance(10);
      assert.deepEqual(b.inbound, ["1:/user/x:before"]);
      w.network.partition([a.t.selfAddress], [b.t.selfAddress]);
      w.send(a, b, "during");
      assert.deepEqual(a.events.at(-1), "down 2", "the sender sees the break at once");
      assert.deepEqual(b.events.at(-1), "down 1", "and so does the other end");
      w.clock.advance(8000);
      assert.deepEqual(b.inbound, ["1:/user/x:before"]);
      assert.equal(a.t.queuedCount(b.t.selfAddress), 1, "waits in the queue, not lost");
      w.network.heal();
      w.clock.advance(15_000);
      assert.deepEqual(b.inbound, ["1:/user/x:before", "1:/user/x:during"]);
      assert.equal(a.undeliverable.length, 0);
    } finally {
      await w.stop();
    }
  });

  it("resends an unanswered hello like a SYN: a dial begun during a cut connects soon after the heal", async () => {
    const w = world();
    try {
      const a = w.node(1);
      const b = w.node(2);
      w.network.partition([a.t.selfAddress], [b.t.selfAddress]);
      w.send(a, b, "during");
      // The dial's hello is lost on the cut; the heal comes 1.5 s later, well inside the 5 s
      // connect timeout, so that dial is still waiting for its answer.
      w.clock.advance(1500);
      w.network.heal();
      const healedAt = w.clock.now();
      for (let i = 0; i < 10_000 && b.inbound.length === 0; i++) w.clock.advance(10);
      assert.deepEqual(b.inbound, ["1:/user/x:during"]);
      const lag = w.clock.now() - healedAt;
      // Retransmissions at 1 s and 3 s after the dial: the one at 3 s (1.5 s after the heal)
      // connects. Without them the dial waited out its 5 s timeout and a backoff first.
      assert.ok(lag <= 1600, `delivered ${lag} ms after the heal`);
      assert.ok(lag >= 1400, `delivered ${lag} ms after the heal: too early for a lost hello`);
      assert.equal(a.undeliverable.length, 0);
    } finally {
      await w.stop();
    }
  });

  it("makes queued envelopes undeliverable after unreachableTimeout", async () => {
    const w = world();
    try {
      const a = w.node(1, { unreachableTimeout: 3000 });
      const b = w.node(2);
      w.network.partition([a.t.selfAddress], [b.t.selfAddress]);
      w.send(a, b, "x");
      w.clock.advance(2999);
      assert.deepEqual(a.undeliverable, []);
      w.clock.advance(1);
      assert.deepEqual(a.undeliverable, [{ text: "x", reason: "unreachable" }]);
    } finally {
      await w.stop();
    }
  });

  it("a killed peer drops its connections; a new incarnation at its address is connected", async () => {
    const w = world();
    try {
      const a = w.node(1);
      const b = w.node(2);
      w.send(a, b, "one");
      w.clock.advance(10);
      w.send(a, b, "in flight");
      b.t.kill();
      assert.equal(a.events.at(-1), "down 2");
      w.clock.advance(10);
      assert.deepEqual(b.inbound, ["1:/user/x:one"], "a killed transport receives nothing");
      assert.equal(b.events.length, 1, "and calls none of its callbacks");
      w.send(a, b, "queued");
      w.clock.advance(500);
      assert.equal(a.t.queuedCount(b.t.selfAddress), 1, "dials are refused, the envelope waits");
      const b2 = w.node(2);
      w.clock.advance(20_000);
      assert.deepEqual(b2.inbound, ["1:/user/x:queued"]);
      assert.equal(a.events.at(-1), `up 2 ${b2.t.incarnation}`);
      assert.notEqual(b2.t.incarnation, b.t.incarnation);
    } finally {
      await w.stop();
    }
  });

  it("overflows the user lane only; control envelopes jump the queue", async () => {
    const w = world();
    try {
      const a = w.node(1, { outboundQueueLimit: 3 });
      const b = w.node(2);
      for (let i = 0; i < 5; i++) w.send(a, b, `u${i}`);
      w.send(a, b, "c0", "control");
      assert.deepEqual(a.undeliverable, [
        { text: "u3", reason: "queue-overflow" },
        { text: "u4", reason: "queue-overflow" },
      ]);
      assert.equal(a.t.queuedCount(b.t.selfAddress), 3, "control envelopes are not counted");
      let writable = false;
      const waiting = a.t.whenWritable(b.t.selfAddress).then(() => (writable = true));
      await Promise.resolve();
      assert.equal(writable, false, "a full queue is not writable");
      w.clock.advance(10);
      await waiting;
      assert.equal(writable, true);
      assert.deepEqual(b.inbound, [
        "1:/_cluster/x:c0",
        "1:/user/x:u0",
        "1:/user/x:u1",
        "1:/user/x:u2",
      ]);
    } finally {
      await w.stop();
    }
  });

  it("whenWritable rejects with the signal's reason; dropQueued reports what it drops", async () => {
    const w = world();
    try {
      const a = w.node(1, { outboundQueueLimit: 1 });
      const b = w.node(2);
      w.network.partition([a.t.selfAddress], [b.t.selfAddress]);
      w.send(a, b, "q");
      const ac = new AbortController();
      const waiting = a.t.whenWritable(b.t.selfAddress, ac.signal);
      ac.abort(new Error("gave up"));
      await assert.rejects(waiting, /gave up/);
      assert.equal(a.t.dropQueued(b.t.selfAddress, "unreachable"), 1);
      assert.deepEqual(a.undeliverable, [{ text: "q", reason: "unreachable" }]);
      assert.equal(a.t.queuedCount(b.t.selfAddress), 0);
    } finally {
      await w.stop();
    }
  });

  it("stopAccepting refuses new connections; open ones stay, and a dialer keeps its queue", async () => {
    const w = world();
    try {
      const a = w.node(1);
      const b = w.node(2);
      const c = w.node(3);
      w.send(a, c, "before");
      w.clock.advance(10);
      assert.deepEqual(c.inbound, ["1:/user/x:before"]);
      await c.t.stopAccepting();
      w.send(a, c, "open link"); // the connection made before stays
      w.send(b, c, "new link"); // a new one is not accepted
      w.clock.advance(8000); // past the connect timeout: b dials again, and again
      assert.deepEqual(c.inbound, ["1:/user/x:before", "1:/user/x:open link"]);
      assert.deepEqual(c.events, [`up 1 ${a.t.incarnation}`]);
      assert.equal(b.t.queuedCount(c.t.selfAddress), 1, "kept, not flushed or lost");
      assert.deepEqual(b.undeliverable, []);
      // What the cluster does once it hears the node is gone: dead letters, nothing silent.
      assert.equal(b.t.dropQueued(c.t.selfAddress, "unreachable"), 1);
      assert.deepEqual(b.undeliverable, [{ text: "new link", reason: "unreachable" }]);
    } finally {
      await w.stop();
    }
  });

  it("shutdown reports queued envelopes, and later sends, as shutdown", async () => {
    const w = world();
    const a = w.node(1);
    const b = w.node(2);
    w.network.partition([a.t.selfAddress], [b.t.selfAddress]);
    w.send(a, b, "queued");
    await a.t.shutdown();
    w.send(a, b, "after");
    assert.deepEqual(a.undeliverable, [
      { text: "queued", reason: "shutdown" },
      { text: "after", reason: "shutdown" },
    ]);
    assert.throws(() => w.node(2), /address is in use/);
    await w.stop();
  });
});
