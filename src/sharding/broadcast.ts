/**
 * Broadcast actors: `node.spawn(Behaviors.broadcasted(b), "name")` on every node runs one
 * instance per node; a `tell` on the returned {@linkcode BroadcastRef} reaches every node's
 * instance, and `node.ask` on it collects every node's reply into a
 * {@linkcode BroadcastReplies} array that also lists the nodes that did not answer in time.
 *
 * @module
 */
import { ACTOR_REF, type ActorRef } from "../actor/actor_ref.ts";
import type { AskFactory, AskOptions } from "../actor/actor_system.ts";
import type { Behavior } from "../actor/behaviors.ts";
import { Behaviors } from "../actor/behaviors.ts";
import {
  type ClusterExtension,
  type ClusterExtensionContext,
  markerBehavior,
  markerOf,
} from "../cluster/extension.ts";
import type { Member, NodeAddress } from "../cluster/member.ts";
import { sameNodeAddress } from "../remote/address.ts";

/** The marker of broadcast behaviors. */
export const BROADCAST_MARKER = "broadcast";

/** The brand of {@linkcode BroadcastedBehavior}. */
export const BROADCASTED: unique symbol = Symbol.for("casty.broadcasted") as never;

/**
 * The behavior {@linkcode broadcasted} returns: `node.spawn` gives a {@linkcode BroadcastRef}
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

/**
 * A behavior with one instance on every node that spawns it (spawn it with the same name on
 * every node; a node that joins later gets its instance when it spawns it). `node.spawn`
 * returns a {@linkcode BroadcastRef}. Spawning it on a plain `ActorSystem` fails.
 *
 * @param behavior The behavior of each node's instance.
 * @returns The marker behavior to give to `node.spawn`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Behaviors, type ActorRef } from "@casty/casty";
 * import { testCluster } from "@casty/casty/testing";
 * type Ping = { replyTo: ActorRef<number> };
 * await using c = await testCluster(3);
 * const refs = c.nodes.map((n) =>
 *   n.spawn(Behaviors.broadcasted(Behaviors.receive<Ping>((_c, m) => m.replyTo.tell(n.selfAddress.port))), "ports")
 * );
 * const replies = await c.run(c.nodes[0].ask(refs[0], (replyTo) => ({ replyTo })));
 * assert.deepEqual([...replies], [25520, 25521, 25522]);
 * assert.deepEqual(replies.missing, []);
 * ```
 */
export function broadcasted<M>(behavior: Behavior<M>): BroadcastedBehavior<M> {
  const marker = markerBehavior<M>(BROADCAST_MARKER, "Behaviors.broadcasted()", { behavior });
  return Object.assign(marker, { [BROADCASTED]: true as const });
}

/** The path of a broadcast actor's instance on each node. */
const instancePath = (name: string) => `/${name}/instance`;

/** Members that get broadcasts: every member that is not on its way out. */
function targets(members: readonly Member[]): Member[] {
  return members.filter((m) =>
    m.status === "up" || m.status === "joining" || m.status === "leaving"
  );
}

/** For this node's instance only (a local ask made before the instance started). */
class LocalDelivery {
  constructor(readonly message: unknown) {}
}

function broadcaster<M>(
  ext: ClusterExtensionContext,
  name: string,
  behavior: Behavior<M>,
): Behavior<M> {
  return Behaviors.setup<M>((ctx) => {
    const local = ctx.spawn(behavior, "instance");
    return Behaviors.receive<M>((_ctx, msg) => {
      if (msg instanceof LocalDelivery) {
        local.tell(msg.message as M);
        return;
      }
      for (const m of targets(ext.view().members)) {
        if (sameNodeAddress(m.address, ext.selfAddress)) local.tell(msg);
        else ext.refAt<M>(m.address, instancePath(name)).tell(msg);
      }
    });
  });
}

function broadcastRef<M>(
  ext: ClusterExtensionContext,
  name: string,
  ref: ActorRef<M>,
): BroadcastRef<M> {
  const ask = async <R>(
    factory: AskFactory<M, R>,
    options: AskOptions,
  ): Promise<BroadcastReplies<R>> => {
    const nodes = targets(ext.view().members).map((m) => m.address);
    const settled = await Promise.allSettled(
      nodes.map((n) =>
        sameNodeAddress(n, ext.selfAddress)
          ? ext.node.ask<M, R>(ref, (replyTo) => new LocalDelivery(factory(replyTo)) as M, options)
          : ext.node.ask<M, R>(ext.refAt<M>(n, instancePath(name)), factory, options)
      ),
    );
    const values: R[] = [];
    const from: NodeAddress[] = [];
    const missing: BroadcastMissing[] = [];
    settled.forEach((s, i) => {
      if (s.status === "fulfilled") {
        values.push(s.value);
        from.push(nodes[i]);
      } else missing.push({ node: nodes[i], error: s.reason });
    });
    return Object.assign(values, { from, missing });
  };
  return {
    get [ACTOR_REF](): true {
      return true;
    },
    path: ref.path,
    address: ref.address,
    tell: (msg: M) => ref.tell(msg),
    send: (msg: M) => ref.send(msg),
    [BROADCAST_ASK]: ask,
    toString: () => ref.address,
  } as BroadcastRef<M>;
}

/**
 * The broadcast cluster extension (on by default).
 *
 * @internal
 */
export const broadcastExtension: ClusterExtension = {
  name: "broadcast",
  start(ctx) {
    ctx.registerSpawnHandler(BROADCAST_MARKER, (marker, name, options) => {
      const { behavior } = markerOf(marker)!.data as { behavior: Behavior<unknown> };
      const ref = ctx.node.spawn(broadcaster(ctx, name, behavior), name, options);
      return broadcastRef(ctx, name, ref) as unknown as ActorRef<never>;
    });
  },
};
