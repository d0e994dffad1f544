// Runs a helper script as a real second process with the runtime of the current test
// process, and reads the JSON lines it prints.

import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";

/** A JSON line printed by a helper. */
export type HelperEvent = Record<string, unknown> & { event: string };

/** A running helper process. */
export class HelperProcess {
  readonly child: ChildProcess;
  readonly events: HelperEvent[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<number | null>;
  #waiters: { pred: (e: HelperEvent) => boolean; resolve: (e: HelperEvent) => void }[] = [];
  #buffer = "";

  private constructor(child: ChildProcess) {
    this.child = child;
    this.exited = new Promise((resolve) => child.on("exit", (code) => resolve(code)));
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (text: string) => {
      this.#buffer += text;
      let nl: number;
      while ((nl = this.#buffer.indexOf("\n")) >= 0) {
        const line = this.#buffer.slice(0, nl).trim();
        this.#buffer = this.#buffer.slice(nl + 1);
        if (!line.startsWith("{")) continue;
        const event = JSON.parse(line) as HelperEvent;
        this.events.push(event);
        this.#waiters = this.#waiters.filter((w) => {
          if (!w.pred(event)) return true;
          w.resolve(event);
          return false;
        });
      }
    });
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (text: string) => this.stderr.push(text));
  }

  /** Starts `file` with `args` under the current runtime. */
  static start(file: string, args: string[]): HelperProcess {
    const runtimeArgs = (globalThis as { Deno?: unknown }).Deno ? ["run", "-A", file] : [file];
    const child = spawn(process.execPath, [...runtimeArgs, ...args], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    return new HelperProcess(child);
  }

  /** Resolves with the first event (past or future) matching `pred`, or rejects after `timeout`. */
  waitFor(pred: (e: HelperEvent) => boolean, timeout: number): Promise<HelperEvent> {
    const seen = this.events.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const waiter = {
        pred,
        resolve: (e: HelperEvent) => {
          clearTimeout(timer);
          resolve(e);
        },
      };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(
          new Error(
            `helper: no matching event within ${timeout} ms; events: ${
              JSON.stringify(this.events.slice(-5))
            }; stderr: ${this.stderr.join("").slice(-2000)}`,
          ),
        );
      }, timeout);
      this.#waiters.push(waiter);
    });
  }

  /** Sends a signal. */
  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** Asks the helper to stop (closes its stdin), then kills it if it has not exited in time. */
  async stop(timeout = 5000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.stdin!.end();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), timeout);
    });
    const result = await Promise.race([this.exited, expired]);
    clearTimeout(timer);
    if (result === "timeout") {
      this.child.kill("SIGKILL");
      await this.exited;
    }
  }
}

/** Polls `condition` every 10 ms until it holds, or throws after `timeout` ms. */
export async function waitUntil(
  condition: () => boolean,
  timeout: number,
  what: string | (() => string) = "condition",
): Promise<void> {
  const deadline = Date.now() + timeout;
  while (!condition()) {
    if (Date.now() > deadline) {
      const text = typeof what === "string" ? what : what();
      throw new Error(`Timed out after ${timeout} ms waiting for ${text}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
