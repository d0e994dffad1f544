// entityAsk to a local entity against a plain ask to a local actor, in the same run (latency
// p50/p99 of sequential round trips, the two interleaved), on Deno or Bun:
//
//   deno run -A bench/sharding_ask_latency.ts
//   bun bench/sharding_ask_latency.ts
import process from "node:process";
import { startBenchNode } from "./_bench_node.ts";
import { type ActorRef, Behaviors } from "../mod.ts";

const N = Number(process.env.N ?? 20_000);
type Ping = { readonly replyTo: ActorRef<number> };
const pong = Behaviors.receive<Ping>((_ctx, m) => m.replyTo.tell(1));

const node = await startBenchNode();
const pingers = node.spawn(Behaviors.sharded((_id: string) => pong, { numShards: 100 }), "pingers");
const plain = node.spawn(pong, "pinger");
const IDS = Array.from({ length: 100 }, (_, i) => `p${i}`);
for (const id of IDS) {
  await node.entityAsk<Ping, number>(pingers, id, (replyTo) => ({ replyTo }), { timeout: 10_000 });
}

const plainUs: number[] = [];
const entityUs: number[] = [];
let sink = 0;
for (let i = 0; i < N + 2000; i++) {
  let t = performance.now();
  sink += await node.ask<Ping, number>(plain, (replyTo) => ({ replyTo }));
  const a = performance.now() - t;
  t = performance.now();
  sink += await node.entityAsk<Ping, number>(pingers, IDS[i % 100], (replyTo) => ({ replyTo }));
  const b = performance.now() - t;
  if (i >= 2000) { // warm-up excluded
    plainUs.push(a * 1000);
    entityUs.push(b * 1000);
  }
}
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * p)];
const runtime = "Deno" in globalThis
  ? `Deno ${(globalThis as { Deno?: { version: { deno: string } } }).Deno!.version.deno}`
  : `Bun ${(globalThis as { Bun?: { version: string } }).Bun!.version}`;
console.log(`${runtime}, ${N} round trips each, interleaved, ${new Date().toISOString()}`);
for (const [name, xs] of [["plain ask", plainUs], ["entityAsk", entityUs]] as const) {
  console.log(
    `${name.padEnd(10)} p50 ${pct(xs, 0.5).toFixed(1)} µs  p99 ${pct(xs, 0.99).toFixed(1)} µs`,
  );
}
console.log(
  `entityAsk / plain ask: p50 ${(pct(entityUs, 0.5) / pct(plainUs, 0.5)).toFixed(2)}x, p99 ${
    (pct(entityUs, 0.99) / pct(plainUs, 0.99)).toFixed(2)
  }x`,
);
if (sink === -1) console.log(sink);
await node.shutdown();
