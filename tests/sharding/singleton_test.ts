import { describe, it } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import {
  type ActorRef,
  type Behavior,
  Behaviors,
  type ClusteredActorSystem,
  DeadLetter,
} from "../../mod.ts";
import { type TestCluster, testCluster } from "../../src/testing/mod.ts";
import { seededRandom } from "../../src/testing/membership_simulation.ts";
import { singletonOwner } from "../../src/sharding/singleton.ts";
import { coordinatorOf } from "../../src/sharding/shard_coordinator.ts";
import type { Member } from "../../src/cluster/member.ts";

type Msg =
  | { type: "add"; n: number }
  | { type: "get"; replyTo: ActorRef<{ port: number; seen: number[] }> };

/** Where singleton instances run right now: one entry per live instance (its node's port). */
class Instances {
  readonly live = new Map<number, number>();
  started = 0;
  maxAtOnce = 0;

  behavior(port: number): () => Behavior<Msg> {
    return () =>
      Behaviors.setup<Msg>(() => {
        this.live.set(port, (this.live.get(port) ?? 0) + 1);
        this.started++;
        this.maxAtOnce = Math.max(this.maxAtOnce, this.count());
        const seen: number[] = [];
        return Behaviors.withLifecycle(
          Behaviors.receive<Msg>((_ctx, msg) => {
            if (msg.type === "add") seen.push(msg.n);
            else msg.replyTo.tell({ port, seen: [...seen] });
          }),
          {
            postStop: () => {
              const n = (this.live.get(port) ?? 0) - 1;
              if (n <= 0) this.live.delete(port);
              else this.live.set(port, n);
            },
          },
        );
      });
  }

  count(): number {
    let n = 0;
    for (const v of this.live.values()) n += v;
    return n;
  }

  /** Fails the test when two instances are alive at the same instant. */
  check(where: string): void {
    assert.ok(this.count() <= 1, `two singleton instances at once (${where}): ${[...this.live]}`);
  }

  ports(): number[] {
    return [...this.live.keys()];
  }
}

function spawnEverywhere(
  c: TestCluster,
  inst: Instances,
  nodes: readonly ClusteredActorSystem[] = c.alive,
): ActorRef<Msg>[] {
  return nodes.map((n) =>
    n.spawn(Behaviors.singleton(inst.behavior(n.selfAddress.port)), "single")
  );
}

/** Advances until `predicate`, checking "at most one instance" after every step. */
async function untilChecked(
  c: TestCluster,
  inst: Instances,
  predicate: () => boolean,
  where: string,
  timeout = 60_000,
): Promise<void> {
  await c.until(() => {
    inst.check(where);
    return predicate();
  }, { timeout });
}

