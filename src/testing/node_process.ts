/**
 * Real node processes for tests: start a module in a child process of the current runtime
 * (`deno run -A`, `bun`, or `node`), wait until it reports that it is ready, follow what it
 * reports, and kill it for real (`SIGKILL`, as a crash) or stop it gracefully.
 *
 * The child is any module that calls {@linkcode reportReady} once its node runs; it may
 * {@linkcode report} more events (one JSON line each on stdout) and register a graceful
 * stop with {@linkcode onStopRequest}. A child whose test process goes away (its stdin closes)
 * exits by itself, so a crashed test leaves no process behind.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { CastyError } from "../config/errors.ts";

/**
 * One JSON line a child printed with {@linkcode report} or {@linkcode reportReady}: an
 * `event` name and any other fields.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ProcessReport } from "@casty/casty/testing";
 * const r: ProcessReport = { event: "ready", port: 25520 };
 * assert.equal(r.event, "ready");
 * ```
 */
export type ProcessReport = Readonly<Record<string, unknown>> & { readonly event: string };

/**
 * How a child process ended: its exit code, or the signal that killed it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ProcessExit } from "@casty/casty/testing";
 * const killed: ProcessExit = { code: null, signal: "SIGKILL" };
 * assert.equal(killed.signal, "SIGKILL");
 * ```
 */
export interface ProcessExit {
  /** The exit code, `null` when a signal ended it. */
  readonly code: number | null;
  /** The signal that ended it, `null` when it exited. */
  readonly signal: string | null;
}

/**
 * Options of {@linkcode startNodeProcess}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { NodeProcessOptions } from "@casty/casty/testing";
 * const o: NodeProcessOptions = { args: ["--port", "25520"], readyTimeout: 20_000 };
 * assert.equal(o.args?.length, 2);
 * ```
 */
export interface NodeProcessOptions {
  /** Command-line arguments for the module (`process.argv.slice(2)` in the child). */
  readonly args?: readonly string[];
  /** Extra environment variables (the test process's environment is passed on). */
  readonly env?: Readonly<Record<string, string>>;
  /** Working directory of the child. */
  readonly cwd?: string;
  /**
   * How long (ms) to wait for the child's {@linkcode reportReady}.
   * @default {30000}
   */
  readonly readyTimeout?: number;
}

/**
 * Options of {@linkcode NodeProcess.waitFor}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { WaitForReportOptions } from "@casty/casty/testing";
 * const o: WaitForReportOptions = { timeout: 10_000 };
 * assert.equal(o.timeout, 10_000);
 * ```
 */
export interface WaitForReportOptions {
  /**
   * Milliseconds (real time) to wait.
   * @default {15000}
   */
  readonly timeout?: number;
}

/**
 * A child process did not become ready, or a report did not come in time.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NodeProcessError } from "@casty/casty/testing";
 * const e = new NodeProcessError("Cannot start node process \"n.ts\": it exited with code 1");
 * assert.equal(e.code, "NODE_PROCESS");
 * assert.equal(e.name, "NodeProcessError");
 * ```
 */
export class NodeProcessError extends CastyError {
  /**
   * Creates a NodeProcessError.
   *
   * @param message What went wrong (with the child's stderr when it helps).
   */
  constructor(message: string) {
    super("NODE_PROCESS", message);
    this.name = "NodeProcessError";
  }
}

/** Marks the JSON lines meant for the test process among a child's other output. */
const TAG = "casty-test";

function parseReport(line: string): ProcessReport | undefined {
  const text = line.trim();
  if (!text.startsWith("{") || !text.includes(`"${TAG}"`)) return undefined;
  try {
    const value = JSON.parse(text) as Record<string, unknown>;
    if (value[TAG] !== 1 || typeof value.event !== "string") return undefined;
    const { [TAG]: _tag, ...rest } = value;
    return rest as ProcessReport;
  } catch {
    return undefined;
  }
}

interface Waiter {
  readonly predicate: (r: ProcessReport) => boolean;
  readonly resolve: (r: ProcessReport) => void;
}

/**
 * A node running in a child process, made by {@linkcode startNodeProcess}. Dispose it
 * (`await using`) to stop it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { startNodeProcess } from "@casty/casty/testing";
 * // A node module reports ready once its node runs (usually a file next to the test).
 * const kit = new URL("./node_process.ts", import.meta.resolve("@casty/casty/testing"));
 * const file = await Deno.makeTempFile({ suffix: ".ts" });
 * await Deno.writeTextFile(file, `
 *   import { reportReady } from ${JSON.stringify(kit.href)};
 *   reportReady({ answer: 42 });
 *   setInterval(() => {}, 1000);
 * `);
 * const node = await startNodeProcess(file);
 * assert.equal(node.ready.answer, 42);
 * const exit = await node.kill(); // SIGKILL: no goodbye, like a crash
 * assert.equal(exit.signal, "SIGKILL");
 * await Deno.remove(file);
 * ```
 */
