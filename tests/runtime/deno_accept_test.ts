// The Deno listener keeps accepting after accept errors: a real Deno child process with
// `ulimit -n 64` runs out of file descriptors (EMFILE), then serves a new client once some
// are free again.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { nodeTcp } from "../../src/runtime/node/tcp.ts";
import type { TcpConnection } from "../../src/runtime/tcp.ts";
import { waitUntil } from "../_helpers/child_process.ts";

const deno = fileURLToPath(new URL("../../node_modules/.bin/deno", import.meta.url));
const child = fileURLToPath(new URL("./_emfile_child.ts", import.meta.url));

describe("Deno TCP listener", () => {
  it("accepts again after running out of file descriptors", { timeout: 60_000 }, async () => {
    const proc = spawn("sh", ["-c", `ulimit -n 64; exec "${deno}" run -A "${child}"`], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const events: Record<string, unknown>[] = [];
    let out = "";
    proc.stdout!.on("data", (data: Uint8Array) => {
      out += new TextDecoder().decode(data);
      let nl: number;
      while ((nl = out.indexOf("\n")) >= 0) {
        const line = out.slice(0, nl).trim();
        out = out.slice(nl + 1);
        if (line.startsWith("{")) events.push(JSON.parse(line));
      }
    });
    let stderr = "";
    proc.stderr!.on("data", (data: Uint8Array) => stderr += new TextDecoder().decode(data));
    const exited = new Promise<void>((resolve) => proc.on("exit", () => resolve()));
    const conns: TcpConnection[] = [];
    try {
      await waitUntil(
        () => events.some((e) => e.event === "ready"),
        20_000,
        () => `ready ${stderr}`,
      );
      const port = events.find((e) => e.event === "ready")!.port as number;
      // Open connections until the child's accept fails for lack of descriptors.
      for (let i = 0; i < 100 && !events.some((e) => e.event === "accept-error"); i++) {
        conns.push(await nodeTcp.connect("127.0.0.1", port));
        if (i > 40) await new Promise((resolve) => setTimeout(resolve, 5));
      }
      await waitUntil(
        () => events.some((e) => e.event === "accept-error"),
        10_000,
        "an accept error in the child",
      );
      assert.match(String(events.find((e) => e.event === "accept-error")!.message), /retrying/);
      for (const conn of conns.splice(0)) conn.destroy();
      // A new client is served once descriptors are free again.
      const conn = await nodeTcp.connect("127.0.0.1", port);
      conns.push(conn);
      const echoed: Uint8Array[] = [];
      conn.onData((chunk) => echoed.push(chunk));
      conn.write(new Uint8Array([1, 2, 3]));
      await waitUntil(
        () => echoed.reduce((n, c) => n + c.length, 0) === 3,
        15_000,
        () => `echo; child events ${JSON.stringify(events.slice(-3))} (${events.length}) ${stderr}`,
      );
      assert.deepEqual([...echoed.flatMap((c) => [...c])], [1, 2, 3]);
    } finally {
      for (const conn of conns) conn.destroy();
      proc.kill("SIGKILL");
      await exited;
    }
  });
});