describe("Behaviors.singleton", () => {
  it("runs one instance, on the oldest node, reachable from every node", async () => {
    await using c = await testCluster(3, { seed: 3 });
    const inst = new Instances();
    const refs = spawnEverywhere(c, inst);
    await untilChecked(c, inst, () => inst.count() === 1, "start");
    assert.deepEqual(inst.ports(), [25520]);
    for (const [i, ref] of refs.entries()) {
      ref.tell({ type: "add", n: i });
    }
    await c.advance(200);
    for (const [i, ref] of refs.entries()) {
      const r = await c.run(c.nodes[i].ask(ref, (replyTo) => ({ type: "get", replyTo })));
      assert.equal(r.port, 25520);
      assert.deepEqual([...r.seen].sort(), [0, 1, 2]);
    }
    // A ref inside a message works on another node too (it names node 2's manager).
    const viaUri = c.nodes[0].lookup<Msg>(refs[2].address)!;
    const r = await c.run(c.nodes[0].ask(viaUri, (replyTo) => ({ type: "get", replyTo })));
    assert.equal(r.port, 25520);
    assert.equal(inst.started, 1);
  });

  it("places it on the oldest up member with the role", () => {
    const m = (
      port: number,
      upNumber: number | undefined,
      status: Member["status"],
      roles: string[],
    ) =>
      ({
        address: { host: "127.0.0.1", port },
        id: `id${port}`,
        upNumber,
        status,
        roles,
      }) as Member;
    const members = [
      m(1, 1, "leaving", ["worker"]), // the oldest, but leaving
      m(2, 2, "up", []), // no role
      m(3, 4, "up", ["worker"]),
      m(4, 3, "up", ["worker"]), // the oldest eligible: a higher address but up earlier
      m(5, undefined, "joining", ["worker"]),
    ];
    assert.equal(singletonOwner(members, "worker")?.address.port, 4);
    assert.equal(singletonOwner(members, undefined)?.address.port, 2);
    assert.equal(singletonOwner(members, "db"), undefined);
  });

  it("hands over on graceful leave: the old one stops before the new one starts, no message lost", async () => {
    await using c = await testCluster(3, { seed: 5 });
    const inst = new Instances();
    const refs = spawnEverywhere(c, inst);
    await untilChecked(c, inst, () => inst.count() === 1, "start");
    const dead: DeadLetter[] = [];
    c.nodes[2].eventStream.subscribe(DeadLetter, (d) => dead.push(d));
    for (let n = 0; n < 5; n++) refs[2].tell({ type: "add", n });
    const leaving = c.nodes[0].leave();
    // Messages keep flowing while the singleton moves.
    let n = 5;
    await untilChecked(c, inst, () => {
      if (n < 40) refs[2].tell({ type: "add", n: n++ });
      return c.nodes[0].isShutdown && inst.ports()[0] === 25521 && n >= 40;
    }, "leave");
    await c.run(leaving);
    const r = await c.run(c.nodes[2].ask(refs[2], (replyTo) => ({ type: "get", replyTo })));
    assert.equal(r.port, 25521);
    // The new instance starts fresh; what it got arrived in order, and every message sent is
    // either in the old instance's history, the new one's, or a dead letter.
    for (let k = 1; k < r.seen.length; k++) assert.ok(r.seen[k] > r.seen[k - 1], `${r.seen}`);
    assert.ok(r.seen.includes(39), `${r.seen}`);
    assert.equal(inst.maxAtOnce, 1);
    assert.equal(inst.started, 2);
    assert.equal(dead.filter((d) => (d.message as Msg)?.type === "add").length, 0);
  });

  it("restarts on another node after its node is killed and downed; messages wait for it", async () => {
    await using c = await testCluster(3, { seed: 6 });
    const inst = new Instances();
    const refs = spawnEverywhere(c, inst);
    await untilChecked(c, inst, () => inst.count() === 1, "start");
    await c.kill(0);
    // Once node 0 is seen unreachable, messages wait on their node instead of going to it.
    const sees0Unreachable = (i: number) =>
      c.nodes[i].view.unreachable.some((a) => a.port === 25520);
    await untilChecked(c, inst, () => sees0Unreachable(1) && sees0Unreachable(2), "unreachable");
    refs[1].tell({ type: "add", n: 1 });
    refs[2].tell({ type: "add", n: 2 });
    await untilChecked(c, inst, () => inst.ports()[0] === 25521, "failover");
    const r = await c.run(c.nodes[2].ask(refs[2], (replyTo) => ({ type: "get", replyTo })));
    assert.equal(r.port, 25521);
    assert.deepEqual([...r.seen].sort(), [1, 2]);
    assert.equal(inst.maxAtOnce, 1);
  });

  it("starts again on the next message after the instance stopped by itself", async () => {
    await using c = await testCluster(2, { seed: 8 });
    let starts = 0;
    type StopMsg = { type: "stop" } | { type: "ping"; replyTo: ActorRef<number> };
    const refs = c.nodes.map((n) =>
      n.spawn(
        Behaviors.singleton(() =>
          Behaviors.setup<StopMsg>(() => {
            const me = ++starts;
            return Behaviors.receive<StopMsg>((_ctx, m) => {
              if (m.type === "stop") return Behaviors.stopped();
              m.replyTo.tell(me);
            });
          })
        ),
        "stopper",
      )
    );
    const ping = () =>
      c.run(c.nodes[1].ask(refs[1], (replyTo) => ({ type: "ping" as const, replyTo })));
    assert.equal(await ping(), 1);
    refs[1].tell({ type: "stop" });
    await c.advance(100);
    assert.equal(starts, 1); // not restarted in a loop
    assert.equal(await ping(), 2);
  });

  it("turns messages into dead letters when the buffer overflows or times out", async () => {
    await using c = await testCluster(2, { seed: 7, roles: ["web"] });
    const inst = new Instances();
    // No member has the role "worker": the singleton never starts, messages wait, then expire.
    const ref = c.nodes[1].spawn(
      Behaviors.singleton(inst.behavior(0), { role: "worker", bufferSize: 3, bufferTimeout: 1000 }),
      "nowhere",
    );
    const dead: DeadLetter[] = [];
    c.nodes[1].eventStream.subscribe(DeadLetter, (d) => dead.push(d));
    for (let n = 0; n < 5; n++) ref.tell({ type: "add", n });
    await c.until(() => dead.length === 2);
    assert.deepEqual(dead.map((d) => [(d.message as { n: number }).n, d.reason]), [
      [3, "mailboxFull"],
      [4, "mailboxFull"],
    ]);
    await c.until(() => dead.length === 5, { timeout: 5000 });
    assert.deepEqual(dead.slice(2).map((d) => [(d.message as { n: number }).n, d.reason]), [
      [0, "undeliverable"],
      [1, "undeliverable"],
      [2, "undeliverable"],
    ]);
    assert.match(
      dead[2].detail ?? "",
      /singleton "nowhere" had no running instance within 1000 ms/,
    );
    assert.equal(inst.started, 0);
  });

  it("through repeated graceful leaves under traffic, every message is delivered exactly once, in per-sender order", async () => {
    const count = Number(process.env.CASTY_SINGLETON_SEEDS ?? 4);
    for (const seed of Array.from({ length: count }, (_, i) => 31 + i)) {
      await using c = await testCluster(5, { seed });
      const delivered: { from: number; n: number }[] = [];
      type Tagged = { from: number; n: number };
      const dead: Tagged[] = [];
      for (const node of c.nodes) {
        node.eventStream.subscribe(DeadLetter, (d) => {
          const m = d.message as Partial<Tagged> | undefined;
          if (typeof m?.n === "number" && typeof m.from === "number") dead.push(m as Tagged);
        });
      }
      const refs = c.nodes.map((node) =>
        node.spawn(
          Behaviors.singleton(() => Behaviors.receive<Tagged>((_ctx, m) => void delivered.push(m))),
          "log",
        )
      );
      const nextN = new Map<number, number>();
      const sent: Tagged[] = [];
      const traffic = (senders: number[]) => {
        for (const i of senders) {
          const n = nextN.get(i) ?? 0;
          nextN.set(i, n + 1);
          const m = { from: i, n };
          sent.push(m);
          refs[i].tell(m);
        }
      };
      // The oldest (0, then 1, then 2) leaves in turn while the others keep sending.
      for (const leaver of [0, 1, 2]) {
        const senders = [0, 1, 2, 3, 4].filter((i) => i > leaver);
        const leaving = c.nodes[leaver].leave();
        await c.until(() => {
          traffic(senders);
          return c.nodes[leaver].isShutdown;
        }, { timeout: 60_000 });
        await c.run(leaving);
      }
      await c.advance(3000); // everything in flight settles
      const key = (m: Tagged) => `${m.from}:${m.n}`;
      const got = new Map<string, number>();
      for (const m of delivered) got.set(key(m), (got.get(key(m)) ?? 0) + 1);
      for (const [k, times] of got) assert.equal(times, 1, `${k} delivered ${times} times`);
      const lost = sent.filter((m) => !got.has(key(m)) && !dead.some((d) => key(d) === key(m)));
      assert.deepEqual(lost.map(key), [], `seed ${seed}: neither delivered nor dead letters`);
      // Graceful hand-overs lose nothing: not even a dead letter.
      assert.deepEqual(dead.map(key), [], `seed ${seed}: dead letters`);
      for (const from of [1, 2, 3, 4]) {
        const ns = delivered.filter((m) => m.from === from).map((m) => m.n);
        for (let k = 1; k < ns.length; k++) {
          assert.ok(ns[k] > ns[k - 1], `seed ${seed}: sender ${from} out of order: ${ns}`);
        }
      }
      assert.ok(delivered.length > 100, `seed ${seed}: ${delivered.length} delivered`);
    }
  });

  it("is never alive twice under seeded schedules of kills, partitions, leaves, downs and restarts", async () => {
    // CASTY_SINGLETON_SEEDS=500 for a longer soak.
    const count = Number(process.env.CASTY_SINGLETON_SEEDS ?? 12);
    const first = Number(process.env.CASTY_SINGLETON_FIRST_SEED ?? 1);
    const seeds = Array.from({ length: count }, (_, i) => i + first);
    for (const seed of seeds) {
      const random = seededRandom(seed * 7919);
      const log: string[] = [];
      // A node downed by an operator hears of it late: what reaches it is slow for a while.
      const slow = { to: -1, delay: 0 };
      await using c = await testCluster(5, {
        seed,
        latency: (_from, to) => (to.port === slow.to ? slow.delay : 1),
      });
      const inst = new Instances();
      const refs = new Map<number, ActorRef<Msg>>();
      const spawnOn = (i: number) => refs.set(i, spawnEverywhere(c, inst, [c.nodes[i]])[0]);
      for (let i = 0; i < 5; i++) spawnOn(i);
      await untilChecked(c, inst, () => inst.count() === 1, `seed ${seed} start`);
      const indexOfPort = (port: number) => port - 25520;
      const aliveIdx = () => c.nodes.map((_, i) => i).filter((i) => c.alive.includes(c.nodes[i]));
      let sent = 0;
      /** Traffic from every live node while time moves. */
      const traffic = () => {
        for (const i of aliveIdx()) refs.get(i)!.tell({ type: "add", n: sent++ });
      };
      try {
        for (let step = 0; step < 4; step++) {
          const alive = aliveIdx();
          if (alive.length <= 2) break;
          const owner = indexOfPort(inst.ports()[0]);
          const pick = random() < 0.5 ? owner : alive[Math.floor(random() * alive.length)];
          const op = Math.floor(random() * 5);
          let out = [pick];
          slow.to = -1;
          if (op === 4) {
            const by = alive.find((i) => i !== pick)!;
            slow.to = c.address(pick).port;
            slow.delay = 100 + Math.floor(random() * 800);
            log.push(`down ${pick} by ${by} (slow ${slow.delay} ms)`);
            c.nodes[by].down(c.address(pick));
          } else if (op === 0) {
            log.push(`kill ${pick}`);
            await c.kill(pick);
          } else if (op === 1) {
            log.push(`leave ${pick}`);
            void c.nodes[pick].leave();
          } else if (op === 2 || alive.length < 5) {
            log.push(`partition ${pick}`);
            c.partition(alive.filter((i) => i !== pick), pick);
          } else {
            const other = alive.filter((i) =>
              i !== pick
            )[Math.floor(random() * (alive.length - 1))];
            out = [pick, other];
            log.push(`partition ${pick},${other}`);
            c.partition(alive.filter((i) => !out.includes(i)), out);
          }
          const survivors = alive.filter((i) => !out.includes(i));
          await untilChecked(
            c,
            inst,
            () => {
              traffic();
              return out.every((i) => c.nodes[i].isShutdown) &&
                c.isConverged(survivors.length) && inst.count() === 1;
            },
            `seed ${seed} after ${log.join(", ")}`,
          );
          c.heal();
          const now = inst.ports()[0];
          assert.ok(survivors.includes(indexOfPort(now)), `owner ${now} is not a survivor`);
          const back = out[0];
          // (testCluster restarts a node through node 0: only when node 0 runs, or is the one.)
          if (random() < 0.5 && (back === 0 || c.alive.includes(c.nodes[0]))) {
            // A node comes back as a new, younger incarnation: it must not take the singleton.
            log.push(`restart ${back}`);
            await c.restart(back);
            spawnOn(back);
            await untilChecked(
              c,
              inst,
              () => {
                traffic();
                return c.isConverged(survivors.length + 1);
              },
              `seed ${seed} after ${log.join(", ")}`,
            );
            await untilChecked(c, inst, () => true, "settle");
            await c.advance(500);
            inst.check(`seed ${seed} after ${log.join(", ")}`);
            assert.equal(inst.ports()[0], now, "a restarted node took the singleton over");
          }
        }
      } catch (err) {
        const views = c.alive.map((n) =>
          `${n.selfAddress.port}: ${
            n.members.map((m) => `${m.address.port}=${m.status}#${m.upNumber}`).join(" ")
          } unreachable ${n.view.unreachable.map((a) => a.port)}`
        );
        throw new Error(
          `seed ${seed} failed; schedule: ${log.join(", ")}: ${err}\ninstances: ${inst.ports()}` +
            `\n${views.join("\n")}`,
        );
      }
      assert.equal(inst.maxAtOnce, 1, `seed ${seed}: ${log.join(", ")}`);
      assert.ok(sent > 0);
    }
  });

  it("is never alive twice when everything its node sends arrives 8 s late, and moves once it is downed", async () => {
    // The owner still receives every message; its own (heartbeats, acks) come late, so the others
    // take it for unreachable, down it and start the singleton elsewhere.
    for (const seed of [1, 2, 3, 4]) {
      let slowFrom: number | undefined;
      await using c = await testCluster(3, {
        seed,
        downing: { stableAfter: 2000 },
        latency: (from) => (from.port === slowFrom ? 8000 : 1),
      });
      const inst = new Instances();
      const refs = spawnEverywhere(c, inst);
      await untilChecked(c, inst, () => inst.count() === 1, `seed ${seed} start`);
      const owner = inst.ports()[0];
      slowFrom = owner;
      for (let step = 0; step < 300; step++) {
        if (step === 200) slowFrom = undefined;
        refs.forEach((r, i) => c.nodes[i].isShutdown || r.tell({ type: "add", n: step }));
        await c.advance(50);
        inst.check(`seed ${seed}, step ${step}`);
      }
      assert.equal(inst.count(), 1, `seed ${seed}: one instance at the end`);
      assert.notEqual(inst.ports()[0], owner, `seed ${seed}: it moved off the slow node`);
      assert.equal(inst.maxAtOnce, 1);
    }
  });

  it("moves at once after a crashed owner is downed: seen unreachable for a whole lease, it needs no extra wait", async () => {
    // The wait after a downing (twice the lease and a tick) is for a live owner that may still
    // run its instance. A crashed owner was unreachable for longer than a lease before its
    // downing, so its instance is surely gone (an owner stops it as soon as it sees any member
    // unreachable): the next owner starts without that wait.
    for (const seed of [1, 2, 3]) {
      await using c = await testCluster(3, { seed });
      const inst = new Instances();
      const refs = spawnEverywhere(c, inst);
      await untilChecked(c, inst, () => inst.count() === 1, `seed ${seed} start`);
      const owner = inst.ports()[0];
      const i = owner - 25520;
      await c.kill(i);
      const survivors = [0, 1, 2].filter((k) => k !== i);
      const downed = (k: number) =>
        c.nodes[k].members.every((m) => m.address.port !== owner || m.status === "down");
      let downedAt: number | undefined;
      let movedAt: number | undefined;
      for (let step = 0; step < 6000 && movedAt === undefined; step++) {
        survivors.forEach((k) => refs[k].tell({ type: "add", n: step }));
        await c.advance(10);
        inst.check(`seed ${seed}, step ${step}`);
        if (downedAt === undefined && survivors.some(downed)) downedAt = c.clock.now();
        if (inst.count() === 1 && inst.ports()[0] !== owner) movedAt = c.clock.now();
      }
      assert.ok(downedAt !== undefined && movedAt !== undefined, `seed ${seed}: it moved`);
      const lease = coordinatorOf(c.nodes[survivors[0]])!.leaseTimeout;
      assert.ok(
        movedAt - downedAt < lease,
        `seed ${seed}: started ${movedAt - downedAt} ms after the downing (lease ${lease} ms)`,
      );
      assert.equal(inst.maxAtOnce, 1);
    }
  });

  it("is never alive twice when its live owner is downed by an operator and hears of it late", async () => {
    // The owner still answers everyone, but what reaches it takes 300 ms: it learns of its
    // downing late. Its instance runs only under its shard lease (plus a grace), which the leader
    // stops renewing at the downing; the next owner waits out that bound before it starts.
    for (const seed of [1, 2, 3, 4]) {
      const slow = { to: -1 };
      await using c = await testCluster(3, {
        seed,
        downing: { stableAfter: 2000 },
        latency: (_from, to) => (to.port === slow.to ? 300 : 1),
      });
      const inst = new Instances();
      const refs = spawnEverywhere(c, inst);
      await untilChecked(c, inst, () => inst.count() === 1, `seed ${seed} start`);
      const owner = inst.ports()[0];
      const i = owner - 25520;
      slow.to = owner;
      c.nodes[(i + 1) % 3].down(c.address(i));
      const downedAt = c.clock.now();
      let movedAt: number | undefined;
      for (let step = 0; step < 600; step++) {
        refs.forEach((r, k) => c.nodes[k].isShutdown || r.tell({ type: "add", n: step }));
        await c.advance(10);
        inst.check(`seed ${seed}, step ${step}`);
        if (movedAt === undefined && inst.count() === 1 && inst.ports()[0] !== owner) {
          movedAt = c.clock.now() - downedAt;
        }
      }
      assert.ok(c.nodes[i].isShutdown, `seed ${seed}: the downed node learned of it`);
      assert.equal(inst.count(), 1, `seed ${seed}: one instance at the end`);
      assert.notEqual(inst.ports()[0], owner, `seed ${seed}: it moved off the downed node`);
      // Twice the lease (1000 ms) and a tick: the bound the new owner waits out.
      assert.ok(
        movedAt !== undefined && movedAt <= 3000,
        `seed ${seed}: moved after ${movedAt} ms`,
      );
      assert.equal(inst.maxAtOnce, 1);
    }
  });
});
