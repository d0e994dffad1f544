// Fails when src/ or mod.ts calls console.assert: it only logs, so a doc example or a check
// that uses it passes whatever it computes. Use `node:assert/strict` instead (plain Node).
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";

const root = process.argv[2] ?? process.cwd();

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...walk(path));
    else if (name.endsWith(".ts")) out.push(path);
  }
  return out;
}

const files = [...walk(join(root, "src")), join(root, "mod.ts")];
const hits = [];
for (const file of files) {
  readFileSync(file, "utf8").split("\n").forEach((line, i) => {
    if (/\bconsole\.assert\s*\(/.test(line)) hits.push(`${relative(root, file)}:${i + 1}`);
  });
}
if (hits.length > 0) {
  console.error(
    `check_asserts: ${hits.length} console.assert call(s); they never throw, use node:assert/strict:`,
  );
  for (const h of hits.slice(0, 50)) console.error(`  ${h}`);
  if (hits.length > 50) console.error(`  … and ${hits.length - 50} more`);
  process.exit(1);
}
console.log(`check_asserts: ${files.length} files, no console.assert`);
