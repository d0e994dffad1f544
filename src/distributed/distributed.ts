/**
 * `node.distributed({ journal? })`: counters, maps, sets and queues shared by the whole cluster,
 * each one a sharded entity.
 *
 * @module
 */
import type { ActorRef } from "../actor/actor_ref.ts";
import type { Behavior } from "../actor/behaviors.ts";
import type { AskOptions } from "../actor/actor_system.ts";
import type { Clock } from "../actor/clock.ts";
import type { NodeAddress } from "../cluster/member.ts";
import type {
  DistributedApi,
  DistributedOptions,
  LeaseOptions,
  StructureOptions,
} from "../cluster/distributed_api.ts";
import {
  addDefaultExtension,
  type ClusterExtension,
  type EntityEnvelope,
} from "../cluster/extension.ts";
import type { EventJournal } from "../persistence/journal.ts";
import type { StructureRoute } from "./_client.ts";
import { type DataCommand, dataEntity, type DataModel } from "./_entity.ts";
import { barrierEntity } from "./_barrier_entity.ts";
import { permitsEntity } from "./_permits.ts";
import { DistributedBarrier } from "./barrier.ts";
import { DistributedLock, DistributedSemaphore } from "./lock.ts";
import { counterModel, mapModel, queueModel, setModel } from "./_models.ts";
import { DistributedCounter } from "./counter.ts";
import { DistributedError } from "./errors.ts";
import { DistributedMap } from "./map.ts";
import { DistributedQueue } from "./queue.ts";
import { DistributedSet } from "./set.ts";

/** The entity prefix of every structure (also the key prefix in the journal). */
const PREFIX = "_dd";
const DEFAULT_SHARDS = 100;

// deno-lint-ignore no-explicit-any
const models: Record<string, DataModel<any, any>> = {
  counter: counterModel,
  map: mapModel,
  set: setModel,
  queue: queueModel,
};

function leaseOf(options: LeaseOptions): number {
  const lease = options.lease ?? 10_000;
  if (!(lease > 0) || !Number.isFinite(lease)) {
    throw new DistributedError(
      "BAD_ARGUMENT",
      `lease must be a positive number of ms, got ${lease}`,
    );
  }
  return lease;
}

const journals = new WeakMap<object, EventJournal | null>();

/** Where a node's `distributed()` facade makes sure a client's structures have a region. */
export const DISTRIBUTED_PATH = "/_cluster/_distributed";

/** Gives back the locks and permits held through a closing host (used by the cluster client). */
export { releaseAllHeld } from "./_client.ts";

/**
 * What the facade runs on: a node, or a cluster client (which owns no entities: it sends to
 * the nodes' regions and, with `ensureRegion`, first has every node spawn the region).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ClusteredActorSystem, type DistributedHost } from "@casty/casty";
 * await using node = await ClusteredActorSystem.start({ name: "t", host: "127.0.0.1", port: 0, logLevel: "error" });
 * const host: DistributedHost = node;
 * assert.equal(host.isShutdown, false);
 * ```
 */
export interface DistributedHost {
  /** The clock leases are measured with. */
  readonly clock: Clock;
  /** The holder's address (lock and barrier owners are named after it). */
  readonly selfAddress: NodeAddress;
  /** Whether it stopped (then leases are not renewed any more). */
  readonly isShutdown: boolean;
  /** The region of a sharded type. */
  regionRef<M>(
    name: string,
    factory: (entityId: string) => Behavior<M>,
    options: { numShards: number; replication?: { replicas: number } },
  ): ActorRef<EntityEnvelope<M>>;
  /** Asks one entity. */
  entityAsk<M, R>(
    ref: ActorRef<EntityEnvelope<M>>,
    entityId: string,
    factory: (replyTo: ActorRef<R>) => M,
    options?: AskOptions,
  ): Promise<R>;
  /** Makes the nodes spawn the structures' regions of `numShards` shards (clients only). */
  ensureRegion?(numShards: number): Promise<void>;
}

/**
 * The region of the structures with `shards` shards (counters, maps, sets, queues, locks and
 * semaphores), with the journal the node's facade uses: event-sourced over it, so replicated
 * when the type's replication (`[defaults.replication]`) says so; without a journal they live in
 * memory and are never replicated. Also what a client's `ensureRegion` makes a node spawn.
 */
