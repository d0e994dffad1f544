/**
 * The cluster client (`@casty/casty/client`): talk to a cluster from outside it, without
 * joining. It authenticates like a node, follows the topology live, routes sharded messages
 * straight to their owner, and trips a per-node circuit breaker.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ClusterClient } from "@casty/casty/client";
 * assert.equal(typeof ClusterClient.connect, "function");
 * ```
 *
 * @module
 */
export {
  type BreakerOptions,
  type BreakerState,
  type ClientClusterState,
  ClientEntityRef,
  ClusterClient,
  type ClusterClientOptions,
  type RemoteSpawnOptions,
} from "./cluster_client.ts";
