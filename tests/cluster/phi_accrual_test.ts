import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { PhiAccrualFailureDetector, phiOf } from "../../src/cluster/phi_accrual.ts";

function steady(
  fd: PhiAccrualFailureDetector,
  node: string,
  interval: number,
  count: number,
): number {
  let t = 0;
  for (let i = 0; i < count; i++, t += interval) fd.heartbeat(node, t);
  return t - interval; // time of the last heartbeat
}

describe("phiOf()", () => {
  it("matches -log10 of the normal upper tail", () => {
    assert.ok(Math.abs(phiOf(0) - Math.log10(2)) < 1e-6);
    // 1 - Φ(1) = 0.158655…, 1 - Φ(3) = 0.0013499
    assert.ok(Math.abs(phiOf(1) + Math.log10(0.158655)) < 1e-4);
    assert.ok(Math.abs(phiOf(3) + Math.log10(0.0013499)) < 1e-3);
    assert.ok(Math.abs(phiOf(5.612) - 8) < 0.01);
  });

  it("stays finite and increasing far into the tail (no underflow to Infinity)", () => {
    let prev = -1;
    for (const z of [-10, -3, 0, 2, 5, 10, 20, 38, 40, 100, 1e4]) {
      const p = phiOf(z);
      assert.ok(Number.isFinite(p), `phi(${z}) = ${p}`);
      assert.ok(p >= 0 && p > prev, `phi not increasing at ${z}`);
      prev = p;
    }
  });
});

describe("PhiAccrualFailureDetector", () => {
  it("reports phi 0 and available for a node never heard of", () => {
    const fd = new PhiAccrualFailureDetector();
    assert.equal(fd.phi("x", 1e9), 0);
    assert.ok(fd.isAvailable("x", 1e9));
    assert.ok(!fd.isMonitoring("x"));
  });

  it("grows with the time since the last heartbeat", () => {
    const fd = new PhiAccrualFailureDetector({ acceptableHeartbeatPause: 0 });
    const last = steady(fd, "b", 500, 50);
    let prev = -1;
    for (let e = 0; e <= 3000; e += 100) {
      const p = fd.phi("b", last + e);
      assert.ok(p >= prev);
      prev = p;
    }
    assert.ok(fd.phi("b", last + 3000) > 8);
  });

  it("crosses threshold 8 about 1.06 s after the last of steady 500 ms heartbeats with no pause", () => {
    const fd = new PhiAccrualFailureDetector({ acceptableHeartbeatPause: 0 });
    const last = steady(fd, "b", 500, 400); // the two warm-up samples are long gone
    let elapsed = 0;
    while (fd.isAvailable("b", last + elapsed)) elapsed++;
    assert.ok(elapsed >= 1050 && elapsed <= 1070, `crossed after ${elapsed} ms`);
  });

  it("with the defaults, tolerates 2.3 s of silence (a 1.5 s stall) and crosses at about 2.81 s", () => {
    const fd = new PhiAccrualFailureDetector();
    const last = steady(fd, "b", 500, 400);
    assert.ok(fd.isAvailable("b", last + 2300));
    let elapsed = 0;
    while (fd.isAvailable("b", last + elapsed)) elapsed++;
    assert.ok(elapsed >= 2800 && elapsed <= 2820, `crossed after ${elapsed} ms`);
  });

  it("seeds a new node's history with the first-heartbeat estimate (detects a silent node)", () => {
    const fd = new PhiAccrualFailureDetector({ acceptableHeartbeatPause: 0 });
    fd.heartbeat("new", 0); // monitoring starts; the node never answers
    assert.ok(fd.isMonitoring("new"));
    assert.ok(fd.isAvailable("new", 1500));
    let t = 0;
    while (fd.isAvailable("new", t)) t += 10;
    // mean 1000 ms, std 250 ms: phi 8 at 1000 + 5.61 × 250 ≈ 2400 ms
    assert.ok(t >= 2350 && t <= 2450, `detected after ${t} ms`);
  });

  it("does not learn from the long gap of a failure", () => {
    const fd = new PhiAccrualFailureDetector({ acceptableHeartbeatPause: 0 });
    const last = steady(fd, "b", 500, 100);
    fd.heartbeat("b", last + 60_000); // back after a minute
    // With the 60 s gap in its history it would tolerate long silences; it must not.
    assert.ok(!fd.isAvailable("b", last + 60_000 + 1500));
  });

  it("tolerates the acceptable pause", () => {
    const fd = new PhiAccrualFailureDetector({ acceptableHeartbeatPause: 3000 });
    const last = steady(fd, "b", 500, 100);
    assert.ok(fd.isAvailable("b", last + 3000));
    assert.ok(!fd.isAvailable("b", last + 5000));
  });

  it("forgets a node on remove()", () => {
    const fd = new PhiAccrualFailureDetector();
    steady(fd, "b", 500, 10);
    fd.remove("b");
    assert.equal(fd.phi("b", 1e6), 0);
  });

  it("rejects bad options", () => {
    assert.throws(() => new PhiAccrualFailureDetector({ threshold: 0 }), RangeError);
    assert.throws(() => new PhiAccrualFailureDetector({ minStdDeviation: -1 }), RangeError);
    assert.throws(() => new PhiAccrualFailureDetector({ maxSampleSize: 0 }), RangeError);
  });
});
