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

/** Something that holds leased grants for a host (a lock's or semaphore's client side). */
export interface GrantHolder {
  /** Gives back every grant it holds (best effort; a grant not released runs out by lease). */
  releaseAll(): Promise<void>;
}

const holders = new WeakMap<DistributedHost, Set<GrantHolder>>();

/**
 * Records whether `holder` holds grants for `host` (so a closing host can give them back).
 *
 * @param host The node or client the grants were taken through.
 * @param holder The lock's or semaphore's client side.
 * @param holding Whether it holds at least one grant now.
 */
export function trackHolder(host: DistributedHost, holder: GrantHolder, holding: boolean): void {
  let set = holders.get(host);
  if (holding) {
    if (set === undefined) holders.set(host, set = new Set());
    set.add(holder);
  } else set?.delete(holder);
}

/**
 * Releases every lock and permit held through `host`, waiting at most `timeout` ms: what is not
 * confirmed by then runs out after its lease, as when the host dies.
 *
 * @param host The closing node or client.
 * @param timeout The longest wait, ms.
 */
export async function releaseAllHeld(host: DistributedHost, timeout: number): Promise<void> {
  const set = holders.get(host);
  if (set === undefined || set.size === 0) return;
  holders.delete(host);
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    Promise.allSettled([...set].map((h) => h.releaseAll())),
    new Promise<void>((resolve) => timer = setTimeout(resolve, timeout)),
  ]);
  clearTimeout(timer);
}
