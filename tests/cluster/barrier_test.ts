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

  it("arrives again at the new leader when leadership moves, and drops the former leader's round", async () => {
    const t = trio();
    const two = t.settled(t.services.get(2)!.arrive("phase", 3, 10_000));
    const three = t.settled(t.services.get(3)!.arrive("phase", 3, 10_000));
    await t.deliver();
    assert.ok(!two.done && !three.done, "waiting for the third participant");
    // node 2 becomes the leader under epoch 2: the waiters arrive again there
    t.leadership.leader = 2;
    t.leadership.epoch = 2;
    for (const s of t.services.values()) s.leaderChanged();
    await t.deliver();
    assert.ok(!two.done && !three.done, "still waiting: the new round has two arrivals");
    // node 1's former round is gone: it now leads nothing, and its arrival completes epoch 2's
    const one = t.settled(t.services.get(1)!.arrive("phase", 3, 10_000));
    await t.deliver();
    for (const w of [one, two, three]) assert.deepEqual(w, { done: true, error: undefined });
    for (const s of t.services.values()) s.close();
  });

  it("ignores a release from an epoch this call never arrived under: no round is released early", async () => {
    const t = trio();
    t.leadership.leader = 2;
    t.leadership.epoch = 2;
    const fresh = t.settled(t.services.get(3)!.arrive("late", 2, 10_000));
    await t.deliver((m) => m.msg.t !== "progress");
    // a former leader (node 1, epoch 1) sends a release for an earlier round of "late"
    t.services.get(3)!.receive({ t: "release", name: "late", epoch: 1 });
    await t.deliver();
    assert.ok(!fresh.done, "not released by the former leader");
    const other = t.settled(t.services.get(1)!.arrive("late", 2, 10_000));
    await t.deliver();
    assert.deepEqual(fresh, { done: true, error: undefined });
    assert.deepEqual(other, { done: true, error: undefined });
    for (const s of t.services.values()) s.close();
  });

  it("honours a release from an epoch this call arrived under, and withdraws its newer arrival", async () => {
    const t = trio();
    const three = t.settled(t.services.get(3)!.arrive("r", 2, 10_000));
    await t.deliver();
    // leadership moves before node 1 (leader of epoch 1) has sent anything: node 3 re-arrives
    t.leadership.leader = 2;
    t.leadership.epoch = 2;
    t.services.get(3)!.leaderChanged();
    await t.deliver((m) => m.to === 2); // node 3's arrival reaches node 2 (epoch 2)
    assert.ok(!three.done);
    // node 1 had seen two arrivals under epoch 1 and released them: that release is real
    t.services.get(3)!.receive({ t: "release", name: "r", epoch: 1 });
    await t.deliver((m) => m.to === 2); // the withdrawal reaches node 2
    assert.deepEqual(three, { done: true, error: undefined });
    // epoch 2's round no longer counts node 3: node 1 alone does not complete it
    const one = t.settled(t.services.get(1)!.arrive("r", 2, 10_000));
    await t.deliver();
    assert.ok(!one.done, "a withdrawn arrival must not complete a later round");
    const two = t.settled(t.services.get(2)!.arrive("r", 2, 10_000));
    await t.deliver();
    assert.deepEqual(one, { done: true, error: undefined });
    assert.deepEqual(two, { done: true, error: undefined });
    for (const s of t.services.values()) s.close();
  });

  it("arrives again, a little later, when the node it took for the leader does not lead", async () => {
    const t = trio();
    t.leadership.leader = 2; // node 3 thinks 2 leads, but 2 does not hold epoch 1 in its view
    const w = t.settled(t.services.get(3)!.arrive("x", 2, 10_000));
    t.leadership.leader = 1; // by the time the arrival lands, node 1 holds the epoch
    await t.deliver();
    assert.ok(!w.done, "refused by node 2, waiting to try again");
    t.clock.advance(100);
    await t.deliver();
    assert.ok(!w.done, "arrived at node 1, waiting for the second participant");
    const one = t.settled(t.services.get(1)!.arrive("x", 2, 10_000));
    await t.deliver();
    assert.deepEqual(w, { done: true, error: undefined });
    assert.deepEqual(one, { done: true, error: undefined });
    for (const s of t.services.values()) s.close();
  });

  it("still ends in the timeout when leadership keeps moving", async () => {
    const t = trio();
    const w = t.settled(t.services.get(3)!.arrive("y", 3, 1_000));
    for (let epoch = 2; epoch <= 5; epoch++) {
      t.leadership.leader = epoch % 2 === 0 ? 2 : 1;
      t.leadership.epoch = epoch;
      for (const s of t.services.values()) s.leaderChanged();
      await t.deliver();
      t.clock.advance(200);
    }
    assert.equal(w.done, false, "re-arrived under every new epoch, not failed");
    t.clock.advance(200);
    await t.deliver();
    assert.equal(w.done, true);
    assert.match(String((w.error as Error).message), /fewer than 3 nodes arrived within 1000 ms/);
    for (const s of t.services.values()) s.close();
  });
});
