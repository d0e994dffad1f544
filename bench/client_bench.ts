// The cluster client against 3 node processes, with the baselines measured in the same run:
// - ask latency p50/p99 (sequential): a node-local entityAsk, a member's entityAsk to an entity
//   on another node (one network hop each way), and the client's ask to an entity on a node
//   (zero-hop routing: the client sends straight to the owner);
// - tell throughput: client tells to sharded entities on the 3 nodes (counted by the entities),
//   against raw JSON frames written to a native socket and only decoded by the receiver
//   (bench/_remote_peer.ts "raw", as in bench/remote_bench.ts), once to one receiving process and
//   once split over three (the client's tells go to three node processes).
// The last line, `RESULT {...}`, holds the numbers as JSON.
//
//   deno run -A bench/client_bench.ts      (or: bun bench/client_bench.ts)
//   BENCH_ASKS=2000 BENCH_TELLS=20000 (the defaults) to change the sizes.
import process from "node:process";
import { fileURLToPath } from "node:url";
import { type ActorRef, ClusterClient, DeadLetter, entityShard, ShardEnvelope } from "../mod.ts";
import { runScript, type ScriptProcess } from "../tests/_helpers/process.ts";
import { rawTellRun } from "./_client_raw_rate.ts";

const ASKS = Number(process.env.BENCH_ASKS ?? 2000);
const TELLS = Number(process.env.BENCH_TELLS ?? 20_000);
const nodeScript = fileURLToPath(new URL("./_client_bench_node.ts", import.meta.url));

type Msg = { type: "inc" } | { type: "get"; replyTo: ActorRef<number> };
let tags = 0;

async function start(seed?: number) {
  const proc = runScript(nodeScript, seed ? ["--seed", `127.0.0.1:${seed}`] : [], {}, {
    stdin: "pipe",
  });
  const port: number = JSON.parse(await proc.waitForLine((l) => l.includes('"ready"'), 60_000))
    .port;
  return {
    proc,
    port,
    async tells(ids: string[], n: number): Promise<void> {
      const tag = `t${++tags}`;
      proc.child.stdin!.write(JSON.stringify({ op: "tells", ids, n, tag }) + "\n");
      await proc.waitForLine((l) => l.includes(`"tag":"${tag}"`), 300_000);
    },
    async dead(): Promise<{ dead: Record<string, number>; restarts: number }> {
      const tag = `t${++tags}`;
      proc.child.stdin!.write(JSON.stringify({ op: "dead", tag }) + "\n");
      return JSON.parse(await proc.waitForLine((l) => l.includes(`"tag":"${tag}"`), 60_000));
    },
    async total(): Promise<number> {
      return (await this.stats()).n;
    },
    /** What this node counted, and its CPU time so far (µs). */
    async stats(): Promise<{ n: number; cpu: number }> {
      const tag = `t${++tags}`;
      proc.child.stdin!.write(JSON.stringify({ op: "total", tag }) + "\n");
      return JSON.parse(await proc.waitForLine((l) => l.includes(`"tag":"${tag}"`), 60_000));
    },
    async lat(id: string, n: number): Promise<{ p50: number; p99: number }> {
      const tag = `t${++tags}`;
      proc.child.stdin!.write(JSON.stringify({ op: "lat", id, n, tag }) + "\n");
      return JSON.parse(await proc.waitForLine((l) => l.includes(`"tag":"${tag}"`), 300_000));
    },
  };
}

function pct(times: number[]): { p50: number; p99: number } {
  times.sort((a, b) => a - b);
  const p = (q: number) => Math.round(times[Math.floor(q * (times.length - 1))] * 1000);
  return { p50: p(0.5), p99: p(0.99) };
}

