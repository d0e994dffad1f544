/**
 * The types of broadcast refs (`Behaviors.broadcasted`, in the sharding layer): the cluster
 * layer's `node.spawn` and `node.ask` know them, so they live here.
 *
 * @module
 */
import type { ActorRef } from "../actor/actor_ref.ts";
import type { AskFactory, AskOptions } from "../actor/actor_system.ts";
import type { Behavior } from "../actor/behaviors.ts";
import type { NodeAddress } from "../remote/address.ts";

/** The brand of {@linkcode BroadcastedBehavior}. */
export const BROADCASTED: unique symbol = Symbol.for("casty.broadcasted") as never;

/**
 * The behavior `Behaviors.broadcasted` returns: `node.spawn` gives a {@linkcode BroadcastRef}
 * for it.
 */
export type BroadcastedBehavior<M> = Behavior<M> & { readonly [BROADCASTED]: true };

/** Where a {@linkcode BroadcastRef} keeps its collecting ask (used by `node.ask`). */
export const BROADCAST_ASK: unique symbol = Symbol.for("casty.broadcastAsk") as never;

/**
 * A node that did not answer a broadcast ask, and why (usually an `AskTimeoutError`: the node
 * did not answer within the timeout, or did not spawn the broadcast actor).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { BroadcastMissing } from "@casty/casty";
 * const m: BroadcastMissing = { node: { host: "127.0.0.1", port: 25521 }, error: new Error("x") };
 * assert.equal(m.node.port, 25521);
 * ```
 */
export interface BroadcastMissing {
  /** The node that did not answer. */
  readonly node: NodeAddress;
  /** Why: the ask's error. */
  readonly error: unknown;
}

/**
 * The result of `node.ask` on a {@linkcode BroadcastRef}: an array of the replies that arrived
 * (one per answering node, in address order), with `from[i]` the node of reply `i`, and
 * `missing` the nodes that did not answer in time. Check `missing.length === 0` when every
 * node must answer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { BroadcastReplies } from "@casty/casty";
 * const r = Object.assign([1, 2], { from: [], missing: [] }) as BroadcastReplies<number>;
 * assert.deepEqual([...r], [1, 2]);
 * assert.equal(r.missing.length, 0);
 * ```
 */
export interface BroadcastReplies<R> extends Array<R> {
  /** The node each reply came from (same index). */
  readonly from: readonly NodeAddress[];
  /** The nodes that did not answer in time, with the reason. */
  readonly missing: readonly BroadcastMissing[];
}

/**
 * The ref of a broadcast actor: `tell` reaches the instance on every node; `node.ask` collects
 * a {@linkcode BroadcastReplies}. Put inside a message and sent to another node, it is a plain
 * ref to this node's broadcaster (a `tell` still reaches every node).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Behaviors, type BroadcastRef } from "@casty/casty";
 * import { testCluster } from "@casty/casty/testing";
 * await using c = await testCluster(2);
 * const refs: BroadcastRef<string>[] = c.nodes.map((n) =>
 *   n.spawn(Behaviors.broadcasted(Behaviors.ignore<string>()), "all")
 * );
 * refs[0].tell("to every node");
 * assert.equal(refs[0].path, "/all");
 * ```
 */
export interface BroadcastRef<M> extends ActorRef<M> {
  /** @internal The collecting ask behind `node.ask(broadcastRef, …)`. */
  readonly [BROADCAST_ASK]: <R>(
    factory: AskFactory<M, R>,
    options: AskOptions,
  ) => Promise<BroadcastReplies<R>>;
}
