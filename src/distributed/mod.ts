/**
 * Distributed data structures: `node.distributed({ journal? })` gives counters, maps, sets and
 * queues shared by the whole cluster, each a sharded entity (persistent with a journal).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ClusteredActorSystem } from "@casty/casty";
 * import "@casty/casty/distributed";
 * await using node = await ClusteredActorSystem.start({ name: "doc", host: "127.0.0.1", port: 0 });
 * assert.equal(await node.distributed().counter("c").increment(2), 2);
 * ```
 *
 * @module
 */
export { Distributed, distributedExtension, type DistributedHost } from "./distributed.ts";
export { DistributedCounter } from "./counter.ts";
export { DistributedMap } from "./map.ts";
export { DistributedSet } from "./set.ts";
export { DistributedQueue } from "./queue.ts";
export { DistributedLock, DistributedSemaphore } from "./lock.ts";
export { DistributedBarrier } from "./barrier.ts";
export { DistributedError, type DistributedErrorCode } from "./errors.ts";
