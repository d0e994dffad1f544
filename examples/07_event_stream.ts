/**
 * The event stream: a system-wide publish/subscribe bus. Lifecycle events are published
 * automatically; every message that cannot be delivered becomes a `DeadLetter`. Subscriptions
 * match subclasses, and `subscribe` returns an unsubscribe function.
 *
 * Run: `deno run -A examples/07_event_stream.ts` or `bun examples/07_event_stream.ts`
 *
 * @module
 */
import {
  ActorEvent,
  ActorStarted,
  ActorStopped,
  ActorSystem,
  type Behavior,
  Behaviors,
  DeadLetter,
  UnhandledMessage,
} from "../mod.ts";

type GreeterMsg =
  | { readonly type: "greet"; readonly name: string }
  | { readonly type: "shout"; readonly name: string }
  | { readonly type: "stop" };

function greeter(): Behavior<GreeterMsg> {
  return Behaviors.receive((_ctx, msg) => {
    switch (msg.type) {
      case "greet":
        console.log(`Hello, ${msg.name}!`);
        return Behaviors.same();
      case "shout":
        return Behaviors.unhandled(); // published as an UnhandledMessage
      case "stop":
        return Behaviors.stopped();
    }
  });
}

/** A custom event: anything can be published, subscribers match by class. */
class AuditEvent {
  constructor(readonly action: string) {}
}

await using system = new ActorSystem({ name: "events" });
const { promise: stopped, resolve: onStopped } = Promise.withResolvers<void>();
const unsubscribers = [
  system.eventStream.subscribe(ActorStarted, (e) => console.log(`Started: ${e.ref.path}`)),
  system.eventStream.subscribe(ActorStopped, (e) => {
    console.log(`Stopped: ${e.ref.path}`);
    onStopped();
  }),
  system.eventStream.subscribe(DeadLetter, (e) => {
    console.log(`Dead letter: ${JSON.stringify(e.message)} (${e.reason})`);
  }),
  system.eventStream.subscribe(UnhandledMessage, (e) => {
    console.log(`Unhandled by ${e.ref.path}: ${JSON.stringify(e.message)}`);
  }),
  system.eventStream.subscribe(AuditEvent, (e) => console.log(`Audit: ${e.action}`)),
];
// Subscribing to a base class receives every subclass (ActorStarted, ActorStopped, ...).
let lifecycleEvents = 0;
unsubscribers.push(system.eventStream.subscribe(ActorEvent, () => lifecycleEvents++));

const ref = system.spawn(greeter(), "greeter");
ref.tell({ type: "greet", name: "Alice" });
ref.tell({ type: "shout", name: "Bob" });
ref.tell({ type: "stop" });
await stopped;
ref.tell({ type: "greet", name: "Carol" }); // the actor is gone
system.eventStream.publish(new AuditEvent("greeter retired"));
console.log(`Lifecycle events seen: ${lifecycleEvents}`);
// Started: /greeter
// Hello, Alice!
// Unhandled by /greeter: {"type":"shout","name":"Bob"}
// Stopped: /greeter
// Dead letter: {"type":"greet","name":"Carol"} (stopped)
// Audit: greeter retired
// Lifecycle events seen: 3

for (const unsubscribe of unsubscribers) unsubscribe();
system.eventStream.publish(new AuditEvent("nobody is listening"));
