// Distributed counters on 3 node processes over loopback TCP: increments per second from one
// node and from all three at once, in memory and with a SQLite journal per node
// (synchronous=normal), each against a sharded-entity ask of the same shape (the baseline; with a
// journal an event-sourced counter entity in the same journal) in the same run. Every process
// increments the same counter: one entity, so its commands run one at a time.
//
//   deno run -A bench/distributed_cluster_bench.ts   (or: bun bench/distributed_cluster_bench.ts)
//   BENCH_OPS=20000 BENCH_IN_FLIGHT=10 to change the work per process.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const PEER = fileURLToPath(new URL("./_distributed_peer.ts", import.meta.url));
const OPS = Number(process.env.BENCH_OPS ?? 5000);
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 10);
const isDeno = (globalThis as { Deno?: unknown }).Deno !== undefined;

interface Peer {
  readonly child: ChildProcess;
  readonly port: number;
  next(event: string, tag?: string): Promise<Record<string, unknown>>;
  send(cmd: Record<string, unknown>): void;
}

function startPeer(args: string[]): Promise<Peer> {
  const child = spawn(
    process.execPath,
    isDeno ? ["run", "-A", PEER, ...args] : [PEER, ...args],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  const waiting: { event: string; tag?: string; resolve: (m: Record<string, unknown>) => void }[] =
    [];
  const seen: Record<string, unknown>[] = [];
  createInterface({ input: child.stdout! }).on("line", (line) => {
    const m = JSON.parse(line) as Record<string, unknown>;
    const i = waiting.findIndex((w) => w.event === m.event && (!w.tag || w.tag === m.tag));
    if (i >= 0) waiting.splice(i, 1)[0].resolve(m);
    else seen.push(m);
  });
  const next = (event: string, tag?: string) => {
    const i = seen.findIndex((m) => m.event === event && (!tag || m.tag === tag));
    if (i >= 0) return Promise.resolve(seen.splice(i, 1)[0]);
    const timeout = AbortSignal.timeout(120_000);
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      waiting.push({ event, tag, resolve });
      timeout.addEventListener("abort", () => reject(new Error(`no ${event} within 120 s`)));
    });
  };
  const send = (cmd: Record<string, unknown>) => child.stdin!.write(JSON.stringify(cmd) + "\n");
  return next("ready").then((m) => ({ child, port: m.port as number, next, send }));
}

async function untilUp(peer: Peer, n: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const m = await peer.next("up");
    if (m.n === n) return;
  }
  throw new Error(`the cluster never had ${n} members`);
}

let tags = 0;
async function run(peers: Peer[], op: "inc" | "plain", name: string): Promise<number> {
  const start = performance.now();
  const done = peers.map((p) => {
    const tag = `t${++tags}`;
    p.send({ op, name, times: OPS, inFlight: IN_FLIGHT, tag });
    return p.next("done", tag);
  });
  const results = await Promise.all(done);
  const errors = results.reduce((s, r) => s + (r.errors as number), 0);
  if (errors > 0) throw new Error(`${errors} operations failed`);
  return (peers.length * OPS) / ((performance.now() - start) / 1000);
}

async function cluster(journal: boolean): Promise<{ peers: Peer[]; dir?: string }> {
  const dir = journal ? mkdtempSync(join(tmpdir(), "casty-dbench-")) : undefined;
  const j = (i: number) => (dir ? ["--journal", join(dir, `n${i}.db`)] : []);
  const first = await startPeer(j(0));
  const rest = await Promise.all(
    [1, 2].map((i) => startPeer(["--seed", `127.0.0.1:${first.port}`, ...j(i)])),
  );
  const peers = [first, ...rest];
  await Promise.all(peers.map((p) => untilUp(p, 3)));
  return { peers, dir };
}

const fmt = (n: number) => Math.round(n).toLocaleString("en");
const runtime = isDeno ? "Deno" : "Bun";
console.log(`${runtime}, ${OPS} operations per process, ${IN_FLIGHT} in flight each`);
for (const journal of [false, true]) {
  const { peers, dir } = await cluster(journal);
  try {
    // Warm-up: activates the entities and the code paths.
    await run(peers, "plain", "warm");
    await run(peers, "inc", "warm");
    const label = journal ? "SQLite journal per node" : "in memory";
    const base1 = await run(peers.slice(0, 1), "plain", "p1");
    const inc1 = await run(peers.slice(0, 1), "inc", "c1");
    const base3 = await run(peers, "plain", "p3");
    const inc3 = await run(peers, "inc", "c3");
    console.log(
      `${label}, from 1 node: counter ${fmt(inc1)}/s, baseline ask ${fmt(base1)}/s, ` +
        `ratio ${(inc1 / base1).toFixed(2)}`,
    );
    console.log(
      `${label}, from 3 processes: counter ${fmt(inc3)}/s, baseline ask ${fmt(base3)}/s, ` +
        `ratio ${(inc3 / base3).toFixed(2)}`,
    );
  } finally {
    for (const p of peers) p.send({ op: "exit" });
    await Promise.all(
      peers.map((p) =>
        new Promise((r) => p.child.exitCode !== null ? r(0) : p.child.once("exit", r))
      ),
    );
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}
