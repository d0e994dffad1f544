// Starts cluster nodes (tests/_helpers/cluster_node.ts) as real processes and follows the JSON
// events they print.
import { runScript, type ScriptProcess } from "./process.ts";

export interface NodeEvent {
  readonly event: string;
  readonly port?: number;
  readonly leader?: number | null;
  readonly up?: number[];
  readonly reason?: string;
}

export interface NodeProcess {
  readonly proc: ScriptProcess;
  /** The advertised port. */
  readonly port: number;
  events(): NodeEvent[];
  /** The latest `view` event. */
  view(): NodeEvent | undefined;
  waitFor(predicate: (e: NodeEvent) => boolean, timeout?: number): Promise<NodeEvent>;
  kill(signal?: NodeJS.Signals): Promise<number | string>;
}

const script = new URL("./cluster_node.ts", import.meta.url).pathname;

export async function startNode(
  port: number,
  options: {
    seeds?: number[];
    bindPort?: number;
    stableAfter?: number;
    name?: string;
    barrier?: string;
    /** Extra environment, e.g. `CASTY_TEST_CLOCK_OFFSET_MS` to shift the node's wall clock. */
    env?: Record<string, string>;
  } = {},
): Promise<NodeProcess> {
  const args = [options.name ?? "cluster", String(port)];
  for (const s of options.seeds ?? []) args.push("--seed", `127.0.0.1:${s}`);
  if (options.bindPort !== undefined) args.push("--bind-port", String(options.bindPort));
  if (options.stableAfter !== undefined) args.push("--stable-after", String(options.stableAfter));
  if (options.barrier !== undefined) args.push("--barrier", options.barrier);
  const proc = runScript(script, args, options.env);
  const parse = (l: string): NodeEvent | undefined => {
    try {
      return JSON.parse(l) as NodeEvent;
    } catch {
      return undefined;
    }
  };
  const ready = parse(await proc.waitForLine((l) => parse(l)?.event === "ready", 20_000))!;
  const events = () => proc.lines.map(parse).filter((e): e is NodeEvent => e !== undefined);
  return {
    proc,
    port: ready.port!,
    events,
    view: () => events().filter((e) => e.event === "view").at(-1),
    waitFor: async (predicate, timeout = 20_000) =>
      parse(
        await proc.waitForLine((l) => {
          const e = parse(l);
          return e !== undefined && predicate(e);
        }, timeout),
      )!,
    kill: (signal) => proc.kill(signal),
  };
}

/** Waits until every node's latest view satisfies `predicate`. */
export async function waitForViews(
  nodes: readonly NodeProcess[],
  predicate: (view: NodeEvent, node: NodeProcess) => boolean,
  timeout = 20_000,
  what = "views",
): Promise<void> {
  const deadline = Date.now() + timeout;
  while (
    !nodes.every((n) => {
      const v = n.view();
      return v !== undefined && predicate(v, n);
    })
  ) {
    if (Date.now() > deadline) {
      const views = nodes.map((n) => `${n.port}: ${JSON.stringify(n.view())}`).join("\n");
      throw new Error(`Timed out after ${timeout} ms waiting for ${what}; views:\n${views}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function stopAll(nodes: readonly NodeProcess[]): Promise<void> {
  await Promise.all(nodes.map((n) => n.kill("SIGKILL")));
}
