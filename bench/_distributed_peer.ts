// One node of bench/distributed_cluster_bench.ts, in its own process (deno run -A / bun).
// Usage: _distributed_peer.ts [--seed host:port] [--journal path]
// Prints {"event":"ready","port":P}, then {"event":"up","n":N} when the member count changes.
// Reads JSON commands on stdin: {"op":"inc"|"plain","name":…,"times":N,"inFlight":K,"tag":…}
// and answers {"event":"done","tag":…,"ms":…,"errors":…}: "inc" increments a distributed
// counter N times, "plain" asks a sharded counter entity of the same shape (the baseline: with
// --journal an event-sourced one in the same journal, synchronous=normal) N times.
import process from "node:process";
import { createInterface } from "node:readline";
import {
  type ActorRef,
  type Behavior,
  Behaviors,
  ClusteredActorSystem,
  SqliteJournal,
} from "../mod.ts";

const args = process.argv.slice(2);
const seeds: string[] = [];
let journalPath: string | undefined;
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--seed") seeds.push(args[++i]);
  else if (args[i] === "--journal") journalPath = args[++i];
}
const print = (o: Record<string, unknown>) => process.stdout.write(JSON.stringify(o) + "\n");

type Msg = { n: number; replyTo: ActorRef<number> };
const plainCounter = (_id: string): Behavior<Msg> => {
  let v = 0;
  return Behaviors.receive((_ctx, m) => {
    v += m.n;
    m.replyTo.tell(v);
    return Behaviors.same();
  });
};

const node = await ClusteredActorSystem.start({
  name: "dbench",
  host: "127.0.0.1",
  port: 0,
  seedNodes: seeds,
  logLevel: "error",
});
const journal = journalPath === undefined
  ? undefined
  : new SqliteJournal({ path: journalPath, synchronous: "normal" });
const d = node.distributed({ journal });
// The baseline has the same shape: with a journal, an event-sourced counter in the same journal.
const durableCounter = (entityId: string) =>
  Behaviors.eventSourced<Msg, number, number>({
    entityId: `plain:${entityId}`,
    journal: journal!,
    initialState: 0,
    onEvent: (v, n) => v + n,
    onCommand: (_ctx, _v, m) =>
      Behaviors.persisted([m.n], { reply: (v: number) => m.replyTo.tell(v) }),
  });
const plain = node.spawn(
  Behaviors.sharded(journal ? durableCounter : plainCounter, { numShards: 100 }),
  "plain",
);
let members = 0;
setInterval(() => {
  const up = node.members.filter((m) => m.status === "up").length;
  if (up !== members) print({ event: "up", n: up });
  members = up;
}, 50);
print({ event: "ready", port: node.selfAddress.port });

createInterface({ input: process.stdin }).on("line", async (line) => {
  const cmd = JSON.parse(line);
  if (cmd.op === "exit") {
    await node.shutdown();
    process.exit(0);
  }
  const op = cmd.op === "inc"
    ? (() => {
      const c = d.counter(cmd.name);
      return () => c.increment(1);
    })()
    : () =>
      node.entityAsk<Msg, number>(plain, cmd.name, (replyTo) => ({ n: 1, replyTo }), {
        timeout: 10_000,
      });
  let next = 0;
  let errors = 0;
  const start = performance.now();
  const lane = async () => {
    while (next < cmd.times) {
      next++;
      await op().catch(() => errors++);
    }
  };
  await Promise.all(Array.from({ length: cmd.inFlight }, lane));
  print({ event: "done", tag: cmd.tag, ms: performance.now() - start, errors });
});
setTimeout(() => process.exit(3), 600_000).unref?.();
