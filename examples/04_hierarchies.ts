/**
 * Actor hierarchies: a manager spawns workers as its children in `Behaviors.setup()`, watches
 * them, and receives `Terminated` when one stops.
 *
 * Run: `deno run -A examples/04_hierarchies.ts` or `bun examples/04_hierarchies.ts`
 *
 * @module
 */
import { type ActorRef, ActorSystem, type Behavior, Behaviors, type Terminated } from "../mod.ts";

type WorkerMsg = {
  readonly type: "task";
  readonly description: string;
  readonly replyTo: ActorRef<string>;
};

type ManagerMsg =
  | { readonly type: "hire"; readonly name: string }
  | {
    readonly type: "assign";
    readonly worker: string;
    readonly task: string;
    readonly replyTo: ActorRef<string>;
  }
  | { readonly type: "fire"; readonly name: string; readonly replyTo: ActorRef<string> }
  | { readonly type: "staff"; readonly replyTo: ActorRef<string[]> }
  | Terminated;

function worker(name: string): Behavior<WorkerMsg> {
  return Behaviors.receive((_ctx, msg) => {
    console.log(`[${name}] working on: ${msg.description}`);
    msg.replyTo.tell(`${name} finished "${msg.description}"`);
  });
}

function manager(): Behavior<ManagerMsg> {
  return Behaviors.setup(() => {
    // Per-incarnation state created at setup; only this actor ever touches it.
    const workers = new Map<string, ActorRef<WorkerMsg>>();
    const firing = new Map<string, ActorRef<string>>();

    return Behaviors.receive((ctx, msg) => {
      switch (msg.type) {
        case "hire": {
          const ref = ctx.spawn(worker(msg.name), msg.name);
          ctx.watch(ref);
          workers.set(msg.name, ref);
          return;
        }
        case "assign": {
          const ref = workers.get(msg.worker);
          if (ref) ref.tell({ type: "task", description: msg.task, replyTo: msg.replyTo });
          else msg.replyTo.tell(`nobody named ${msg.worker}`);
          return;
        }
        case "fire": {
          const ref = workers.get(msg.name);
          if (!ref) {
            msg.replyTo.tell(`nobody named ${msg.name}`);
            return;
          }
          firing.set(ref.path, msg.replyTo);
          ctx.stop(ref);
          return;
        }
        case "staff":
          msg.replyTo.tell([...workers.keys()]);
          return;
        case "terminated": {
          // Death watch: delivered whether the worker stopped gracefully or failed.
          console.log(`Worker stopped: ${msg.ref.address}`);
          workers.delete(msg.ref.path.slice(msg.ref.path.lastIndexOf("/") + 1));
          firing.get(msg.ref.path)?.tell(`${msg.ref.path} is gone`);
          firing.delete(msg.ref.path);
          return;
        }
      }
    });
  });
}

await using system = new ActorSystem({ name: "hierarchies" });
const mgr = system.spawn(manager(), "manager");
mgr.tell({ type: "hire", name: "alice" });
mgr.tell({ type: "hire", name: "bob" });

console.log(
  await system.ask(mgr, (replyTo) => ({
    type: "assign",
    worker: "alice",
    task: "implement login",
    replyTo,
  })),
);
console.log(
  await system.ask(mgr, (replyTo) => ({
    type: "assign",
    worker: "bob",
    task: "write tests",
    replyTo,
  })),
);
// [alice] working on: implement login
// alice finished "implement login"
// [bob] working on: write tests
// bob finished "write tests"

console.log(`Child path: ${system.lookup("/manager/bob")?.path}`);
// Child path: /manager/bob

console.log(await system.ask(mgr, (replyTo) => ({ type: "fire", name: "bob", replyTo })));
// Worker stopped: casty://hierarchies/manager/bob
// /manager/bob is gone

const staff = await system.ask<ManagerMsg, string[]>(
  mgr,
  (replyTo) => ({ type: "staff", replyTo }),
);
console.log(`Staff: ${staff.join(", ")}`);
// Staff: alice
