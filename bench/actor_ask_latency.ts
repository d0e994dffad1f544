// Ask round-trip latency: p50/p99 over 100,000 sequential asks after warm-up, against the same
// loop over `await Promise.resolve()`.
//
//   deno run -A bench/actor_ask_latency.ts
//   bun bench/actor_ask_latency.ts
import process, { hrtime } from "node:process";
import { type ActorRef, ActorSystem, Behaviors } from "../mod.ts";

const WARMUP = Number(process.env.WARMUP ?? 20_000);
const SAMPLES = 100_000;

type Ping = { readonly type: "ping"; readonly replyTo: ActorRef<number> };

/** Times `op` SAMPLES times after WARMUP untimed runs; returns per-op nanoseconds, sorted. */
async function measure(op: () => Promise<unknown>): Promise<Float64Array> {
  for (let i = 0; i < WARMUP; i++) await op();
  const out = new Float64Array(SAMPLES);
  for (let i = 0; i < SAMPLES; i++) {
    const t0 = hrtime.bigint();
    await op();
    out[i] = Number(hrtime.bigint() - t0);
  }
  return out.sort();
}

function pct(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] / 1000;
}

function summary(label: string, ns: Float64Array): string {
  let total = 0;
  for (const v of ns) total += v;
  return `${label.padEnd(28)} p50 ${pct(ns, 50).toFixed(2).padStart(7)} µs  p99 ${
    pct(ns, 99).toFixed(2).padStart(7)
  } µs  p99.9 ${pct(ns, 99.9).toFixed(2).padStart(7)} µs  mean ${
    (total / ns.length / 1000).toFixed(2).padStart(6)
  } µs`;
}

const runtime = (globalThis as { Deno?: { version: { deno: string } } }).Deno
  ? `Deno ${(globalThis as unknown as { Deno: { version: { deno: string } } }).Deno.version.deno}`
  : `Bun ${(globalThis as unknown as { Bun: { version: string } }).Bun.version}`;

await using system = new ActorSystem({ name: "ask-bench", logLevel: "error" });
const ponger = system.spawn(
  Behaviors.receive<Ping>((_ctx, msg) => msg.replyTo.tell(1)),
  "ponger",
);

// The subject first: in our Deno runs, the loop measured second showed a longer tail.
const ask = await measure(() => system.ask(ponger, (replyTo) => ({ type: "ping", replyTo })));
const baseline = await measure(() => Promise.resolve());

console.log(`ask latency on ${runtime}, ${SAMPLES} sequential asks after ${WARMUP} warm-up`);
console.log(summary("baseline Promise.resolve()", baseline));
console.log(summary("ask round trip", ask));
console.log(
  `ratio p50 ${(pct(ask, 50) / pct(baseline, 50)).toFixed(1)}x, p99 ${
    (pct(ask, 99) / pct(baseline, 99)).toFixed(1)
  }x; target p99 <= 20 µs: ${pct(ask, 99) <= 20 ? "met" : "missed"}`,
);
