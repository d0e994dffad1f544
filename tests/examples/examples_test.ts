// Runs every example as a real child process on the current runtime and checks its exact
// output: the examples are documentation, and documentation that drifts is worse than none.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { type CommandResult, runCommand } from "../_helpers/command.ts";

const EXAMPLES = fileURLToPath(new URL("../../examples/", import.meta.url));
const TIMEOUT_MS = 20_000;

function runExample(file: string): Promise<CommandResult> {
  const path = EXAMPLES + file;
  const args = (globalThis as { Deno?: unknown }).Deno ? ["run", "-A", path] : [path];
  return runCommand(process.execPath, args, { timeout: TIMEOUT_MS });
}

function lines(text: string): string[] {
  return text.split("\n").filter((l) => l.length > 0);
}

async function expectOutput(file: string, expected: readonly (string | RegExp)[]): Promise<void> {
  const run = await runExample(file);
  const context = `${file} exited ${run.code ?? run.signal}\nstderr:\n${run.stderr}`;
  assert.equal(run.code, 0, context);
  assert.equal(run.stderr.trim(), "", context);
  const actual = lines(run.stdout);
  assert.equal(actual.length, expected.length, `${context}\nstdout:\n${run.stdout}`);
  expected.forEach((want, i) => {
    if (typeof want === "string") assert.equal(actual[i], want, `${file} line ${i + 1}`);
    else assert.match(actual[i], want, `${file} line ${i + 1}`);
  });
}

