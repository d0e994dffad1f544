// Peer process of bench/sharding_distributed_bench.ts: a cluster node that joins the seed given
// as its argument, spawns the sharded type "counters" (numShards 100) and a plain actor
// "/counter"; every deposit handled by an entity or by /counter adds 1 to this process's count,
// and {type:"count"} to /counter answers it. Prints {"event":"ready","port":…}; leaves and
// exits when stdin closes.
import process from "node:process";
import { type ActorRef, Behaviors, ClusteredActorSystem } from "../mod.ts";

export type DepositMsg =
  | { readonly type: "deposit"; readonly seq: number; readonly amount: number }
  | { readonly type: "count"; readonly replyTo: ActorRef<number> };

/** Counts deposits in `box.n` (entities share one behavior: no state per entity). */
export function counting(box: { n: number }): ReturnType<typeof Behaviors.receive<DepositMsg>> {
  return Behaviors.receive<DepositMsg>((_ctx, msg) => {
    if (msg.type === "deposit") box.n++;
    else msg.replyTo.tell(box.n);
  });
}

if (import.meta.main) {
  const seed = process.argv[process.argv.length - 1];
  const node = await ClusteredActorSystem.start({
    name: "bench",
    host: "127.0.0.1",
    port: 0,
    seedNodes: [seed],
    logLevel: "error",
  });
  const box = { n: 0 };
  const entity = counting(box);
  node.spawn(Behaviors.sharded((_id: string) => entity, { numShards: 100 }), "counters");
  node.spawn(counting(box), "counter");
  console.log(JSON.stringify({ event: "ready", port: node.selfAddress.port }));
  process.stdin.on("data", () => {});
  process.stdin.on("end", async () => {
    await node.shutdown();
    process.exit(0);
  });
}
