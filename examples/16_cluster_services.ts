/**
 * Cluster services on three nodes over loopback TCP, in one process: a singleton (one instance
 * in the whole cluster, moved when its node leaves), a broadcast actor (one per node, asked all
 * at once) and the receptionist (find actors by a typed key from any node).
 *
 * Run: `deno run -A examples/16_cluster_services.ts` or `bun examples/16_cluster_services.ts`
 *
 * @module
 */
import { type ActorRef, Behaviors, ClusteredActorSystem, ServiceKey } from "../mod.ts";

const nodes: ClusteredActorSystem[] = [];
const first = await ClusteredActorSystem.start({
  name: "services",
  host: "127.0.0.1",
  port: 0,
  logLevel: "error",
});
nodes.push(first);
for (let i = 0; i < 2; i++) {
  nodes.push(
    await ClusteredActorSystem.start({
      name: "services",
      host: "127.0.0.1",
      port: 0,
      seedNodes: [first.selfAddress],
      logLevel: "error",
    }),
  );
}
await Promise.all(nodes.map((n) => n.waitFor(3, { timeout: 20_000 })));
const label = (port: number) => "ABC"[nodes.findIndex((n) => n.selfAddress.port === port)];
console.log("3 nodes up: A, B, C");

// 1. A singleton: spawned on every node under one name, it runs once, on the oldest node.
type CounterMsg = { type: "hit"; replyTo: ActorRef<string> };
const counter = (node: ClusteredActorSystem) =>
  Behaviors.setup<CounterMsg>(() => {
    let hits = 0;
    return Behaviors.receive<CounterMsg>((_ctx, msg) => {
      hits++;
      msg.replyTo.tell(`node ${label(node.selfAddress.port)}, hit ${hits}`);
    });
  });
const singletons = nodes.map((n) => n.spawn(Behaviors.singleton(() => counter(n)), "counter"));
const hit = (i: number) =>
  nodes[i].ask(singletons[i], (replyTo) => ({ type: "hit" as const, replyTo }), {
    timeout: 10_000,
  });
console.log(`B hits the singleton: ${await hit(1)}`);
console.log(`C hits the singleton: ${await hit(2)}`);

// 2. A broadcast actor: one instance per node; an ask collects every node's answer.
type WhoMsg = { replyTo: ActorRef<string> };
const who = nodes.map((n) =>
  n.spawn(
    Behaviors.broadcasted(
      Behaviors.receive<WhoMsg>((_ctx, m) => m.replyTo.tell(label(n.selfAddress.port))),
    ),
    "who",
  )
);
await new Promise((r) => setTimeout(r, 100)); // every node's instance has started
const replies = await nodes[0].ask(who[0], (replyTo) => ({ replyTo }), { timeout: 2000 });
// (Replies come in node address order; sorted here by name.)
console.log(`broadcast ask: ${[...replies].sort().join(", ")}; missing: ${replies.missing.length}`);

// 3. The receptionist: greeters on A and C register under a typed key; B finds them.
type Greet = { name: string; replyTo: ActorRef<string> };
const Greeter = new ServiceKey<Greet>("greeter");
for (const i of [0, 2]) {
  const me = label(nodes[i].selfAddress.port);
  nodes[i].spawn(
    Behaviors.discoverable(
      Behaviors.receive<Greet>((_ctx, m) => m.replyTo.tell(`hello ${m.name}, from ${me}`)),
      Greeter,
    ),
    "greeter",
  );
}
let listing = await nodes[1].lookup(Greeter);
while (listing.instances.length < 2) {
  await new Promise((r) => setTimeout(r, 20));
  listing = await nodes[1].lookup(Greeter);
}
const greetings = await Promise.all(
  listing.refs.map((ref) => nodes[1].ask(ref, (replyTo) => ({ name: "B", replyTo }))),
);
for (const g of greetings.sort()) console.log(g);

// 4. A leaves gracefully: the singleton moves to B (a new instance: it starts counting again)
//    and A's greeter disappears from every node's registry.
await nodes[0].leave();
console.log("A left the cluster");
console.log(`C hits the singleton: ${await hit(2)}`);
while ((await nodes[2].lookup(Greeter)).instances.length !== 1) {
  await new Promise((r) => setTimeout(r, 20));
}
const left = await nodes[2].lookup(Greeter);
console.log(`greeters now: ${left.instances.map((i) => label(i.node.port)).join(", ")}`);

await Promise.all(nodes.slice(1).map((n) => n.shutdown()));
