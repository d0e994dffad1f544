// A node process for tests/testing/node_process_test.ts, built only on @casty/casty/testing's
// child side. Usage: _kit_node.ts <mode> [args]
//   cluster <port> <bindPort> [seed port]...  a cluster node (system "kit", stableAfter 1500,
//                                             quick failure detection); reports "view" with
//                                             the up ports on every change, "ShutdownSelf"
//   echo                                      reports ready, echoes nothing, stays up
//   crash                                     writes to stderr and exits 3 before ready
//   silent                                    never reports ready
//   stop                                      on a stop request reports "stopping", then exits
import process from "node:process";
import { ClusteredActorSystem, MemberRemoved, MemberUp, ShutdownSelf } from "../../mod.ts";
import { onStopRequest, report, reportReady } from "../../src/testing/mod.ts";

const [mode, ...args] = process.argv.slice(2);
// never outlive a test by much
setTimeout(() => process.exit(4), 60_000).unref?.();

if (mode === "crash") {
  console.error("boom: no configuration");
  process.exit(3);
} else if (mode === "silent") {
  console.log("plain output, not a report");
  setInterval(() => {}, 1000);
} else if (mode === "echo" || mode === "stop") {
  console.log("plain output, not a report");
  if (mode === "stop") {
    onStopRequest(async () => {
      report("stopping");
      await new Promise((r) => setTimeout(r, 50));
    });
  }
  reportReady({ mode, pid: process.pid });
  report("hello", { n: 1 });
  setInterval(() => {}, 1000);
} else if (mode === "cluster") {
  const [port, bindPort, ...seeds] = args;
  const node = await ClusteredActorSystem.start({
    name: "kit",
    host: "127.0.0.1",
    port: Number(port),
    bindPort: Number(bindPort),
    seedNodes: seeds.map((s) => `127.0.0.1:${s}`),
    logLevel: "error",
    heartbeat: { interval: 200, availabilityCheckInterval: 500 },
    failureDetector: { acceptableHeartbeatPause: 600 },
    downing: { stableAfter: 1500 },
  });
  const view = () =>
    report("view", {
      up: node.members.filter((m) => m.status === "up").map((m) => m.address.port)
        .sort((a, b) => a - b),
    });
  node.eventStream.subscribe(MemberUp, view);
  node.eventStream.subscribe(MemberRemoved, view);
  node.eventStream.subscribe(ShutdownSelf, (e) => {
    report("ShutdownSelf", { reason: e.reason });
    setTimeout(() => process.exit(0), 100);
  });
  onStopRequest(() => node.leave());
  reportReady({ port: node.selfAddress.port });
  view();
}
