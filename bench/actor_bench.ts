// Local actor benchmarks. Each group has a bare baseline doing the same handler work without
// actors, so `deno bench` reports the framework's cost as a ratio.
//
//   deno bench -A bench/actor_bench.ts
//
// Ask latency percentiles and heap per idle actor are separate scripts (they need per-op
// timing and a forced GC): bench/actor_ask_latency.ts and bench/actor_heap.ts.
import { type ActorRef, ActorStopped, ActorSystem, Behaviors } from "../mod.ts";

const TELLS = 1_000_000;
const FAN_OUT_ACTORS = 1_000;
const FAN_OUT_ROUNDS = 1_000;
const SPAWNS = 100_000;

type Msg = { readonly type: "work"; readonly n: number };
const MSG: Msg = { type: "work", n: 1 };

// The handler work shared by actors and baselines: a sum, so the JIT cannot drop it.
let sink = 0;
function work(msg: Msg): void {
  sink += msg.n;
}

const system = new ActorSystem({ name: "bench", logLevel: "error" });

// ---------------------------------------------------------------- (a) tell throughput

let remaining = 0;
let finished: () => void = () => {};
const counter: ActorRef<Msg> = system.spawn(
  Behaviors.receive<Msg>((_ctx, msg) => {
    work(msg);
    if (--remaining === 0) finished();
  }),
  "counter",
);

Deno.bench({
  name: "tell 1M messages to one actor",
  group: "tell",
  n: 20,
  warmup: 3,
  async fn() {
    remaining = TELLS;
    const done = new Promise<void>((resolve) => (finished = resolve));
    for (let i = 0; i < TELLS; i++) counter.tell(MSG);
    await done;
  },
});

/** A growable power-of-two ring, the honest competitor of a mailbox. */
class Ring<T> {
  #buf: (T | undefined)[] = new Array(8);
  #head = 0;
  #size = 0;
  get length(): number {
    return this.#size;
  }
  push(v: T): void {
    if (this.#size === this.#buf.length) {
      const old = this.#buf;
      const next = new Array<T | undefined>(old.length * 2);
      for (let i = 0; i < this.#size; i++) next[i] = old[(this.#head + i) & (old.length - 1)];
      this.#buf = next;
      this.#head = 0;
    }
    this.#buf[(this.#head + this.#size) & (this.#buf.length - 1)] = v;
    this.#size++;
  }
  shift(): T | undefined {
    const v = this.#buf[this.#head];
    this.#buf[this.#head] = undefined;
    this.#head = (this.#head + 1) & (this.#buf.length - 1);
    this.#size--;
    return v;
  }
}

Deno.bench({
  name: "baseline: fill and drain a ring queue, 1M",
  group: "tell",
  baseline: true,
  n: 20,
  warmup: 3,
  fn() {
    const q = new Ring<Msg>();
    for (let i = 0; i < TELLS; i++) q.push(MSG);
    while (q.length > 0) work(q.shift()!);
  },
});

// ---------------------------------------------------------------- (b) fan-out

let roundLeft = 0;
let roundDone: () => void = () => {};
const fanOut: ActorRef<Msg>[] = [];
for (let i = 0; i < FAN_OUT_ACTORS; i++) {
  fanOut.push(system.spawn(
    Behaviors.receive<Msg>((_ctx, msg) => {
      work(msg);
      if (--roundLeft === 0) roundDone();
    }),
    `fan-${i}`,
  ));
}

Deno.bench({
  name: "fan-out: 1 msg to each of 1k actors, x1k rounds",
  group: "fan-out",
  n: 10,
  warmup: 2,
  async fn() {
    for (let r = 0; r < FAN_OUT_ROUNDS; r++) {
      roundLeft = FAN_OUT_ACTORS;
      const done = new Promise<void>((resolve) => (roundDone = resolve));
      for (let i = 0; i < FAN_OUT_ACTORS; i++) fanOut[i].tell(MSG);
      await done;
    }
  },
});

const handlers: ((msg: Msg) => void)[] = [];
for (let i = 0; i < FAN_OUT_ACTORS; i++) handlers.push((msg) => work(msg));

Deno.bench({
  name: "baseline: call 1k plain handlers, x1k rounds",
  group: "fan-out",
  baseline: true,
  n: 10,
  warmup: 2,
  async fn() {
    for (let r = 0; r < FAN_OUT_ROUNDS; r++) {
      for (let i = 0; i < FAN_OUT_ACTORS; i++) handlers[i](MSG);
      await Promise.resolve(); // one await per round, like the actor version
    }
  },
});

// ---------------------------------------------------------------- (c) ask round trip

type Ping = { readonly type: "ping"; readonly replyTo: ActorRef<number> };
const ponger = system.spawn(
  Behaviors.receive<Ping>((_ctx, msg) => msg.replyTo.tell(1)),
  "ponger",
);

Deno.bench({
  name: "ask round trip",
  group: "ask",
  async fn() {
    await system.ask(ponger, (replyTo) => ({ type: "ping", replyTo }));
  },
});

Deno.bench({
  name: "baseline: await Promise.resolve()",
  group: "ask",
  baseline: true,
  async fn() {
    await Promise.resolve();
  },
});

// ---------------------------------------------------------------- (d) spawn + stop

type Stop = { readonly type: "stop" };
const STOP: Stop = { type: "stop" };
const stoppable = Behaviors.receive<Stop>(() => Behaviors.stopped());
const names = Array.from({ length: SPAWNS }, (_, i) => `s${i}`);

Deno.bench({
  name: "spawn + stop 100k actors",
  group: "spawn",
  n: 10,
  warmup: 2,
  async fn() {
    let left = SPAWNS;
    const { promise, resolve } = Promise.withResolvers<void>();
    const off = system.eventStream.subscribe(ActorStopped, () => {
      if (--left === 0) resolve();
    });
    const refs: ActorRef<Stop>[] = new Array(SPAWNS);
    for (let i = 0; i < SPAWNS; i++) refs[i] = system.spawn(stoppable, names[i]);
    for (let i = 0; i < SPAWNS; i++) refs[i].tell(STOP);
    await promise;
    off();
  },
});

Deno.bench({
  name: "baseline: 100k plain objects, Map insert + delete",
  group: "spawn",
  baseline: true,
  n: 10,
  warmup: 2,
  fn() {
    const map = new Map<string, { name: string; handler: unknown; box: unknown[] }>();
    for (let i = 0; i < SPAWNS; i++) {
      map.set(names[i], { name: names[i], handler: stoppable, box: [] });
    }
    for (let i = 0; i < SPAWNS; i++) map.delete(names[i]);
  },
});

// Keep `sink` observable so the handler work is not optimised away.
globalThis.addEventListener("unload", () => {
  if (sink === -1) console.log(sink);
  void system.shutdown();
});
