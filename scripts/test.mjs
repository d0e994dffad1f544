// Runs the whole suite on Deno and on Bun; fails when either runtime fails.
// Prints one closing line "test: N passed, N failed" summing both runtimes.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

const bin = (name) => {
  const local = join("node_modules", ".bin", name);
  return existsSync(local) ? local : name;
};

// deno-lint-ignore no-control-regex
const strip = (s) => s.replace(/\x1b\[[0-9;]*m/g, "");

// Runs one suite. `live`: stream its output as it comes; otherwise keep it and print it whole
// when the suite ends (suites that run side by side would interleave their lines).
function run(label, cmd, args, parse, live) {
  return new Promise((resolve) => {
    const header = `\n=== ${label}: ${cmd} ${args.join(" ")} ===`;
    if (live) console.log(header);
    const started = Date.now();
    const child = spawn(cmd, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1" },
    });
    let text = "";
    const take = (stream) => (d) => {
      if (live) stream.write(d);
      text += d;
    };
    child.stdout.on("data", take(process.stdout));
    child.stderr.on("data", take(process.stderr));
    child.on("close", (code) => {
      const seconds = Math.round((Date.now() - started) / 1000);
      if (!live) console.log(`${header}\n${text}`);
      console.log(`=== ${label}: exit ${code} after ${seconds} s ===`);
      const plain = strip(text);
      resolve({ label, code, seconds, text: plain, ...parse(plain) });
    });
  });
}

// Deno counts each top-level describe as one test and its its as "steps"; count the steps so
// both runtimes report the same unit.
function parseDeno(text) {
  const m = [
    ...text.matchAll(
      /^(?:ok|FAILED) \| (\d+) passed(?: \((\d+) steps?\))? \| (\d+) failed(?: \((\d+) steps?\))?/gm,
    ),
  ].pop();
  if (!m) return { passed: 0, failed: 0 };
  return { passed: Number(m[2] ?? m[1]), failed: Number(m[4] ?? m[3]) };
}

function parseBun(text) {
  const p = [...text.matchAll(/^\s*(\d+) pass$/gm)].pop();
  const f = [...text.matchAll(/^\s*(\d+) fail$/gm)].pop();
  return { passed: p ? Number(p[1]) : 0, failed: f ? Number(f[1]) : 0 };
}

// The Deno suites and the Bun suite run side by side (CASTY_TEST_SERIAL=1: one after another):
// the tests mostly wait on timers, sockets and child processes, so two runtimes share the cores
// well and the whole run takes about as long as its longest part.
const only = process.argv[2];
const serial = process.env.CASTY_TEST_SERIAL === "1" || only !== undefined;
const denoTests = (live) => run("deno", bin("deno"), ["test", "-A", "tests/"], parseDeno, live);
// The @example blocks of every exported symbol, run (Deno only), two files at a time: they are
// independent (port 0, temporary folders) and mostly wait on timers. Their type-check is part of
// `npm run check` (`deno check --doc`), so it is not paid twice.
const docExamples = (live) =>
  run(
    "deno (doc examples)",
    bin("deno"),
    ["test", "-A", "--doc", "--no-check", "--parallel", "src/", "mod.ts"],
    parseDeno,
    live,
  );
// Live (one after another): in order. Side by side: the doc examples run next to the Deno tests
// (the Deno tests are the longest part, and the examples are light), not after them.
const deno = async (live) =>
  live
    ? [await denoTests(true), await docExamples(true)]
    : Promise.all([denoTests(false), docExamples(false)]);
const bun = async (live) => [
  await run("bun", bin("bun"), ["test", "--timeout", "120000", "tests/"], parseBun, live),
];
const results = [];
if (serial) {
  if (!only || only === "deno") results.push(...await deno(true));
  if (!only || only === "bun") results.push(...await bun(true));
} else {
  console.log(
    "Running the Deno and Bun suites side by side; each one's output follows when it ends.",
  );
  const [d, b] = await Promise.all([deno(false), bun(false)]);
  results.push(...d, ...b);
}

// The failures again, at the very end: a CI log often keeps only its tail.
function failures(r) {
  const lines = r.text.split("\n");
  if (r.label === "bun") {
    // Bun prints a failing test's error above its "(fail) name" line.
    const out = [];
    lines.forEach((line, i) => {
      if (!line.startsWith("(fail)")) return;
      out.push(...lines.slice(Math.max(0, i - 30), i + 1), "");
    });
    return out.join("\n");
  }
  // Deno prints an " ERRORS " section, then " FAILURES ", before its closing line.
  const start = lines.findIndex((l) => l.trim() === "ERRORS");
  if (start < 0) return "";
  return lines.slice(start, start + 200).join("\n");
}

let passed = 0, failed = 0, ok = true;
for (const r of results) {
  if (r.code === 0) continue;
  const text = failures(r);
  if (text) console.log(`\n=== ${r.label}: what failed ===\n${text}`);
}
console.log("\n=== summary ===");
for (const r of results) {
  console.log(
    `${r.label}: ${r.passed} passed, ${r.failed} failed (exit ${r.code}, ${r.seconds} s)`,
  );
  passed += r.passed;
  failed += r.failed;
  if (r.code !== 0 || r.passed === 0) ok = false;
}
if (!ok && failed === 0) failed = 1;
console.log(`test: ${passed} passed, ${failed} failed`);
process.exit(ok ? 0 : 1);
