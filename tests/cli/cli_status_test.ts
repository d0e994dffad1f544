// The casty command as a user runs it: through package.json "bin" (npx), and `casty status`
// taking TLS from --config, learning or being told the system name, and failing fast.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createServer, type Socket } from "node:net";
import { main } from "../../src/cli/main.ts";
import { ClusteredActorSystem, TcpConnectError, type TlsOptions } from "../../mod.ts";
import { defaultTcp } from "../../src/runtime/select.ts";
import { type CommandResult, runCommand } from "../_helpers/command.ts";
import { memoryLogger } from "../_helpers/probe.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const FIXTURES = fileURLToPath(new URL("../_fixtures/tls/", import.meta.url));
const LONG = { timeout: 60_000 };

function run(command: string, args: string[]): Promise<CommandResult> {
  return runCommand(command, args, { cwd: ROOT });
}

/** A one-node cluster in this process, quiet. */
function startNode(name: string, tls?: TlsOptions): Promise<ClusteredActorSystem> {
  return ClusteredActorSystem.start({
    name,
    host: "127.0.0.1",
    port: 0,
    tls,
    logger: memoryLogger(),
  });
}

function collect(): { lines: string[]; write: (l: string) => void } {
  const lines: string[] = [];
  return { lines, write: (l: string) => lines.push(l) };
}

describe("the casty bin", () => {
  it("runs through package.json bin with npx (npm exec), offline", LONG, async () => {
    const r = await run("npm", ["exec", "--offline", "--", "casty", "--help"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^usage:\n {2}casty node /);
  });

  it("passes the exit code through: an unreachable contact exits 1 at once", LONG, async () => {
    const started = performance.now();
    const r = await run("node", ["bin/casty.mjs", "status", "--contact", "127.0.0.1:1"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^casty: Cannot connect to 127\.0\.0\.1:1: /);
    assert.ok(performance.now() - started < 10_000, "status should fail fast");
  });
});

describe("TcpConnectError", () => {
  it("is exported, and is what a refused connection rejects with", async () => {
    await assert.rejects(defaultTcp().connect("127.0.0.1", 1, { timeout: 2_000 }), (e: unknown) => {
      assert.ok(e instanceof TcpConnectError);
      assert.equal(e.code, "TCP_CONNECT");
      assert.equal(e.port, 1);
      return true;
    });
  });
});

describe("casty status", () => {
  it("learns the system name from the contact when not told", LONG, async () => {
    await using node = await startNode("ledger");
    const out = collect();
    const err = collect();
    const contact = `127.0.0.1:${node.selfAddress.port}`;
    const code = await main(["status", "--contact", contact], { out: out.write, err: err.write });
    assert.equal(code, 0, err.lines.join("\n"));
    assert.equal(out.lines[0], `cluster "ledger" seen from ${contact}: 1 members, 1 up`);
  });

  it("fails fast with the contact's real name when told a wrong one", LONG, async () => {
    await using node = await startNode("ledger");
    const err = collect();
    const contact = `127.0.0.1:${node.selfAddress.port}`;
    const started = performance.now();
    const code = await main(["status", "--contact", contact, "--system", "billing"], {
      out: () => {},
      err: err.write,
    });
    assert.equal(code, 1);
    assert.deepEqual(err.lines, [
      `casty: ${contact} runs system "ledger", not "billing" (pass --system ledger)`,
    ]);
    assert.ok(performance.now() - started < 4_000, "a wrong name should not wait for --timeout");
  });

  it("reads TLS and the system name from --config", LONG, async () => {
    const dir = await mkdtemp(join(tmpdir(), "casty-cli-tls-"));
    try {
      const tls = {
        cert: join(FIXTURES, "node1_cert.pem"),
        key: join(FIXTURES, "node1_key.pem"),
        ca: join(FIXTURES, "ca_cert.pem"),
      };
      await using node = await startNode("secure", tls);
      const path = join(dir, "casty.toml");
      await writeFile(
        path,
        [
          "[system]",
          'name = "secure"',
          "[cluster.tls]",
          `certfile = ${JSON.stringify(join(FIXTURES, "node2_cert.pem"))}`,
          `keyfile = ${JSON.stringify(join(FIXTURES, "node2_key.pem"))}`,
          `cafile = ${JSON.stringify(tls.ca)}`,
          "",
        ].join("\n"),
      );
      const out = collect();
      const err = collect();
      const contact = `127.0.0.1:${node.selfAddress.port}`;
      const code = await main(["status", "--contact", contact, "--config", path], {
        out: out.write,
        err: err.write,
      });
      assert.equal(code, 0, err.lines.join("\n"));
      assert.equal(out.lines[0], `cluster "secure" seen from ${contact}: 1 members, 1 up`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("gives up after --timeout on a contact that accepts but never answers", LONG, async () => {
    const sockets: Socket[] = [];
    const server = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const port = (server.address() as { port: number }).port;
      const err = collect();
      const code = await main(
        ["status", "--contact", `127.0.0.1:${port}`, "--system", "mute", "--timeout", "300"],
        { out: () => {}, err: err.write },
      );
      assert.equal(code, 1);
      assert.deepEqual(err.lines, [
        `casty: no answer from 127.0.0.1:${port} (system "mute") within 300 ms`,
      ]);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
