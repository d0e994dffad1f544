/**
 * Locks and semaphores: FIFO waiters, leases renewed while the holder lives, fencing tokens.
 *
 * @module
 */
import { AskTimeoutError } from "../actor/errors.ts";
import type { Cancellable } from "../actor/clock.ts";
import type { LockApi, SemaphoreApi, WaitOptions } from "../cluster/distributed_api.ts";
import { call, type GrantHolder, type StructureRoute, trackHolder } from "./_client.ts";
import type { AcquireAnswer } from "./_permits.ts";
import { DistributedError } from "./errors.ts";

interface Grant {
  readonly owner: string;
  readonly token: number;
  /** The holder's own view of its lease: from the last renewal it sent that was confirmed. */
  validUntil: number;
  timer: Cancellable | undefined;
  released: boolean;
}

let owners = 0;
const PROCESS = crypto.randomUUID().slice(0, 8);

/** The shared client side of a lock and a semaphore. */
class PermitClient implements GrantHolder {
  readonly #route: StructureRoute;
  readonly #what: string;
  readonly #permits: number;
  readonly #lease: number;
  readonly #held: Grant[] = [];

  constructor(route: StructureRoute, what: string, permits: number, lease: number) {
    this.#route = route;
    this.#what = what;
    this.#permits = permits;
    this.#lease = lease;
  }

