// The cluster client against 3 node processes, with the baselines measured in the same run:
// - ask latency p50/p99 (sequential): a node-local entityAsk, a member's entityAsk to an entity
//   on another node (one network hop each way), and the client's ask to an entity on a node
//   (zero-hop routing: the client sends straight to the owner);
// - tell throughput, steady state: client tells to sharded entities on the 3 nodes (counted by
//   the entities), a member's tells to the entities on the 2 other nodes, and raw JSON frames
//   written to a native socket and decoded by the receiver (bench/_remote_peer.ts "raw", as in
//   bench/remote_bench.ts), once to one receiving process and once split over three (the
//   client's tells go to three node processes).
//
// Method: every tell run is two phases over the same path (same client, connections, nodes,
// entities; same sockets and receiver processes for raw): a warm-up of BENCH_WARM messages
// (default: the measured count), waited for until all arrived, then the measured run of
// BENCH_TELLS messages. So the measured run sees JIT-compiled code, grown buffers and
// allocated shards on every process, not start-up. A run ends when the last node has counted
// its share: each node is armed with the count it must reach and reports the time it got
// there (no polling of the nodes being measured; a slow poll only detects a stalled run).
// The rounds (BENCH_ROUNDS, default 1) repeat client, member, raw, raw ×3 in that order, and
// each round prints its ratios; the summary gives the medians of the per-round ratios.
// The last line, `RESULT {...}`, holds the medians as JSON.
//
//   deno run -A bench/client_bench.ts      (or: bun bench/client_bench.ts)
//   BENCH_ASKS=2000 BENCH_TELLS=1000000 BENCH_WARM=<BENCH_TELLS> BENCH_ROUNDS=1 (the defaults)
//   BENCH_YIELD=immediate (default) or timeout: how the client send loop yields every 5,000 tells
//   BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/x": extra runtime flags for the node
//   processes (they exit cleanly at the end, so profiles get written).
import process from "node:process";
import { runScript } from "../tests/_helpers/process.ts";
import { fileURLToPath } from "node:url";
import { type ActorRef, ClusterClient, DeadLetter, entityShard, ShardEnvelope } from "../mod.ts";
import { rawTellRun } from "./_client_raw_rate.ts";

const ASKS = Number(process.env.BENCH_ASKS ?? 2000);
const TELLS = Number(process.env.BENCH_TELLS ?? 1_000_000);
const WARM = Number(process.env.BENCH_WARM ?? TELLS);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);
const YIELD = process.env.BENCH_YIELD ?? "immediate";
const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? "").split(" ").filter(Boolean);
const nodeScript = fileURLToPath(new URL("./_client_bench_node.ts", import.meta.url));

type Msg = { type: "inc" } | { type: "get"; replyTo: ActorRef<number> };
let tags = 0;

/** A node process (with BENCH_NODE_ARGS), its stdout read line by line. */
function nodeProcess(args: string[]) {
  const proc = runScript(nodeScript, args, {}, { stdin: "pipe", runtimeArgs: NODE_ARGS });
  return {
    child: proc.child,
    waitForLine: proc.waitForLine,
    /** Closes stdin (the node exits, writing its profile) and kills it if it lingers. */
    async stop(): Promise<void> {
      proc.child.stdin!.end();
      const timer = setTimeout(() => proc.child.kill("SIGKILL"), 10_000);
      await proc.exited;
      clearTimeout(timer);
    },
  };
}

