#!/usr/bin/env node
// The `casty` command for `npx casty` / `bunx casty` / package.json "bin": runs
// src/cli/main.ts. Under Bun it imports the TypeScript entry directly; under Node it runs it
// with the project's deno (node_modules/.bin/deno after `npm ci`, else deno on PATH), passing
// the arguments, the exit code and SIGINT/SIGTERM through.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const entry = join(root, "src", "cli", "main.ts");
const args = process.argv.slice(2);

if (process.versions.bun !== undefined) {
  const { main } = await import(entry);
  process.exitCode = await main(args);
} else {
  const local = join(root, "node_modules", ".bin", "deno");
  const deno = existsSync(local) ? local : "deno";
  const child = spawn(deno, ["run", "-A", entry, ...args], { stdio: "inherit" });
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.on(signal, () => child.kill(signal));
  }
  child.on("error", (error) => {
    console.error(`casty: cannot run deno (${deno}): ${error.message}`);
    process.exit(127);
  });
  child.on("close", (code, signal) => {
    process.exit(code ?? (signal === "SIGINT" ? 130 : 143));
  });
}
