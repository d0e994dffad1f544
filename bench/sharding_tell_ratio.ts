// Sharded tell to local entities against plain local tell, in the same run, on Deno or Bun:
//
//   deno run -A bench/sharding_tell_ratio.ts
//   bun bench/sharding_tell_ratio.ts
//
// 1000 entities (sharded) and 1000 plain actors on one node; each round sends TELLS messages
// round-robin and waits until all are handled. Rounds alternate plain/sharded; the medians are
// printed with their ratio.
import process from "node:process";
import { startBenchNode } from "./_bench_node.ts";
import { type ActorRef, Behaviors, ShardEnvelope } from "../mod.ts";

const TELLS = 200_000;
const ROUNDS = Number(process.env.ROUNDS ?? 30);
const IDS = Array.from({ length: 1000 }, (_, i) => `user-${i}`);
type Msg = { readonly n: number };
const MSG: Msg = { n: 1 };
let remaining = 0;
let finished: () => void = () => {};
const handler = () =>
  Behaviors.receive<Msg>(() => {
    if (--remaining === 0) finished();
  });

const node = await startBenchNode();
const region = node.spawn(Behaviors.sharded((_id: string) => handler(), { numShards: 100 }), "e");
const plain: ActorRef<Msg>[] = IDS.map((_, i) => node.spawn(handler(), `p${i}`));
const envelopes = IDS.map((id) => new ShardEnvelope(id, MSG));
for (;;) {
  remaining = IDS.length;
  const done = new Promise<void>((resolve) => (finished = resolve));
  for (const e of envelopes) region.tell(e);
  const ok = await Promise.race([
    done.then(() => true),
    new Promise<boolean>((r) => setTimeout(() => r(false), 2000)),
  ]);
  if (ok) break;
}

// Wall time and CPU time (user + system, ms) of one round: on a shared machine the CPU time is
// the steadier measure (time spent waiting for a core is not counted).
const cpu: number[] = [];
async function round(send: (i: number) => void): Promise<number> {
  remaining = TELLS;
  const done = new Promise<void>((resolve) => (finished = resolve));
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < TELLS; i++) send(i);
  await done;
  const t = performance.now() - t0;
  const c = process.cpuUsage(c0);
  cpu.push((c.user + c.system) / 1000);
  return t;
}
const plainTell = (i: number) => plain[i % 1000].tell(MSG);
const shardedTell = (i: number) => region.tell(envelopes[i % 1000]);
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
console.log(`${runtime}, ${TELLS} messages over 1000 receivers, median of ${ROUNDS} rounds`);
console.log(`plain local tell:   ${mp.toFixed(1)} ms  ${(TELLS / mp / 1000).toFixed(2)} M msgs/s`);
console.log(`sharded local tell: ${ms.toFixed(1)} ms  ${(TELLS / ms / 1000).toFixed(2)} M msgs/s`);
const cp = median(pc);
const cs = median(sc);
console.log(
  `CPU time per round (medians): plain ${cp.toFixed(1)} ms, sharded ${cs.toFixed(1)} ms: ${
    (100 * cp / cs).toFixed(0)
  } %`,
);
const bp = Math.min(...p);
const bs = Math.min(...s);
console.log(
  `sharded / plain throughput: ${(100 * mp / ms).toFixed(0)} % (medians), ${
    (100 * bp / bs).toFixed(0)
  } % (best rounds: ${bp.toFixed(1)} / ${bs.toFixed(1)} ms)`,
);
await node.shutdown();
