// Remote actors between two processes: casty's remote tell and ask against raw-socket
// baselines measured in the same run.
//
//   deno run -A bench/remote_actor_bench.ts
//   bun bench/remote_actor_bench.ts
//
// Env: BENCH_MESSAGES (default 1,000,000 tells), BENCH_ASKS (default 50,000 sequential asks),
// BENCH_SKIP (comma-separated case names to skip: raw,tell,ask,concurrent,rawEcho),
// BENCH_PEER_ARGS (extra runtime flags for the peer process, e.g. for --cpu-prof).
//
// Cases, each against a fresh second process on 127.0.0.1:
// - raw (baseline): [u32 length][JSON] frames of the same ~100-byte message written straight
//   to the runtime's native socket in 64 KiB writes; bench/_remote_peer.ts ("raw") decodes and
//   JSON.parses every frame. Timed from the first write to the peer's report of the last frame.
// - tell: both sides are `ClusteredActorSystem.start({ name, host: "127.0.0.1", port: 0 })`;
//   1,000,000 `ref.tell(msg)` of a fresh ~100-byte plain object to the peer's counting actor,
//   paced by the transport's outbound queue length (a remote tell applies no backpressure and
//   the queue holds 100,000 envelopes); completion = an ask to the counter returns the count.
//   Also reports the sender process's CPU (user + system) per tell over the same span.
// - ask: 50,000 sequential `system.ask(echo, …)` after 5,000 warm-up; p50/p99/p99.9.
// - concurrent: 64 askers, 1,000 sequential asks each, all in flight together; asks/s.
// - rawEcho (baseline for ask): the same sequential round trip over a native socket, the peer
//   decoding, parsing and answering each frame.

import { Peer } from "./_peer.ts";
import { readRawFrames, sendRawFrames, writeRawFrame } from "./_raw_frames.ts";
import process from "node:process";
import { setImmediate } from "node:timers";
import { fileURLToPath } from "node:url";
import { ClusteredActorSystem, DeadLetter, type RemoteActorRef } from "../mod.ts";
import { defaultTcp, detectRuntime } from "../src/runtime/select.ts";
import type { CounterMsg, EchoMsg } from "./_remote_actor_peer.ts";

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 1_000_000);
const WARMUP = 20_000;
const ASKS = Number(process.env.BENCH_ASKS ?? 50_000);
const ASK_WARMUP = 5_000;
const ASKERS = 64;
const ASKS_PER_ASKER = 1_000;
const skip = new Set((process.env.BENCH_SKIP ?? "").split(",").filter(Boolean));

const rawPeer = fileURLToPath(new URL("./_remote_peer.ts", import.meta.url));
const actorPeer = fileURLToPath(new URL("./_remote_actor_peer.ts", import.meta.url));
const decoder = new TextDecoder();
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** The ~100-byte message, fresh per send (JSON: 100 bytes for a 6-digit seq). */
function message(seq: number) {
  return {
    type: "deposit" as const,
    seq,
    account: "acc-123456",
    amount: 42,
    note: "coffee, table 7, no milk",
  };
}

async function rawTell(): Promise<number> {
  const peer = new Peer(rawPeer, ["raw", `${WARMUP},${WARMUP + MESSAGES}`]);
  try {
    const { port } = await peer.waitFor((e) => e.event === "ready");
    const conn = await defaultTcp().connect("127.0.0.1", port);
    await sendRawFrames(conn, 0, WARMUP, message);
    await peer.waitFor((e) => e.count === WARMUP);
    const start = performance.now();
    await sendRawFrames(conn, WARMUP, MESSAGES, message);
    await peer.waitFor((e) => e.count === WARMUP + MESSAGES);
    const elapsed = performance.now() - start;
    conn.destroy();
    return MESSAGES / (elapsed / 1000);
  } finally {
    await peer.stop();
  }
}

interface Sorted {
  p50: number;
  p99: number;
  p999: number;
  mean: number;
}

