/**
 * Cluster membership: members and their lifecycle, vector clocks, the phi accrual failure
 * detector, the gossiped state, keep-majority split-brain resolution, membership events and
 * the {@linkcode Membership} protocol engine that ties them together.
 *
 * The engine is transport-agnostic and clock-driven, so the same code runs over TCP and in a
 * deterministic simulation (`@casty/casty/testing`: `MembershipSimulation`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Membership, MemberUp } from "@casty/casty/cluster";
 * import { SimulatedClock } from "@casty/casty/testing";
 * const clock = new SimulatedClock();
 * const ups: string[] = [];
 * const node = new Membership({
 *   self: { address: { host: "127.0.0.1", port: 25520 }, id: "000000000001-aaaaaaaa" },
 *   seedNodes: [],
 *   clock,
 *   send: () => {},
 *   onEvent: (e) => {
 *     if (e instanceof MemberUp) ups.push(`${e.member.address.port}`);
 *   },
 * });
 * node.start();
 * assert.ok(ups[0] === "25520" && node.leader?.port === 25520);
 * node.stop();
 * ```
 *
 * @module
 */
export * from "./clustered_actor_system.ts";
export * from "./member.ts";
export * from "./vector_clock.ts";
export * from "./phi_accrual.ts";
export * from "./gossip.ts";
export * from "./downing.ts";
export * from "./events.ts";
export * from "./membership.ts";
export * from "./topology.ts";
export type {
  ClusterExtension,
  ClusterExtensionContext,
  ClusterView,
  ExtensionStop,
  SpawnHandler,
} from "./extension.ts";
