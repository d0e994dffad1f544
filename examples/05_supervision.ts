/**
 * Supervision: "let it crash". The worker throws; its `OneForOneStrategy` restarts it with its
 * initial behavior (state is reset), and stops it once it fails more than `maxRestarts` times
 * within the `within` window. The decider picks a directive per error.
 *
 * Run: `deno run -A examples/05_supervision.ts` or `bun examples/05_supervision.ts`
 *
 * @module
 */
import {
  type ActorRef,
  ActorRestarted,
  ActorStopped,
  ActorSystem,
  type Behavior,
  Behaviors,
  type Logger,
  OneForOneStrategy,
} from "../mod.ts";

type WorkerMsg =
  | { readonly type: "process"; readonly text: string; readonly replyTo: ActorRef<string> }
  | { readonly type: "crash"; readonly reason: string };

class FatalError extends Error {
  override name = "FatalError";
}

function unreliableWorker(processed = 0): Behavior<WorkerMsg> {
  return Behaviors.receive((_ctx, msg) => {
    switch (msg.type) {
      case "crash":
        if (msg.reason === "fatal") throw new FatalError("disk on fire");
        throw new Error("something went wrong");
      case "process":
        msg.replyTo.tell(`Processed: ${msg.text} (${processed + 1} since last start)`);
        return unreliableWorker(processed + 1);
    }
  });
}

// The framework logs restarts as warnings; print them without the stack so output is stable.
const logger: Logger = {
  debug() {},
  info() {},
  warn: (message) => console.log(`[warn] ${message}`),
  error: (message) => console.log(`[error] ${message}`),
};

const strategy = new OneForOneStrategy({
  maxRestarts: 3,
  within: 60_000,
  decider: (err) => (err instanceof FatalError ? "stop" : "restart"),
});

await using system = new ActorSystem({ name: "supervision", logger });
system.eventStream.subscribe(ActorRestarted, (e) => {
  console.log(`Restarted ${e.ref.path} after: ${(e.error as Error).message}`);
});

const ref = system.spawn(Behaviors.supervise(unreliableWorker(), strategy), "worker");
const work = (text: string) =>
  system.ask(ref, (replyTo) => ({ type: "process", text, replyTo }), { timeout: 1000 });

console.log(await work("first"));
console.log(await work("second"));
// Processed: first (1 since last start)
// Processed: second (2 since last start)

ref.tell({ type: "crash", reason: "transient" }); // fails, the supervisor restarts it
console.log(await work("hello")); // succeeds: the actor recovered, with fresh state
// [warn] /worker: restarting after failure
// Restarted /worker after: something went wrong
// Processed: hello (1 since last start)

// A fatal error: the decider says "stop".
const { promise: stopped, resolve } = Promise.withResolvers<string>();
system.eventStream.subscribe(ActorStopped, (e) => resolve(e.ref.path));
ref.tell({ type: "crash", reason: "fatal" });
console.log(`Stopped: ${await stopped}`);
// [error] /worker: failed; stopping
// Stopped: /worker

// Restart budget: a fresh worker may restart 3 times within the minute; the 4th failure stops it.
const flaky = system.spawn(Behaviors.supervise(unreliableWorker(), strategy), "flaky");
const flakyStopped = new Promise<void>((done) => {
  system.eventStream.subscribe(ActorStopped, (e) => e.ref === flaky && done());
});
for (let i = 0; i < 4; i++) flaky.tell({ type: "crash", reason: "transient" });
await flakyStopped;
console.log(`Stopped: ${flaky.path} after 3 restarts`);
// ([warn] and Restarted lines three times, then:)
// [error] /flaky: failed; stopping
// Stopped: /flaky after 3 restarts
