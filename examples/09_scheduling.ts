/**
 * Scheduling: periodic ticks and one-shot delays, each under a string key. Scheduling under a
 * key that is in use replaces the earlier schedule; `cancelSchedule` cancels it; shutdown
 * cancels everything.
 *
 * Run: `deno run -A examples/09_scheduling.ts` or `bun examples/09_scheduling.ts`
 *
 * @module
 */
import { type ActorRef, ActorStopped, ActorSystem, type Behavior, Behaviors } from "../mod.ts";

type AccountMsg =
  | { readonly type: "deposit"; readonly amount: number }
  | { readonly type: "balanceReport" }
  | { readonly type: "timeout"; readonly reason: string }
  | { readonly type: "awaitReports"; readonly count: number; readonly replyTo: ActorRef<number> };

interface Waiter {
  readonly count: number;
  readonly replyTo: ActorRef<number>;
}

function account(balance = 0, reports = 0, waiters: readonly Waiter[] = []): Behavior<AccountMsg> {
  return Behaviors.receive((_ctx, msg) => {
    switch (msg.type) {
      case "deposit":
        return account(balance + msg.amount, reports, waiters);
      case "balanceReport": {
        const n = reports + 1;
        console.log(`Report #${n}: balance=${balance}`);
        for (const w of waiters) if (w.count <= n) w.replyTo.tell(n);
        return account(balance, n, waiters.filter((w) => w.count > n));
      }
      case "awaitReports":
        if (msg.count <= reports) {
          msg.replyTo.tell(reports);
          return;
        }
        return account(balance, reports, [...waiters, msg]);
      case "timeout":
        console.log(`Timeout: ${msg.reason}; closing the session`);
        return Behaviors.stopped();
    }
  });
}

await using system = new ActorSystem({ name: "scheduling" });
const ref = system.spawn(account(), "account");
const { promise: stopped, resolve } = Promise.withResolvers<void>();
system.eventStream.subscribe(ActorStopped, (e) => e.ref === ref && resolve());
ref.tell({ type: "deposit", amount: 100 });

// Send a balance report to the account every 20 ms (the seed uses 30 s).
system.tick("report", ref, { type: "balanceReport" }, 20);
await system.ask(ref, (replyTo) => ({ type: "awaitReports", count: 3, replyTo }));
console.log(`Cancelled report: ${system.cancelSchedule("report")}`);
console.log(`Cancelled again: ${system.cancelSchedule("report")}`);
// Report #1: balance=100
// Report #2: balance=100
// Report #3: balance=100
// Cancelled report: true
// Cancelled again: false

// Send a timeout once after a delay; the same key replaces the first schedule, so only the
// second message is ever delivered.
system.schedule("timeout", ref, { type: "timeout", reason: "first, replaced" }, 10_000);
system.schedule("timeout", ref, { type: "timeout", reason: "idle for 30 ms" }, 30);
await stopped;
console.log("Account stopped");
// Timeout: idle for 30 ms; closing the session
// Account stopped
