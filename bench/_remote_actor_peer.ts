// Second process of bench/remote_actor_bench.ts.
//
// Usage: _remote_actor_peer.ts casty      a ClusteredActorSystem hosting /counter and /echo
//        _remote_actor_peer.ts raw-echo   raw ping-pong baseline: every [u32 length][JSON]
//                                         frame is decoded, JSON.parse'd, re-encoded and
//                                         written back on the runtime's native socket
//
// Prints {"event":"ready","port":…} once listening; exits when stdin closes. (The raw one-way
// baseline reuses bench/_remote_peer.ts in its "raw" mode.)

import { readRawFrames, writeRawFrame } from "./_raw_frames.ts";
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
  const listener = await defaultTcp().listen("127.0.0.1", 0, {
    onAccept(conn) {
      readRawFrames(conn, (body) => {
        const message = JSON.parse(decoder.decode(body));
        writeRawFrame(conn, message.n);
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