const procs: ScriptProcess[] = [];
try {
  const a = await start();
  procs.push(a.proc);
  const [b, c] = await Promise.all([start(a.port), start(a.port)]);
  procs.push(b.proc, c.proc);
  await Promise.all(
    [a, b, c].map((n) =>
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

    // Tell throughput: TELLS tells over the 60 entities (on all 3 nodes), done when the nodes
    // counted them all. The nodes report their counts over stdin: polling them with asks (60
    // sequential asks per poll, as before) loaded the very nodes being measured and made the
    // rate depend on the poll (a round took longer than the whole run).
    const nodes = [a, b, c];
    const counted = async () =>
      (await Promise.all(nodes.map((n) => n.total()))).reduce((x, y) => x + y, 0);
    const deadReasons = new Map<string, number>();
    client.system.eventStream.subscribe(DeadLetter, (d) => {
      const k = `${d.reason}:${d.detail}`;
      deadReasons.set(k, (deadReasons.get(k) ?? 0) + 1);
    });
    const nodesCpu = async () =>
      (await Promise.all(nodes.map((n) => n.stats()))).reduce((x, y) => x + y.cpu, 0);
    const base = await counted();
    const nodesCpu0 = await nodesCpu();
    const clientCpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < TELLS; i++) {
      ref.tell(new ShardEnvelope(ids[i % ids.length], { type: "inc" }));
      if (i % 5000 === 4999) await new Promise((r) => setTimeout(r, 0));
    }
    const sent = performance.now() - t0;
    const arrived = async (n: number, base: number, since: number) => {
      // Counts what arrived; gives up 15 s after the last progress (what overflowed a bounded
      // queue is a dead letter and never arrives).
      let delivered = -1;
      let lastChange = performance.now();
      while (true) {
        const total = (await counted()) - base;
        if (total !== delivered) lastChange = performance.now();
        delivered = total;
        if (delivered >= n || performance.now() - lastChange > 15_000) break;
        await new Promise((r) => setTimeout(r, 2));
      }
      return { delivered, rate: delivered / ((lastChange - since) / 1000) };
    };
    const clientRun = await arrived(TELLS, base, t0);
    const clientCpu1 = process.cpuUsage(clientCpu0);
    // CPU per tell, including the count polls (a few per run).
    const clientCpu = (clientCpu1.user + clientCpu1.system) / TELLS;
    const nodeCpu = ((await nodesCpu()) - nodesCpu0) / TELLS;
    const tellRate = clientRun.rate;
    if (deadReasons.size > 0) console.log("client dead letters:", [...deadReasons]);
    // The same tells from a member (node A) to the entities on B and C.
    const remoteIds = ids.filter((id) => owner(id) !== a.port);
    const memberBase = await counted();
    const t1 = performance.now();
    await a.tells(remoteIds, TELLS);
    const memberRun = await arrived(TELLS, memberBase, t1);
    const memberRate = memberRun.rate;
    for (const n of [a, b, c]) {
      const { dead, restarts } = await n.dead();
      if (Object.keys(dead).length > 0) console.log(`node ${n.port} dead letters:`, dead);
      if (restarts > 0) console.log(`node ${n.port}: ${restarts} entity restarts`);
    }
    const rawRun = await rawTellRun(TELLS);
    const raw = rawRun.rate;
    // The client sends to three node processes: the same three receiving processes for raw.
    const raw3Run = await rawTellRun(TELLS, 3);
    const raw3 = raw3Run.rate;
    console.log(`tell throughput (${TELLS} tells):`);
    console.log(
      `  client → sharded entities on 3 nodes  ${
        Math.round(tellRate)
      } msg/s (${clientRun.delivered} of ${TELLS} arrived; sending took ${Math.round(sent)} ms)`,
    );
    console.log(
      `  member → sharded entities on 2 nodes  ${
        Math.round(memberRate)
      } msg/s (${memberRun.delivered} of ${TELLS} arrived)`,
    );
    console.log(`  raw JSON frames over a native socket  ${Math.round(raw)} msg/s`);
    console.log(`  raw JSON frames to 3 peer processes   ${Math.round(raw3)} msg/s`);
    const us = (x: number) => x.toFixed(2);
    console.log(
      `  CPU per tell, µs: client ${us(clientCpu)} + 3 nodes ${us(nodeCpu)}; raw to 3: sender ${
        us(raw3Run.senderCpu)
      } + receivers ${us(raw3Run.receiverCpu)}`,
    );
    console.log(
      `  client / raw: ${(tellRate / raw * 100).toFixed(0)} % (target: >= 50 %); client / raw` +
        ` to 3 processes: ${(tellRate / raw3 * 100).toFixed(0)} %; client / member: ${
          (tellRate / memberRate * 100).toFixed(0)
        } %`,
    );
    console.log(
      "RESULT " + JSON.stringify({
        client: Math.round(tellRate),
        member: Math.round(memberRate),
        raw: Math.round(raw),
        raw3: Math.round(raw3),
        clientCpu: +us(clientCpu),
        nodeCpu: +us(nodeCpu),
        raw3SenderCpu: +us(raw3Run.senderCpu),
        raw3ReceiverCpu: +us(raw3Run.receiverCpu),
        askClientP50: viaClient.p50,
        askMemberP50: member.p50,
        askLocalP50: local.p50,
      }),
    );
  } finally {
    await client.close();
  }
} finally {
  for (const p of procs) await p.kill("SIGKILL");
}
