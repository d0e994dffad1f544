// Remote transport throughput: TcpTransport vs a raw baseline measured in the same run.
//
//   deno bench -A bench/remote_bench.ts      (Deno.bench, baseline comparison)
//   deno run -A bench/remote_bench.ts        (own harness, prints msg/s and ratios)
//   bun bench/remote_bench.ts                (own harness)
//
// Each case runs a second process that receives MESSAGES ~100-byte messages:
// - raw JSON frames: [u32 length][JSON] written straight to the runtime's native socket,
//   every frame decoded and JSON.parse'd by the receiver (the baseline);
// - TcpTransport + JSON: the same JSON messages as envelope payloads, parsed on receipt;
// - TcpTransport: pre-serialized 100-byte payloads, only counted on receipt.

import { Peer } from "./_peer.ts";
import { sendRawFrames } from "./_raw_frames.ts";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { defaultTcp, detectRuntime } from "../src/runtime/select.ts";
import { TcpTransport } from "../src/remote/tcp_transport.ts";

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 1_000_000);
const WARMUP = 20_000;
const peerScript = fileURLToPath(new URL("./_remote_peer.ts", import.meta.url));
const encoder = new TextEncoder();

type Mode = "raw" | "transport" | "transport-json";

function message(seq: number): object {
  return {
    type: "deposit",
    seq,
    account: `account-${seq % 1000}`,
    amount: 100,
    note: "abcdefghijklmnopq",
  };
}

const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

async function sendTransport(
  transport: TcpTransport,
  to: { host: string; port: number },
  from: number,
  count: number,
  json: boolean,
) {
  const fixed = new Uint8Array(100).fill(42);
  let seq = from;
  const end = from + count;
  while (seq < end) {
    while (seq < end && transport.queuedCount(to) < 50_000) {
      const payload = json ? encoder.encode(JSON.stringify(message(seq))) : fixed;
      transport.send(to, { recipient: "/user/account", sender: "/user/client", payload });
      seq++;
    }
    await tick();
  }
}

/** Runs one measured transfer; returns messages per second. */
export async function measure(mode: Mode, messages = MESSAGES): Promise<number> {
  const peer = new Peer(peerScript, [mode, [WARMUP, WARMUP + messages].join(",")], 120_000, 5000);
  try {
    const { port } = await peer.waitFor((e) => e.event === "ready");
    if (mode === "raw") {
      const conn = await defaultTcp().connect("127.0.0.1", port!);
      await sendRawFrames(conn, 0, WARMUP, message);
      await peer.waitFor((e) => e.count === WARMUP);
      const start = performance.now();
      await sendRawFrames(conn, WARMUP, messages, message);
      await peer.waitFor((e) => e.count === WARMUP + messages);
      const elapsed = performance.now() - start;
      conn.destroy();
      return messages / (elapsed / 1000);
    }
    const transport = await TcpTransport.start({ systemName: "bench", host: "127.0.0.1", port: 0 });
    try {
      const to = { host: "127.0.0.1", port: port! };
      const json = mode === "transport-json";
      await sendTransport(transport, to, 0, WARMUP, json);
      await peer.waitFor((e) => e.count === WARMUP);
      const start = performance.now();
      await sendTransport(transport, to, WARMUP, messages, json);
      await peer.waitFor((e) => e.count === WARMUP + messages);
      const elapsed = performance.now() - start;
      return messages / (elapsed / 1000);
    } finally {
      await transport.shutdown();
    }
  } finally {
    await peer.stop();
  }
}

const CASES: { mode: Mode; name: string }[] = [
  { mode: "raw", name: "raw JSON frames over native sockets (baseline)" },
  { mode: "transport-json", name: "TcpTransport, JSON payloads" },
  { mode: "transport", name: "TcpTransport, pre-serialized 100-byte payloads" },
];

const deno = (globalThis as { Deno?: { bench(def: object): void } }).Deno;
if (deno && !import.meta.main) {
  for (const { mode, name } of CASES) {
    deno.bench({
      name,
      group: "remote",
      baseline: mode === "raw",
      n: 3,
      warmup: 0,
      async fn(b: { start(): void; end(): void }) {
        b.start();
        const rate = await measure(mode);
        b.end();
        console.log(`${name}: ${Math.round(rate).toLocaleString("en-US")} msg/s`);
      },
    });
  }
} else if (import.meta.main) {
  const runs = Number(process.env.BENCH_RUNS ?? 3);
  const results: Record<string, number[]> = {};
  for (let r = 0; r < runs; r++) {
    for (const { mode } of CASES) (results[mode] ??= []).push(await measure(mode));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const base = median(results.raw);
  const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
  const version = g.Deno?.version.deno ?? g.Bun?.version ?? process.version;
  console.log(
    `runtime: ${detectRuntime()} ${version}, ${
      MESSAGES.toLocaleString("en-US")
    } messages, median of ${runs}`,
  );
  console.log("| case | msg/s | vs baseline |");
  console.log("| --- | ---: | ---: |");
  for (const { mode, name } of CASES) {
    const rate = median(results[mode]);
    console.log(
      `| ${name} | ${Math.round(rate).toLocaleString("en-US")} | ${
        (rate / base * 100).toFixed(0)
      }% |`,
    );
  }
}
