// Fails when `console.assert` appears in src/ or mod.ts. It never throws (on Deno, Bun or
// Node it only prints), so a doc example or a check written with it passes whatever it
// computes: use `import assert from "node:assert/strict"` instead.
// Usage: node scripts/check_asserts.mjs [root]   (also runs under deno and bun)
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";

const root = process.argv[2] ?? ".";
const targets = ["src", "mod.ts"].map((p) => join(root, p));
const pattern = /\bconsole\s*\.\s*assert\b/;

function* files(path) {
  let stat;
  try {
    stat = statSync(path);
  } catch {
    return;
  }
  if (stat.isDirectory()) {
    for (const name of readdirSync(path).sort()) yield* files(join(path, name));
  } else if (/\.(ts|tsx|js|mjs|md)$/.test(path)) {
    yield path;
  }
}

const hits = [];
let checked = 0;
for (const target of targets) {
  for (const file of files(target)) {
    checked++;
    const lines = readFileSync(file, "utf8").split("\n");
    lines.forEach((line, i) => {
      if (pattern.test(line)) hits.push(`${relative(root, file)}:${i + 1}: ${line.trim()}`);
    });
  }
}

if (checked === 0) {
  console.error(`check_asserts: no files found under ${targets.join(", ")}`);
  process.exit(2);
}
if (hits.length > 0) {
  console.error(
    `check_asserts: ${hits.length} use(s) of console.assert, which never throws; ` +
      `use assert from "node:assert/strict":`,
  );
  for (const h of hits) console.error(`  ${h}`);
  process.exit(1);
}
console.log(`check_asserts: ok, no console.assert in ${checked} files`);
