// A cluster node in its own process for the distributed process tests (deno run -A / bun).
// Usage: _distributed_node.ts <port> [--seed host:port]... [--journal path] [--stable-after ms]
// Reads JSON commands on stdin, one per line, and answers on stdout with the same tag:
//   {"op":"inc","name":"c","n":2,"times":100,"tag":"t1"} → {"event":"done","tag":"t1","errors":0}
//   {"op":"get","name":"c","tag":"t2"}                   → {"event":"value","tag":"t2","value":600}
//   {"op":"acquire","name":"l","lease":2000,"timeout":30000,"tag":"t3"}
//                                                 → {"event":"acquired","tag":"t3","token":7}
//   {"op":"leader","tag":"t5"} → {"event":"leader","tag":"t5","port":P}
//   {"op":"release","tag":"t4"} → {"event":"released","tag":"t4","released":true} (last lock)
// or {"event":"error","tag":…,"message":…}; prints {"event":"ready","port":P} and
// {"event":"view","up":[ports]} after each change. Lives at most 90 s.
import process from "node:process";
import { createInterface } from "node:readline";
import { ClusteredActorSystem, SqliteJournal } from "../../mod.ts";

const args = process.argv.slice(2);
const port = Number(args[0] ?? 0);
const seeds: string[] = [];
let journalPath: string | undefined;
let stableAfter: number | undefined;
for (let i = 1; i < args.length; i++) {
  if (args[i] === "--seed") seeds.push(args[++i]);
  else if (args[i] === "--journal") journalPath = args[++i];
  else if (args[i] === "--stable-after") stableAfter = Number(args[++i]);
}
const print = (o: Record<string, unknown>) => process.stdout.write(JSON.stringify(o) + "\n");

const node = await ClusteredActorSystem.start({
  name: "dist",
  host: "127.0.0.1",
  port,
  seedNodes: seeds,
  downing: stableAfter === undefined ? undefined : { stableAfter },
  logLevel: "error",
});
const journal = journalPath === undefined ? undefined : new SqliteJournal({ path: journalPath });
const d = node.distributed({ journal });

let lastView = "";
setInterval(() => {
  const up = node.members.filter((m) => m.status === "up").map((m) => m.address.port).sort();
  if (JSON.stringify(up) !== lastView) print({ event: "view", up });
  lastView = JSON.stringify(up);
}, 100);
print({ event: "ready", port: node.selfAddress.port });

const locks: ReturnType<typeof d.lock>[] = [];
const rl = createInterface({ input: process.stdin });
rl.on("line", async (line) => {
  const cmd = JSON.parse(line);
  try {
    if (cmd.op === "inc") {
      const c = d.counter(cmd.name);
      let errors = 0;
      // Ten increments in flight at a time.
      let next = 0;
      const lane = async () => {
        while (next < cmd.times) {
          next++;
          await c.increment(cmd.n).catch(() => errors++);
        }
      };
      await Promise.all(Array.from({ length: 10 }, lane));
      print({ event: "done", tag: cmd.tag, errors });
    } else if (cmd.op === "get") {
      print({ event: "value", tag: cmd.tag, value: await d.counter(cmd.name).get() });
    } else if (cmd.op === "leader") {
      print({ event: "leader", tag: cmd.tag, port: node.leader?.port });
    } else if (cmd.op === "release") {
      print({ event: "released", tag: cmd.tag, released: await locks.pop()?.release() });
    } else if (cmd.op === "acquire") {
      const lock = d.lock(cmd.name, { lease: cmd.lease });
      locks.push(lock);
      const token = await lock.acquire({ timeout: cmd.timeout });
      print({ event: "acquired", tag: cmd.tag, token });
    }
  } catch (err) {
    print({ event: "error", tag: cmd.tag, message: String(err) });
  }
});
setTimeout(() => process.exit(3), 90_000).unref?.();
