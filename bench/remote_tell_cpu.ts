// Remote tell's CPU cost per message, for A/B comparisons on a loaded machine. Two
// ClusteredActorSystems in one process talk over an in-memory `Tcp` (no kernel, no second
// process), so the number is the whole casty stack — serializer, remoting, transport, framing,
// mailbox — on both sides, in CPU time (`process.cpuUsage`), which a busy host disturbs far less
// than wall-clock throughput. Given several source trees (e.g. `git archive` copies of two
// commits, each with a `node_modules` link), it alternates them round by round in the same
// process, so load that comes and goes hits every tree alike, and prints each tree's median.
//
//   deno run -A bench/remote_tell_cpu.ts [tree …]      (default: this tree)
//   bun bench/remote_tell_cpu.ts /tmp/old /work/casty
//
// Env: N (tells per round, default 200,000), ROUNDS (default 5).

import process from "node:process";
import { setImmediate } from "node:timers";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { SocketAddress, Tcp, TcpConnection, TcpListener } from "../src/runtime/tcp.ts";

/** One end of an in-memory connection: writes reach the other end on the next macrotask. */
class MemoryConnection implements TcpConnection {
  peer: MemoryConnection | undefined;
  remoteAddress: SocketAddress = { host: "127.0.0.1", port: 1 };
  bufferedAmount = 0;
  closed = false;
  #onData: (chunk: Uint8Array) => void = () => {};
  #onClose: ((error?: Error) => void)[] = [];
  #onDrain: () => void = () => {};
  #outbox: Uint8Array[] = [];
  #inbox: Uint8Array[] = [];
  #paused = false;
  #scheduled = false;

  write(bytes: Uint8Array): void {
    if (this.closed) return;
    this.bufferedAmount += bytes.length;
    this.#outbox.push(bytes);
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      const chunks = this.#outbox;
      this.#outbox = [];
      for (const chunk of chunks) {
        this.bufferedAmount -= chunk.length;
        this.peer?.receive(chunk);
      }
      this.#onDrain();
    });
  }
  receive(chunk: Uint8Array): void {
    if (this.closed) return;
    if (this.#paused) this.#inbox.push(chunk);
    else this.#onData(chunk);
  }
  onData(handler: (chunk: Uint8Array) => void): void {
    this.#onData = handler;
  }
  onClose(handler: (error?: Error) => void): void {
    this.#onClose.push(handler);
  }
  onDrain(handler: () => void): void {
    this.#onDrain = handler;
  }
  pause(): void {
    this.#paused = true;
  }
  resume(): void {
    this.#paused = false;
    const chunks = this.#inbox;
    this.#inbox = [];
    for (const chunk of chunks) this.#onData(chunk);
  }
  close(): void {
    this.destroy();
  }
  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    setImmediate(() => {
      for (const handler of this.#onClose) handler(undefined);
      this.peer?.destroy();
    });
  }
}

const acceptors = new Map<number, (connection: TcpConnection) => void>();
let nextPort = 40_000;
const memoryTcp: Tcp = {
  name: "deno",
  listen(host, port, options): Promise<TcpListener> {
    const bound = port === 0 ? nextPort++ : port;
    acceptors.set(bound, options.onAccept);
    return Promise.resolve({
      host,
      port: bound,
      close: () => {
        acceptors.delete(bound);
        return Promise.resolve();
      },
    });
  },
  connect(_host, port): Promise<TcpConnection> {
    const accept = acceptors.get(port);
    if (accept === undefined) return Promise.reject(new Error(`nothing listens on ${port}`));
    const client = new MemoryConnection();
    const server = new MemoryConnection();
    client.peer = server;
    server.peer = client;
    client.remoteAddress = { host: "127.0.0.1", port };
    setImmediate(() => accept(server));
    return Promise.resolve(client);
  },
};

type Msg = { type: "deposit"; seq: number; amount: number } | { type: "count" };
// The slice of a tree's mod.ts this bench uses (trees may be older commits).
interface Casty {
  ClusteredActorSystem: {
    start(options: Record<string, unknown>): Promise<Node>;
  };
  Behaviors: { receive(handler: (ctx: unknown, msg: Msg) => void): unknown };
}
interface Node {
  readonly selfAddress: { readonly port: number };
  readonly transport: { queuedCount(node: unknown): number };
  spawn(behavior: unknown, name: string): unknown;
  lookup(uri: string): { readonly node: unknown; tell(msg: unknown): void } | undefined;
  shutdown(): Promise<void>;
}

const N = Number(process.env.N ?? 200_000);
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** CPU nanoseconds per remote tell, both systems together. */
async function round(casty: Casty): Promise<number> {
  const options = {
    name: "bench",
    host: "127.0.0.1",
    port: 0,
    logLevel: "error",
    transport: { tcp: memoryTcp },
  };
  const sender = await casty.ClusteredActorSystem.start(options);
  const receiver = await casty.ClusteredActorSystem.start(options);
  try {
    let count = 0;
    receiver.spawn(
      casty.Behaviors.receive((_ctx, msg) => {
        if (msg.type === "deposit") count++;
      }),
      "counter",
    );
    const counter = sender.lookup(`casty://bench@127.0.0.1:${receiver.selfAddress.port}/counter`)!;
    let sent = 0;
    // Paced by the outbound queue, as bench/remote_actor_bench.ts.
    const tells = async (n: number) => {
      const end = sent + n;
      while (sent < end) {
        const stopAt = Math.min(end, sent + 1024);
        for (; sent < stopAt; sent++) {
          counter.tell({
            type: "deposit",
            seq: sent,
            account: "acc-123456",
            amount: 42,
            note: "coffee, table 7, no milk",
          });
        }
        if (sender.transport.queuedCount(counter.node) >= 50_000) {
          while (sender.transport.queuedCount(counter.node) >= 25_000) await tick();
        }
      }
    };
    await tells(20_000);
    while (count < sent) await tick();
    const before = process.cpuUsage();
    await tells(N);
    while (count < sent) await tick();
    const after = process.cpuUsage();
    return (after.user + after.system - before.user - before.system) * 1000 / N;
  } finally {
    await sender.shutdown();
    await receiver.shutdown();
  }
}

const here = fileURLToPath(new URL("..", import.meta.url));
const trees = process.argv.length > 2 ? process.argv.slice(2) : [here];
const modules: Casty[] = [];
for (const tree of trees) modules.push(await import(resolve(tree, "mod.ts")));
const rounds = Number(process.env.ROUNDS ?? 5);
const results: number[][] = trees.map(() => []);
for (let r = 0; r < rounds; r++) {
  for (let i = 0; i < trees.length; i++) results[i].push(await round(modules[i]));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
console.log(
  `${g.Deno ? `Deno ${g.Deno.version.deno}` : `Bun ${g.Bun?.version}`}, ${N} tells x ${rounds} ` +
    `rounds, load average at the end ${(await loadAverage()) ?? "?"}`,
);
for (let i = 0; i < trees.length; i++) {
  console.log(
    `${trees[i]}: median ${Math.round(median(results[i]))} ns CPU per tell ` +
      `[${results[i].map(Math.round).join(", ")}]`,
  );
}

async function loadAverage(): Promise<string | undefined> {
  try {
    const { readFile } = await import("node:fs/promises");
    return (await readFile("/proc/loadavg", "utf8")).split(" ")[0];
  } catch {
    return undefined;
  }
}
