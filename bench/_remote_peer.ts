// Receiving side of bench/remote_bench.ts, run as a second process.
// Usage: _remote_peer.ts <raw|transport|transport-json> <mark,mark,...>
// Prints {"event":"ready","port":…} and then {"event":"mark","count":…,"cpu":µs} as each mark is
// reached (cpu: the process's CPU time so far, user + system). Exits when stdin closes.

import { readRawFrames } from "./_raw_frames.ts";
import process from "node:process";
import { defaultTcp } from "../src/runtime/select.ts";
import { TcpTransport } from "../src/remote/tcp_transport.ts";

const mode = process.argv[process.argv.length - 2];
const marks = process.argv[process.argv.length - 1].split(",").map(Number);
let count = 0;
let nextMark = 0;
const decoder = new TextDecoder();
let sink = 0;

function counted(): void {
  count++;
  if (count === marks[nextMark]) {
    nextMark++;
    const cpu = process.cpuUsage();
    console.log(JSON.stringify({ event: "mark", count, cpu: cpu.user + cpu.system }));
  }
}

let stop: () => Promise<void>;

if (mode === "raw") {
  // Baseline: [u32 BE length][UTF-8 JSON] frames, every one decoded and parsed.
  const listener = await defaultTcp().listen("127.0.0.1", 0, {
    onAccept(conn) {
      readRawFrames(conn, (body) => {
        sink += JSON.parse(decoder.decode(body)).seq;
        counted();
      });
    },
  });
  console.log(JSON.stringify({ event: "ready", port: listener.port }));
  stop = () => listener.close();
} else {
  const parse = mode === "transport-json";
  const transport = await TcpTransport.start({
    systemName: "bench",
    host: "127.0.0.1",
    port: 0,
    onInbound(_from, envelope) {
      if (parse) sink += JSON.parse(decoder.decode(envelope.payload)).seq;
      counted();
    },
  });
  console.log(JSON.stringify({ event: "ready", port: transport.selfAddress.port }));
  stop = () => transport.shutdown();
}

process.stdin.on("data", () => {});
process.stdin.on("end", async () => {
  await stop();
  if (sink < 0) console.log(sink);
  process.exit(0);
});