function percentiles(samples: Float64Array): Sorted {
  const s = samples.slice().sort();
  const at = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))] / 1000;
  let total = 0;
  for (const v of s) total += v;
  return { p50: at(0.5), p99: at(0.99), p999: at(0.999), mean: total / s.length / 1000 };
}

/** Raw ping-pong over a native socket: the floor of a remote round trip. */
async function rawEcho(): Promise<Sorted> {
  const peer = new Peer(actorPeer, ["raw-echo"]);
  try {
    const { port } = await peer.waitFor((e) => e.event === "ready");
    const conn = await defaultTcp().connect("127.0.0.1", port);
    let waiting: ((n: number) => void) | undefined;
    readRawFrames(conn, (body) => {
      const n = JSON.parse(decoder.decode(body));
      const w = waiting;
      waiting = undefined;
      w?.(n);
    });
    const roundTrip = (n: number) =>
      new Promise<number>((resolve) => {
        waiting = resolve;
        writeRawFrame(conn, { type: "echo", n, replyTo: "casty://bench@127.0.0.1:1/_ask/1" });
      });
    for (let i = 0; i < ASK_WARMUP; i++) await roundTrip(i);
    const samples = new Float64Array(ASKS);
    for (let i = 0; i < ASKS; i++) {
      const t0 = process.hrtime.bigint();
      await roundTrip(i);
      samples[i] = Number(process.hrtime.bigint() - t0);
    }
    conn.destroy();
    return percentiles(samples);
  } finally {
    await peer.stop();
  }
}

interface CastyResults {
  tell?: number;
  /** The sender's CPU (user + system) per tell, in ns: steadier than msg/s on a busy host. */
  tellCpu?: number;
  ask?: Sorted;
  concurrent?: { rate: number; lat: Sorted };
  deadLetters: number;
}

async function casty(): Promise<CastyResults> {
  const peer = new Peer(actorPeer, ["casty"]);
  const system = await ClusteredActorSystem.start({
    name: "bench",
    host: "127.0.0.1",
    port: 0,
    logLevel: "error",
  });
  const results: CastyResults = { deadLetters: 0 };
  system.eventStream.subscribe(DeadLetter, () => results.deadLetters++);
  try {
    const { port } = await peer.waitFor((e) => e.event === "ready");
    const counter = system.lookup<CounterMsg>(`casty://bench@127.0.0.1:${port}/counter`)!;
    const echo = system.lookup<EchoMsg>(`casty://bench@127.0.0.1:${port}/echo`)!;
    const node = (counter as RemoteActorRef<CounterMsg>).node;
    const count = () =>
      system.ask(counter, (replyTo) => ({ type: "count", replyTo }), { timeout: 120_000 });

    if (!skip.has("tell")) {
      let sent = 0;
      const tells = async (n: number) => {
        const end = sent + n;
        while (sent < end) {
          // Pace by the outbound queue (limit 100,000 envelopes): check every 1,024 tells.
          const stopAt = Math.min(end, sent + 1024);
          for (; sent < stopAt; sent++) counter.tell(message(sent));
          if (system.transport.queuedCount(node) >= 50_000) {
            while (system.transport.queuedCount(node) >= 25_000) await tick();
          }
        }
      };
      await tells(WARMUP);
      if ((await count()) !== WARMUP) throw new Error("warm-up tells were lost");
      const start = performance.now();
      const cpu = process.cpuUsage();
      await tells(MESSAGES);
      let got = await count();
      while (got < sent) {
        if (results.deadLetters > 0) throw new Error(`tells were lost: ${got} of ${sent}`);
        got = await count();
      }
      results.tell = MESSAGES / ((performance.now() - start) / 1000);
      const used = process.cpuUsage(cpu);
      results.tellCpu = (used.user + used.system) * 1000 / MESSAGES;
    }

    const ask = (n: number) =>
      system.ask(echo, (replyTo) => ({ type: "echo", n, replyTo }), { timeout: 10_000 });

    if (!skip.has("ask")) {
      for (let i = 0; i < ASK_WARMUP; i++) await ask(i);
      const samples = new Float64Array(ASKS);
      for (let i = 0; i < ASKS; i++) {
        const t0 = process.hrtime.bigint();
        if ((await ask(i)) !== i) throw new Error("wrong echo");
        samples[i] = Number(process.hrtime.bigint() - t0);
      }
      results.ask = percentiles(samples);
    }

    if (!skip.has("concurrent")) {
      const samples = new Float64Array(ASKERS * ASKS_PER_ASKER);
      let k = 0;
      const asker = async () => {
        for (let i = 0; i < ASKS_PER_ASKER; i++) {
          const t0 = process.hrtime.bigint();
          await ask(i);
          samples[k++] = Number(process.hrtime.bigint() - t0);
        }
      };
      await Promise.all(Array.from({ length: ASKERS }, asker)); // warm-up
      k = 0;
      const start = performance.now();
      await Promise.all(Array.from({ length: ASKERS }, asker));
      const rate = samples.length / ((performance.now() - start) / 1000);
      results.concurrent = { rate, lat: percentiles(samples) };
    }
    return results;
  } finally {
    await system.shutdown();
    await peer.stop();
  }
}

