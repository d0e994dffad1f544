// Distributed data structures on one real node (TCP bound, real clock), each against a sharded
// entity ask of the same shape in the same run.
//
//   deno run -A bench/distributed_bench.ts   (or: bun bench/distributed_bench.ts)
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type ActorRef,
  type Behavior,
  Behaviors,
  ClusteredActorSystem,
  SqliteJournal,
} from "../mod.ts";

type Msg = { type: "inc"; n: number; replyTo: ActorRef<number> };
const plainCounter = (_id: string): Behavior<Msg> => {
  let v = 0;
  return Behaviors.receive((_ctx, m) => {
    v += m.n;
    m.replyTo.tell(v);
    return Behaviors.same();
  });
};

async function rate(label: string, n: number, inFlight: number, op: () => Promise<unknown>) {
  let next = 0;
  const start = performance.now();
  const lane = async () => {
    while (next < n) {
      next++;
      await op();
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  const ms = performance.now() - start;
  console.log(`${label}: ${Math.round(n / (ms / 1000)).toLocaleString("en")} ops/s`);
}

async function latency(label: string, n: number, op: () => Promise<unknown>) {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await op();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const p = (q: number) => times[Math.floor(q * (times.length - 1))].toFixed(3);
  console.log(`${label}: p50 ${p(0.5)} ms, p99 ${p(0.99)} ms`);
}

const dir = mkdtempSync(join(tmpdir(), "casty-dist-bench-"));
const journal = new SqliteJournal({ path: join(dir, "j.db"), synchronous: "normal" });
const startNode = (name: string) =>
  ClusteredActorSystem.start({ name, host: "127.0.0.1", port: 0, logLevel: "error" });
const node = await startNode("bench");
try {
  const plain = node.regionRef<Msg>("plain", plainCounter, { numShards: 100 });
  const ask = () =>
    node.entityAsk<Msg, number>(plain, "c", (replyTo) => ({ type: "inc", n: 1, replyTo }));
  const mem = node.distributed();
  const c = mem.counter("c");
  // Warm both paths up before measuring.
  for (let i = 0; i < 20_000; i++) {
    await c.increment();
    await ask();
  }
  for (const inFlight of [1, 10]) {
    await rate(`sharded entity ask (baseline), ${inFlight} in flight`, 20_000, inFlight, ask);
    await rate(
      `counter.increment, in memory, ${inFlight} in flight`,
      20_000,
      inFlight,
      () => c.increment(),
    );
  }
  // A second node-local facade with a journal needs its own node (one journal per node).
  const node2 = await startNode("bench2");
  try {
    const dj = node2.distributed({ journal });
    const cj = dj.counter("c");
    await cj.increment();
    for (const inFlight of [1, 10]) {
      await rate(
        `counter.increment, SQLite journal, ${inFlight} in flight`,
        3000,
        inFlight,
        () => cj.increment(),
      );
    }
    const lock = dj.lock("l");
    await rate("lock acquire + release (SQLite journal), sequential", 1000, 1, async () => {
      await lock.acquire();
      await lock.release();
    });
  } finally {
    await node2.shutdown();
  }
  const m = mem.map<string, number>("m");
  await latency("sharded entity ask (baseline) latency", 5000, ask);
  await latency("map.put latency, in memory", 5000, () => m.put("k", 1));
  await latency("map.get latency, in memory", 5000, () => m.get("k"));
} finally {
  await node.shutdown();
  await journal.close();
  rmSync(dir, { recursive: true, force: true });
}
