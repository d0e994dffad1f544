// Test helpers: a probe actor that records what it receives, and bounded waiting.
import {
  type ActorRef,
  type ActorSystem,
  Behaviors,
  ClusteredActorSystem,
  type Logger,
} from "../../mod.ts";

/** Polls `condition` every few ms until it holds; fails after `timeout` ms. */
export async function waitFor(
  condition: () => boolean,
  { timeout = 5000, interval = 2, what = "condition", describe }: {
    timeout?: number;
    interval?: number;
    what?: string;
    /** Computes the description lazily, at failure time (overrides `what`). */
    describe?: () => string;
  } = {},
): Promise<void> {
  const deadline = performance.now() + timeout;
  while (!condition()) {
    if (performance.now() > deadline) {
      throw new Error(`Timed out after ${timeout} ms waiting for ${describe ? describe() : what}`);
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

/** Lets queued actor work run (a few macrotask turns). */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((r) => setTimeout(r, 0));
}

export interface Probe<T> {
  readonly ref: ActorRef<T>;
  readonly messages: T[];
  /** Waits until at least `n` messages arrived; returns the first `n`. */
  expect(n: number, timeout?: number): Promise<T[]>;
}

let probeCounter = 0;

/** Spawns a real actor that records every message it receives. */
export function probe<T>(system: ActorSystem, name = `probe-${++probeCounter}`): Probe<T> {
  const messages: T[] = [];
  const ref = system.spawn(
    Behaviors.receive<T>((_ctx, msg) => {
      messages.push(msg);
    }),
    name,
  );
  return {
    ref,
    messages,
    async expect(n: number, timeout = 3000): Promise<T[]> {
      await waitFor(() => messages.length >= n, { timeout, what: `${n} messages at ${ref.path}` });
      return messages.slice(0, n);
    },
  };
}

/** A logger that records lines (with the messages of logged errors) instead of printing them. */
export function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const fmt = (level: string) => (m: string, ...data: unknown[]) => {
    const extra = data.map((d) => (d instanceof Error ? d.message : String(d))).join(" ");
    lines.push(`${level} ${m}${extra ? " " + extra : ""}`);
  };
  return { lines, debug: fmt("debug"), info: fmt("info"), warn: fmt("warn"), error: fmt("error") };
}

/** Starts a node on 127.0.0.1 with a free port and a memory logger (in-process remoting tests). */
export function startLocalNode(
  name = "net",
  extra: Record<string, unknown> = {},
): Promise<ClusteredActorSystem> {
  return ClusteredActorSystem.start({
    name,
    host: "127.0.0.1",
    port: 0,
    logger: memoryLogger(),
    ...extra,
  });
}
