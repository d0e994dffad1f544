import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type BarrierMsg, BarrierService } from "../../src/cluster/_barrier.ts";
import { SimulatedClock } from "../../src/testing/simulated_clock.ts";
import type { NodeAddress } from "../../src/remote/address.ts";

/** Three barrier services wired together, with a leader and epoch the test controls. */
function trio() {
  const clock = new SimulatedClock();
  const addr = (port: number): NodeAddress => ({ host: "10.0.0.1", port });
  const leadership = { leader: 1, epoch: 1 };
  const services = new Map<number, BarrierService>();
  const inFlight: { to: number; msg: BarrierMsg }[] = [];
  for (const port of [1, 2, 3]) {
    services.set(
      port,
      new BarrierService({
        self: addr(port),
        clock,
        leader: () => addr(leadership.leader),
        epoch: () => leadership.epoch,
        isLeader: () => leadership.leader === port,
        send: (to, msg) => inFlight.push({ to: to.port, msg: JSON.parse(JSON.stringify(msg)) }),
      }),
    );
  }
  /** Delivers every message in flight (and those they cause), then lets microtasks run. */
  const deliver = async (filter: (m: { to: number; msg: BarrierMsg }) => boolean = () => true) => {
    for (let round = 0; round < 20; round++) {
      await Promise.resolve();
      const batch = inFlight.splice(0).filter(filter);
      if (batch.length === 0) continue;
      for (const { to, msg } of batch) services.get(to)!.receive(msg);
    }
  };
  const settled = <T>(p: Promise<T>) => {
    const state = { done: false, error: undefined as unknown };
    p.then(() => (state.done = true), (e) => {
      state.done = true;
      state.error = e;
    });
    return state;
  };
  return { clock, services, leadership, inFlight, deliver, settled };
}

describe("BarrierService and the leader epoch", () => {
  it("releases every participant once n have arrived under one epoch", async () => {
    const t = trio();
    const waits = [1, 2, 3].map((p) => t.settled(t.services.get(p)!.arrive("go", 3, 10_000)));
    await t.deliver();
    assert.ok(waits.every((w) => w.done && w.error === undefined));
    for (const s of t.services.values()) s.close();
  });

  it("fails the waiters with a clear error when leadership moves, and drops the former leader's round", async () => {
    const t = trio();
    const two = t.settled(t.services.get(2)!.arrive("phase", 3, 10_000));
    const three = t.settled(t.services.get(3)!.arrive("phase", 3, 10_000));
    await t.deliver();
    assert.ok(!two.done && !three.done, "waiting for the third participant");
    // node 2 becomes the leader under epoch 2
    t.leadership.leader = 2;
    t.leadership.epoch = 2;
    for (const s of t.services.values()) s.leaderChanged();
    await t.deliver();
    for (const w of [two, three]) {
      assert.ok(w.done);
      assert.match(
        String((w.error as Error).message),
        /Barrier "phase" failed: leadership moved \(epoch 1 → 2\) while waiting; call barrier\(\) again/,
      );
    }
    // a new round under epoch 2 works, and node 1's former round is gone: one arrival of node 1
    // under the new epoch does not complete anything with the old arrivals
    const again = [1, 2, 3].map((p) => t.settled(t.services.get(p)!.arrive("phase", 3, 10_000)));
    await t.deliver();
    assert.ok(again.every((w) => w.done && w.error === undefined));
    for (const s of t.services.values()) s.close();
  });

  it("ignores a release from a former leader (another epoch): no round is released early", async () => {
    const t = trio();
    const one = t.settled(t.services.get(3)!.arrive("late", 2, 10_000));
    await t.deliver();
    t.leadership.leader = 2;
    t.leadership.epoch = 2;
    t.services.get(3)!.leaderChanged(); // fails the epoch-1 waiter
    await t.deliver();
    assert.ok(one.done && one.error !== undefined);
    const fresh = t.settled(t.services.get(3)!.arrive("late", 2, 10_000));
    await t.deliver((m) => m.msg.t !== "progress");
    // the former leader (node 1, epoch 1) sends a release for "late"
    t.services.get(3)!.receive({ t: "release", name: "late", epoch: 1 });
    await t.deliver();
    assert.ok(!fresh.done, "not released by the former leader");
    const other = t.settled(t.services.get(1)!.arrive("late", 2, 10_000));
    await t.deliver();
    assert.ok(fresh.done && fresh.error === undefined && other.done && other.error === undefined);
    for (const s of t.services.values()) s.close();
  });

  it("refuses an arrival at a node that does not hold the current epoch", async () => {
    const t = trio();
    t.leadership.leader = 2; // node 3 thinks 2 leads, but 2 does not hold epoch 1 in its view
    const w = t.settled(t.services.get(3)!.arrive("x", 2, 10_000));
    t.leadership.leader = 1; // by the time the arrival lands, node 1 holds the epoch
    await t.deliver();
    assert.ok(w.done);
    assert.match(
      String((w.error as Error).message),
      /this node does not lead in epoch 1\); call barrier\(\) again/,
    );
    for (const s of t.services.values()) s.close();
  });
});