async function start(seed?: number) {
  const proc = nodeProcess(seed ? ["--seed", `127.0.0.1:${seed}`] : []);
  const port: number = JSON.parse(await proc.waitForLine((l) => l.includes('"ready"'), 60_000))
    .port;
  const request = async (cmd: Record<string, unknown>, timeout = 60_000) => {
    const tag = `t${++tags}`;
    proc.child.stdin!.write(JSON.stringify({ ...cmd, tag }) + "\n");
    return JSON.parse(await proc.waitForLine((l) => l.includes(`"tag":"${tag}"`), timeout));
  };
  return {
    proc,
    port,
    async tells(ids: string[], n: number): Promise<void> {
      await request({ op: "tells", ids, n }, 300_000);
    },
    dead(): Promise<{ dead: Record<string, number>; restarts: number }> {
      return request({ op: "dead" });
    },
    /** What this node counted, and its CPU time so far (µs). */
    stats(): Promise<{ n: number; cpu: number; restarts: number }> {
      return request({ op: "total" });
    },
    /** Resolves when this node's count reaches `at`: when (performance.timeOrigin-based ms). */
    reached(at: number): Promise<{ at: number; cpu: number }> {
      return request({ op: "arm", at }, 600_000);
    },
    lat(id: string, n: number): Promise<{ p50: number; p99: number }> {
      return request({ op: "lat", id, n }, 300_000);
    },
  };
}
type Node = Awaited<ReturnType<typeof start>>;

function pct(times: number[]): { p50: number; p99: number } {
  times.sort((a, b) => a - b);
  const p = (q: number) => Math.round(times[Math.floor(q * (times.length - 1))] * 1000);
  return { p50: p(0.5), p99: p(0.99) };
}
const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor((a.length - 1) / 2)];
const now = () => performance.timeOrigin + performance.now();

/** What one tell run measured. */
interface TellRun {
  rate: number;
  delivered: number;
  /** CPU per tell, µs: the sending process (this one, for the client) and the 3 nodes. */
  senderCpu: number;
  nodeCpu: number;
  /** How long the sending took (ms), and the whole run until the last node got its share. */
  sendMs: number;
  ms: number;
  /** Entities that started again on the nodes during the run (a shard moved or restarted). */
  restarts: number;
}

/**
 * Times `send(n)` until every node has counted its share (`shares(n)`, per node), from the
 * start of the send. A run whose counts stop moving for 15 s (something was lost: a dead
 * letter) ends with what arrived.
 */
async function timedRun(
  nodes: Node[],
  n: number,
  shares: (n: number) => number[],
  send: (n: number) => Promise<void>,
): Promise<TellRun> {
  const before = await Promise.all(nodes.map((x) => x.stats()));
  const expected = shares(n);
  const marks = nodes.map((x, i) => x.reached(before[i].n + expected[i]));
  const c0 = process.cpuUsage();
  const t0 = now();
  await send(n);
  const sent = now() - t0;
  let stalled = false;
  const all = Promise.all(marks);
  const watchdog = (async () => {
    let last = -1;
    let lastChange = performance.now();
    while (true) {
      const r = await Promise.race([all, new Promise((ok) => setTimeout(ok, 500, "poll"))]);
      if (r !== "poll") return;
      const total = (await Promise.all(nodes.map((x) => x.stats()))).reduce((a, b) => a + b.n, 0);
      if (total !== last) (last = total, lastChange = performance.now());
      if (performance.now() - lastChange > 15_000) return void (stalled = true);
    }
  })();
  await Promise.race([all, watchdog]);
  const c1 = process.cpuUsage(c0);
  const after = await Promise.all(nodes.map((x) => x.stats()));
  const delivered = after.reduce((a, b, i) => a + b.n - before[i].n, 0);
  let end: number;
  let nodeCpu = 0;
  if (!stalled) {
    const done = await all;
    end = Math.max(...done.map((d) => d.at));
    for (let i = 0; i < nodes.length; i++) nodeCpu += done[i].cpu - before[i].cpu;
  } else {
    end = now() - 15_000;
    for (let i = 0; i < nodes.length; i++) nodeCpu += after[i].cpu - before[i].cpu;
  }
  return {
    rate: delivered / ((end - t0) / 1000),
    delivered,
    sendMs: sent,
    ms: end - t0,
    restarts: after.reduce((a, b, i) => a + b.restarts - before[i].restarts, 0),
    senderCpu: (c1.user + c1.system) / n,
    nodeCpu: nodeCpu / n,
  };
}

