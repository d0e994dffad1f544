// Checks that imports between the folders of src/ go one way (plain Node, no dependencies).
//
//   config ← actor ← {serialization, runtime} ← {persistence, remote} ← cluster ← sharding
//          ← {replication, distributed} ← client;   sharding ← management;   persistence ← postgres
//
// A file may import its own folder, and the folders its folder stands on; testing/ and cli/
// may import anything. A file whose name starts with "_" is private to its top folder: no
// other folder imports it (a folder offers its internals to the layers above through a
// non-underscore file such as actor/internal.ts). Entries (the root mod.ts and each folder's
// mod.ts) are the package's surface: they may re-export any public file, and no code in src/
// may import an entry, so re-exports never bend the layers (actor/mod.ts re-exports the one
// `Behaviors` from persistence/behaviors.ts).
//
// Usage: node scripts/check_layers.mjs [root]   (exit 1 and one line per bad import)
import { readFileSync } from "node:fs";
import { tsFiles } from "./_files.mjs";
import { dirname, join, normalize, relative, sep } from "node:path";

/** The folders each folder of src/ may import, besides itself. */
const BELOW = {
  config: [],
  actor: ["config"],
  // runtime implements the ports (sockets, clock); serialization only asks it what runs here.
  runtime: ["config", "actor"],
  serialization: ["config", "actor", "runtime"],
  persistence: ["config", "actor", "serialization"],
  // The PostgreSQL journal (entry @casty/casty/postgres) stands beside persistence, on it.
  postgres: ["config", "actor", "serialization", "persistence"],
  remote: ["config", "actor", "serialization", "runtime"],
  cluster: ["config", "actor", "serialization", "runtime", "persistence", "remote"],
};
BELOW.sharding = [...BELOW.cluster, "cluster"];
BELOW.replication = [...BELOW.sharding, "sharding"];
BELOW.distributed = [...BELOW.sharding, "sharding"];
BELOW.client = [...BELOW.sharding, "sharding", "replication", "distributed"];
// Management (HTTP endpoints, dashboard) plugs into the cluster as an extension, above sharding.
BELOW.management = [...BELOW.sharding, "sharding"];
/** Folders at the top: they assemble or test the others and may import anything. */
const ANYTHING = new Set(["testing", "cli"]);

const root = process.argv[2] ?? process.cwd();
const src = join(root, "src");

/** Every module specifier of a file: static imports and re-exports, `import type`, `import()`. */
function specifiers(text) {
  // Blank out comments so doc examples (`import ... from "@casty/casty"`) are not read as code.
  const code = text.replace(/\/\*[\s\S]*?\*\//g, (m) => m.replace(/[^\n]/g, " "))
    .replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
  const found = [];
  const patterns = [
    /^\s*(?:import|export)\s[^;]*?\sfrom\s*["']([^"']+)["']/gms,
    /^\s*import\s*["']([^"']+)["']/gm,
    /\bimport\(\s*["']([^"']+)["']\s*\)/g,
  ];
  for (const re of patterns) {
    for (const m of code.matchAll(re)) {
      const line = code.slice(0, m.index + m[0].length).split("\n").length;
      found.push({ spec: m[1], line });
    }
  }
  return found;
}

/** The top folder of src/ that holds a path, or undefined outside src/. */
function folderOf(path) {
  const rel = relative(src, path);
  if (rel.startsWith("..")) return undefined;
  const parts = rel.split(sep);
  return parts.length > 1 ? parts[0] : "";
}

const problems = [];
const files = [...tsFiles(src), join(root, "mod.ts")];
for (const file of files) {
  const from = folderOf(file);
  const shown = relative(root, file);
  for (const { spec, line } of specifiers(readFileSync(file, "utf8"))) {
    if (!spec.startsWith(".")) continue;
    const target = normalize(join(dirname(file), spec));
    const to = folderOf(target);
    const targetShown = relative(root, target);
    if (to === undefined) {
      problems.push(`${shown}:${line}: imports ${targetShown}, outside src/`);
      continue;
    }
    const isEntry = (path) => path.endsWith(`${sep}mod.ts`);
    if (isEntry(target) && target !== file && to !== "" && from !== undefined && from !== "") {
      if (!ANYTHING.has(from) && to !== from) {
        problems.push(
          `${shown}:${line}: imports the entry ${targetShown}; code imports the file that ` +
            `defines a name, entries are for users`,
        );
        continue;
      }
    }
    if (to === from) continue;
    if (to !== "" && !(to in BELOW) && !ANYTHING.has(to)) {
      problems.push(
        `${shown}:${line}: imports src/${to}/, a folder with no place in the layers ` +
          `(add it to BELOW in scripts/check_layers.mjs)`,
      );
      continue;
    }
    const base = target.split(sep).pop();
    if (base.startsWith("_")) {
      problems.push(
        `${shown}:${line}: imports ${targetShown}, a file private to src/${to}/ ` +
          `(export what is needed from a non-underscore file of src/${to}/)`,
      );
      continue;
    }
    if (from === undefined || from === "" || ANYTHING.has(from) || isEntry(file)) continue;
    if (!(from in BELOW)) {
      problems.push(
        `${shown}: src/${from}/ has no place in the layers (add it to BELOW in scripts/check_layers.mjs)`,
      );
      break;
    }
    if (ANYTHING.has(to) || !BELOW[from].includes(to)) {
      const allowed = BELOW[from].length ? BELOW[from].join(", ") : "nothing outside itself";
      problems.push(
        `${shown}:${line}: src/${from}/ imports src/${to}/ (${targetShown}) against the layer ` +
          `direction; src/${from}/ may import: ${allowed}`,
      );
    }
  }
}

if (problems.length > 0) {
  console.error(`check_layers: ${problems.length} import(s) against the layers:`);
  for (const p of problems) console.error(`  ${p}`);
  process.exit(1);
}
console.log(`check_layers: ${files.length} files, imports go one way`);
