/**
 * casty demo, the main job: a replicated bank on a cluster of three real processes.
 *
 * Starts three bank nodes on loopback (random free ports, a shared secret authenticates every
 * connection), each with its own SQLite journal in a temporary folder. Accounts are sharded,
 * event-sourced entities whose events are replicated to the two other nodes (`minAcks: 1`). A
 * driver process drives deposits and transfers and records every acknowledged one; mid-run the
 * node that is the primary of the most accounts is killed with SIGKILL, and the output follows
 * detection, downing, reallocation and promotion while the load goes on. At the end every
 * balance is proven equal to the acknowledged operations (exit code 1 if not). A distributed
 * lock guards the audits, a distributed counter counts the transfers.
 *
 * Run: `npm run demo`, `deno run -A examples/demo.ts` or `bun examples/demo.ts`; add `--short`
 * for a ~15 s run, `--member` to drive from a member node instead of a `ClusterClient`,
 * `--kill-leader` to kill the leader (every shard then pauses until another leader takes over).
 * The last line is a JSON summary.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { REPLICATION, runtimeArgs } from "./_demo_shared.ts";

const short = process.argv.includes("--short");
const tty = process.stdout.isTTY === true;
const runtime = "Deno" in globalThis
  ? `Deno ${(globalThis as unknown as { Deno: { version: { deno: string } } }).Deno.version.deno}`
  : "Bun" in globalThis
  ? `Bun ${(globalThis as unknown as { Bun: { version: string } }).Bun.version}`
  : `Node ${process.version}`;
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

// ---------------------------------------------------------------- processes and clean-up

type Event = Record<string, unknown> & { event: string };

interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  readonly events: Event[];
  readonly exited: Promise<void>;
  port?: number;
  /** Resolves with the first event (past or future) that matches. */
  next(pred: (e: Event) => boolean, timeout: number): Promise<Event>;
  /** Calls `fn` with every later event. */
  on(fn: (e: Event) => void): void;
}

const dir = mkdtempSync(join(tmpdir(), "casty-demo-"));
const secret = crypto.randomUUID();
const procs: Proc[] = [];
let cleaned = false;

