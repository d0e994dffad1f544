/**
 * Mailboxes. The default is unbounded; a bounded mailbox chooses what happens when it is
 * full: drop the new message, drop the oldest one, or apply backpressure (`tell` throws
 * `MailboxFullError`, `send` waits for room). Dropped messages are never silent: each one is
 * published as a `DeadLetter`, so every message sent here is either processed or reported.
 *
 * Run: `deno run -A examples/08_mailbox.ts` or `bun examples/08_mailbox.ts`
 *
 * @module
 */
import {
  ActorSystem,
  Behaviors,
  DeadLetter,
  Mailbox,
  MailboxFullError,
  type OverflowStrategy,
} from "../mod.ts";

type Job = { readonly type: "job"; readonly n: number };

await using system = new ActorSystem({ name: "mailbox" });

/**
 * Sends jobs 1..5 in one burst (the actor cannot run in between) to a worker with room for
 * 3, and resolves once every job was either processed or dead-lettered.
 */
async function burst(overflow: OverflowStrategy): Promise<void> {
  console.log(`-- ${overflow}`);
  const total = 5;
  let accounted = 0;
  const { promise: settled, resolve } = Promise.withResolvers<void>();
  const account = () => {
    if (++accounted === total) resolve();
  };
  const ref = system.spawn(
    Behaviors.receive<Job>((_ctx, job) => {
      console.log(`processed job ${job.n}`);
      account();
    }),
    `worker-${overflow}`,
    { mailbox: new Mailbox({ capacity: 3, overflow }) },
  );
  const unsubscribe = system.eventStream.subscribe(DeadLetter, (d) => {
    if (d.recipient !== ref) return;
    console.log(`dropped job ${(d.message as Job).n} (${d.reason})`);
    account();
  });

  const waits: Promise<void>[] = [];
  for (let n = 1; n <= total; n++) {
    try {
      ref.tell({ type: "job", n });
    } catch (err) {
      if (!(err instanceof MailboxFullError)) throw err;
      console.log(`tell job ${n}: ${err.code}, sending with backpressure instead`);
      waits.push(ref.send({ type: "job", n }));
    }
  }
  await Promise.all(waits);
  await settled;
  unsubscribe();
}

await burst("dropOldest");
// -- dropOldest
// dropped job 1 (mailboxFull)
// dropped job 2 (mailboxFull)
// processed job 3
// processed job 4
// processed job 5
await burst("dropNew");
// -- dropNew
// dropped job 4 (mailboxFull)
// dropped job 5 (mailboxFull)
// processed job 1
// processed job 2
// processed job 3
await burst("backpressure");
// -- backpressure
// tell job 4: MAILBOX_FULL, sending with backpressure instead
// tell job 5: MAILBOX_FULL, sending with backpressure instead
// processed job 1
// processed job 2
// processed job 3
// processed job 4
// processed job 5
