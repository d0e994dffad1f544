// Heap per idle actor: spawns 100,000 idle actors and divides the `heapUsed` growth by
// 100,000, after forcing a full GC before each reading. Measured twice: actors that never
// got a message (no mailbox storage yet) and actors that handled one message.
//
//   deno run -A --v8-flags=--expose-gc bench/actor_heap.ts
//   bun bench/actor_heap.ts
import process from "node:process";
import { type ActorRef, ActorSystem, Behaviors } from "../mod.ts";

const N = 100_000;
const TARGET_BYTES = 1024;

type Msg = { readonly type: "ping"; readonly replyTo: ActorRef<number> } | {
  readonly type: "noop";
};

const g = globalThis as {
  gc?: () => void;
  Bun?: { gc(force: boolean): void; version: string };
  Deno?: { version: { deno: string } };
};
const forceGc: (() => void) | undefined = g.Bun
  ? () => g.Bun!.gc(true)
  : typeof g.gc === "function"
  ? g.gc
  : undefined;
const runtime = g.Deno ? `Deno ${g.Deno.version.deno}` : g.Bun ? `Bun ${g.Bun.version}` : "node";

function heapUsed(): number {
  // Several passes: weak callbacks and finalizers can free more on a second pass.
  for (let i = 0; i < 3; i++) forceGc?.();
  return process.memoryUsage().heapUsed;
}

// One shared behavior value, as in real code where a factory's behavior is reused.
const idle = Behaviors.receive<Msg>((_ctx, msg) => {
  if (msg.type === "ping") msg.replyTo.tell(1);
});

async function measure(label: string, messageEach: boolean): Promise<number> {
  await using system = new ActorSystem({ name: "heap", logLevel: "error" });
  const names = Array.from({ length: N }, (_, i) => `idle-${i}`);
  const refs: ActorRef<Msg>[] = new Array(N);
  // Warm the code paths so the delta is heap, not compiled code.
  const warm = system.spawn(idle, "warm");
  await system.ask(warm, (replyTo) => ({ type: "ping", replyTo }));
  const before = heapUsed();
  for (let i = 0; i < N; i++) refs[i] = system.spawn(idle, names[i]);
  if (messageEach) { for (let i = 0; i < N; i++) refs[i].tell({ type: "noop" }); }
  // The dispatcher starts cells in FIFO order: once the last one answers, all have started
  // (and handled their message).
  await system.ask(refs[N - 1], (replyTo) => ({ type: "ping", replyTo }), { timeout: 30_000 });
  const after = heapUsed();
  const perActor = (after - before) / N;
  console.log(
    `${label.padEnd(34)} ${perActor.toFixed(0).padStart(5)} B/actor  (${
      ((after - before) / 2 ** 20).toFixed(1)
    } MiB for ${N}); target <= ${TARGET_BYTES} B: ${perActor <= TARGET_BYTES ? "met" : "missed"}`,
  );
  refs.length = 0;
  return perActor;
}

console.log(
  `heap per idle actor on ${runtime}${
    forceGc ? "" : " (no forced GC: pass --v8-flags=--expose-gc)"
  }`,
);
await measure("idle, never messaged", false);
await measure("idle, after one message each", true);
