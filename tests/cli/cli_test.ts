import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { main } from "../../src/cli/main.ts";
import { runScript } from "../_helpers/process.ts";

const cli = new URL("../../src/cli/main.ts", import.meta.url).pathname;
const LONG = { timeout: 60_000 };

describe("casty CLI", () => {
  it("runs a node and reports its status from another process", LONG, async () => {
    const node = runScript(cli, [
      "node",
      "--name",
      "cli-test",
      "--host",
      "127.0.0.1",
      "--port",
      "0",
    ]);
    try {
      const up = await node.waitForLine((l) => l.includes(" up at "), 20_000);
      const port = Number(/127\.0\.0\.1:(\d+)/.exec(up)![1]);
      assert.match(up, /^casty node "cli-test" up at 127\.0\.0\.1:\d+$/);
      const status = runScript(cli, [
        "status",
        "--contact",
        `127.0.0.1:${port}`,
        "--name",
        "cli-test",
      ]);
      assert.equal(await status.exited, 0, status.stderr());
      assert.equal(
        status.lines[0],
        `cluster "cli-test" seen from 127.0.0.1:${port}: 1 members, 1 up`,
      );
      assert.equal(status.lines[1], `leader: 127.0.0.1:${port}`);
      assert.equal(status.lines[2], "members:");
      assert.match(status.lines[3], /^ {2}address +status +reachable +roles +up since$/);
      assert.match(status.lines[4], new RegExp(`^  127\\.0\\.0\\.1:${port}  up +yes +- +\\d{4}-`));
      assert.equal(status.lines[5], "unreachable: none");
      assert.equal(status.lines[6], "shard allocations: none");
      await node.kill("SIGTERM");
      assert.ok(node.lines.includes("stopped") || node.lines.includes("leaving the cluster"));
    } finally {
      await node.kill("SIGKILL");
    }
  });

  it("reports an unreachable contact, and bad usage, with clear errors", LONG, async () => {
    const errors: string[] = [];
    const err = (l: string) => errors.push(l);
    assert.equal(await main(["status"], { err }), 2);
    assert.match(errors[0], /status needs "--contact HOST:PORT"/);
    errors.length = 0;
    assert.equal(await main(["status", "--contact", "nowhere"], { err }), 2);
    assert.match(errors[0], /Invalid address "nowhere"/);
    errors.length = 0;
    assert.equal(await main(["node", "--bogus", "1"], { err }), 2);
    assert.match(errors[0], /unknown option "--bogus"/);
    errors.length = 0;
    assert.equal(await main(["frobnicate"], { err }), 2);
    assert.match(errors[0], /unknown command "frobnicate"/);
    errors.length = 0;
    assert.equal(
      await main(["status", "--contact", "127.0.0.1:1", "--timeout", "300"], { err }),
      1,
    );
    assert.match(errors[0], /^casty: Cannot connect to 127\.0\.0\.1:1: /);
    const out: string[] = [];
    assert.equal(await main(["help"], { out: (l) => out.push(l) }), 0);
    assert.match(out[0], /casty node/);
  });

  it("runs a node in-process until told to stop", LONG, async () => {
    const out: string[] = [];
    const stop = Promise.withResolvers<void>();
    const running = main(["node", "--name", "inproc", "--host", "127.0.0.1", "--port", "0"], {
      out: (l) => {
        out.push(l);
        if (l.includes(" up at ")) stop.resolve();
      },
      stopSignal: stop.promise,
    });
    assert.equal(await running, 0);
    assert.match(out[0], /^casty node "inproc" up at 127\.0\.0\.1:\d+$/);
    assert.deepEqual(out.slice(1), ["leaving the cluster", "stopped"]);
  });
});
