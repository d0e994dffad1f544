// Child of slow_consumer_process_test.ts: a cluster node whose "sink" actor waits 10 ms per message
// (asynchronously, so the event loop stays free for heartbeats).
// Usage: _slow_consumer_node.ts <system> <secret>
// Prints {"event":"ready","port"}, {"event":"UnreachableMember"} / {"event":"deadLetter"} as
// they happen, and {"event":"stats","received","maxHeap","maxStall"} every 500 ms.
import process from "node:process";
import { Behaviors, ClusteredActorSystem, DeadLetter, UnreachableMember } from "../../mod.ts";
import { stallMonitor } from "../_helpers/stall.ts";

const [name = "slow", secret = "", backlog] = process.argv.slice(2);
const print = (o: Record<string, unknown>) => process.stdout.write(JSON.stringify(o) + "\n");

const node = await ClusteredActorSystem.start({
  name,
  host: "127.0.0.1",
  port: 0,
  secret,
  logLevel: "error",
  transport: backlog === undefined ? undefined : { maxInboundBacklog: Number(backlog) },
});
let received = 0;
let maxHeap = 0;
node.spawn(
  Behaviors.receive<{ seq: number; body: string }>(async () => {
    received++;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }),
  "sink",
);
node.eventStream.subscribe(UnreachableMember, (e) => {
  print({ event: "UnreachableMember", port: e.member.address.port });
});
node.eventStream.subscribe(DeadLetter, (e) => {
  const to = typeof e.recipient === "string" ? e.recipient : e.recipient.address;
  print({ event: "deadLetter", to, reason: e.reason });
});
// The longest event-loop stall: a loaded machine can starve this process for longer than the
// failure detector tolerates, which the test must tell apart.
const stall = stallMonitor();
const stats = setInterval(() => {
  maxHeap = Math.max(maxHeap, process.memoryUsage().heapUsed);
  print({ event: "stats", received, maxHeap, maxStall: Math.round(stall.max()) });
}, 500);
print({ event: "ready", port: node.selfAddress.port });
process.stdin.on("data", () => {});
process.stdin.on("end", () => {
  clearInterval(stats);
  stall.stop();
  void node.shutdown().then(() => process.exit(0));
});
setTimeout(() => process.exit(1), 120_000);