const nodes: Node[] = [];
try {
  const a = await start();
  nodes.push(a);
  const [b, c] = await Promise.all([start(a.port), start(a.port)]);
  nodes.push(b, c);
  await Promise.all(
    nodes.map((n) =>
      n.proc.waitForLine((l) => l.includes('"view"') && JSON.parse(l).up === 3, 60_000)
    ),
  );
  const client = await ClusterClient.connect({
    contactPoints: [`127.0.0.1:${a.port}`],
    systemName: "cbench",
    logLevel: "error",
  });
  try {
    const ref = client.entityRef<Msg>("bench", { numShards: 30 });
    const ids = Array.from({ length: 60 }, (_, i) => `e${i}`);
    const get = (id: string) =>
      client.entityAsk<Msg, number>(ref, id, (replyTo) => ({ type: "get", replyTo }));
    for (const id of ids) await get(id); // allocates every shard
    const owner = (id: string) =>
      client.getClusterState().allocations.bench?.[entityShard(id, 30)]?.primary.port;
    while (ids.some((id) => owner(id) === undefined)) await new Promise((r) => setTimeout(r, 50));
    const onB = ids.find((id) => owner(id) === b.port)!;
    const onA = ids.find((id) => owner(id) === a.port)!;

    const local = await a.lat(onA, ASKS);
    const member = await a.lat(onB, ASKS);
    for (let i = 0; i < 200; i++) await get(onB);
    const times: number[] = [];
    for (let i = 0; i < ASKS; i++) {
      const t = performance.now();
      await get(onB);
      times.push(performance.now() - t);
    }
    const viaClient = pct(times);
    console.log(`ask latency (${ASKS} sequential asks, µs):`);
    console.log(`  node-local entityAsk          p50 ${local.p50}  p99 ${local.p99}`);
    console.log(`  member → entity on other node p50 ${member.p50}  p99 ${member.p99}`);
    console.log(`  client → entity on a node     p50 ${viaClient.p50}  p99 ${viaClient.p99}`);
    console.log(
      `  client / member: p50 ${(viaClient.p50 / member.p50).toFixed(2)}x, p99 ${
        (viaClient.p99 / member.p99).toFixed(2)
      }x (target: within 1.10x)`,
    );

    const deadReasons = new Map<string, number>();
    client.system.eventStream.subscribe(DeadLetter, (d) => {
      const k = `${d.reason}:${d.detail}`;
      deadReasons.set(k, (deadReasons.get(k) ?? 0) + 1);
    });
    // How many of n round-robin tells over `over` land on each node.
    const sharesOver = (over: string[]) => (n: number) =>
      nodes.map((x) => {
        let s = 0;
        for (let j = 0; j < over.length; j++) {
          if (owner(over[j]) === x.port) {
            s += Math.floor(n / over.length) + (j < n % over.length ? 1 : 0);
          }
        }
        return s;
      });
    // The send loop lets the socket writes go out every 5,000 tells. `setImmediate` runs right
    // after the I/O phase; a `setTimeout(0)` that deep is clamped to 1–4 ms per yield
    // (BENCH_YIELD=timeout, for comparison).
    const pause = YIELD === "timeout"
      ? () => new Promise((r) => setTimeout(r, 0))
      : () => new Promise((r) => setImmediate(r));
    const clientSend = async (n: number) => {
      for (let i = 0; i < n; i++) {
        ref.tell(new ShardEnvelope(ids[i % ids.length], { type: "inc" }));
        if (i % 5000 === 4999) await pause();
      }
    };
    // The same tells from a member (node A) to the entities on B and C.
    const remoteIds = ids.filter((id) => owner(id) !== a.port);
    const memberSend = (n: number) => a.tells(remoteIds, n);
    const us = (x: number) => x.toFixed(2);
    const rounds: {
      client: TellRun;
      member: TellRun;
      raw: number;
      raw3: number;
      raw3SenderCpu: number;
      raw3ReceiverCpu: number;
    }[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      if (WARM > 0) await timedRun(nodes, WARM, sharesOver(ids), clientSend);
      const clientRun = await timedRun(nodes, TELLS, sharesOver(ids), clientSend);
      if (WARM > 0) await timedRun(nodes, WARM, sharesOver(remoteIds), memberSend);
      const memberRun = await timedRun(nodes, TELLS, sharesOver(remoteIds), memberSend);
      const raw = (await rawTellRun(TELLS, 1, WARM)).rate;
      const raw3Run = await rawTellRun(TELLS, 3, WARM);
      const load = (await import("node:os")).loadavg()[0].toFixed(2);
      rounds.push({
        client: clientRun,
        member: memberRun,
        raw,
        raw3: raw3Run.rate,
        raw3SenderCpu: raw3Run.senderCpu,
        raw3ReceiverCpu: raw3Run.receiverCpu,
      });
      console.log(
        `tell throughput, round ${round} (${TELLS} tells after ${WARM} of warm-up; load ${load}):`,
      );
      console.log(
        `  client → sharded entities on 3 nodes  ${
          Math.round(clientRun.rate)
        } msg/s (${clientRun.delivered} of ${TELLS} arrived in ${
          Math.round(clientRun.ms)
        } ms, sending took ${Math.round(clientRun.sendMs)} ms${
          clientRun.restarts > 0 ? `; ${clientRun.restarts} entity restarts` : ""
        })`,
      );
      console.log(
        `  member → sharded entities on 2 nodes  ${
          Math.round(memberRun.rate)
        } msg/s (${memberRun.delivered} of ${TELLS} arrived${
          memberRun.restarts > 0 ? `; ${memberRun.restarts} entity restarts` : ""
        })`,
      );
      console.log(`  raw JSON frames over a native socket  ${Math.round(raw)} msg/s`);
      console.log(`  raw JSON frames to 3 peer processes   ${Math.round(raw3Run.rate)} msg/s`);
      console.log(
        `  CPU per tell, µs: client ${us(clientRun.senderCpu)} + 3 nodes ${
          us(clientRun.nodeCpu)
        }; raw to 3: sender ${us(raw3Run.senderCpu)} + receivers ${us(raw3Run.receiverCpu)}`,
      );
      console.log(
        `  client / raw: ${(clientRun.rate / raw * 100).toFixed(0)} % (target: >= 50 %); ` +
          `client / raw to 3 processes: ${(clientRun.rate / raw3Run.rate * 100).toFixed(0)} %; ` +
          `client / member: ${(clientRun.rate / memberRun.rate * 100).toFixed(0)} %`,
      );
    }
    if (deadReasons.size > 0) console.log("client dead letters:", [...deadReasons]);
    for (const n of nodes) {
      const { dead, restarts } = await n.dead();
      if (Object.keys(dead).length > 0) console.log(`node ${n.port} dead letters:`, dead);
      if (restarts > 0) console.log(`node ${n.port}: ${restarts} entity restarts`);
    }
    const m = (f: (r: typeof rounds[number]) => number) => med(rounds.map(f));
    const ratio = m((r) => r.client.rate / r.raw);
    const ratio3 = m((r) => r.client.rate / r.raw3);
    if (ROUNDS > 1) {
      console.log(
        `medians of ${ROUNDS} rounds: client / raw ${(ratio * 100).toFixed(0)} %, client / raw ` +
          `to 3 processes ${(ratio3 * 100).toFixed(0)} %, client ${
            Math.round(m((r) => r.client.rate))
          } msg/s`,
      );
    }
    console.log(
      "RESULT " + JSON.stringify({
        client: Math.round(m((r) => r.client.rate)),
        member: Math.round(m((r) => r.member.rate)),
        raw: Math.round(m((r) => r.raw)),
        raw3: Math.round(m((r) => r.raw3)),
        clientOverRaw: +ratio.toFixed(3),
        clientOverRaw3: +ratio3.toFixed(3),
        clientCpu: +us(m((r) => r.client.senderCpu)),
        nodeCpu: +us(m((r) => r.client.nodeCpu)),
        memberNodeCpu: +us(m((r) => r.member.nodeCpu)),
        raw3SenderCpu: +us(m((r) => r.raw3SenderCpu)),
        raw3ReceiverCpu: +us(m((r) => r.raw3ReceiverCpu)),
        askClientP50: viaClient.p50,
        askMemberP50: member.p50,
        askLocalP50: local.p50,
      }),
    );
  } finally {
    await client.close();
  }
} finally {
  await Promise.all(nodes.map((n) => n.proc.stop()));
}
