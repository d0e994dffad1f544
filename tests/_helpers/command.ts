// Runs a command to completion with a bound on its run time, collecting its output.
import { spawn } from "node:child_process";
import process from "node:process";

/** How a command ended and what it printed. */
export interface CommandResult {
  readonly code: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs `command` with `args` (stdin closed, NO_COLOR set); rejects, after killing it with
 * SIGKILL, when it runs longer than `timeout` ms.
 */
export function runCommand(
  command: string,
  args: readonly string[],
  { cwd, timeout = 30_000 }: { cwd?: string; timeout?: number } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1", npm_config_update_notifier: "false" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(
        new Error(`${command} ${args.join(" ")} ran over ${timeout} ms\n${stdout}\n${stderr}`),
      );
    }, timeout);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
