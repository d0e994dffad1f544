// `casty status` against a cluster of real node processes: the aligned tables (members, leader,
// unreachable nodes, shards and entities per node), `--json`, a node killed with SIGKILL shown
// unreachable, and a non-zero exit with a clear message when the cluster cannot be reached or
// refuses our secret.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { main } from "../../src/cli/main.ts";
import { runScript, type ScriptProcess } from "../_helpers/process.ts";

const NODE = fileURLToPath(new URL("../_helpers/management_node.ts", import.meta.url));
const LONG = { timeout: 60_000 };
// Long enough that a poll of `casty status` (at most ~1.5 s per member) sees the killed node
// unreachable before the majority downs it.
const STABLE_AFTER = "4000";

function collect(): { lines: string[]; write: (l: string) => void } {
  const lines: string[] = [];
  return { lines, write: (l: string) => lines.push(l) };
}

async function startNode(args: string[]): Promise<{ proc: ScriptProcess; port: number }> {
  const proc = runScript(NODE, args, {}, { stdin: "pipe" });
  const ready = JSON.parse(await proc.waitForLine((l) => l.includes('"ready"'), 30_000));
  return { proc, port: ready.port };
}

async function status(args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out = collect();
  const err = collect();
  const code = await main(["status", ...args], { out: out.write, err: err.write });
  return { code, out: out.lines, err: err.lines };
}

