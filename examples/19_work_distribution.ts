/**
 * Work distribution (seed "Casty as a Cluster Backend"): a task queue with no broker. Three nodes
 * over loopback TCP, in one process, spawn the same sharded type; each queue name is an entity,
 * so the tasks of one queue always run on one node, in the order they were sent, while
 * different queues spread over the cluster. Any node can submit.
 *
 * Run: `deno run -A examples/19_work_distribution.ts` or `bun examples/19_work_distribution.ts`
 *
 * @module
 */
import assert from "node:assert/strict";
import { type ActorRef, type Behavior, Behaviors, ClusteredActorSystem } from "../mod.ts";

type TaskMsg =
  | { type: "submit"; task: string; replyTo: ActorRef<TaskResult> }
  | { type: "done"; replyTo: ActorRef<string[]> };
interface TaskResult {
  readonly queue: string;
  readonly task: string;
  readonly node: string;
}

const nodes: ClusteredActorSystem[] = [];
const label = (port: number) => "ABC"[nodes.findIndex((n) => n.selfAddress.port === port)];

// One worker per queue name, made on the queue's first task, on the node that owns its shard.
const taskWorker = (node: ClusteredActorSystem) => (queue: string): Behavior<TaskMsg> => {
  const idle = (done: string[]): Behavior<TaskMsg> =>
    Behaviors.receive((_ctx, msg) => {
      if (msg.type === "done") {
        msg.replyTo.tell(done);
        return Behaviors.same();
      }
      msg.replyTo.tell({ queue, task: msg.task, node: label(node.selfAddress.port) });
      return idle([...done, msg.task]);
    });
  return idle([]);
};

const first = await ClusteredActorSystem.start({
  name: "task-queue",
  host: "127.0.0.1",
  port: 0,
  logLevel: "error",
});
nodes.push(first);
for (let i = 0; i < 2; i++) {
  nodes.push(
    await ClusteredActorSystem.start({
      name: "task-queue",
      host: "127.0.0.1",
      port: 0,
      seedNodes: [first.selfAddress],
      logLevel: "error",
    }),
  );
}
await Promise.all(nodes.map((n) => n.waitFor(3, { timeout: 20_000 })));
console.log("3 nodes up: A, B, C");

// Every node spawns the type under the same name; each gets its own region ref.
const tasks = nodes.map((n) =>
  n.spawn(Behaviors.sharded(taskWorker(n), { numShards: 256 }), "tasks")
);

// Submit from any node: 8 queues, 5 tasks each, sent round-robin from A, B and C.
const queues = Array.from({ length: 8 }, (_, i) => `queue:${i}`);
const results: Promise<TaskResult>[] = [];
for (let t = 0; t < 5; t++) {
  for (const [q, queue] of queues.entries()) {
    const from = (q + t) % 3;
    results.push(
      nodes[from].entityAsk<TaskMsg, TaskResult>(
        tasks[from],
        queue,
        (replyTo) => ({ type: "submit", task: `task-${t}`, replyTo }),
        { timeout: 10_000 },
      ),
    );
  }
}
const done = await Promise.all(results);

// The tasks of one queue all ran on one node.
const nodeOf = new Map<string, Set<string>>();
for (const r of done) nodeOf.set(r.queue, (nodeOf.get(r.queue) ?? new Set()).add(r.node));
for (const [queue, ran] of nodeOf) assert.equal(ran.size, 1, `${queue} ran on ${[...ran]}`);
const used = new Set(done.map((r) => r.node));
console.log(`40 tasks ran; each queue on one node; nodes used: ${[...used].sort().join(", ")}`);
assert.ok(used.size >= 2, "8 queues over 256 shards spread over more than one node");

// Ask each worker what it ran (sends from different nodes may interleave, so compare sets).
for (const queue of queues) {
  const ran = await nodes[0].entityAsk<TaskMsg, string[]>(
    tasks[0],
    queue,
    (replyTo) => ({ type: "done", replyTo }),
  );
  assert.deepEqual([...ran].sort(), ["task-0", "task-1", "task-2", "task-3", "task-4"]);
}
console.log("every queue ran task-0 … task-4 exactly once");

// A node leaves: its queues move to the others, and new tasks for them still run.
await nodes[2].leave();
await nodes[0].waitFor(2, { timeout: 20_000 });
const after = await Promise.all(
  queues.map((queue) =>
    nodes[0].entityAsk<TaskMsg, TaskResult>(
      tasks[0],
      queue,
      (replyTo) => ({ type: "submit", task: "task-5", replyTo }),
      { timeout: 20_000 },
    )
  ),
);
assert.ok(after.every((r) => r.node !== "C"), "nothing runs on the node that left");
console.log("C left; all 8 queues took task-5 on A or B");

await Promise.all(nodes.map((n) => n.shutdown()));
