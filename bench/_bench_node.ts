// Shared by the sharding benches: one quiet cluster node on 127.0.0.1, up and alone.
import { ClusteredActorSystem } from "../mod.ts";

/** Starts a one-node cluster (errors only in the log) and waits until it is up. */
export async function startBenchNode(): Promise<ClusteredActorSystem> {
  const node = await ClusteredActorSystem.start({
    name: "bench",
    host: "127.0.0.1",
    port: 0,
    logLevel: "error",
  });
  await node.waitFor(1, { timeout: 10_000 });
  return node;
}
