/**
 * What one node reports about its own load (actors, mailboxes, message and dead-letter rates,
 * entities per sharded type), and the system actor at `/_cluster/_management` that answers
 * {@linkcode GetNodeStats} from any node: `casty status` and the dashboard ask every member.
 *
 * @module
 */
import type { ActorRef } from "../actor/actor_ref.ts";
import type { Cancellable } from "../actor/clock.ts";
import { DeadLetter } from "../actor/events.ts";
import type { ClusterExtensionContext } from "../cluster/extension.ts";
import { formatNodeAddress } from "../remote/address.ts";

/** The path of the management system actor on every node that loads the management module. */
export const MANAGEMENT_PATH = "/_cluster/_management";

/** One node's load, as that node measures it. Plain data: it crosses the network as is. */
export interface NodeStats {
  /** The node, `"host:port"`. */
  readonly node: string;
  /** The node's incarnation id. */
  readonly id: string;
  /** When the node started, wall-clock ms. */
  readonly startedAt: number;
  /** Live actors. */
  readonly actors: number;
  /** Messages waiting in mailboxes. */
  readonly queued: number;
  /** The deepest single mailbox. */
  readonly maxQueued: number;
  /** Messages waiting per root actor (`"/accounts"` → 3), roots with an empty mailbox tree left out. */
  readonly mailboxes: Readonly<Record<string, number>>;
  /** Steps the actors ran since the start (messages, system messages, starts). */
  readonly processed: number;
  /** Dead letters since the start. */
  readonly deadLetters: number;
  /** Steps per second over the last sampling second. */
  readonly messagesPerSecond: number;
  /** Dead letters per second over the last sampling second. */
  readonly deadLettersPerSecond: number;
  /** Live entities per sharded type hosted here (the children of its region). */
  readonly entities: Readonly<Record<string, number>>;
}

/**
 * Asks a node's `/_cluster/_management` actor for its {@linkcode NodeStats}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ClusteredActorSystem } from "@casty/casty";
 * import { GetNodeStats, MANAGEMENT_PATH, type NodeStats } from "./node_stats.ts";
 * await using node = await ClusteredActorSystem.start({ name: "s", host: "127.0.0.1", port: 0, logLevel: "error" });
 * const stats = await node.ask<GetNodeStats, NodeStats>(
 *   node.lookup(MANAGEMENT_PATH)!,
 *   (replyTo) => new GetNodeStats(replyTo),
 * );
 * assert.ok(stats.actors > 0);
 * ```
 */
export class GetNodeStats {
  /** Discriminant. */
  readonly type = "getNodeStats" as const;
  /**
   * Creates a GetNodeStats.
   *
   * @param replyTo Receives the stats.
   */
  constructor(readonly replyTo: ActorRef<NodeStats>) {}
}

/** Counts dead letters and samples the message rates once a second, on the node's clock. */
export class NodeStatsSampler {
  readonly #ctx: ClusterExtensionContext;
  readonly #startedAt: number;
  #deadLetters = 0;
  #last = { at: 0, processed: 0, deadLetters: 0 };
  #rates = { messages: 0, deadLetters: 0 };
  #timer: Cancellable | undefined;
  #unsubscribe: () => void;

  /**
   * Starts sampling.
   *
   * @param ctx The extension context of the node.
   */
  constructor(ctx: ClusterExtensionContext) {
    this.#ctx = ctx;
    this.#startedAt = startedAt(ctx.incarnation) ?? ctx.clock.wallNow();
    this.#unsubscribe = ctx.node.eventStream.subscribe(DeadLetter, () => void this.#deadLetters++);
    this.#last = { at: ctx.clock.now(), processed: ctx.node.messagesProcessed, deadLetters: 0 };
    this.#schedule();
  }

  #schedule(): void {
    this.#timer = this.#ctx.clock.setTimeout(() => {
      this.#sample();
      this.#schedule();
    }, 1000);
  }

  #sample(): void {
    const now = this.#ctx.clock.now();
    const processed = this.#ctx.node.messagesProcessed;
    const seconds = Math.max(0.001, (now - this.#last.at) / 1000);
    this.#rates = {
      messages: Math.round((processed - this.#last.processed) / seconds),
      deadLetters: Math.round((this.#deadLetters - this.#last.deadLetters) / seconds),
    };
    this.#last = { at: now, processed, deadLetters: this.#deadLetters };
  }

  /**
   * This node's stats now.
   *
   * @param sharded The sharded types to count entities of (their regions are root actors).
   * @returns The stats.
   */
  stats(sharded: readonly string[]): NodeStats {
    const s = this.#ctx.node.stats();
    const mailboxes: Record<string, number> = {};
    for (const [path, tree] of Object.entries(s.roots)) {
      if (tree.queued > 0) mailboxes[path] = tree.queued;
    }
    const entities: Record<string, number> = {};
    for (const type of sharded) {
      const tree = s.roots[`/${type}`];
      if (tree !== undefined) entities[type] = tree.actors - 1;
    }
    return {
      node: formatNodeAddress(this.#ctx.selfAddress),
      id: this.#ctx.incarnation,
      startedAt: this.#startedAt,
      actors: s.actors,
      queued: s.queued,
      maxQueued: s.maxQueued,
      mailboxes,
      processed: s.processed,
      deadLetters: this.#deadLetters,
      messagesPerSecond: this.#rates.messages,
      deadLettersPerSecond: this.#rates.deadLetters,
      entities,
    };
  }

  /** Stops sampling. */
  stop(): void {
    this.#timer?.cancel();
    this.#unsubscribe();
  }
}

/**
 * When a node started, read from its incarnation id (12 base-36 digits of wall-clock ms, then
 * a dash), or `undefined` when the id has another shape.
 *
 * @param id A member id.
 * @returns Wall-clock ms.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { startedAt } from "./node_stats.ts";
 * assert.equal(startedAt("000000000001-abcdefgh"), 1);
 * assert.equal(startedAt("x"), undefined);
 * ```
 */
export function startedAt(id: string): number | undefined {
  const m = /^([0-9a-z]{12})-/.exec(id);
  return m === null ? undefined : parseInt(m[1], 36);
}
