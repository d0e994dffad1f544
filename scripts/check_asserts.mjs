// Fails when src/ or mod.ts calls console.assert: it only logs, so a doc example or a check
// that uses it passes whatever it computes. Use `node:assert/strict` instead (plain Node).
import { readFileSync } from "node:fs";
import { tsFiles } from "./_files.mjs";
import { join, relative } from "node:path";

const root = process.argv[2] ?? process.cwd();

const files = [...tsFiles(join(root, "src")), join(root, "mod.ts")];
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
