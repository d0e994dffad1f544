/**
 * Failure handling across nodes: watch a remote actor and you get `Terminated` when it stops,
 * when its node is downed or removed, or when the node restarts; an `ask` that gets no answer
 * rejects with `AskTimeoutError` (and its late reply, if any, becomes a `DeadLetter`). Here the operator downs a node by hand (`node.down(address)`,
 * what the failure detector and split-brain resolver do after a crash): the downed node learns
 * it and shuts itself down (`ShutdownSelf`).
 *
 * Run: `deno run -A examples/15_failure_handling.ts` or `bun examples/15_failure_handling.ts`
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  type ActorRef,
  AskTimeoutError,
  Behaviors,
  ClusteredActorSystem,
  type Logger,
  MemberDowned,
  ShutdownSelf,
  type Terminated,
} from "../mod.ts";

type AccountMsg = { readonly type: "balance"; readonly replyTo: ActorRef<number> };

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };
const options = { name: "failures", host: "127.0.0.1", port: 0, logger: quiet };

await using a = await ClusteredActorSystem.start(options);
await using b = await ClusteredActorSystem.start({
  ...options,
  seedNodes: [`127.0.0.1:${a.selfAddress.port}`],
});
await a.waitFor(2, { timeout: 30_000 });

b.spawn(
  Behaviors.receive<AccountMsg>((_ctx, msg) => msg.replyTo.tell(42)),
  "account",
);
const account = a.lookup<AccountMsg>(`casty://failures@127.0.0.1:${b.selfAddress.port}/account`)!;
console.log(`remote ask: ${await a.ask(account, (replyTo) => ({ type: "balance", replyTo }))}`);

// A local actor on a watches the remote account.
const notices: string[] = [];
a.spawn(
  Behaviors.setup<Terminated>((ctx) => {
    ctx.watch(account);
    return Behaviors.receive<Terminated>((_ctx, t) => {
      notices.push(`Terminated: ${t.ref.path}`);
    });
  }),
  "watcher",
);

let bShutDown = false;
b.eventStream.subscribe(ShutdownSelf, (e) => {
  bShutDown = true;
  notices.push(`b: ShutdownSelf (${e.reason})`);
});
const downed: string[] = [];
a.eventStream.subscribe(MemberDowned, (e) => downed.push(`${e.member.address.port}`));

a.down(b.selfAddress);
await until(() => downed.length > 0, "MemberDowned");
console.log("a: MemberDowned for b");
await until(() => notices.length >= 2 && bShutDown, "Terminated and ShutdownSelf");
for (const notice of notices.sort()) console.log(notice);

const answer = await a.ask(account, (replyTo) => ({ type: "balance", replyTo }), { timeout: 200 })
  .catch((err) => err);
assert.ok(answer instanceof AskTimeoutError);
console.log(`an ask to it: ${answer.name}`);
