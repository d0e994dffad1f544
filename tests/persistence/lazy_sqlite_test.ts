// Importing @casty/casty for local actors does not load node:sqlite; SqliteJournal loads it when
// the first journal opens.
import { after, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import process from "node:process";
import { spawn } from "node:child_process";
import { runScript } from "../_helpers/process.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const dir = mkdtempSync(join(tmpdir(), "casty-lazy-sqlite-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const isDeno = "Deno" in globalThis;

function runDeno(args: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (c) => (out += c));
    child.stderr.on("data", (c) => (out += c));
    child.on("exit", (code) => done({ code, out }));
  });
}

/** Every module specifier statically imported from `entry`, following relative imports. */
function staticImports(entry: string): Set<string> {
  const transpiler = new (globalThis as unknown as {
    Bun: {
      Transpiler: new (o: { loader: string }) => { scanImports(code: string): { path: string }[] };
    };
  }).Bun.Transpiler({ loader: "ts" });
  const seen = new Set<string>();
  const found = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const { path } of transpiler.scanImports(readFileSync(file, "utf8"))) {
      found.add(path);
      if (path.startsWith(".")) visit(resolve(dirname(file), path));
    }
  };
  visit(entry);
  return found;
}

describe("Importing @casty/casty for local actors", () => {
  it("runs an actor without node:sqlite, while SqliteJournal does need it", async () => {
    const child = runScript(join(root, "tests", "_helpers", "local_actor_without_sqlite.ts"));
    assert.equal(await child.exited, 0, child.stderr());
    assert.deepEqual(child.lines, [
      "actor answered 42",
      'journal: Cannot open journal ":memory:": node:sqlite was loaded',
    ]);
  });

  it("has no static import of node:sqlite in its module graph", async () => {
    if (isDeno) {
      // An import map that turns node:sqlite into a module that throws when evaluated.
      const trap = join(dir, "trap.ts");
      writeFileSync(trap, 'throw new Error("node:sqlite was loaded");\n');
      const config = JSON.parse(readFileSync(join(root, "deno.json"), "utf8"));
      const map = join(dir, "import_map.json");
      writeFileSync(map, JSON.stringify({ imports: { ...config.imports, "node:sqlite": trap } }));
      const control = join(dir, "control.ts");
      writeFileSync(control, 'import "node:sqlite";\nconsole.log("loaded");\n');
      const trapped = await runDeno(["run", "-A", "--import-map", map, control]);
      assert.notEqual(trapped.code, 0, "the trap must catch a static import");
      assert.match(trapped.out, /node:sqlite was loaded/);
      const local = join(dir, "local.ts");
      writeFileSync(
        local,
        `import { ActorSystem, Behaviors } from ${JSON.stringify(join(root, "mod.ts"))};\n` +
          'const system = new ActorSystem({ name: "s", logLevel: "error" });\n' +
          'system.spawn(Behaviors.receive(() => Behaviors.same()), "a");\n' +
          'await system.shutdown();\nconsole.log("ran");\n',
      );
      const result = await runDeno(["run", "-A", "--import-map", map, local]);
      assert.equal(result.code, 0, result.out);
      assert.match(result.out, /^ran$/m);
    } else {
      const imports = staticImports(join(root, "mod.ts"));
      assert.ok(imports.has("node:timers"), "the walk reaches the persistence layer");
      assert.ok(!imports.has("node:sqlite"), "mod.ts statically imports node:sqlite");
      const control = join(dir, "control.ts");
      writeFileSync(control, 'import "./other.ts";\n');
      writeFileSync(join(dir, "other.ts"), 'import "node:sqlite";\n');
      assert.ok(staticImports(control).has("node:sqlite"), "the walk finds a nested import");
    }
  });
});
