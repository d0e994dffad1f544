// Runs the project's deno (node_modules/.bin/deno after `npm ci`, else the one on PATH) with
// the given arguments. deno.json's tasks call deno through this: inside `deno task`, a bare
// `deno` resolves to node_modules/.bin/deno and is run as a script, which fails for the
// native binary that the npm package installs.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const local = join(
  root,
  "node_modules",
  ".bin",
  process.platform === "win32" ? "deno.cmd" : "deno",
);
const deno = existsSync(local) ? local : "deno";
const result = spawnSync(deno, process.argv.slice(2), { stdio: "inherit" });
if (result.error) {
  console.error(`Cannot run deno (${deno}): ${result.error.message}`);
  process.exit(127);
}
process.exit(result.status ?? 1);
