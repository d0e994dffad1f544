// Sharded tell to local entities against plain local tell, in the same run, on Deno or Bun:
//
//   deno run -A bench/sharding_tell_ratio.ts
//   bun bench/sharding_tell_ratio.ts
//
// 1000 entities (sharded) and 1000 plain actors on one node; each round sends TELLS messages
// round-robin and waits until all are handled. Rounds alternate plain/sharded; the medians are
// printed with their ratio.
import process from "node:process";
import { tellFixture, type TellMsg } from "./_bench_node.ts";
import { ShardEnvelope } from "../mod.ts";

const TELLS = 200_000;
const ROUNDS = Number(process.env.ROUNDS ?? 30);
const { node, region, plain, envelopes, msg: MSG, run } = await tellFixture();

// Wall time and CPU time (user + system, ms) of one round: on a shared machine the CPU time is
// the steadier measure (time spent waiting for a core is not counted).
const cpu: number[] = [];
async function round(send: (i: number) => void): Promise<number> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await run(TELLS, send);
  const t = performance.now() - t0;
  const c = process.cpuUsage(c0);
  cpu.push((c.user + c.system) / 1000);
  return t;
}
// SHAPE: how the sharded side sends. "reuse" (default): the same 1000 envelopes every round (no
// allocation, each id's hash already cached in the string); "envelope": a new envelope per
// message for one of 1000 id strings; "fresh": a new envelope and a new id string per message
// (as ids decoded from requests are: V8 hashes each new string on its first lookup).
const shape = process.env.SHAPE ?? "reuse";
// ORDER: in which order the rounds go over the 1000 receivers, on both sides. "spawn" (default):
// round-robin in the order they were spawned (so, laid out in memory: the CPU prefetches the next
// receiver); "shuffled": round-robin over one fixed random permutation, the same on both sides
// (receivers told in an order unrelated to where they are, as requests from outside arrive).
const order = process.env.ORDER ?? "spawn";
let seed = 42;
const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000;
const perm = Array.from({ length: 1000 }, (_, i) => i);
if (order === "shuffled") {
  for (let i = 999; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [perm[i], perm[j]] = [perm[j], perm[i]];
  }
}
const receivers = perm.map((k) => plain[k]);
const ids = perm.map((k) => envelopes[k].entityId);
const sharedEnvelopes = perm.map((k) => envelopes[k]);
const plainTell = (i: number) => receivers[i % 1000].tell(MSG);
const shardedTell = shape === "fresh"
  ? (i: number) => region.tell(new ShardEnvelope(`user-${perm[i % 1000]}`, MSG))
  : shape === "envelope"
  ? (i: number) => region.tell(new ShardEnvelope(ids[i % 1000], MSG))
  : (i: number) => region.tell(sharedEnvelopes[i % 1000]);
for (let i = 0; i < 3; i++) {
  await round(plainTell);
  await round(shardedTell);
}
const p: number[] = [];
const s: number[] = [];
const pc: number[] = [];
const sc: number[] = [];
for (let i = 0; i < ROUNDS; i++) {
  p.push(await round(plainTell));
  pc.push(cpu.pop()!);
  s.push(await round(shardedTell));
  sc.push(cpu.pop()!);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const mp = median(p);
const ms = median(s);
const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
const runtime = g.Deno ? `Deno ${g.Deno.version.deno}` : `Bun ${g.Bun?.version}`;
console.log(
  `${runtime}, ${TELLS} messages over 1000 receivers, median of ${ROUNDS} rounds, shape ${shape}, order ${order}`,
);
console.log(`plain local tell:   ${mp.toFixed(1)} ms  ${(TELLS / mp / 1000).toFixed(2)} M msgs/s`);
console.log(`sharded local tell: ${ms.toFixed(1)} ms  ${(TELLS / ms / 1000).toFixed(2)} M msgs/s`);
const cp = median(pc);
const cs = median(sc);
console.log(
  `CPU time per round (medians): plain ${cp.toFixed(1)} ms, sharded ${cs.toFixed(1)} ms: ${
    (100 * cp / cs).toFixed(0)
  } %`,
);
// The floor of any router by entity id, in the same shape: a bare `Map` from id to a plain
// actor's ref, then that ref's tell. Measured after the rounds above, alternating with plain tell
// again (interleaved with them, its calls into the plain actors changed the sharded rounds' own
// figures by up to 10 points).
const byId = new Map(envelopes.map((e, k) => [e.entityId, plain[k]]));
const route = (e: ShardEnvelope<TellMsg>) => byId.get(e.entityId)!.tell(e.message);
const floorTell = shape === "fresh"
  ? (i: number) => route(new ShardEnvelope(`user-${perm[i % 1000]}`, MSG))
  : shape === "envelope"
  ? (i: number) => route(new ShardEnvelope(ids[i % 1000], MSG))
  : (i: number) => route(sharedEnvelopes[i % 1000]);
const p2: number[] = [];
const f: number[] = [];
for (let i = 0; i < 3 + ROUNDS; i++) {
  const tp = await round(plainTell);
  const tf = await round(floorTell);
  if (i >= 3) {
    p2.push(tp);
    f.push(tf);
  }
}
console.log(
  `floor (a bare Map from id to a plain ref, then its tell): ${
    (100 * median(p2) / median(f)).toFixed(0)
  } % of plain tell (measured after)`,
);
const bp = Math.min(...p);
const bs = Math.min(...s);
console.log(
  `sharded / plain throughput: ${(100 * mp / ms).toFixed(0)} % (medians), ${
    (100 * bp / bs).toFixed(0)
  } % (best rounds: ${bp.toFixed(1)} / ${bs.toFixed(1)} ms)`,
);
await node.shutdown();
