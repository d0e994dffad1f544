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

function run(label, cmd, args, parse) {
  return new Promise((resolve) => {
    console.log(`\n=== ${label}: ${cmd} ${args.join(" ")} ===`);
    const child = spawn(cmd, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1" },
    });
    let text = "";
    child.stdout.on("data", (d) => {
      process.stdout.write(d);
      text += d;
    });
    child.stderr.on("data", (d) => {
      process.stderr.write(d);
      text += d;
    });
    child.on("close", (code) => resolve({ label, code, ...parse(strip(text)) }));
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

const only = process.argv[2];
const results = [];
if (!only || only === "deno") {
  results.push(await run("deno", bin("deno"), ["test", "-A", "tests/"], parseDeno));
  // The @example blocks of every exported symbol, run (Deno only), two files at a time: they
  // are independent (port 0, temporary folders) and mostly wait on timers. Their type-check is
  // part of `npm run check` (`deno check --doc`), so it is not paid twice.
  results.push(
    await run(
      "deno (doc examples)",
      bin("deno"),
      ["test", "-A", "--doc", "--no-check", "--parallel", "src/", "mod.ts"],
      parseDeno,
    ),
  );
}
if (!only || only === "bun") {
  results.push(await run("bun", bin("bun"), ["test", "--timeout", "120000", "tests/"], parseBun));
}

let passed = 0, failed = 0, ok = true;
console.log("\n=== summary ===");
for (const r of results) {
  console.log(`${r.label}: ${r.passed} passed, ${r.failed} failed (exit ${r.code})`);
  passed += r.passed;
  failed += r.failed;
  if (r.code !== 0 || r.passed === 0) ok = false;
}
if (!ok && failed === 0) failed = 1;
console.log(`test: ${passed} passed, ${failed} failed`);
process.exit(ok ? 0 : 1);
