/**
 * A cluster client: a process outside the cluster (a web server, an API gateway) that sends work
 * to sharded entities without joining. Two nodes run here in one process for the demo; in real
 * life they are other processes, and the client only knows a contact point.
 *
 * Run: `deno run -A examples/17_client.ts` or `bun examples/17_client.ts`
 *
 * @module
 */
import {
  type ActorRef,
  type Behavior,
  Behaviors,
  ClusterClient,
  ClusteredActorSystem,
  ShardEnvelope,
} from "../mod.ts";

type AccountMsg =
  | { type: "deposit"; amount: number }
  | { type: "getBalance"; replyTo: ActorRef<number> };

const account = (_id: string): Behavior<AccountMsg> => {
  const active = (balance: number): Behavior<AccountMsg> =>
    Behaviors.receive((_ctx, msg) => {
      switch (msg.type) {
        case "deposit":
          return active(balance + msg.amount);
        case "getBalance":
          msg.replyTo.tell(balance);
          return Behaviors.same();
      }
    });
  return active(0);
};

// The cluster: two nodes, each with a region of the sharded "accounts" type.
const a = await ClusteredActorSystem.start({
  name: "bank",
  host: "127.0.0.1",
  port: 0,
  logLevel: "error",
});
const b = await ClusteredActorSystem.start({
  name: "bank",
  host: "127.0.0.1",
  port: 0,
  seedNodes: [a.selfAddress],
  logLevel: "error",
});
await a.waitFor(2, { timeout: 20_000 });
for (const node of [a, b]) node.spawn(Behaviors.sharded(account, { numShards: 100 }), "accounts");

// The client: one contact point is enough, it learns the rest.
const client = await ClusterClient.connect({
  contactPoints: [`127.0.0.1:${a.selfAddress.port}`],
  systemName: "bank",
  logLevel: "error",
});
console.log(`client connected: ${client.getClusterState().members.length} members`);

const accounts = client.entityRef<AccountMsg>("accounts", { numShards: 100 });
accounts.tell(new ShardEnvelope("alice", { type: "deposit", amount: 100 }));
accounts.tell(new ShardEnvelope("bob", { type: "deposit", amount: 50 }));
accounts.tell(new ShardEnvelope("alice", { type: "deposit", amount: 20 }));
for (const id of ["alice", "bob"]) {
  const balance = await client.entityAsk<AccountMsg, number>(
    accounts,
    id,
    (replyTo) => ({ type: "getBalance", replyTo }),
    { timeout: 5000 },
  );
  console.log(`${id}: ${balance}`);
}

// The same distributed data structures as on a node.
const visits = client.distributed().counter("visits");
await visits.increment();
console.log(`visits seen by a node: ${await a.distributed().counter("visits").increment()}`);

// Spawning on a node: a behavior cannot travel, so a factory registered under a key (in a module
// the nodes import too; here they share this process) travels as that key plus its arguments.
const greeter = Behaviors.spawnable(
  "greeter",
  (greeting: string) =>
    Behaviors.receive<{ name: string; replyTo: ActorRef<string> }>((ctx, msg) => {
      const where = ctx.self.address.includes(`:${b.selfAddress.port}/`) ? "node B" : "node A";
      msg.replyTo.tell(`${greeting}, ${msg.name} (from ${where})`);
    }),
);
const greeterRef = await client.spawn(greeter("Hello"), "greeter", {
  node: `127.0.0.1:${b.selfAddress.port}`,
});
console.log(
  await client.ask(greeterRef, (replyTo) => ({ name: "Ada", replyTo }), { timeout: 5000 }),
);

// Shard allocations arrive with the topology, so messages go straight to the owner.
const owners = client.getClusterState().allocations.accounts ?? {};
console.log(`client knows the owner of ${Object.keys(owners).length} shards`);

await client.close();
await b.shutdown();
await a.shutdown();
console.log("done");
