/**
 * How a structure handle talks to its entity.
 *
 * @module
 */
import type { ActorRef } from "../actor/actor_ref.ts";
import type { DistributedHost } from "./distributed.ts";
import type { EntityEnvelope } from "../cluster/extension.ts";
import type { DataCommand, DataReply } from "./_entity.ts";
import { DistributedError, type DistributedErrorCode } from "./errors.ts";

/** One structure's route: node (or client), region, entity id, timeout. */
export interface StructureRoute {
  readonly node: DistributedHost;
  /** Resolves once the structure's region exists on the nodes (a client's routes wait). */
  readonly ready?: Promise<void>;
  readonly region: ActorRef<EntityEnvelope<DataCommand>>;
  readonly entityId: string;
  readonly timeout: number;
}

/**
 * Sends one operation and unwraps the reply.
 *
 * @param route The structure.
 * @param op The operation.
 * @param args Its arguments.
 * @param options Another ask timeout, an abort signal.
 * @returns The value the entity answered.
 */
export async function call<R>(
  route: StructureRoute,
  op: string,
  args: readonly unknown[] = [],
  options: { readonly timeout?: number; readonly signal?: AbortSignal } = {},
): Promise<R> {
  if (route.ready !== undefined) await route.ready;
  const reply = await route.node.entityAsk<DataCommand, DataReply>(
    route.region,
    route.entityId,
    (replyTo) => ({ op, args, replyTo }),
    { timeout: options.timeout ?? route.timeout, signal: options.signal },
  );
  if (!reply.ok) throw new DistributedError(reply.code as DistributedErrorCode, reply.message);
  return reply.value as R;
}
