// @casty/casty/testing's real-process kit: startNodeProcess (ready handshake, reports, SIGKILL,
// graceful stop) and PartitionProxy (partitions between real node processes).
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  freePort,
  NodeProcess,
  NodeProcessError,
  PartitionProxy,
  type ProcessReport,
  startNodeProcess,
} from "../../src/testing/mod.ts";

const NODE = new URL("./_kit_node.ts", import.meta.url);
const LONG = { timeout: 60_000 };

describe("startNodeProcess", () => {
  it("waits for the ready report, follows reports, and kills with SIGKILL", LONG, async () => {
    const node = await startNodeProcess(NODE, { args: ["echo"] });
    try {
      assert.ok(node instanceof NodeProcess);
      assert.equal(node.ready.mode, "echo");
      assert.equal(node.ready.pid, node.pid);
      assert.equal((await node.waitFor((r) => r.event === "hello")).n, 1);
      assert.deepEqual(node.reports.map((r) => r.event), ["ready", "hello"]);
      assert.deepEqual(node.output, ["plain output, not a report"]);
      assert.equal(node.running, true);
      // a report that never comes: a clear error after the timeout
      await assert.rejects(
        node.waitFor((r) => r.event === "never", { timeout: 200 }),
        (e: Error) => e instanceof NodeProcessError && /none matched within 200 ms/.test(e.message),
      );
    } finally {
      const exit = await node.kill();
      assert.deepEqual(exit, { code: null, signal: "SIGKILL" });
      assert.equal(node.running, false);
    }
  });

  it("stops gracefully: its stop handlers run, then it exits 0", LONG, async () => {
    const node = await startNodeProcess(NODE, { args: ["stop"] });
    const exit = await node.stop();
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.ok(node.reports.some((r: ProcessReport) => r.event === "stopping"));
  });

  it("fails with the child's stderr when it exits before ready", LONG, async () => {
    await assert.rejects(
      startNodeProcess(NODE, { args: ["crash"] }),
      (e: Error) =>
        e instanceof NodeProcessError && e.code === "NODE_PROCESS" &&
        /^Cannot start node process ".*_kit_node\.ts": no ready report \(it exited \(code 3\) first; stderr: boom: no configuration\)$/
          .test(e.message),
    );
  });

  it("kills a child that does not report ready in time", LONG, async () => {
    const t0 = Date.now();
    await assert.rejects(
      startNodeProcess(NODE, { args: ["silent"], readyTimeout: 1500 }),
      /no ready report \(none matched within 1500 ms\)/,
    );
    assert.ok(Date.now() - t0 < 10_000);
  });
});

describe("PartitionProxy with real node processes", () => {
  it("partitions 3|1: the minority shuts down, the majority removes it and goes on", {
    timeout: 90_000,
  }, async () => {
    await using net = new PartitionProxy();
    const addrs = [await net.add(), await net.add(), await net.add(), await net.add()];
    const seed = addrs[0].port;
    const nodes = await Promise.all(
      addrs.map((a) =>
        startNodeProcess(NODE, { args: ["cluster", `${a.port}`, `${a.bindPort}`, `${seed}`] })
      ),
    );
    try {
      const ports = addrs.map((a) => a.port);
      const sees = (up: number[]) => (r: ProcessReport) =>
        r.event === "view" &&
        JSON.stringify(r.up) === JSON.stringify([...up].sort((a, b) => a - b));
      await Promise.all(nodes.map((n) => n.waitFor(sees(ports), { timeout: 30_000 })));
      assert.ok(net.connections > 0, "the nodes talk through the proxies");

      // node 3 alone against 0, 1, 2
      net.partition(ports.slice(0, 3), ports[3]);
      assert.equal(net.allowed(ports[0], ports[3]), false);
      const shut = await nodes[3].waitFor((r) => r.event === "ShutdownSelf", { timeout: 30_000 });
      assert.equal(shut.reason, "minority");
      await Promise.all(
        nodes.slice(0, 3).map((n) => n.waitFor(sees(ports.slice(0, 3)), { timeout: 30_000 })),
      );
      net.heal();
      assert.equal(net.allowed(ports[0], ports[3]), true);
    } finally {
      await Promise.all(nodes.map((n) => n.kill()));
    }
  });

  it("cuts one link and restores it; refuses what is not a casty handshake", LONG, async () => {
    await using net = new PartitionProxy();
    const a = await net.add(await freePort());
    assert.ok(a.port !== a.bindPort);
    net.cut(a.port, 1);
    assert.equal(net.allowed(a.port, 1), false);
    assert.equal(net.allowed(1, a.port), false);
    assert.equal(net.allowed(a.port, 2), true);
    net.restore(1, a.port);
    assert.equal(net.allowed(a.port, 1), true);
    // a client that sends garbage is dropped without a connection upstream
    const { defaultTcp } = await import("../../src/runtime/select.ts");
    const conn = await defaultTcp().connect("127.0.0.1", a.port);
    const closed = new Promise<void>((resolve) => conn.onClose(() => resolve()));
    conn.write(new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n"));
    await closed;
    assert.equal(net.connections, 0);
  });
});
