// A node for bench/client_bench.ts in its own process. Usage: _client_bench_node.ts [--seed h:p]
// Spawns Behaviors.sharded(counter, { numShards: 30 }) as "bench" (an entity counts "inc"s and
// answers "get" with the count), prints {"event":"ready","port":P} and {"event":"view","up":N},
// and runs latency commands from stdin, answering with the same tag:
//   {"op":"lat","id":"e1","n":2000,"tag":"t"} → {"event":"lat","tag":"t","p50":µs,"p99":µs}
// (sequential entityAsks from this node to entity `id`, wherever its shard lives), and
//   {"op":"tells","ids":[…],"n":100000,"tag":"t"} → {"event":"sent","tag":"t","ms":…}
// (n tells through this node's region, round robin over `ids`), and
//   {"op":"dead","tag":"t"} → {"event":"dead","tag":"t","dead":{reason:count},"restarts":N}
// (the dead letters this node published and how many entities started again), and
//   {"op":"total","tag":"t"} → {"event":"total","tag":"t","n":N,"cpu":µs,"restarts":N} ("inc"s
//   counted here, the process's CPU time so far, user + system, and the entity restarts), and
//   {"op":"arm","at":N,"tag":"t"} → {"event":"reached","tag":"t","at":ms,"cpu":µs} once this node
//   has counted N "inc"s in all (`at`: performance.timeOrigin + performance.now() when the Nth
//   arrived, so the bench times the end of a run without polling the nodes it measures).
// Closing stdin ends the process with exit code 0 (so a --cpu-prof profile gets written).
import process from "node:process";
import { createInterface } from "node:readline";
import {
  type ActorRef,
  type Behavior,
  Behaviors,
  ClusteredActorSystem,
  DeadLetter,
  ShardEnvelope,
} from "../mod.ts";

type Msg = { type: "inc" } | { type: "get"; replyTo: ActorRef<number> };
// Counts live in the process, not in the entity: an entity restarted (its shard stopped after a
// lost lease on an overloaded machine, or moved) would otherwise start again at 0 and make
// delivered messages look lost. `starts` counts entity starts beyond the first per id.
const counts = new Map<string, number>();
let restarts = 0;
/** Every "inc" counted here, and the armed mark (see "arm"). */
let total = 0;
let mark = -1;
let markTag = "";
function reached(): void {
  mark = -1;
  const cpu = process.cpuUsage();
  print({
    event: "reached",
    tag: markTag,
    at: performance.timeOrigin + performance.now(),
    cpu: cpu.user + cpu.system,
  });
}
const print = (o: Record<string, unknown>) => process.stdout.write(JSON.stringify(o) + "\n");
const counter = (id: string): Behavior<Msg> => {
  if (counts.has(id)) restarts++;
  else counts.set(id, 0);
  return Behaviors.receive((_c, m) => {
    if (m.type === "inc") {
      counts.set(id, counts.get(id)! + 1);
      if (++total === mark) reached();
    } else m.replyTo.tell(counts.get(id)!);
    return Behaviors.same();
  });
};
const args = process.argv.slice(2);
const seeds = args[0] === "--seed" ? [args[1]] : [];
const node = await ClusteredActorSystem.start({
  name: "cbench",
  host: "127.0.0.1",
  port: 0,
  seedNodes: seeds,
  logLevel: "error",
});
const dead = new Map<string, number>();
node.eventStream.subscribe(DeadLetter, (d) => {
  const k = `${d.reason}:${d.detail ?? ""}`.slice(0, 120);
  dead.set(k, (dead.get(k) ?? 0) + 1);
});
const region = node.spawn(Behaviors.sharded(counter, { numShards: 30 }), "bench");
print({ event: "ready", port: node.selfAddress.port });
let last = -1;
setInterval(() => {
  const up = node.members.filter((m) => m.status === "up").length;
  if (up !== last) print({ event: "view", up });
  last = up;
}, 50);
createInterface({ input: process.stdin }).on("line", async (line) => {
  const cmd = JSON.parse(line) as {
    op: string;
    id: string;
    ids: string[];
    n: number;
    at: number;
    tag: string;
  };
  if (cmd.op === "tells") {
    const t0 = performance.now();
    for (let i = 0; i < cmd.n; i++) {
      region.tell(new ShardEnvelope(cmd.ids[i % cmd.ids.length], { type: "inc" }));
      if (i % 5000 === 4999) await new Promise((r) => setTimeout(r, 0));
    }
    print({ event: "sent", tag: cmd.tag, ms: Math.round(performance.now() - t0) });
    return;
  }
  if (cmd.op === "arm") {
    markTag = cmd.tag;
    mark = cmd.at;
    if (total >= mark) reached();
    return;
  }
  if (cmd.op === "total") {
    let n = 0;
    for (const c of counts.values()) n += c;
    const cpu = process.cpuUsage();
    print({ event: "total", tag: cmd.tag, n, cpu: cpu.user + cpu.system, restarts });
    return;
  }
  if (cmd.op === "dead") {
    print({ event: "dead", tag: cmd.tag, dead: Object.fromEntries(dead), restarts });
    return;
  }
  if (cmd.op !== "lat") return;
  const times: number[] = [];
  for (let i = 0; i < cmd.n; i++) {
    const t = performance.now();
    await node.entityAsk<Msg, number>(region, cmd.id, (replyTo) => ({ type: "get", replyTo }));
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const p = (q: number) => Math.round(times[Math.floor(q * (times.length - 1))] * 1000);
  print({ event: "lat", tag: cmd.tag, p50: p(0.5), p99: p(0.99) });
}).on("close", () => process.exit(0));
setTimeout(() => process.exit(3), 600_000).unref?.();