const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
const runtime = `${detectRuntime()} ${g.Deno?.version.deno ?? g.Bun?.version ?? process.version}`;
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const us = (n: number) => n.toFixed(1);

const raw = skip.has("raw") ? undefined : await rawTell();
const c = await casty();
const echoBase = skip.has("rawEcho") ? undefined : await rawEcho();

console.log(`runtime: ${runtime}, ${new Date().toISOString()}`);
console.log(`| case | result | vs baseline | target |`);
console.log(`| --- | --- | --- | --- |`);
if (raw !== undefined) {
  console.log(`| raw JSON frames, native sockets (baseline) | ${fmt(raw)} msg/s | 100% | |`);
}
if (c.tell !== undefined) {
  const ratio = raw !== undefined ? `${(c.tell / raw * 100).toFixed(0)}%` : "—";
  console.log(
    `| casty remote tell, ${fmt(MESSAGES)} msgs | ${fmt(c.tell)} msg/s (sender CPU ${
      fmt(c.tellCpu ?? 0)
    } ns/tell) | ${ratio} | ≥50%${detectRuntime() === "bun" ? ", ≥1M msg/s" : ""} |`,
  );
}
if (echoBase !== undefined) {
  console.log(
    `| raw ping-pong, native sockets (baseline) | p50 ${us(echoBase.p50)} / p99 ${
      us(echoBase.p99)
    } / p99.9 ${us(echoBase.p999)} µs | | |`,
  );
}
if (c.ask !== undefined) {
  const ratio = echoBase
    ? `p50 ${(c.ask.p50 / echoBase.p50).toFixed(1)}x, p99 ${(c.ask.p99 / echoBase.p99).toFixed(1)}x`
    : "—";
  console.log(
    `| casty remote ask, ${fmt(ASKS)} sequential | p50 ${us(c.ask.p50)} / p99 ${
      us(c.ask.p99)
    } / p99.9 ${us(c.ask.p999)} µs (mean ${us(c.ask.mean)}) | ${ratio} | p99 ≤ 500 µs: ${
      c.ask.p99 <= 500 ? "met" : "missed"
    } |`,
  );
}
if (c.concurrent !== undefined) {
  const l = c.concurrent.lat;
  console.log(
    `| casty remote ask, ${ASKERS} concurrent askers × ${fmt(ASKS_PER_ASKER)} | ${
      fmt(c.concurrent.rate)
    } asks/s (p50 ${us(l.p50)} / p99 ${us(l.p99)} µs) | | |`,
  );
}
if (c.deadLetters > 0) console.log(`dead letters on the client: ${c.deadLetters}`);
