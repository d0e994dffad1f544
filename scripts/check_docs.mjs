// Runs `deno doc --lint` on every entry that deno.json exports, so a new entry is checked
// the day it is added (plain Node, no dependencies).
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

const root = process.argv[2] ?? process.cwd();
const config = JSON.parse(readFileSync(join(root, "deno.json"), "utf8"));
const exportsField = config.exports;
const entries = typeof exportsField === "string" ? [exportsField] : Object.values(exportsField);
if (entries.length === 0) {
  console.error("check_docs: deno.json exports no entry");
  process.exit(1);
}
const local = join(root, "node_modules", ".bin", "deno");
const deno = existsSync(local) ? local : "deno";
const result = spawnSync(deno, ["doc", "--lint", ...entries], { cwd: root, stdio: "inherit" });
if (result.status !== 0) {
  console.error(`check_docs: deno doc --lint failed on the entries ${entries.join(" ")}`);
  process.exit(result.status ?? 1);
}
console.log(`check_docs: ${entries.length} entries documented`);