  #owner(): string {
    const { host, port } = this.#route.node.selfAddress;
    return `${host}:${port}/${PROCESS}/${++owners}`;
  }

  get #clock() {
    return this.#route.node.clock;
  }

  async acquire(options: WaitOptions = {}): Promise<number> {
    const { timeout, signal } = options;
    if (timeout !== undefined && !(timeout > 0)) {
      throw new DistributedError("BAD_ARGUMENT", `timeout must be positive, got ${timeout}`);
    }
    signal?.throwIfAborted();
    const owner = this.#owner();
    const start = this.#clock.now();
    const deadline = timeout === undefined ? Infinity : start + timeout;
    const poll = Math.max(1, Math.floor(this.#route.timeout / 2));
    const giveUp = (err: unknown): never => {
      // Leave the queue; if the grant raced us, give it back.
      call(this.#route, "cancel", [owner]).catch(() => {});
      throw err;
    };
    for (;;) {
      if (signal?.aborted) giveUp(signal.reason);
      const now = this.#clock.now();
      const remaining = deadline - now;
      if (remaining <= 0) giveUp(this.#timeoutError(timeout!));
      const wait = Math.min(poll, remaining);
      let answer: AcquireAnswer;
      const sentAt = now;
      try {
        answer = await call<AcquireAnswer>(
          this.#route,
          "acquire",
          [owner, this.#permits, true, Math.min(remaining, 2 ** 31), wait, this.#lease],
          { timeout: wait + this.#route.timeout, signal },
        );
      } catch (err) {
        if (err instanceof AskTimeoutError) continue; // the entity is moving: ask again
        if (signal?.aborted) giveUp(signal.reason);
        throw err;
      }
      if ("granted" in answer) {
        if (this.#clock.now() >= deadline || signal?.aborted) {
          giveUp(signal?.aborted ? signal.reason : this.#timeoutError(timeout!));
        }
        return this.#hold(owner, answer.granted, sentAt);
      }
      if ("timeout" in answer) giveUp(this.#timeoutError(timeout ?? 0));
    }
  }

  async tryAcquire(): Promise<number | undefined> {
    const owner = this.#owner();
    const sentAt = this.#clock.now();
    const answer = await call<AcquireAnswer>(this.#route, "acquire", [
      owner,
      this.#permits,
      false,
      0,
      0,
      this.#lease,
    ]);
    return "granted" in answer ? this.#hold(owner, answer.granted, sentAt) : undefined;
  }

  async release(): Promise<boolean> {
    const grant = this.#held.shift();
    if (grant === undefined) return false;
    this.#drop(grant);
    return await call<boolean>(this.#route, "release", [grant.owner]);
  }

  /** Gives back every grant (the host is closing). */
  async releaseAll(): Promise<void> {
    const grants = this.#held.splice(0);
    for (const g of grants) this.#drop(g);
    await Promise.allSettled(grants.map((g) => call<boolean>(this.#route, "release", [g.owner])));
  }

  get fencingTokens(): number[] {
    const now = this.#clock.now();
    return this.#held.filter((g) => now < g.validUntil).map((g) => g.token);
  }

  async destroy(): Promise<void> {
    for (const g of this.#held.splice(0)) this.#drop(g);
    await call(this.#route, "destroy");
  }

  #timeoutError(timeout: number): DistributedError {
    return new DistributedError(
      "ACQUIRE_TIMEOUT",
      `Cannot acquire ${this.#what}: not granted within ${timeout} ms`,
    );
  }

  #hold(owner: string, token: number, sentAt: number): number {
    const grant: Grant = {
      owner,
      token,
      validUntil: sentAt + this.#lease,
      timer: undefined,
      released: false,
    };
    this.#held.push(grant);
    trackHolder(this.#route.node, this, true);
    this.#scheduleRenew(grant);
    return token;
  }

  #drop(grant: Grant): void {
    grant.released = true;
    grant.timer?.cancel();
    const i = this.#held.indexOf(grant);
    if (i >= 0) this.#held.splice(i, 1);
    if (this.#held.length === 0) trackHolder(this.#route.node, this, false);
  }

  #scheduleRenew(grant: Grant): void {
    const every = Math.max(1, Math.floor(this.#lease / 3));
    grant.timer = this.#clock.setTimeout(async () => {
      if (grant.released || this.#route.node.isShutdown) return;
      const sentAt = this.#clock.now();
      try {
        const held = await call<boolean>(this.#route, "renew", [
          grant.owner,
          grant.token,
          this.#lease,
          this.#permits,
        ], {
          timeout: every,
        });
        if (grant.released) return;
        if (!held) {
          this.#drop(grant); // the lease ran out: someone else may hold it now
          return;
        }
        grant.validUntil = sentAt + this.#lease;
      } catch {
        // Not confirmed: the lease runs out on its own unless a later renewal gets through.
      }
      if (!grant.released && !this.#route.node.isShutdown) this.#scheduleRenew(grant);
    }, every);
  }
}

/**
 * A cluster-wide lock (see {@linkcode LockApi}); get one with `node.distributed().lock(name)`.
 *
 * @example Fencing tokens grow with every grant
 * ```ts
 * import assert from "node:assert/strict";
 * import { InMemoryJournal } from "@casty/casty/persistence";
 * import { ClusteredActorSystem } from "@casty/casty";
 * await using node = await ClusteredActorSystem.start({ name: "doc", host: "127.0.0.1", port: 0 });
 * const d = node.distributed({ journal: new InMemoryJournal() });
 * const a = d.lock("deploy");
 * const b = d.lock("deploy");
 * const t1 = await a.acquire();
 * assert.equal(await b.tryAcquire(), undefined);
 * await assert.rejects(b.acquire({ timeout: 100 }), /not granted within 100 ms/);
 * await a.release();
 * const t2 = await b.acquire();
 * assert.ok(t2 > t1);
 * assert.equal(await a.release(), false);
 * ```
 */
export class DistributedLock implements LockApi {
  readonly #client: PermitClient;
  /** The lock's name. */
  readonly name: string;

  /**
   * Made by `node.distributed().lock(name)`.
   *
   * @param name The lock's name.
   * @param route Where its entity is.
   * @param lease The lease length in ms.
   */
  constructor(name: string, route: StructureRoute, lease: number) {
    this.name = name;
    this.#client = new PermitClient(route, `lock "${name}"`, 1, lease);
  }

  /**
   * Waits for the lock (FIFO); a waiter that times out or is aborted leaves the queue.
   *
   * @param options `timeout` (ms) and `signal`.
   * @returns The fencing token of this grant.
   * @throws {DistributedError} `ACQUIRE_TIMEOUT` after `timeout`.
   */
  acquire(options?: WaitOptions): Promise<number> {
    return this.#client.acquire(options);
  }

  /**
   * Takes the lock if it is free and nobody waits.
   *
   * @returns The fencing token, or `undefined`.
   */
  tryAcquire(): Promise<number | undefined> {
    return this.#client.tryAcquire();
  }

  /**
   * Releases the lock.
   *
   * @returns `false` if this handle does not hold it (any more).
   */
  release(): Promise<boolean> {
    return this.#client.release();
  }

  /** The token of the grant this handle holds while its lease is live, else `undefined`. */
  get fencingToken(): number | undefined {
    return this.#client.fencingTokens[0];
  }

  /** Frees the lock (holders lose it, waiters time out); the next use starts a fresh one. */
  destroy(): Promise<void> {
    return this.#client.destroy();
  }
}

/**
 * A cluster-wide semaphore (see {@linkcode SemaphoreApi}); get one with
 * `node.distributed().semaphore(name, permits)`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InMemoryJournal } from "@casty/casty/persistence";
 * import { ClusteredActorSystem, DistributedError } from "@casty/casty";
 * await using node = await ClusteredActorSystem.start({ name: "doc", host: "127.0.0.1", port: 0 });
 * const d = node.distributed({ journal: new InMemoryJournal() });
 * const pool = d.semaphore("db", 2);
 * await pool.acquire();
 * await pool.acquire();
 * assert.equal(await pool.tryAcquire(), undefined);
 * await assert.rejects(
 *   d.semaphore("db", 3).tryAcquire(),
 *   (e: unknown) => e instanceof DistributedError && e.code === "PERMITS_MISMATCH",
 * );
 * ```
 */
export class DistributedSemaphore implements SemaphoreApi {
  readonly #client: PermitClient;
  /** The semaphore's name. */
  readonly name: string;
  /** The permits it was created with. */
  readonly permits: number;

  /**
   * Made by `node.distributed().semaphore(name, permits)`.
   *
   * @param name The semaphore's name.
   * @param permits Its permits.
   * @param route Where its entity is.
   * @param lease The lease length in ms.
   */
  constructor(name: string, permits: number, route: StructureRoute, lease: number) {
    this.name = name;
    this.permits = permits;
    this.#client = new PermitClient(route, `semaphore "${name}"`, permits, lease);
  }

  /**
   * Waits for a permit (FIFO); a waiter that times out or is aborted leaves the queue.
   *
   * @param options `timeout` (ms) and `signal`.
   * @returns The fencing token of this grant.
   * @throws {DistributedError} `ACQUIRE_TIMEOUT` after `timeout`, `PERMITS_MISMATCH` when the
   * semaphore exists with another permit count.
   */
  acquire(options?: WaitOptions): Promise<number> {
    return this.#client.acquire(options);
  }

  /**
   * Takes a permit if one is free and nobody waits.
   *
   * @returns The fencing token, or `undefined`.
   */
  tryAcquire(): Promise<number | undefined> {
    return this.#client.tryAcquire();
  }

  /**
   * Gives back the oldest permit this handle holds.
   *
   * @returns `false` if it holds none (any more).
   */
  release(): Promise<boolean> {
    return this.#client.release();
  }

  /** The tokens of the permits this handle holds with a live lease, oldest first. */
  get fencingTokens(): readonly number[] {
    return this.#client.fencingTokens;
  }

  /** Frees the semaphore; the next use starts a fresh one. */
  destroy(): Promise<void> {
    return this.#client.destroy();
  }
}
