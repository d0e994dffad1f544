/**
 * Test support: a simulated clock (and, with the cluster, an in-memory network) so that
 * timers and protocols can be tested deterministically (`testCluster`), and real node
 * processes to start, kill (`SIGKILL`) and partition (`startNodeProcess`, `PartitionProxy`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SimulatedClock } from "@casty/casty/testing";
 * const clock = new SimulatedClock();
 * clock.advance(1000);
 * assert.equal(clock.now(), 1000);
 * ```
 *
 * @module
 */
export { SimulatedClock } from "./simulated_clock.ts";
export {
  InMemoryNetwork,
  type InMemoryNetworkOptions,
  type NetworkAddress,
  type NetworkStats,
} from "./in_memory_network.ts";
export {
  MembershipSimulation,
  type MembershipSimulationOptions,
  seededRandom,
  type SimulatedNode,
  type SimulationTuning,
} from "./membership_simulation.ts";
export {
  InMemoryTransport,
  type InMemoryTransportOptions,
  type TransportFrame,
  transportNetwork,
} from "./in_memory_transport.ts";
export {
  type NodeGroup,
  TestCluster,
  testCluster,
  type TestClusterOptions,
  type TestClusterWaitOptions,
} from "./test_cluster.ts";
export {
  NodeProcess,
  NodeProcessError,
  type NodeProcessOptions,
  onStopRequest,
  type ProcessExit,
  type ProcessReport,
  report,
  reportReady,
  startNodeProcess,
  type WaitForReportOptions,
} from "./node_process.ts";
export { freePort, PartitionProxy, type PortGroup, type ProxiedPorts } from "./partition_proxy.ts";
