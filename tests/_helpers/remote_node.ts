// A transport node in its own process, driven by tests/remote/*_test.ts.
// Usage: remote_node.ts <json options>
//   { "system": "s", "port": 0, "expect": 100000, "tls": { cert, key, ca } }
// Echoes every inbound envelope back to its sender node (recipient "/echo"), checks that
// payloads carry increasing u32 sequence numbers, and prints JSON lines:
//   {"event":"ready","port":…,"incarnation":…}
//   {"event":"done","count":…,"inOrder":…,"checksum":…}   once `expect` envelopes arrived
// It shuts down when its stdin closes.

import process from "node:process";
import { TcpTransport } from "../../src/remote/tcp_transport.ts";
import type { Logger } from "../../src/actor/logger.ts";

const options = JSON.parse(process.argv[process.argv.length - 1]);
const expect: number = options.expect ?? 0;
let count = 0;
let last = -1;
let inOrder = true;
let checksum = 0x811c9dc5;

const quiet: Logger = {
  debug() {},
  info() {},
  warn() {},
  error(message) {
    console.error(message);
  },
};

const transport = await TcpTransport.start({
  systemName: options.system ?? "test",
  host: "127.0.0.1",
  port: options.port ?? 0,
  tls: options.tls,
  logger: quiet,
  reconnectBackoff: { min: 20, max: 200 },
  onInbound(from, envelope) {
    const p = envelope.payload;
    const seq = ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0;
    if (seq !== last + 1) inOrder = false;
    last = seq;
    for (let i = 0; i < p.length; i++) checksum = Math.imul(checksum ^ p[i], 0x01000193) >>> 0;
    count++;
    transport.send(from, { recipient: "/echo", sender: "/node", payload: p });
    if (count === expect) {
      console.log(JSON.stringify({ event: "done", count, inOrder, checksum }));
    }
  },
});

console.log(
  JSON.stringify({
    event: "ready",
    port: transport.selfAddress.port,
    incarnation: transport.incarnation,
  }),
);

const safety = setTimeout(() => stop(), 120_000);
async function stop(): Promise<void> {
  clearTimeout(safety);
  await transport.shutdown();
  process.exit(0);
}
process.stdin.on("data", () => {});
process.stdin.on("end", () => void stop());
process.stdin.on("close", () => void stop());