export class NodeProcess implements AsyncDisposable {
  /** The module that runs in the child. */
  readonly module: string;
  /** The child's process id. */
  readonly pid: number;
  /** Every report so far, in order (the ready report first). */
  readonly reports: ProcessReport[] = [];
  /** Every stdout line so far that is not a report. */
  readonly output: string[] = [];
  /** Resolves once the child has exited. */
  readonly exited: Promise<ProcessExit>;
  #ready: ProcessReport | undefined;
  readonly #child: ChildProcess;
  readonly #waiters: Waiter[] = [];
  #stderr = "";
  #exit: ProcessExit | undefined;

  /** Use {@linkcode startNodeProcess}. */
  constructor(module: string, child: ChildProcess) {
    this.module = module;
    this.#child = child;
    this.pid = child.pid ?? -1;
    this.exited = new Promise<ProcessExit>((resolve) => {
      child.on("exit", (code, signal) => {
        this.#exit = { code, signal };
        resolve(this.#exit);
      });
    });
    let partial = "";
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (chunk: string) => {
      partial += chunk;
      let nl: number;
      while ((nl = partial.indexOf("\n")) >= 0) {
        this.#line(partial.slice(0, nl));
        partial = partial.slice(nl + 1);
      }
    });
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (chunk: string) => {
      // keep the last 64 KiB: enough to explain a failure
      this.#stderr = (this.#stderr + chunk).slice(-65_536);
    });
    child.stdin?.on("error", () => {}); // the child may be gone before stdin closes
  }

  /** The ready report (what the child passed to {@linkcode reportReady}). */
  get ready(): ProcessReport {
    if (this.#ready === undefined) {
      throw new NodeProcessError(`Node process "${this.module}" has not reported ready`);
    }
    return this.#ready;
  }

  /** What the child wrote to stderr (the last 64 KiB). */
  get stderr(): string {
    return this.#stderr;
  }

  /** Whether the child is still running. */
  get running(): boolean {
    return this.#exit === undefined;
  }

  /**
   * Resolves with the first report (already received or to come) that matches `predicate`.
   *
   * @param predicate What to wait for, e.g. `(r) => r.event === "up"`.
   * @param options `timeout` in ms.
   * @returns The report.
   * @throws {NodeProcessError} when none comes within the timeout or the child exits first.
   */
  waitFor(
    predicate: (report: ProcessReport) => boolean,
    options: WaitForReportOptions = {},
  ): Promise<ProcessReport> {
    const found = this.reports.find(predicate);
    if (found !== undefined) return Promise.resolve(found);
    const timeout = options.timeout ?? 15_000;
    return new Promise<ProcessReport>((resolve, reject) => {
      const fail = (why: string) => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(
          new NodeProcessError(
            `Cannot wait for a report from node process "${this.module}": ${why}${this.#tail()}`,
          ),
        );
      };
      const timer = setTimeout(() => fail(`none matched within ${timeout} ms`), timeout);
      const waiter: Waiter = {
        predicate,
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
      };
      this.#waiters.push(waiter);
      void this.exited.then((exit) => {
        // let the last lines arrive first
        setTimeout(() => {
          if (!this.#waiters.includes(waiter)) return;
          clearTimeout(timer);
          fail(`it exited (${exit.signal ?? `code ${exit.code}`}) first`);
        }, 50);
      });
    });
  }

  /**
   * Sends `signal` (default `SIGKILL`: the process dies at once, says goodbye to nobody, like
   * a crash or a pulled plug) and waits until the child has exited.
   *
   * @param signal The signal.
   * @returns How it ended.
   */
  kill(signal: NodeJS.Signals = "SIGKILL"): Promise<ProcessExit> {
    if (this.#exit === undefined) this.#child.kill(signal);
    return this.exited;
  }

  /**
   * Stops the child gracefully: closes its stdin, which runs its {@linkcode onStopRequest}
   * handlers (e.g. leaving the cluster) and then exits it; kills it with `SIGKILL` if it has
   * not exited within `timeout` ms.
   *
   * @param options `timeout` in ms (default 10 000).
   * @returns How it ended.
   */
  async stop(options: { readonly timeout?: number } = {}): Promise<ProcessExit> {
    if (this.#exit !== undefined) return this.#exit;
    this.#child.stdin?.end();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), options.timeout ?? 10_000);
    });
    const result = await Promise.race([this.exited, late]);
    clearTimeout(timer);
    return result === "late" ? await this.kill("SIGKILL") : result;
  }

  /** Same as {@linkcode NodeProcess.stop}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /** @internal Called by {@linkcode startNodeProcess} once ready. */
  markReady(report: ProcessReport): void {
    this.#ready = report;
  }

  #line(line: string): void {
    const r = parseReport(line);
    if (r === undefined) {
      this.output.push(line);
      return;
    }
    this.reports.push(r);
    for (let i = 0; i < this.#waiters.length; i++) {
      if (this.#waiters[i].predicate(r)) {
        this.#waiters[i].resolve(r);
        this.#waiters.splice(i--, 1);
      }
    }
  }

  #tail(): string {
    const err = this.#stderr.trim();
    return err === "" ? "" : `; stderr: ${err.slice(-2000)}`;
  }
}

