// Second process of bench/remote_actor_bench.ts.
//
// Usage: _remote_actor_peer.ts casty      a ClusteredActorSystem hosting /counter and /echo
//        _remote_actor_peer.ts raw-echo   raw ping-pong baseline: every [u32 length][JSON]
//                                         frame is decoded, JSON.parse'd, re-encoded and
//                                         written back on the runtime's native socket
//
// Prints {"event":"ready","port":…} once listening; exits when stdin closes. (The raw one-way
// baseline reuses bench/_remote_peer.ts in its "raw" mode.)

import process from "node:process";
import { type ActorRef, Behaviors, ClusteredActorSystem } from "../mod.ts";
import { defaultTcp } from "../src/runtime/select.ts";

export type CounterMsg =
  | { readonly type: "deposit"; readonly seq: number; readonly amount: number }
  | { readonly type: "count"; readonly replyTo: ActorRef<number> };

export type EchoMsg = {
  readonly type: "echo";
  readonly n: number;
  readonly replyTo: ActorRef<number>;
};

const mode = process.argv[process.argv.length - 1];
let stop: () => Promise<void>;

if (mode === "casty") {
  const system = await ClusteredActorSystem.start({
    name: "bench",
    host: "127.0.0.1",
    port: 0,
    logLevel: "error",
  });
  let count = 0;
  let sum = 0;
  system.spawn(
    Behaviors.receive<CounterMsg>((_ctx, msg) => {
      if (msg.type === "deposit") {
        count++;
        sum += msg.amount;
      } else {
        msg.replyTo.tell(count);
      }
    }),
    "counter",
  );
  system.spawn(Behaviors.receive<EchoMsg>((_ctx, msg) => msg.replyTo.tell(msg.n)), "echo");
  console.log(JSON.stringify({ event: "ready", port: system.selfAddress.port }));
  stop = async () => {
    await system.shutdown();
    if (sum < 0) console.log(sum);
  };
} else if (mode === "raw-echo") {
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  const listener = await defaultTcp().listen("127.0.0.1", 0, {
    onAccept(conn) {
      let rest: Uint8Array | undefined;
      conn.onData((chunk) => {
        let buf = chunk;
        if (rest !== undefined) {
          buf = new Uint8Array(rest.length + chunk.length);
          buf.set(rest);
          buf.set(chunk, rest.length);
          rest = undefined;
        }
        let o = 0;
        while (buf.length - o >= 4) {
          const len = ((buf[o] << 24) | (buf[o + 1] << 16) | (buf[o + 2] << 8) | buf[o + 3]) >>> 0;
          if (buf.length - o - 4 < len) break;
          const message = JSON.parse(decoder.decode(buf.subarray(o + 4, o + 4 + len)));
          const body = encoder.encode(JSON.stringify(message.n));
          const out = new Uint8Array(4 + body.length);
          out[3] = body.length; // replies are tiny
          out.set(body, 4);
          conn.write(out);
          o += 4 + len;
        }
        if (o < buf.length) rest = buf.slice(o);
      });
    },
  });
  console.log(JSON.stringify({ event: "ready", port: listener.port }));
  stop = () => listener.close();
} else {
  throw new Error(`unknown mode ${mode}`);
}

process.stdin.on("data", () => {});
process.stdin.on("end", async () => {
  await stop();
  process.exit(0);
});