/** Kills every process still running and removes the folder; safe to call twice. */
function cleanUp(): void {
  if (cleaned) return;
  cleaned = true;
  for (const p of procs) {
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL");
  }
  if (process.env.CASTY_DEMO_KEEP) console.error(`kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
process.on("exit", cleanUp);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    clearProgress();
    console.log(`\n${signal}: stopping every process and removing ${dir}`);
    cleanUp();
    process.exit(130);
  });
}

function start(name: string, script: string, args: string[]): Proc {
  const child = spawn(process.execPath, [...runtimeArgs(here(script)), ...args], {
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, CASTY_CLUSTER_SECRET: secret, NO_COLOR: "1" },
  });
  const events: Event[] = [];
  const listeners: ((e: Event) => void)[] = [];
  createInterface({ input: child.stdout! }).on("line", (line) => {
    if (!line.startsWith("{")) return;
    const e = JSON.parse(line) as Event;
    events.push(e);
    for (const l of [...listeners]) l(e);
  });
  // A node's own errors are worth seeing, marked with its name.
  createInterface({ input: child.stderr! }).on("line", (line) => {
    if (line.trim() !== "") printLine(`   [${name}] ${line}`, process.stderr);
  });
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  const proc: Proc = {
    name,
    child,
    events,
    exited,
    on: (fn) => void listeners.push(fn),
    next(pred, timeout) {
      const seen = events.find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new Error(`Cannot start the demo: no answer from ${name} after ${timeout} ms`));
        }, timeout);
        const listener = (e: Event) => {
          if (!pred(e)) return;
          clearTimeout(timer);
          listeners.splice(listeners.indexOf(listener), 1);
          resolve(e);
        };
        listeners.push(listener);
        exited.then(() => {
          clearTimeout(timer);
          reject(new Error(`Cannot run the demo: ${name} exited (code ${child.exitCode})`));
        });
      });
    },
  };
  procs.push(proc);
  return proc;
}

// ---------------------------------------------------------------- output

let progress = "";
function clearProgress(): void {
  if (tty && progress !== "") process.stdout.write("\r\x1b[K");
}
function printLine(text: string, stream: NodeJS.WriteStream = process.stdout): void {
  clearProgress();
  stream.write(text + "\n");
  if (tty && progress !== "") process.stdout.write(progress);
}
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const money = (n: number) => `$${n.toLocaleString("en-US")}`;

// ---------------------------------------------------------------- the run

async function main(): Promise<boolean> {
  const began = Date.now();
  console.log(`casty demo: a replicated bank on a cluster of 3 processes (${runtime})`);
  console.log(`   folder ${dir}: one SQLite journal per node; a shared secret authenticates links`);

  // The first node founds the cluster; the others and the driver start together and join it.
  const flags = short ? ["--short"] : [];
  const first = start("node-1", "./_demo_node.ts", [dir, "node-1", "0", ...flags]);
  first.port = Number((await first.next((e) => e.event === "ready", 30_000)).port);
  const seed = ["--seed", `127.0.0.1:${first.port}`];
  if (process.env.CASTY_DEMO_DEBUG) console.error(`node-1 ready after ${Date.now() - began} ms`);
  const others = ["node-2", "node-3"].map((name) =>
    start(name, "./_demo_node.ts", [dir, name, "0", ...flags, ...seed])
  );
  const driverFlags = ["--member", "--kill-leader", "--rejoin"].filter((f) =>
    process.argv.includes(f)
  );
  const driver = start("driver", "./_demo_driver.ts", [dir, ...flags, ...driverFlags, ...seed]);
  for (const p of others) p.port = Number((await p.next((e) => e.event === "ready", 30_000)).port);
  const bank = [first, ...others];
  const nameOf = (port: unknown) => bank.find((p) => p.port === port)?.name ?? `:${port}`;
  for (const p of bank) console.log(`   ${p.name} on 127.0.0.1:${p.port} (pid ${p.child.pid})`);
  if (process.env.CASTY_DEMO_DEBUG) console.error(`nodes ready after ${Date.now() - began} ms`);
  const kind = await driver.next((e) => e.event === "driver", 30_000);
  console.log(`   driver (pid ${driver.child.pid}): ${kind.kind}`);
  await driver.next((e) => e.event === "cluster", 30_000);
  console.log(`   cluster up after ${secs(Date.now() - began)}: 3 bank nodes`);
  if (process.env.CASTY_DEMO_DEBUG) driver.on((e) => console.error(JSON.stringify(e)));
  const opened = await driver.next((e) => e.event === "opened", 30_000);
  if (process.env.CASTY_DEMO_DEBUG) console.error(`opened after ${Date.now() - began} ms`);
  const primaries = Object.entries(opened.primaries as Record<string, number>)
    .map(([port, n]) => `${nameOf(Number(port))} ${n}`).join(", ");
  console.log(
    `   ${opened.accounts} accounts opened with ${money(opened.initial as number)} each; ` +
      `primaries: ${primaries}`,
  );
  console.log(
    `   each account's events go to ${REPLICATION.replicas} replicas; a command is ` +
      `acknowledged once ${REPLICATION.minAcks} of them has it (minAcks ${REPLICATION.minAcks})`,
  );

  console.log(
    "\nLoad: deposits and transfers (withdraw, then deposit), retried until acknowledged",
  );
  let killedAt = 0;
  let lastPlain = -Infinity;
  const failover: Record<string, number> = {};
  driver.on((e) => {
    switch (e.event) {
      case "progress": {
        const line = `   [${secs(e.t as number).padStart(6)}] ${
          String(e.rate).padStart(5)
        } ops/s   acknowledged ${String(e.acked).padStart(6)}   p99 ${
          String(e.p99).padStart(4)
        } ms   in flight ${e.inflight}`;
        if (tty) {
          progress = line;
          process.stdout.write(`\r\x1b[K${line}`);
        } else if ((e.t as number) - lastPlain >= (short ? 2000 : 5000)) {
          lastPlain = e.t as number;
          console.log(line);
        }
        return;
      }
      case "audit": {
        if (e.error !== undefined) {
          printLine(`   ${e.label} FAILED: ${e.error}`);
          return;
        }
        const ok = e.ok ? "equal to the record" : "DIFFERENT from the record";
        printLine(
          `   ${e.label} under the lock "audit" (fencing token ${e.token}): ` +
            `${e.accounts} accounts hold ${money(e.total as number)}, ${ok}; ` +
            `transfers counter ${e.counter} (${secs(e.ms as number)} paused)`,
        );
        return;
      }
      case "kill": {
        const victim = bank.find((p) => p.port === e.port)!;
        victim.child.kill("SIGKILL");
        killedAt = Date.now();
        driver.child.stdin!.write(JSON.stringify({ killed: e.port }) + "\n");
        const spread = Object.entries(e.primaries as Record<string, number>)
          .map(([p, n]) => `${nameOf(Number(p))} ${n}`).join(", ");
        printLine(
          `   SIGKILL ${victim.name} (pid ${victim.child.pid}), primary of ${e.accounts} accounts` +
            (e.leader ? ", the leader" : "") + ` (primaries: ${spread})`,
        );
        return;
      }
      case "join": {
        // A new node with an empty journal replaces the lost one.
        const alive = bank.find((p) => p.child.exitCode === null && p.child.signalCode === null)!;
        const name = `node-${bank.length + 1}`;
        const node = start(name, "./_demo_node.ts", [
          dir,
          name,
          "0",
          ...flags,
          "--seed",
          `127.0.0.1:${alive.port}`,
        ]);
        bank.push(node);
        node.next((x) => x.event === "ready", 30_000).then((ready) => {
          node.port = Number(ready.port);
          driver.child.stdin!.write(JSON.stringify({ joined: node.port }) + "\n");
          printLine(
            `   ${name} starts on 127.0.0.1:${node.port} (pid ${node.child.pid}) with an empty journal`,
          );
        }, (err) => printLine(`   ${name} did not start: ${err.message}`));
        return;
      }
      case "join-step": {
        const to = e.primaries
          ? ` (primaries: ${
            Object.entries(e.primaries as Record<string, number>)
              .map(([p, n]) => `${nameOf(Number(p))} ${n}`).join(", ")
          })`
          : "";
        printLine(`   +${secs(e.ms as number)} after it started: ${e.text}${to}`);
        return;
      }
      case "failover": {
        failover[e.step as string] = e.ms as number;
        const to = e.to
          ? ` (to ${
            Object.entries(e.to as Record<string, number>)
              .map(([p, n]) => `${nameOf(Number(p))}: ${n}`).join(", ")
          })`
          : e.node
          ? ` (${nameOf(e.node)})`
          : "";
        printLine(`   +${secs(e.ms as number)} after the kill: ${e.text}${to}`);
        return;
      }
    }
  });
  const summary = await driver.next((e) => e.event === "summary", short ? 60_000 : 180_000);
  clearProgress();
  progress = "";
  const final = summary.final as Record<string, unknown>;
  const mismatches = (final.mismatches ?? []) as string[];
  console.log(`\nProof (read under the lock, fencing token ${final.token ?? "none"})`);
  console.log(
    `   acknowledged ${summary.acked} commands in ${secs(summary.loadMs as number)} ` +
      `(${summary.rate}/s, p50 ${summary.p50} ms, p99 ${summary.p99} ms; ${summary.retries} retried ` +
      `attempts, ${summary.unresolved} never acknowledged)`,
  );
  console.log(
    `   ${summary.deposits} deposits, ${summary.transfers} transfers, ${summary.rejected} ` +
      `refused for insufficient funds`,
  );
  if (final.error !== undefined) {
    console.log(`   the final audit FAILED: ${final.error}`);
  } else {
    console.log(
      `   per account: ${(final.accounts as number) - mismatches.length}/${final.accounts} ` +
        `balances and operation counts equal to the acknowledged operations`,
    );
    for (const m of mismatches) console.log(`     ${m}`);
    console.log(
      `   sum: ${money(final.total as number)} held, ${
        money(final.expectedTotal as number)
      } expected (opening balances + acknowledged deposits; transfers move money)`,
    );
    console.log(
      `   transfers counter: ${final.counter} (${final.counterAcked} increments acknowledged, ` +
        `${final.counterFailed} unsure, of ${final.transfers} transfers)`,
    );
  }
  console.log(`   lock fencing tokens grow: ${(summary.tokens as number[]).join(" < ")}`);
  const ok = summary.ok === true;
  console.log(ok ? "   PROVEN: nothing acknowledged was lost or applied twice" : "   NOT PROVEN");
  console.log(
    JSON.stringify({
      demo: "casty",
      ok,
      mode: short ? "short" : "full",
      runtime,
      killedAfter: killedAt === 0 ? undefined : killedAt - began,
      acknowledged: summary.acked,
      rate: summary.rate,
      p50: summary.p50,
      p99: summary.p99,
      failover,
      accounts: final.accounts,
      mismatches: mismatches.length,
      total: final.total,
      expectedTotal: final.expectedTotal,
      transfers: summary.transfers,
      counter: final.counter,
      tokens: summary.tokens,
      seconds: Number(((Date.now() - began) / 1000).toFixed(1)),
    }),
  );
  return ok;
}

let ok = false;
try {
  ok = await main();
} catch (err) {
  clearProgress();
  console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
} finally {
  cleanUp();
}
process.exit(ok ? 0 : 1);