describe("casty status against 3 real nodes", () => {
  const nodes: ScriptProcess[] = [];
  let ports: number[] = [];

  before(async () => {
    const first = await startNode(["ops", "--no-http", "--stable-after", STABLE_AFTER]);
    nodes.push(first.proc);
    const seed = `127.0.0.1:${first.port}`;
    const rest = await Promise.all([
      startNode(["ops", "--no-http", "--seed", seed, "--stable-after", STABLE_AFTER]),
      startNode(["ops", "--no-http", "--seed", seed, "--stable-after", STABLE_AFTER]),
    ]);
    nodes.push(...rest.map((r) => r.proc));
    ports = [first.port, ...rest.map((r) => r.port)];
    await Promise.all(nodes.map((n) => n.waitForLine((l) => l.includes('"up":3'), 30_000)));
    nodes[0].child.stdin!.write(JSON.stringify({ op: "touch", n: 10, tag: "t" }) + "\n");
    await nodes[0].waitForLine((l) => l.includes('"touched"'), 30_000);
  });

  after(async () => {
    await Promise.all(nodes.map((n) => n.kill()));
  });

  it(
    "prints members, leader, unreachable nodes, and shards and entities per node as aligned tables",
    LONG,
    async () => {
      const r = await status(["--contact", `127.0.0.1:${ports[1]}`, "--system", "ops"]);
      assert.equal(r.code, 0, r.err.join("\n"));
      const [summary, leader, membersTitle] = r.out;
      assert.equal(summary, `cluster "ops" seen from 127.0.0.1:${ports[1]}: 3 members, 3 up`);
      assert.match(leader, /^leader: 127\.0\.0\.1:\d+$/);
      assert.equal(membersTitle, "members:");
      assert.match(r.out[3], /^ {2}address {10}status {2}reachable {2}roles {2}up since$/);
      for (const port of ports) {
        const row = r.out.find((l) => l.startsWith(`  127.0.0.1:${port} `));
        assert.ok(row, `no row for ${port}`);
        assert.match(row, /^ {2}127\.0\.0\.1:\d+ +up +yes +- +\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/);
      }
      // aligned: every member row has its columns where the header has them
      const header = r.out[3];
      for (const l of r.out.slice(4, 7)) {
        assert.equal(l.indexOf("up"), header.indexOf("status"));
        assert.equal(l.indexOf("yes"), header.indexOf("reachable"));
      }
      assert.ok(r.out.includes("unreachable: none"));
      const shardsAt = r.out.findIndex((l) => l.startsWith("shards per node"));
      assert.ok(shardsAt > 0, r.out.join("\n"));
      assert.match(r.out[shardsAt + 1], /^ {2}node +counters shards {2}counters entities$/);
      const rows = r.out.slice(shardsAt + 2).map((l) => l.trim().split(/ +/));
      assert.equal(rows.length, 3);
      // shards are allocated on first use: 10 entities touch between 1 and 10 of the 12
      const shards = rows.reduce((sum, row) => sum + Number(row[1]), 0);
      assert.ok(shards >= 1 && shards <= 10, r.out.join("\n"));
      assert.equal(rows.reduce((sum, row) => sum + Number(row[2]), 0), 10);
      const shardHeader = r.out[shardsAt + 1];
      for (const l of r.out.slice(shardsAt + 2)) {
        // right-aligned numbers end where their header ends
        assert.equal(l.length, shardHeader.length, `${l}\n${shardHeader}`);
      }
    },
  );

  it("--json prints the same as one machine-readable document", LONG, async () => {
    const r = await status(["--contact", `127.0.0.1:${ports[0]}`, "--system", "ops", "--json"]);
    assert.equal(r.code, 0, r.err.join("\n"));
    const doc = JSON.parse(r.out.join("\n"));
    assert.equal(doc.system, "ops");
    assert.equal(doc.members.length, 3);
    assert.deepEqual(
      doc.members.map((m: { node: string }) => m.node).sort(),
      ports.map((p) => `127.0.0.1:${p}`).sort(),
    );
    for (const m of doc.members) {
      assert.equal(m.status, "Up");
      assert.equal(m.reachable, true);
      assert.ok(!Number.isNaN(Date.parse(m.upSince)));
    }
    assert.ok(ports.map((p) => `127.0.0.1:${p}`).includes(doc.leader));
    assert.deepEqual(doc.unreachable, []);
    const regions = doc.shards.types.counters.regions as {
      numShards: number;
      numEntities: number;
    }[];
    const shards = regions.reduce((s, x) => s + x.numShards, 0);
    assert.ok(shards >= 1 && shards <= 10);
    assert.equal(regions.reduce((s, x) => s + x.numEntities, 0), 10);
    assert.equal(Object.keys(doc.nodes).length, 3);
  });

  it("shows a node killed with SIGKILL as unreachable, then gone", LONG, async () => {
    const victim = ports[2];
    await nodes[2].kill("SIGKILL");
    const deadline = Date.now() + 30_000;
    let sawUnreachable = false;
    let last: string[] = [];
    while (Date.now() < deadline) {
      const r = await status([
        "--contact",
        `127.0.0.1:${ports[0]}`,
        "--system",
        "ops",
        "--timeout",
        "1500",
      ]);
      assert.equal(r.code, 0, r.err.join("\n"));
      last = r.out;
      const row = r.out.find((l) => l.startsWith(`  127.0.0.1:${victim} `));
      if (row !== undefined && / NO /.test(row)) {
        sawUnreachable = true;
        assert.ok(r.out.includes(`unreachable: 127.0.0.1:${victim}`), r.out.join("\n"));
      }
      if (row === undefined || /^ {2}\S+ +(down|removed) /.test(row)) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.ok(sawUnreachable, `never shown unreachable:\n${last.join("\n")}`);
    const gone = last.find((l) => l.startsWith(`  127.0.0.1:${victim} `));
    assert.ok(gone === undefined || /(down|removed)/.test(gone), last.join("\n"));
  });
});

describe("casty status failures", () => {
  it("exits 1 with a clear message when nothing listens at the contact", LONG, async () => {
    const r = await status(["--contact", "127.0.0.1:1", "--system", "ops"]);
    assert.equal(r.code, 1);
    assert.match(r.err[0], /^casty: Cannot connect to 127\.0\.0\.1:1: /);
  });

  it(
    "exits 1 at once when the cluster refuses our secret (taken from --config)",
    LONG,
    async () => {
      const dir = await mkdtemp(join(tmpdir(), "casty-status-"));
      const { proc, port } = await startNode(["vault", "--no-http", "--secret", "right-one"]);
      try {
        const wrong = join(dir, "wrong.toml");
        await writeFile(wrong, '[system]\nname = "vault"\n[cluster]\nsecret = "wrong-one"\n');
        const started = performance.now();
        const r = await status(["--contact", `127.0.0.1:${port}`, "--config", wrong]);
        assert.equal(r.code, 1);
        assert.match(
          r.err[0],
          new RegExp(`^casty: 127\\.0\\.0\\.1:${port} refused the connection: `),
        );
        assert.match(r.err[0], /secret/);
        assert.ok(performance.now() - started < 4_500, "a refusal should not wait for --timeout");

        const right = join(dir, "right.toml");
        await writeFile(right, '[system]\nname = "vault"\n[cluster]\nsecret = "right-one"\n');
        const ok = await status(["--contact", `127.0.0.1:${port}`, "--config", right]);
        assert.equal(ok.code, 0, ok.err.join("\n"));
        assert.equal(ok.out[0], `cluster "vault" seen from 127.0.0.1:${port}: 1 members, 1 up`);
      } finally {
        await proc.kill();
        await rm(dir, { recursive: true, force: true });
      }
    },
  );
});
