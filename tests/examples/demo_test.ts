// Runs `examples/demo.ts --short` (the main job: 3 real node processes, a driver, a SIGKILL) as a
// real child process on the current runtime, and checks its own proof: exit code 0, the final
// JSON line, the failover steps in order, and that every process and the folder are gone.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { runCommand } from "../_helpers/command.ts";
import { waitFor } from "../_helpers/probe.ts";

const DEMO = fileURLToPath(new URL("../../examples/demo.ts", import.meta.url));
const args = (extra: string[]) =>
  (globalThis as { Deno?: unknown }).Deno ? ["run", "-A", DEMO, ...extra] : [DEMO, ...extra];

/** The pids the demo printed for its processes and the folder it used. */
function resources(stdout: string): { pids: number[]; folder: string } {
  const pids = [...stdout.matchAll(/^ {3}(?:node-\d on \S+|driver) \(pid (\d+)\)/gm)]
    .map((m) => Number(m[1]));
  const folder = /folder (\S+):/.exec(stdout)?.[1] ?? "";
  return { pids, folder };
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function assertCleanedUp(stdout: string): Promise<void> {
  const { pids, folder } = resources(stdout);
  assert.equal(pids.length, 4, `the pids of three nodes and the driver in:\n${stdout}`);
  assert.ok(folder.includes("casty-demo-"), `the folder in:\n${stdout}`);
  assert.equal(existsSync(folder), false, `${folder} removed`);
  // SIGKILLed children are gone at once; allow the kernel a moment to reap them.
  await waitFor(() => pids.every((pid) => !alive(pid)), {
    timeout: 5000,
    interval: 20,
    what: "every node process gone",
  });
}

describe("examples/demo.ts --short", () => {
  it("proves the balances equal the acknowledged operations across a SIGKILL, then cleans up", {
    timeout: 90_000,
  }, async () => {
    const run = await runCommand(process.execPath, args(["--short"]), { timeout: 80_000 });
    const context = `exit ${
      run.code ?? run.signal
    }\nstdout:\n${run.stdout}\nstderr:\n${run.stderr}`;
    assert.equal(run.code, 0, context);
    const lines = run.stdout.trim().split("\n");
    const summary = JSON.parse(lines[lines.length - 1]);
    assert.equal(summary.demo, "casty", context);
    assert.equal(summary.ok, true, context);
    assert.equal(summary.mode, "short");
    assert.equal(summary.mismatches, 0);
    assert.equal(summary.accounts, 12);
    assert.equal(summary.total, summary.expectedTotal);
    assert.ok(summary.acknowledged > 0 && summary.transfers > 0, context);
    assert.ok(summary.counter <= summary.transfers && summary.counter > 0, context);
    assert.ok(summary.tokens.length === 2 && summary.tokens[1] > summary.tokens[0], context);
    // Detection, removal, reallocation and the promoted replicas serving, in a sane order.
    const f = summary.failover;
    for (const step of ["unreachable", "removed", "reallocated", "promoted", "served"]) {
      assert.equal(typeof f[step], "number", `failover step ${step}: ${context}`);
    }
    assert.ok(f.unreachable <= f.removed && f.promoted <= f.served, context);
    assert.match(run.stdout, /PROVEN: nothing acknowledged was lost or applied twice/);
    assert.match(run.stdout, /SIGKILL node-\d \(pid \d+\), primary of \d+ accounts/);
    await assertCleanedUp(run.stdout);
  });

  it("stops every process and removes its folder on SIGINT", { timeout: 60_000 }, async () => {
    const child = spawn(process.execPath, args(["--short"]), {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1" },
    });
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.resume();
    // 130 = 128 + SIGINT; Deno reports such an exit code of a child as the signal itself.
    const exited = new Promise<string>((r) =>
      child.on("exit", (code, signal) => r(String(code ?? signal)))
    );
    try {
      await waitFor(() => stdout.includes("driver (pid"), {
        timeout: 45_000,
        interval: 20,
        what: "every process started",
      });
      child.kill("SIGINT");
      assert.ok(["130", "SIGINT"].includes(await exited), stdout);
      assert.match(stdout, /SIGINT: stopping every process/);
      await assertCleanedUp(stdout);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });
});
