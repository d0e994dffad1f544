/**
 * Request-reply. From outside an actor, `system.ask()` passes a temporary reply ref and awaits
 * the answer with a timeout. Inside an actor, pass `ctx.self` as `replyTo` and handle the
 * answer as an ordinary message, so the actor never blocks its own mailbox.
 *
 * Run: `deno run -A examples/03_request_reply.ts` or `bun examples/03_request_reply.ts`
 *
 * @module
 */
import { type ActorRef, ActorSystem, type Behavior, Behaviors } from "../mod.ts";

type AccountMsg =
  | { readonly type: "deposit"; readonly amount: number }
  | { readonly type: "withdraw"; readonly amount: number; readonly replyTo: ActorRef<string> }
  | { readonly type: "getBalance"; readonly replyTo: ActorRef<number> };

function bankAccount(balance = 0): Behavior<AccountMsg> {
  return Behaviors.receive((_ctx, msg) => {
    switch (msg.type) {
      case "deposit":
        return bankAccount(balance + msg.amount);
      case "withdraw":
        if (balance >= msg.amount) {
          msg.replyTo.tell("ok");
          return bankAccount(balance - msg.amount);
        }
        msg.replyTo.tell(`insufficient funds (balance=${balance})`);
        return Behaviors.same();
      case "getBalance":
        msg.replyTo.tell(balance);
        return Behaviors.same();
    }
  });
}

// The monitor accepts its own commands and, as replies, plain numbers: `ctx.self` is an
// `ActorRef<MonitorMsg>`, which is a valid `ActorRef<number>` because `number` is part of the
// union.
type MonitorMsg =
  | {
    readonly type: "checkBalance";
    readonly account: ActorRef<AccountMsg>;
    /** Told once the balance has been reported, so the caller can wait for it. */
    readonly reported: ActorRef<number>;
  }
  | number;

function monitor(waiting: readonly ActorRef<number>[] = []): Behavior<MonitorMsg> {
  return Behaviors.receive((ctx, msg) => {
    if (typeof msg === "number") {
      console.log(`Monitor saw balance: ${msg}`);
      const [first, ...rest] = waiting;
      first?.tell(msg);
      return monitor(rest);
    }
    // Non-blocking: send the request and keep processing other messages.
    msg.account.tell({ type: "getBalance", replyTo: ctx.self });
    return monitor([...waiting, msg.reported]);
  });
}

await using system = new ActorSystem({ name: "request-reply" });
const account = system.spawn(bankAccount(), "account");
account.tell({ type: "deposit", amount: 100 });

const balance = await system.ask(
  account,
  (replyTo) => ({ type: "getBalance", replyTo }),
  { timeout: 5000 },
);
console.log(`Balance: ${balance}`);
// Balance: 100

const result = await system.ask(
  account,
  (replyTo) => ({ type: "withdraw", amount: 200, replyTo }),
  { timeout: 5000 },
);
console.log(`Withdraw: ${result}`);
// Withdraw: insufficient funds (balance=100)

const ok = await system.ask<AccountMsg, string>(
  account,
  (replyTo) => ({ type: "withdraw", amount: 30, replyTo }),
);
console.log(`Withdraw: ${ok}`);
// Withdraw: ok

// Inside an actor: the monitor asks with `ctx.self` as the reply ref.
const mon = system.spawn(monitor(), "monitor");
await system.ask(mon, (reported) => ({ type: "checkBalance", account, reported }));
// Monitor saw balance: 70
