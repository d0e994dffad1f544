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
import {
  BROADCAST_ASK,
  BROADCASTED,
  type BroadcastedBehavior,
  type BroadcastMissing,
  type BroadcastRef,
  type BroadcastReplies,
} from "../cluster/broadcast_ref.ts";
import { type Behavior, Behaviors } from "../actor/behaviors.ts";
import {
  addDefaultExtension,
  type ClusterExtension,
  type ClusterExtensionContext,
  markerBehavior,
  markerOf,
} from "../cluster/extension.ts";
import type { Member, NodeAddress } from "../cluster/member.ts";
import { sameNodeAddress } from "../remote/address.ts";

/** The marker of broadcast behaviors. */
export const BROADCAST_MARKER = "broadcast";

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
 * The broadcast cluster extension (on by default: added to the default list when this module
 * loads).
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

addDefaultExtension(broadcastExtension);