function structuresRegion(
  node: DistributedHost,
  shards: number,
  journal: EventJournal | undefined,
): ActorRef<EntityEnvelope<DataCommand>> {
  return node.regionRef<DataCommand>(
    `casty-distributed-${shards}`,
    (entityId) => {
      const kind = entityId.split(":")[1];
      if (kind === "lock" || kind === "semaphore") {
        return permitsEntity(entityId, journal) as Behavior<DataCommand>;
      }
      const model = models[kind];
      if (model === undefined) throw new TypeError(`Unknown distributed entity "${entityId}"`);
      return dataEntity(model, entityId, journal);
    },
    journal === undefined ? { numShards: shards, replication: { replicas: 0 } } : {
      numShards: shards,
    },
  );
}

/** The barriers' own type of `shards` shards (never replicated). */
function barriersRegion(
  node: DistributedHost,
  shards: number,
): ActorRef<EntityEnvelope<DataCommand>> {
  return node.regionRef<DataCommand>(
    `casty-distributed-barrier-${shards}`,
    (entityId) =>
      barrierEntity(entityId.slice(`${PREFIX}:barrier:`.length)) as Behavior<DataCommand>,
    { numShards: shards, replication: { replicas: 0 } },
  );
}

/**
 * The structures of one node: every node that names a structure reaches the same one.
 *
 * @example The seed's example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ClusteredActorSystem } from "@casty/casty";
 * import { InMemoryJournal } from "@casty/casty/persistence";
 * await using node = await ClusteredActorSystem.start({ name: "doc", host: "127.0.0.1", port: 0 });
 * const d = node.distributed({ journal: new InMemoryJournal() });
 * const views = d.counter("page-views", { shards: 50 });
 * await views.increment();
 * assert.equal(await views.get(), 1);
 * const users = d.map<string, { name: string }>("users");
 * await users.put("alice", { name: "Alice" });
 * assert.deepEqual(await users.get("alice"), { name: "Alice" });
 * const tags = d.set<string>("tags");
 * assert.equal(await tags.add("python"), true);
 * const jobs = d.queue<string>("jobs");
 * await jobs.enqueue("job-1");
 * assert.equal(await jobs.dequeue(), "job-1");
 * assert.equal(await jobs.dequeue(), undefined);
 * ```
 */
export class Distributed implements DistributedApi {
  readonly #node: DistributedHost;
  readonly #journal: EventJournal | undefined;

  /**
   * Made by `node.distributed(options)`.
   *
   * @param node The node (or cluster client) the handles talk through.
   * @param options The journal, if any (a client's structures use the nodes' journal).
   * @throws {DistributedError} `JOURNAL_MISMATCH` when this node already uses another journal.
   */
  constructor(node: DistributedHost, options: DistributedOptions = {}) {
    const journal = options.journal;
    const known = journals.get(node);
    if (known !== undefined && known !== (journal ?? null)) {
      throw new DistributedError(
        "JOURNAL_MISMATCH",
        "Cannot use node.distributed() with another journal: this node already uses a different one",
      );
    }
    journals.set(node, journal ?? null);
    this.#node = node;
    this.#journal = journal;
    // With a journal, the structures of the default shard count may be replicated
    // (`[defaults.replication]`): host their type here now, so this node can keep replicas
    // before it uses a structure itself.
    if (journal !== undefined) structuresRegion(node, DEFAULT_SHARDS, journal);
  }

