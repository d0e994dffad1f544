// Spawn + stop at scale: 1,000,000 actors, measured directly rather than extrapolated from
// the 100k case in actor_bench.ts. Two shapes: all alive at once (spawn 1M, then stop 1M),
// and steady state (batches of 10k spawned and stopped, 100 times).
//
//   deno run -A bench/actor_spawn.ts
//   bun bench/actor_spawn.ts
import { type ActorRef, ActorStopped, ActorSystem, Behaviors } from "../mod.ts";

const TOTAL = 1_000_000;
const BATCH = 10_000;
const TARGET_MS = 2000;

type Stop = { readonly type: "stop" };
const STOP: Stop = { type: "stop" };
const stoppable = Behaviors.receive<Stop>(() => Behaviors.stopped());

const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
const runtime = g.Deno ? `Deno ${g.Deno.version.deno}` : `Bun ${g.Bun?.version}`;

await using system = new ActorSystem({ name: "spawn-bench", logLevel: "error" });
let left = 0;
let allStopped: () => void = () => {};
system.eventStream.subscribe(ActorStopped, () => {
  if (--left === 0) allStopped();
});

/** Spawns `names.length` actors, tells each to stop, and waits until all have stopped. */
async function cycle(names: readonly string[]): Promise<void> {
  left = names.length;
  const done = new Promise<void>((resolve) => (allStopped = resolve));
  const refs: ActorRef<Stop>[] = new Array(names.length);
  for (let i = 0; i < names.length; i++) refs[i] = system.spawn(stoppable, names[i]);
  for (let i = 0; i < names.length; i++) refs[i].tell(STOP);
  await done;
}

const batch = Array.from({ length: BATCH }, (_, i) => `b${i}`);
let all: string[] | undefined;
await cycle(batch); // warm-up

console.log(`spawn + stop of ${TOTAL} actors on ${runtime} (target <= ${TARGET_MS} ms)`);

// Steady state first: the all-at-once shape leaves a large, fragmented heap behind it.
const shapes: [string, () => Promise<void>][] = [
  [`batches of ${BATCH}`, async () => {
    for (let b = 0; b < TOTAL / BATCH; b++) await cycle(batch);
  }],
  ["all alive at once", () => cycle(all ??= Array.from({ length: TOTAL }, (_, i) => `a${i}`))],
];
for (const [label, run] of shapes) {
  const times: number[] = [];
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
  }
  const best = Math.min(...times);
  console.log(
    `${label.padEnd(20)} best ${best.toFixed(0).padStart(5)} ms  runs ${
      times.map((t) => t.toFixed(0)).join(" / ")
    } ms; target ${best <= TARGET_MS ? "met" : "missed"}`,
  );
}
