// A cluster node in its own process, for multi-process cluster tests (deno run -A / bun).
// Usage: cluster_node.ts <system> <advertised port> [--bind-port N] [--seed host:port]...
//                        [--stable-after ms] [--roles a,b]
// Prints one JSON line per event: {"event":"ready","port":P}, then MemberUp / MemberLeft /
// MemberRemoved / MemberDowned / UnreachableMember / ReachableMember (with "port") and
// LeaderChanged (with "leader"), and {"event":"view","up":[ports],"leader":P} after each change.
// SIGTERM → graceful leave, then exit 0. When the cluster tells it to shut down (minority side
// of a partition, or downed) it prints {"event":"ShutdownSelf","reason":…} and exits 0.
// Lives at most 120 s. CASTY_TEST_CLOCK_OFFSET_MS shifts its wall clock (Date.now), e.g.
// -86400000 for a node restarted with its clock a day behind.
import process from "node:process";
import {
  Behaviors,
  ClusteredActorSystem,
  LeaderChanged,
  MemberDowned,
  MemberLeft,
  MemberRemoved,
  MemberUp,
  ReachableMember,
  ShutdownSelf,
  UnreachableMember,
} from "../../mod.ts";

const clockOffset = Number(process.env.CASTY_TEST_CLOCK_OFFSET_MS ?? 0);
if (clockOffset !== 0) {
  const realNow = Date.now;
  Date.now = () => realNow() + clockOffset;
}

const args = process.argv.slice(2);
const [name = "cluster", portArg = "0"] = args;
const seeds: string[] = [];
let bindPort: number | undefined;
let stableAfter: number | undefined;
let roles: string[] = [];
let barrier: [string, number] | undefined;
for (let i = 2; i < args.length; i++) {
  if (args[i] === "--seed") seeds.push(args[++i]);
  else if (args[i] === "--bind-port") bindPort = Number(args[++i]);
  else if (args[i] === "--stable-after") stableAfter = Number(args[++i]);
  else if (args[i] === "--roles") roles = args[++i].split(",");
  else if (args[i] === "--barrier") {
    const [b, n] = args[++i].split(":");
    barrier = [b, Number(n)];
  }
}

const print = (o: Record<string, unknown>) => process.stdout.write(JSON.stringify(o) + "\n");

const node = await ClusteredActorSystem.start({
  name,
  host: "127.0.0.1",
  port: Number(portArg),
  bindPort,
  seedNodes: seeds,
  roles,
  downing: stableAfter === undefined ? undefined : { stableAfter },
  logLevel: "error",
});
node.spawn(
  Behaviors.receive<{ text: string; replyTo: { tell(s: string): void } }>((_c, m) =>
    m.replyTo.tell(m.text)
  ),
  "echo",
);

const view = () => {
  const up = node.members.filter((m) => m.status === "up").map((m) => m.address.port).sort((a, b) =>
    a - b
  );
  print({ event: "view", up, leader: node.leader?.port ?? null });
};
for (
  const cls of [
    MemberUp,
    MemberLeft,
    MemberRemoved,
    MemberDowned,
    UnreachableMember,
    ReachableMember,
  ]
) {
  node.eventStream.subscribe(cls, (e: { type: string; member: { address: { port: number } } }) => {
    print({ event: e.type, port: e.member.address.port });
    view();
  });
}
node.eventStream.subscribe(LeaderChanged, (e) => {
  print({ event: "LeaderChanged", leader: e.leader?.port ?? null });
  view();
});
let leaving = false;
node.eventStream.subscribe(ShutdownSelf, (e) => {
  print({ event: "ShutdownSelf", reason: e.reason });
  // A graceful leave ends in ShutdownSelf too: then the leave prints "left" and exits, however
  // long a loaded machine takes to get there.
  if (!leaving) setTimeout(() => process.exit(0), 200);
});

print({ event: "ready", port: node.selfAddress.port, id: node.memberId, now: Date.now() });
view();
if (barrier) {
  const [barrierName, n] = barrier;
  // A round does not survive a leadership move (e.g. a lower address coming up): arrive again.
  const arrive = (): void => {
    node.barrier(barrierName, n, { timeout: 60_000 }).then(
      () => print({ event: "barrier", ok: true }),
      (err) =>
        /leadership moved/.test(String(err?.message))
          ? arrive()
          : print({ event: "barrier", ok: false, error: `${err.name}: ${err.message}` }),
    );
  };
  arrive();
}
const lifetime = setTimeout(() => node.shutdown().then(() => process.exit(0)), 120_000);
process.on("SIGTERM", () => {
  clearTimeout(lifetime);
  leaving = true;
  node.leave().then(() => {
    print({ event: "left" });
    process.exit(0);
  });
});
