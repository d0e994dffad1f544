/**
 * Management over HTTP and the live dashboard. Loading this entry (the root `@casty/casty` entry
 * loads it) makes every node answer stats requests from its peers, and a node started with
 * `http: { port }` (file: `[cluster.http]`) serve `GET /cluster/members`, `GET /cluster/shards`,
 * `GET /metrics` (Prometheus), the dashboard at `/` and its server-sent events at `/events`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ClusteredActorSystem } from "@casty/casty";
 * import { managementPort } from "@casty/casty/management";
 * await using node = await ClusteredActorSystem.start({
 *   name: "shop", host: "127.0.0.1", port: 0, http: { port: 0 }, logLevel: "error",
 * });
 * const port = managementPort(`127.0.0.1:${node.selfAddress.port}`)!;
 * const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
 * assert.match(metrics, /^casty_cluster_members\{status="up"\} 1$/m);
 * ```
 *
 * @module
 */
export { managementExtension, ManagementHttpError, managementPort } from "./management.ts";
export {
  type DashboardSnapshot,
  type MemberJson,
  type MembersJson,
  type RegionJson,
  type ShardsJson,
} from "./cluster_json.ts";
export { GetNodeStats, MANAGEMENT_PATH, type NodeStats } from "./node_stats.ts";
export { METRICS_CONTENT_TYPE } from "./metrics.ts";
