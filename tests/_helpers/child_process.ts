// Runs a helper script as a real second process with the runtime of the current test
// process, and follows the JSON lines it prints (built on runScript in process.ts).

import type { ChildProcess } from "node:child_process";
import { waitFor } from "./probe.ts";
import { runScript, type ScriptProcess } from "./process.ts";

/** A JSON line printed by a helper. */
export type HelperEvent = Record<string, unknown> & { event: string };

function parse(line: string): HelperEvent | undefined {
  const text = line.trim();
  return text.startsWith("{") ? JSON.parse(text) as HelperEvent : undefined;
}

/** A running helper process. */
export class HelperProcess {
  readonly child: ChildProcess;
  readonly events: HelperEvent[] = [];
  readonly exited: Promise<number | null>;
  readonly #proc: ScriptProcess;

  private constructor(proc: ScriptProcess) {
    this.#proc = proc;
    this.child = proc.child;
    this.exited = proc.exited.then((code) => (typeof code === "number" ? code : null));
    proc.onLine((line) => {
      const event = parse(line);
      if (event) this.events.push(event);
    });
  }

  /** What the helper wrote to stderr so far. */
  get stderr(): string[] {
    return [this.#proc.stderr()];
  }

  /** Starts `file` with `args` under the current runtime. */
  static start(file: string, args: string[]): HelperProcess {
    return new HelperProcess(runScript(file, args, {}, { stdin: "pipe" }));
  }

  /** Resolves with the first stdout line (past or future) matching `pred`, or rejects after `timeout`. */
  waitForLine(pred: (line: string) => boolean, timeout?: number): Promise<string> {
    return this.#proc.waitForLine(pred, timeout);
  }

  /** Resolves with the first event (past or future) matching `pred`, or rejects after `timeout`. */
  async waitFor(pred: (e: HelperEvent) => boolean, timeout: number): Promise<HelperEvent> {
    const line = await this.waitForLine((l) => {
      const e = parse(l);
      return e !== undefined && pred(e);
    }, timeout);
    return parse(line)!;
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

/** Polls `condition` until it holds, or throws after `timeout` ms. */
export function waitUntil(
  condition: () => boolean,
  timeout: number,
  what: string | (() => string) = "condition",
): Promise<void> {
  return waitFor(condition, {
    timeout,
    interval: 10,
    what: typeof what === "string" ? what : undefined,
    describe: typeof what === "string" ? undefined : what,
  });
}
