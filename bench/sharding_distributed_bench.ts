// Sharded tell across 3 processes against plain remote tell, in the same run:
//
//   deno run -A bench/sharding_distributed_bench.ts      # bun bench/sharding_distributed_bench.ts
//   BENCH_MESSAGES=200000 ROUNDS=3 deno run -A bench/sharding_distributed_bench.ts
//
// This process is the seed node; bench/_sharding_peer.ts runs two more. All three spawn the
// sharded type "counters" (100 shards, spread over the 3 nodes by the coordinator) and a plain
// "/counter" actor. Each round, alternating:
// - remote tell (baseline): BENCH_MESSAGES fresh ~100-byte messages from here to the /counter
//   actors of the two peers, alternately (every message crosses a socket);
// - sharded tell: the same number of `region.tell(new ShardEnvelope(id, msg))` from here to 3000
//   entities round-robin (two thirds live on the peers: the region forwards them as
//   `ShardForward`; one third is local);
// - sharded tell, remote entities only: only to the entities whose shard a peer owns.
// Tells are paced by the transport's outbound queue (a remote tell has no backpressure);
// completion = every process's handled count (asked) adds up to what was sent.
import process from "node:process";
import { setImmediate } from "node:timers";
import { fileURLToPath } from "node:url";
import { Peer } from "./_peer.ts";
import { counting, type DepositMsg } from "./_sharding_peer.ts";
import {
  Behaviors,
  ClusteredActorSystem,
  DeadLetter,
  entityShard,
  type NodeAddress,
  ShardEnvelope,
} from "../mod.ts";

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 300_000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const ENTITIES = 3000;
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));
const peerScript = fileURLToPath(new URL("./_sharding_peer.ts", import.meta.url));

const node = await ClusteredActorSystem.start({
  name: "bench",
  host: "127.0.0.1",
  port: 0,
  logLevel: "error",
});
let dead = 0;
node.eventStream.subscribe(DeadLetter, () => dead++);
const box = { n: 0 };
const entity = counting(box);
const region = node.spawn(
  Behaviors.sharded((_id: string) => entity, { numShards: 100 }),
  "counters",
);
const seed = `127.0.0.1:${node.selfAddress.port}`;
const peers = [new Peer(peerScript, [seed]), new Peer(peerScript, [seed])];
try {
  const ports = await Promise.all(
    peers.map(async (p) => (await p.waitFor((e) => e.event === "ready")).port),
  );
  await node.waitFor(3, { timeout: 60_000 });
  const addrs: NodeAddress[] = ports.map((port) => ({ host: "127.0.0.1", port }));
  const counters = ports.map((port) =>
    node.lookup<DepositMsg>(`casty://bench@127.0.0.1:${port}/counter`)!
  );
  const total = async () => {
    const counts = await Promise.all(
      counters.map((c) =>
        node.ask(c, (replyTo) => ({ type: "count", replyTo }), { timeout: 60_000 })
      ),
    );
    return box.n + counts[0] + counts[1];
  };
  let sent = 0;
  const paced = async (n: number, send: (i: number) => void) => {
    const end = sent + n;
    let i = 0;
    while (sent < end) {
      const stopAt = Math.min(end, sent + 1024);
      for (; sent < stopAt; sent++) send(i++);
      if (addrs.some((a) => node.transport.queuedCount(a) >= 50_000)) {
        while (addrs.some((a) => node.transport.queuedCount(a) >= 25_000)) await tick();
      }
    }
    while ((await total()) < sent) {
      if (dead > 0) throw new Error(`${dead} dead letters`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  const msg = (seq: number) => ({
    type: "deposit" as const,
    seq,
    account: "acc-123456",
    amount: 42,
    note: "coffee, table 7, no milk",
  });
  const ids = Array.from({ length: ENTITIES }, (_, i) => `acct-${i}`);
  // Every shard allocated (one envelope each), then wait until the coordinator has spread
  // them over the 3 nodes (rebalancing moves a few at a time).
  const byShard = new Map<number, string>();
  for (const id of ids) byShard.set(entityShard(id, 100), id);
  await paced(
    byShard.size,
    (i) => region.tell(new ShardEnvelope([...byShard.values()][i], msg(i))),
  );
  for (const deadline = Date.now() + 60_000;;) {
    const a = (await node.getClusterState()).allocations.counters ?? {};
    const n = new Map<number, number>();
    for (const e of Object.values(a)) n.set(e.primary.port, (n.get(e.primary.port) ?? 0) + 1);
    if ([...n.values()].length === 3 && Math.min(...n.values()) >= 30) break;
    if (Date.now() > deadline) throw new Error(`shards not spread: ${JSON.stringify([...n])}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  // Warm up: every entity alive, every shard allocated (retry until all 3000 counted).
  await paced(ENTITIES, (i) => region.tell(new ShardEnvelope(ids[i], msg(i))));
  const state = await node.getClusterState();
  const owners = state.allocations.counters;
  const self = node.selfAddress.port;
  const isRemote = (id: string) => owners[entityShard(id, 100)].primary.port !== self;
  const remoteIds = ids.filter(isRemote);
  const perNode = new Map<string, number>([[String(self), 0]]);
  for (const id of ids) {
    const o = String(owners[entityShard(id, 100)].primary.port);
    perNode.set(o, (perNode.get(o) ?? 0) + 1);
  }
  const cases: [string, (i: number) => void][] = [
    ["remote tell to 2 peers (baseline)", (i) => counters[i & 1].tell(msg(i))],
    [
      "sharded tell, 3000 entities on 3 nodes",
      (i) => region.tell(new ShardEnvelope(ids[i % ENTITIES], msg(i))),
    ],
    [
      "sharded tell, remote entities only",
      (i) => region.tell(new ShardEnvelope(remoteIds[i % remoteIds.length], msg(i))),
    ],
  ];
  for (const [, send] of cases) await paced(MESSAGES / 10, send);
  const rates = new Map<string, number[]>(cases.map(([name]) => [name, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, send] of cases) {
      const t0 = performance.now();
      await paced(MESSAGES, send);
      rates.get(name)!.push(MESSAGES / ((performance.now() - t0) / 1000));
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const base = median(rates.get(cases[0][0])!);
  const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
  const runtime = g.Deno ? `Deno ${g.Deno.version.deno}` : `Bun ${g.Bun?.version}`;
  console.log(
    `${runtime}, 3 processes, ${MESSAGES} messages per round, median of ${ROUNDS}, ${
      new Date().toISOString()
    }`,
  );
  console.log(
    `entities per node: ${
      [...perNode.values()].join(" / ")
    } (remote from here: ${remoteIds.length})`,
  );
  console.log(`| case | msgs/s | vs remote tell |`);
  console.log(`| --- | ---: | ---: |`);
  for (const [name] of cases) {
    const m = median(rates.get(name)!);
    console.log(
      `| ${name} | ${Math.round(m).toLocaleString("en-US")} | ${(100 * m / base).toFixed(0)} % |`,
    );
  }
  if (dead > 0) console.log(`dead letters: ${dead}`);
} catch (err) {
  console.error("bench failed:", err);
  process.exitCode = 1;
} finally {
  await Promise.all(peers.map((p) => p.stop()));
  await node.shutdown();
}
