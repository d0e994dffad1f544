// Real node processes for the replication process tests: each runs _replicated_node.ts with its
// own SQLite journal and takes JSON commands on stdin (see that file).
import { join } from "node:path";
import { runScript, type ScriptProcess } from "../_helpers/process.ts";
import { waitUpAndHosting } from "../_helpers/print_views.ts";

const script = new URL("./_replicated_node.ts", import.meta.url).pathname;

export interface Node {
  readonly proc: ScriptProcess;
  /** The advertised port (its proxy's when behind a PartitionProxy). */
  readonly port: number;
  /** Its SQLite journal file. */
  readonly journalPath: string;
  /** Sends a command and resolves with its answer line, or `undefined` after `timeout` ms. */
  call(
    cmd: Record<string, unknown>,
    timeout?: number,
  ): Promise<Record<string, unknown> | undefined>;
}

let tags = 0;

/**
 * Starts a node writing to a new journal in `dir`, joining through `seeds` (advertised ports);
 * `port`/`bindPort` for a node behind a PartitionProxy, `extra` for more _replicated_node flags.
 */
export async function startNode(
  dir: string,
  seeds: number[],
  extra: string[] = [],
  ports: { port: number; bindPort: number } | undefined = undefined,
): Promise<Node> {
  const journalPath = join(dir, `n${++tags}.db`);
  const args = [
    `${ports?.port ?? 0}`,
    journalPath,
    ...seeds.flatMap((s) => ["--seed", `127.0.0.1:${s}`]),
    ...(ports ? ["--bind-port", `${ports.bindPort}`] : []),
    ...extra,
  ];
  const proc = runScript(script, args, {}, { stdin: "pipe" });
  const ready = JSON.parse(await proc.waitForLine((l) => l.includes('"ready"'), 30_000));
  return {
    proc,
    port: ready.port,
    journalPath,
    call: (cmd, timeout = 5000) => {
      const tag = `t${++tags}`;
      const line = proc.waitForLine((l) => l.includes(`"tag":"${tag}"`), timeout).then(
        (l) => JSON.parse(l) as Record<string, unknown>,
        () => undefined,
      );
      proc.child.stdin!.write(JSON.stringify({ ...cmd, tag }) + "\n");
      return line;
    },
  };
}

/**
 * Waits until every node sees exactly `nodes` up, and each of them a host of "accounts" in its
 * table (a shard allocated before a node's region is known there goes to the others).
 */
export async function waitUp(nodes: Node[], timeout = 30_000): Promise<void> {
  await waitUpAndHosting(nodes.map((n) => n.proc), nodes.map((n) => n.port), timeout);
}

/** Resolves once `done()` holds, polling every 20 ms; false when `ms` passed first. */
export async function waitUntil(done: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (!done()) {
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}