/**
 * Starts `module` in a child process of the current runtime (`deno run -A <module>` under
 * Deno, `bun <module>` under Bun, `node <module>` under Node) and resolves once it has called
 * {@linkcode reportReady}.
 *
 * @param module The node's module: a path or a `file:` URL (e.g.
 * `new URL("./my_node.ts", import.meta.url)`).
 * @param options Arguments, environment, working directory, ready timeout.
 * @returns The running process.
 * @throws {NodeProcessError} when it exits or does not report ready within `readyTimeout`
 * (it is killed then); the message carries its stderr.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { startNodeProcess } from "@casty/casty/testing";
 * const kit = new URL("./node_process.ts", import.meta.resolve("@casty/casty/testing"));
 * const file = await Deno.makeTempFile({ suffix: ".ts" });
 * await Deno.writeTextFile(file, `
 *   import { report, reportReady } from ${JSON.stringify(kit.href)};
 *   reportReady({ pid: 1 });
 *   report("hello", { to: "test" });
 *   setInterval(() => {}, 1000);
 * `);
 * await using node = await startNodeProcess(file, { readyTimeout: 20_000 });
 * const hello = await node.waitFor((r) => r.event === "hello");
 * assert.equal(hello.to, "test");
 * await node.stop(); // closes its stdin: the child exits
 * assert.equal(node.running, false);
 * await Deno.remove(file);
 * ```
 */
export async function startNodeProcess(
  module: string | URL,
  options: NodeProcessOptions = {},
): Promise<NodeProcess> {
  const path = module instanceof URL || module.startsWith("file:") ? fileURLToPath(module) : module;
  const runtime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";
  const argv = runtime === "deno"
    ? ["run", "-A", path, ...(options.args ?? [])]
    : [path, ...(options.args ?? [])];
  const child = spawn(process.execPath, argv, {
    cwd: options.cwd,
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1", ...options.env },
  });
  const node = new NodeProcess(path, child);
  const timeout = options.readyTimeout ?? 30_000;
  try {
    const ready = await node.waitFor((r) => r.event === "ready", { timeout });
    node.markReady(ready);
    return node;
  } catch (err) {
    await node.kill("SIGKILL");
    const why = (err as Error).message.replace(
      /^Cannot wait for a report from node process "[^"]*": /,
      "",
    );
    throw new NodeProcessError(`Cannot start node process "${path}": no ready report (${why})`);
  }
}

const stopHandlers: (() => void | Promise<void>)[] = [];
let watching = false;

function print(event: string, data: Readonly<Record<string, unknown>>): void {
  process.stdout.write(JSON.stringify({ [TAG]: 1, ...data, event }) + "\n");
}

/**
 * In a node process started by {@linkcode startNodeProcess}: tells the test process that the
 * node is ready, with any data it needs (ports, ids). From then on, when the test process
 * stops it ({@linkcode NodeProcess.stop}) or goes away, the handlers given to
 * {@linkcode onStopRequest} run and the process exits.
 *
 * @param data Fields of the ready report (`event` is set to `"ready"`).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { reportReady } from "@casty/casty/testing";
 * // in the child module, once its node runs:
 * const announce: (data?: Record<string, unknown>) => void = reportReady;
 * assert.equal(typeof announce, "function");
 * ```
 */
export function reportReady(data: Readonly<Record<string, unknown>> = {}): void {
  print("ready", data);
  if (watching) return;
  watching = true;
  const stopNow = async () => {
    for (const handler of stopHandlers.splice(0)) {
      try {
        await handler();
      } catch (err) {
        console.error("A stop handler failed:", err);
      }
    }
    process.exit(0);
  };
  process.stdin.on("data", () => {});
  process.stdin.on("end", () => void stopNow());
  process.stdin.on("error", () => void stopNow());
  process.stdin.resume();
}

/**
 * In a node process started by {@linkcode startNodeProcess}: prints one report for the test
 * process ({@linkcode NodeProcess.reports}, {@linkcode NodeProcess.waitFor}).
 *
 * @param event The report's name.
 * @param data Its other fields (JSON-serializable).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { report } from "@casty/casty/testing";
 * // in the child module: report("balance", { id: "alice", balance: 150 });
 * assert.equal(typeof report, "function");
 * ```
 */
export function report(event: string, data: Readonly<Record<string, unknown>> = {}): void {
  print(event, data);
}

/**
 * In a node process started by {@linkcode startNodeProcess}: runs `handler` (e.g.
 * `node.leave()`) when the test process stops this process gracefully or goes away; the
 * process exits once every handler has settled.
 *
 * @param handler What to do before exiting.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { onStopRequest } from "@casty/casty/testing";
 * // in the child module: onStopRequest(() => node.leave());
 * assert.equal(typeof onStopRequest, "function");
 * ```
 */
export function onStopRequest(handler: () => void | Promise<void>): void {
  stopHandlers.push(handler);
}
