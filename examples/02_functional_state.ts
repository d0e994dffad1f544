/**
 * Functional state: the balance lives in a closure, and returning `account(balance + amount)`
 * from the handler is the state transition. No mutable field anywhere.
 *
 * Run: `deno run -A examples/02_functional_state.ts` or `bun examples/02_functional_state.ts`
 *
 * @module
 */
import { type ActorRef, ActorSystem, type Behavior, Behaviors } from "../mod.ts";

type AccountMsg =
  | { readonly type: "deposit"; readonly amount: number }
  | { readonly type: "getBalance"; readonly replyTo: ActorRef<number> };

function bankAccount(balance = 0): Behavior<AccountMsg> {
  return Behaviors.receive((_ctx, msg) => {
    switch (msg.type) {
      case "deposit":
        // The function call is the state transition.
        return bankAccount(balance + msg.amount);
      case "getBalance":
        msg.replyTo.tell(balance);
        return Behaviors.same();
    }
  });
}

await using system = new ActorSystem({ name: "functional-state" });
const account = system.spawn(bankAccount(), "account");
account.tell({ type: "deposit", amount: 100 });
account.tell({ type: "deposit", amount: 50 });

// Each behavior value is independent: a second account starts from its own initial state.
const savings = system.spawn(bankAccount(1000), "savings");

const balance = await system.ask(account, (replyTo) => ({ type: "getBalance", replyTo }));
console.log(`Balance: ${balance}`);
// Balance: 150
const saved = await system.ask(savings, (replyTo) => ({ type: "getBalance", replyTo }));
console.log(`Savings: ${saved}`);
// Savings: 1000
