// Child processes for multi-process tests: run a script with the runtime of the current test
// process, read its stdout line by line, wait for lines with a bound, kill it for real.
import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";

export interface ScriptProcess {
  readonly child: ChildProcess;
  /** Every stdout line so far. */
  readonly lines: string[];
  /** Everything written to stderr so far. */
  readonly stderr: () => string;
  /** Resolves with the first line (already seen or future) matching `predicate`. */
  waitForLine(predicate: (line: string) => boolean, timeout?: number): Promise<string>;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>;
  /** Sends a signal (SIGKILL by default) and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<number | string>;
  /** Calls `listener` with every later stdout line. */
  onLine(listener: (line: string) => void): void;
}

/**
 * Starts `script` with `args` under the current runtime (deno run -A, or bun); `runtimeArgs` go
 * to the runtime before the script (e.g. `--cpu-prof`).
 */
export function runScript(
  script: string,
  args: string[] = [],
  env: Record<string, string> = {},
  options: { stdin?: "ignore" | "pipe"; runtimeArgs?: readonly string[] } = {},
): ScriptProcess {
  const isDeno = "Deno" in globalThis;
  const runtimeArgs = options.runtimeArgs ?? [];
  const argv = isDeno
    ? ["run", "-A", ...runtimeArgs, script, ...args]
    : [...runtimeArgs, script, ...args];
  const child = spawn(process.execPath, argv, {
    stdio: [options.stdin ?? "ignore", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1", ...env },
  });
  const lines: string[] = [];
  let partial = "";
  let err = "";
  const waiters: { predicate: (l: string) => boolean; resolve: (l: string) => void }[] = [];
  const onLine = new Set<(line: string) => void>();
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (chunk: string) => {
    partial += chunk;
    let nl: number;
    while ((nl = partial.indexOf("\n")) >= 0) {
      const line = partial.slice(0, nl);
      partial = partial.slice(nl + 1);
      lines.push(line);
      for (const l of onLine) l(line);
      for (let i = waiters.length - 1; i >= 0; i--) {
        if (waiters[i].predicate(line)) {
          waiters[i].resolve(line);
          waiters.splice(i, 1);
        }
      }
    }
  });
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (chunk: string) => (err += chunk));
  const exited = new Promise<number | string>((resolve) => {
    child.on("exit", (code, signal) => resolve(code ?? signal ?? -1));
  });
  return {
    child,
    lines,
    stderr: () => err,
    exited,
    waitForLine(predicate, timeout = 15_000) {
      const found = lines.find(predicate);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(
            new Error(`No matching line from ${script} within ${timeout} ms; stderr:\n${err}`),
          );
        }, timeout);
        waiters.push({
          predicate,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
        exited.then(() => {
          setTimeout(() => {
            clearTimeout(timer);
            reject(new Error(`${script} exited before printing a matching line; stderr:\n${err}`));
          }, 50);
        });
      });
    },
    onLine(listener) {
      onLine.add(listener);
    },
    async kill(signal: NodeJS.Signals = "SIGKILL") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return await exited;
    },
  };
}

/**
 * Starts a cluster node script as `script 0 [--seed 127.0.0.1:<port>]... ...extra` with a stdin
 * pipe, and waits (30 s at most) for its `{"event":"ready","port":P}` line.
 */
export async function startSeededScript(
  script: string,
  seeds: number[],
  extra: string[] = [],
): Promise<{ proc: ScriptProcess; port: number }> {
  const args = ["0", ...seeds.flatMap((s) => ["--seed", `127.0.0.1:${s}`]), ...extra];
  const proc = runScript(script, args, {}, { stdin: "pipe" });
  const ready = JSON.parse(await proc.waitForLine((l) => l.includes('"ready"'), 30_000));
  return { proc, port: ready.port };
}
