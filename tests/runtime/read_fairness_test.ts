// A connection that always has data ready must not starve the rest of the process: timers
// (heartbeats, lease renewals, ask timeouts) and other sockets still run while it floods in.
// Deno's `conn.read` resolves without a trip through the event loop when data is waiting, so a
// plain read loop never yielded while a peer kept sending: a node receiving a client's burst
// stalled its timers for 350–860 ms. The sender is a real second process.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { supportedTcp, tcpFor } from "../../src/runtime/select.ts";
import { runScript } from "../_helpers/process.ts";

const sender = new URL("./_flood_sender.ts", import.meta.url).pathname;
const FLOOD_MS = 2000;

for (const name of supportedTcp()) {
  const tcp = tcpFor(name);
  describe(`${name} TCP adapter under a flood`, () => {
    it("keeps running timers while a peer sends as fast as it can", async () => {
      let bytes = 0;
      let work = 0;
      const listener = await tcp.listen("127.0.0.1", 0, {
        onAccept: (conn) =>
          conn.onData((chunk) => {
            bytes += chunk.length;
            // Work per chunk, as a decoder does: slower than the sender, so data is always
            // waiting when the next read comes.
            const until = performance.now() + 2;
            while (performance.now() < until) work += chunk[work % chunk.length];
          }),
      });
      let last = performance.now();
      let worstGap = 0;
      let ticksWhileFlooding = 0;
      const timer = setInterval(() => {
        const now = performance.now();
        if (bytes > 0) {
          worstGap = Math.max(worstGap, now - last);
          ticksWhileFlooding++;
        }
        last = now;
      }, 10);
      const proc = runScript(sender, [String(listener.port), String(FLOOD_MS)]);
      try {
        await proc.waitForLine((l) => l.includes('"done"'), 30_000);
      } finally {
        clearInterval(timer);
        await proc.kill("SIGKILL");
        await listener.close();
      }
      assert.ok(work > 0);
      assert.ok(bytes > 1024 * 1024, `the flood sent ${bytes} bytes`);
      assert.ok(
        worstGap < 250,
        `a 10 ms timer waited ${Math.round(worstGap)} ms while ${bytes} bytes came in ` +
          `(${ticksWhileFlooding} ticks in ${FLOOD_MS} ms)`,
      );
    });
  });
}
