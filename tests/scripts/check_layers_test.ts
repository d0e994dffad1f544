// scripts/check_layers.mjs on small trees written for the test: it passes imports that go
// down the layers and fails, naming file, line and rule, on each kind of bad import.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const SCRIPT = fileURLToPath(new URL("../../scripts/check_layers.mjs", import.meta.url));
const REPO = fileURLToPath(new URL("../..", import.meta.url));

let root: string;

async function tree(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(root, "t-"));
  for (const [path, text] of Object.entries({ "mod.ts": "", ...files })) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
  }
  return dir;
}

function check(dir: string): { status: number | null; out: string } {
  const r = spawnSync("node", [SCRIPT, dir], { encoding: "utf8" });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe("scripts/check_layers.mjs", () => {
  before(async () => {
    root = await mkdtemp(join(tmpdir(), "casty-layers-"));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("passes this repository", () => {
    const r = check(REPO);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /imports go one way/);
  });

  it("passes imports that go down the layers, and entries re-exporting upwards", async () => {
    const dir = await tree({
      "src/config/errors.ts": "export class ConfigError extends Error {}",
      "src/actor/a.ts":
        'import { ConfigError } from "../config/errors.ts";\nexport { ConfigError };',
      "src/persistence/p.ts": 'import type { X } from "../actor/a.ts";',
      "src/actor/mod.ts": 'export { P } from "../persistence/p.ts";',
      "src/testing/t.ts":
        'import { A } from "../actor/a.ts";\nimport { C } from "../cluster/c.ts";',
      "src/cluster/c.ts": "export const C = 1;",
    });
    const r = check(dir);
    assert.equal(r.status, 0, r.out);
  });

  it("fails an import against the direction, naming file, line and what is allowed", async () => {
    const dir = await tree({
      "src/actor/a.ts": "export const A = 1;",
      "src/config/c.ts": '// a comment\nimport { A } from "../actor/a.ts";',
    });
    const r = check(dir);
    assert.equal(r.status, 1);
    assert.match(
      r.out,
      /src\/config\/c\.ts:2: src\/config\/ imports src\/actor\/ .* against the layer direction; src\/config\/ may import: nothing outside itself/,
    );
  });

  it("fails type-only imports, re-exports and dynamic imports against the direction", async () => {
    const dir = await tree({
      "src/cluster/c.ts": "export type C = 1;",
      "src/remote/a.ts": 'import type { C } from "../cluster/c.ts";',
      "src/remote/b.ts": 'export { C } from "../cluster/c.ts";',
      "src/remote/d.ts": 'const m = await import("../cluster/c.ts");',
    });
    const r = check(dir);
    assert.equal(r.status, 1);
    for (const f of ["a", "b", "d"]) assert.match(r.out, new RegExp(`src/remote/${f}\\.ts:1:`));
  });

  it("fails an import of another folder's private file, even from testing/", async () => {
    const dir = await tree({
      "src/actor/_cell.ts": "export const X = 1;",
      "src/testing/t.ts": 'import { X } from "../actor/_cell.ts";',
    });
    const r = check(dir);
    assert.equal(r.status, 1);
    assert.match(
      r.out,
      /src\/testing\/t\.ts:1: imports src\/actor\/_cell\.ts, a file private to src\/actor\//,
    );
  });

  it("fails code that imports another folder's entry, and folders with no place in the layers", async () => {
    const dir = await tree({
      "src/actor/mod.ts": "export const A = 1;",
      "src/remote/r.ts": 'import { A } from "../actor/mod.ts";',
      "src/gadgets/g.ts": 'import { A } from "../actor/a.ts";',
    });
    const r = check(dir);
    assert.equal(r.status, 1);
    assert.match(r.out, /src\/remote\/r\.ts:1: imports the entry src\/actor\/mod\.ts/);
    assert.match(r.out, /src\/gadgets\/ has no place in the layers/);
  });

  it("ignores imports written inside doc comments", async () => {
    const dir = await tree({
      "src/config/c.ts":
        '/**\n * ```ts\n * import { A } from "../actor/a.ts";\n * ```\n */\nexport const C = 1;',
    });
    assert.equal(check(dir).status, 0);
  });
});