const EXPECTED: Record<string, readonly (string | RegExp)[]> = {
  "01_quick_start.ts": ["Hello, Alice!", "Hello, Bob!"],
  "02_functional_state.ts": ["Balance: 150", "Savings: 1000"],
  "03_request_reply.ts": [
    "Balance: 100",
    "Withdraw: insufficient funds (balance=100)",
    "Withdraw: ok",
    "Monitor saw balance: 70",
  ],
  "04_hierarchies.ts": [
    "[alice] working on: implement login",
    'alice finished "implement login"',
    "[bob] working on: write tests",
    'bob finished "write tests"',
    "Child path: /manager/bob",
    "Worker stopped: casty://hierarchies/manager/bob",
    "/manager/bob is gone",
    "Staff: alice",
  ],
  "05_supervision.ts": [
    "Processed: first (1 since last start)",
    "Processed: second (2 since last start)",
    "[warn] /worker: restarting after failure",
    "Restarted /worker after: something went wrong",
    "Processed: hello (1 since last start)",
    "[error] /worker: failed; stopping",
    "Stopped: /worker",
    ...Array.from({ length: 3 }, () => [
      "[warn] /flaky: restarting after failure",
      "Restarted /flaky after: something went wrong",
    ]).flat(),
    "[error] /flaky: failed; stopping",
    "Stopped: /flaky after 3 restarts",
  ],
  "06_lifecycle.ts": [
    "/db: preStart: opened conn#1",
    "conn#1 ran: SELECT 1",
    '/db: preRestart: closing conn#1 after "connection reset"',
    "/db: postRestart: opened conn#2",
    "conn#2 ran: SELECT 2",
    "/db: postStop: closed conn#2",
    "System shut down",
  ],
  "07_event_stream.ts": [
    "Started: /greeter",
    "Hello, Alice!",
    'Unhandled by /greeter: {"type":"shout","name":"Bob"}',
    "Stopped: /greeter",
    'Dead letter: {"type":"greet","name":"Carol"} (stopped)',
    "Audit: greeter retired",
    "Lifecycle events seen: 3",
  ],
  "08_mailbox.ts": [
    "-- dropOldest",
    "dropped job 1 (mailboxFull)",
    "dropped job 2 (mailboxFull)",
    "processed job 3",
    "processed job 4",
    "processed job 5",
    "-- dropNew",
    "dropped job 4 (mailboxFull)",
    "dropped job 5 (mailboxFull)",
    "processed job 1",
    "processed job 2",
    "processed job 3",
    "-- backpressure",
    "tell job 4: MAILBOX_FULL, sending with backpressure instead",
    "tell job 5: MAILBOX_FULL, sending with backpressure instead",
    "processed job 1",
    "processed job 2",
    "processed job 3",
    "processed job 4",
    "processed job 5",
  ],
  "09_scheduling.ts": [
    "Report #1: balance=100",
    "Report #2: balance=100",
    "Report #3: balance=100",
    "Cancelled report: true",
    "Cancelled again: false",
    "Timeout: idle for 30 ms; closing the session",
    "Account stopped",
  ],
  "10_state_machine.ts": [
    "Total: $100.00",
    "Receipt: 2 items, $100.00",
    "Total after checkout: $0.00",
  ],
  "11_event_sourcing.ts": [
    "deposited 100: 100",
    "withdrew 30: 70",
    "rejected 500: only 70",
    "system and journal closed",
    "recovered from the journal: 70",
    "events on disk: 1, 2",
  ],
  "12_configuration.ts": [
    'no casty.toml: system "casty", defaults only',
    "system: bank, gossip every 500 ms",
    "sensor-42 mailbox: 10, dropOldest",
    "auditor supervision: stop",
    'actor system "bank": worker restarted after a failure',
    'node "bank" on 127.0.0.1, roles api',
  ],
  "13_barrier.ts": [
    "3 members up",
    'round 1: all 3 nodes passed "ready" together',
    'round 2: all 3 nodes passed "ready" together',
    "disagreeing on n: one BarrierMismatchError, one BARRIER_TIMEOUT",
    "waiting alone for 300 ms: BARRIER_TIMEOUT",
  ],
  "14_cluster_formation.ts": [
    "members up: first, second, third",
    "leader (as the first node sees it): the lowest address",
    "after third.leave(): first, second",
    "event: up second",
    "event: up third",
    "event: left third",
    "event: removed third",
  ],
  "15_failure_handling.ts": [
    "remote ask: 42",
    "a: MemberDowned for b",
    "Terminated: /account",
    /^b: ShutdownSelf \((downed|removed)\)$/,
    "an ask to it: AskTimeoutError",
  ],
  "16_cluster_services.ts": [
    "3 nodes up: A, B, C",
    "B hits the singleton: node A, hit 1",
    "C hits the singleton: node A, hit 2",
    "broadcast ask: A, B, C; missing: 0",
    "hello B, from A",
    "hello B, from C",
    "A left the cluster",
    "C hits the singleton: node B, hit 1",
    "greeters now: C",
  ],
  "17_client.ts": [
    "client connected: 2 members",
    "alice: 120",
    "bob: 50",
    "visits seen by a node: 2",
    "Hello, Ada (from node B)",
    /^client knows the owner of [12] shards$/,
    "done",
  ],
  "18_testing.ts": [
    "simulated: alice has 100",
    "simulated: after killing its node, alice has 101 on another node",
    "processes: 3 bank nodes and this one up",
    "processes: alice has 100",
    "processes: after kill -9 of its node, alice has 101 on another node",
  ],
  "19_work_distribution.ts": [
    "3 nodes up: A, B, C",
    /^40 tasks ran; each queue on one node; nodes used: (A, B|A, C|B, C|A, B, C)$/,
    "every queue ran task-0 … task-4 exactly once",
    "C left; all 8 queues took task-5 on A or B",
  ],
  "20_replicated_state.ts": [
    "3 nodes up: A, B, C, each with its own SQLite journal",
    /^alice's primary: ([ABC]), replica: (?!\1)[ABC]$/,
    "acknowledged deposits: 100",
    /^[ABC] was downed and removed$/,
    /^alice's balance on [ABC]: 100 \(none lost\)$/,
    "and she takes deposits again",
  ],
  "21_distributed_data.ts": [
    "3 nodes up",
    "counter from 3 nodes: 30",
    "map read on C: invoice-7 → node B",
    "lock: A held it, B waited and got it after A released; B's token is larger",
    "semaphore: at most 2 of 3 holders at once",
    "barrier: A, B and C arrived before any passed",
  ],
};

describe("examples/", () => {
  it("has an expected output for every example", () => {
    // Files starting with "_" are helpers of an example (a child process), not examples; the
    // demo has its own test (tests/examples/demo_test.ts).
    const files = readdirSync(EXAMPLES)
      .filter((f) => f.endsWith(".ts") && !f.startsWith("_") && f !== "demo.ts")
      .sort();
    assert.deepEqual(files, Object.keys(EXPECTED).sort());
  });

  for (const [file, expected] of Object.entries(EXPECTED)) {
    it(`${file} runs to completion and prints the documented lines`, {
      timeout: TIMEOUT_MS + 5_000,
    }, async () => {
      await expectOutput(file, expected);
    });
  }
});
