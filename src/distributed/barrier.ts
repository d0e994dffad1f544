/**
 * A reusable cluster-wide barrier.
 *
 * @module
 */
import { AskTimeoutError } from "../actor/errors.ts";
import type { BarrierApi, WaitOptions } from "../cluster/distributed_api.ts";
import { BarrierMismatchError } from "../cluster/errors.ts";
import type { ArriveAnswer } from "./_barrier_entity.ts";
import { call, type StructureRoute } from "./_client.ts";
import { DistributedError } from "./errors.ts";

let participants = 0;
const PROCESS = crypto.randomUUID().slice(0, 8);

/**
 * A reusable cluster-wide barrier (see {@linkcode BarrierApi}); get one with
 * `node.distributed().barrier(name)`.
 *
 * @example Two rounds, then a mismatch
 * ```ts
 * import assert from "node:assert/strict";
 * import { BarrierMismatchError, ClusteredActorSystem } from "@casty/casty";
 * await using node = await ClusteredActorSystem.start({ name: "doc", host: "127.0.0.1", port: 0 });
 * const b = node.distributed().barrier("phase");
 * await Promise.all([b.arrive(2), b.arrive(2)]);
 * await Promise.all([b.arrive(2), b.arrive(2)]);
 * const first = b.arrive(2, { timeout: 300 });
 * await assert.rejects(b.arrive(3), BarrierMismatchError);
 * await assert.rejects(first, /timed out/);
 * ```
 */
export class DistributedBarrier implements BarrierApi {
  readonly #route: StructureRoute;
  readonly #lease: number;
  /** The barrier's name. */
  readonly name: string;

  /**
   * Made by `node.distributed().barrier(name)`.
   *
   * @param name The barrier's name.
   * @param route Where its entity is.
   * @param lease How long an arrival lives without a poll, in ms.
   */
  constructor(name: string, route: StructureRoute, lease: number) {
    this.name = name;
    this.#route = route;
    this.#lease = lease;
  }

  /**
   * Arrives and waits until `expected` participants arrived in this round.
   *
   * @param expected The participants of the round (a positive integer).
   * @param options `timeout` (fails the round for everyone) and `signal` (leaves the round).
   * @throws {BarrierMismatchError} when the round expects another count.
   * @throws {DistributedError} `BARRIER_TIMEOUT` or `BARRIER_BROKEN` (a participant was lost).
   */
  async arrive(expected: number, options: WaitOptions = {}): Promise<void> {
    if (!Number.isInteger(expected) || expected < 1) {
      throw new DistributedError(
        "BAD_ARGUMENT",
        `expected must be a positive integer, got ${expected}`,
      );
    }
    const { timeout, signal } = options;
    if (timeout !== undefined && !(timeout > 0)) {
      throw new DistributedError("BAD_ARGUMENT", `timeout must be positive, got ${timeout}`);
    }
    signal?.throwIfAborted();
    const clock = this.#route.node.clock;
    const { host, port } = this.#route.node.selfAddress;
    const id = `${host}:${port}/${PROCESS}/${++participants}`;
    const deadline = timeout === undefined ? Infinity : clock.now() + timeout;
    const poll = Math.max(1, Math.floor(Math.min(this.#route.timeout / 2, this.#lease / 3)));
    const leave = (err: unknown): never => {
      call(this.#route, "leave", [id]).catch(() => {});
      throw err;
    };
    let joined: string | undefined;
    for (;;) {
      if (signal?.aborted) leave(signal.reason);
      const remaining = deadline - clock.now();
      if (remaining <= 0) {
        leave(
          new DistributedError("BARRIER_TIMEOUT", `Barrier "${this.name}": the round timed out`),
        );
      }
      let answer: ArriveAnswer;
      try {
        answer = await call<ArriveAnswer>(
          this.#route,
          "arrive",
          [
            id,
            expected,
            Math.min(remaining, 2 ** 31),
            Math.min(poll, remaining),
            this.#lease,
            joined,
          ],
          { timeout: poll + this.#route.timeout, signal },
        );
      } catch (err) {
        if (err instanceof AskTimeoutError) {
          // The barrier's entity did not answer (it is moving, its node died): its round, kept
          // in memory, may be lost with it, so this round fails rather than hang.
          leave(
            new DistributedError(
              "BARRIER_BROKEN",
              `Barrier "${this.name}": no answer within ${err.timeout} ms, the round is lost`,
            ),
          );
        }
        if (signal?.aborted) leave(signal.reason);
        if (err instanceof DistributedError && (err.code as string) === "BARRIER_MISMATCH") {
          throw new BarrierMismatchError(this.name, err.message);
        }
        throw err;
      }
      if ("released" in answer) return;
      joined = answer.round;
    }
  }

  /** Frees the barrier (waiting participants fail); the next use starts a fresh one. */
  async destroy(): Promise<void> {
    await call(this.#route, "destroy");
  }
}