  /**
   * A counter.
   *
   * @param name Its name (the same name on any node is the same counter).
   * @param options Shards and timeout.
   * @returns Its handle.
   */
  counter(name: string, options: StructureOptions = {}): DistributedCounter {
    return new DistributedCounter(name, this.#route("counter", name, options));
  }

  /**
   * A key-value map.
   *
   * @param name Its name.
   * @param options Shards and timeout.
   * @returns Its handle.
   */
  map<K, V>(name: string, options: StructureOptions = {}): DistributedMap<K, V> {
    return new DistributedMap<K, V>(name, this.#route("map", name, options));
  }

  /**
   * A set.
   *
   * @param name Its name.
   * @param options Shards and timeout.
   * @returns Its handle.
   */
  set<V>(name: string, options: StructureOptions = {}): DistributedSet<V> {
    return new DistributedSet<V>(name, this.#route("set", name, options));
  }

  /**
   * A FIFO queue.
   *
   * @param name Its name.
   * @param options Shards and timeout.
   * @returns Its handle.
   */
  queue<V>(name: string, options: StructureOptions = {}): DistributedQueue<V> {
    return new DistributedQueue<V>(name, this.#route("queue", name, options));
  }

  /**
   * A lock with FIFO waiters, leases and fencing tokens. Give the facade a journal: then the
   * tokens and holders survive failovers exactly. Without one, a lock entity that starts (its
   * first use, or after its node died) grants nothing for one lease, so that a grant its previous
   * incarnation made runs out first (a holder that renews meanwhile is adopted), and its tokens
   * start from the wall clock × 1000.
   *
   * @param name Its name.
   * @param options Shards, timeout (per request) and lease (ms, default 10 000).
   * @returns Its handle (one holder).
   */
  lock(name: string, options: LeaseOptions = {}): DistributedLock {
    return new DistributedLock(name, this.#route("lock", name, options), leaseOf(options));
  }

  /**
   * A semaphore with `permits` permits, FIFO waiters, leases and fencing tokens (without a
   * journal, a starting entity waits one lease before it grants, as for {@linkcode lock}).
   *
   * @param name Its name.
   * @param permits Its permits, fixed when it is first used (another count is an error).
   * @param options Shards, timeout (per request) and lease (ms, default 10 000).
   * @returns Its handle.
   */
  semaphore(name: string, permits: number, options: LeaseOptions = {}): DistributedSemaphore {
    if (!Number.isInteger(permits) || permits < 1) {
      throw new DistributedError(
        "BAD_ARGUMENT",
        `permits must be a positive integer, got ${permits}`,
      );
    }
    return new DistributedSemaphore(
      name,
      permits,
      this.#route("semaphore", name, options),
      leaseOf(options),
    );
  }

  /**
   * A reusable barrier.
   *
   * @param name Its name.
   * @param options Shards, timeout (per request) and lease (how long an arrival whose node
   * stopped answering is waited for, ms, default 10 000).
   * @returns Its handle.
   */
  barrier(name: string, options: LeaseOptions = {}): DistributedBarrier {
    return new DistributedBarrier(name, this.#route("barrier", name, options), leaseOf(options));
  }

  #route(kind: string, name: string, options: StructureOptions): StructureRoute {
    if (typeof name !== "string" || name.length === 0) {
      throw new DistributedError("BAD_ARGUMENT", `Invalid ${kind} name ${JSON.stringify(name)}`);
    }
    const shards = options.shards ?? DEFAULT_SHARDS;
    const timeout = options.timeout ?? 5000;
    if (!Number.isInteger(shards) || shards < 1) {
      throw new DistributedError(
        "BAD_ARGUMENT",
        `shards must be a positive integer, got ${shards}`,
      );
    }
    if (!(timeout > 0)) {
      throw new DistributedError("BAD_ARGUMENT", `timeout must be positive, got ${timeout}`);
    }
    return {
      node: this.#node,
      ready: this.#node.ensureRegion?.(shards),
      region: kind === "barrier"
        ? barriersRegion(this.#node, shards)
        : structuresRegion(this.#node, shards, this.#journal),
      entityId: `${PREFIX}:${kind}:${name}`,
      timeout,
    };
  }
}

/**
 * The cluster extension that makes `node.distributed()` work; every node starts it by default
 * once `@casty/casty` or `@casty/casty/distributed` is loaded.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { distributedExtension } from "@casty/casty/distributed";
 * assert.equal(distributedExtension.name, "distributed");
 * ```
 */
export const distributedExtension: ClusterExtension = {
  name: "distributed",
  start(ctx) {
    ctx.provideDistributed((options) => new Distributed(ctx.node, options));
    // A cluster client's facade asks every node to spawn the structures' region (with the
    // journal the node's own facade uses, if it made one) before its first request.
    ctx.registerHandler(DISTRIBUTED_PATH, (_from, msg) => {
      const m = msg as { t?: unknown; shards?: unknown; replyTo?: ActorRef<boolean> };
      if (m?.t !== "ensure" || !Number.isInteger(m.shards) || (m.shards as number) < 1) return;
      try {
        structuresRegion(ctx.node, m.shards as number, journals.get(ctx.node) ?? undefined);
        barriersRegion(ctx.node, m.shards as number);
        m.replyTo?.tell(true);
      } catch (err) {
        ctx.log.warn(`Cannot spawn the distributed structures' region for a client`, err);
        m.replyTo?.tell(false);
      }
    });
  },
};

addDefaultExtension(distributedExtension);
