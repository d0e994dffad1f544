// N entities alive on one node (default 1 000 000): the time from the first envelope until every
// entity has handled its first message, and the heap per entity (after a full GC), against N
// plain actors that each handled one message, in the same run.
//
//   deno run -A --v8-flags=--expose-gc bench/sharding_entities_bench.ts
//   bun bench/sharding_entities_bench.ts
//   N=100000 deno run -A --v8-flags=--expose-gc bench/sharding_entities_bench.ts
import process from "node:process";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { startBenchNode } from "./_bench_node.ts";
import { type ActorRef, Behaviors, DeadLetter, entityShard, ShardEnvelope } from "../mod.ts";

const N = Number(process.env.N ?? 1_000_000);
// PLAIN=0 skips the plain-actor baseline (for profiling the sharded part alone).
const withPlain = process.env.PLAIN !== "0";

const g = globalThis as {
  gc?: () => void;
  Bun?: { gc(force: boolean): void; version: string };
  Deno?: { version: { deno: string } };
};
const forceGc = g.Bun ? () => g.Bun!.gc(true) : typeof g.gc === "function" ? g.gc : undefined;
const runtime = g.Deno ? `Deno ${g.Deno.version.deno}` : g.Bun ? `Bun ${g.Bun.version}` : "node";
if (forceGc === undefined) console.log("(no forced GC: run Deno with --v8-flags=--expose-gc)");

function heapUsed(): number {
  for (let i = 0; i < 3; i++) forceGc?.();
  return process.memoryUsage().heapUsed;
}

type Msg = { readonly type: "touch" };
const TOUCH: Msg = { type: "touch" };
let remaining = 0;
let finished: () => void = () => {};
// One shared behavior, as a real factory would return (the entity's state lives in closures
// made per entity when it has any; this measures the framework's own cost).
const entity = Behaviors.receive<Msg>(() => {
  if (--remaining === 0) finished();
});

// IDS=json: the ids as a decoder makes them (flat strings, as from the network); the default
// builds them with a template literal, which V8 makes ropes (ConsString) from 13 characters on:
// each is flattened on its first hash lookup, and the table then holds the flattened copy.
const ids = process.env.IDS === "json"
  ? JSON.parse(JSON.stringify(Array.from({ length: N }, (_, i) => `entity-${i}`))) as string[]
  : Array.from({ length: N }, (_, i) => `entity-${i}`);
const names = Array.from({ length: N }, (_, i) => `plain-${i}`);

// The runtime's floor: a bare `Map` given N fresh ids of the same kind (one lookup that misses,
// then an insert of one small object each), the least any table of live entities keyed by id
// does. Measured in a child process started just before (a fresh heap, as the entities get:
// run here, it would leave the heap grown for them).
if (process.env.FLOOR_ONLY === "1") {
  const floorMap = new Map<string, { id: string; n: number }>();
  const t0 = performance.now();
  for (const id of ids) {
    if (floorMap.get(id) === undefined) floorMap.set(id, { id, n: 0 });
  }
  const t = performance.now() - t0;
  if (floorMap.size !== N) throw new Error("floor: wrong size");
  console.log(JSON.stringify({ floorMs: t }));
  process.exit(0);
}
const floorRun = spawnSync(
  process.execPath,
  g.Deno ? ["run", "-A", fileURLToPath(import.meta.url)] : [fileURLToPath(import.meta.url)],
  { env: { ...process.env, FLOOR_ONLY: "1" }, encoding: "utf8" },
);
const tFloor = floorRun.status === 0
  ? JSON.parse(floorRun.stdout.trim().split("\n").pop()!).floorMs as number
  : NaN;

const node = await startBenchNode();
const region = node.spawn(Behaviors.sharded((_id: string) => entity, { numShards: 100 }), "e");

async function touchAll(send: (i: number) => void): Promise<number> {
  remaining = N;
  const done = new Promise<void>((resolve) => (finished = resolve));
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (let i = 0; i < N; i++) send(i);
  await done;
  const c = process.cpuUsage(c0);
  cpuMs = (c.user + c.system) / 1000;
  return performance.now() - t0;
}
/** CPU time (all threads, GC included) of the last `touchAll`. */
let cpuMs = 0;

// Warm up: EVERY shard allocated here (one entity per shard), code paths compiled. A shard still
// waiting for its allocation buffers at most 10 000 messages (`bufferSize`): the rest would be
// dead letters, and 1M new ids are 10 000 per shard.
const warmIds = new Map<number, string>();
for (let i = 0; warmIds.size < 100; i++) {
  const id = `warm-${i}`;
  if (!warmIds.has(entityShard(id, 100))) warmIds.set(entityShard(id, 100), id);
}
let dead = 0;
node.eventStream.subscribe(DeadLetter, () => {
  if (++dead === 1) console.log("dead letters: the run cannot complete");
});
for (;;) {
  remaining = warmIds.size;
  const done = new Promise<void>((resolve) => (finished = resolve));
  for (const id of warmIds.values()) region.tell(new ShardEnvelope(id, TOUCH));
  const ok = await Promise.race([
    done.then(() => true),
    new Promise<boolean>((r) => setTimeout(() => r(false), 2000)),
  ]);
  if (ok) break;
}

const h0 = heapUsed();
const plain: ActorRef<Msg>[] = new Array(N);
const tPlain = withPlain
  ? await touchAll((i) => (plain[i] = node.spawn(entity, names[i])).tell(TOUCH))
  : NaN;
const cpuPlain = cpuMs;
const h1 = heapUsed();
const tSharded = await touchAll((i) => region.tell(new ShardEnvelope(ids[i], TOUCH)));
const cpuSharded = cpuMs;
const h2 = heapUsed();

const perPlain = (h1 - h0) / N;
const perEntity = (h2 - h1) / N;
console.log(`${runtime}, ${N} alive at once, ${new Date().toISOString()}`);
console.log(
  `plain actors: spawn + first message ${(tPlain / 1000).toFixed(2)} s, ${
    perPlain.toFixed(0)
  } B heap each`,
);
console.log(
  `entities:     first envelope to all handled ${(tSharded / 1000).toFixed(2)} s (${
    (tSharded / tPlain).toFixed(2)
  }x plain), ${perEntity.toFixed(0)} B heap each (${(perEntity / perPlain).toFixed(2)}x plain)`,
);
console.log(
  `floor:        a bare Map given ${N} fresh ids, one small object each: ${
    (tFloor / 1000).toFixed(2)
  } s (entities ${(tSharded / tFloor).toFixed(2)}x)`,
);
console.log(
  `cpu time:     plain ${(cpuPlain / 1000).toFixed(2)} s, entities ${
    (cpuSharded / 1000).toFixed(2)
  } s (${(cpuSharded / cpuPlain).toFixed(2)}x)`,
);
console.log(
  `targets: <= 2 s ${tSharded <= 2000 ? "met" : "missed"}; <= 1 KiB per entity ${
    perEntity <= 1024 ? "met" : "missed"
  }`,
);
plain.length = 0;
// QUICK_EXIT=1: leave without stopping the actors (a CPU profile then shows the run alone).
if (process.env.QUICK_EXIT === "1") process.exit(0);
await node.shutdown();
