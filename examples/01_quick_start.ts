/**
 * Quick start: a greeter actor that prints a line for each name it receives.
 *
 * Run: `deno run -A examples/01_quick_start.ts` or `bun examples/01_quick_start.ts`
 *
 * @module
 */
import { type ActorRef, ActorSystem, type Behavior, Behaviors } from "../mod.ts";

type GreeterMsg =
  | { readonly type: "greet"; readonly name: string }
  | { readonly type: "flush"; readonly replyTo: ActorRef<true> };

function greeter(): Behavior<GreeterMsg> {
  return Behaviors.receive((_ctx, msg) => {
    switch (msg.type) {
      case "greet":
        console.log(`Hello, ${msg.name}!`);
        return Behaviors.same();
      case "flush":
        // Mailboxes are FIFO: once this reply arrives, every earlier greeting was printed.
        msg.replyTo.tell(true);
        return Behaviors.same();
    }
  });
}

await using system = new ActorSystem({ name: "quick-start" });
const ref = system.spawn(greeter(), "greeter");
ref.tell({ type: "greet", name: "Alice" });
ref.tell({ type: "greet", name: "Bob" });
await system.ask(ref, (replyTo) => ({ type: "flush", replyTo }));
// Hello, Alice!
// Hello, Bob!
