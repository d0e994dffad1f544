// Cluster barriers (`node.barrier(name, n)`): every node sends its arrival to the leader's
// barrier service at `/_cluster/_barrier`; the leader releases all participants once `n` have
// arrived, fails the round for everyone when a participant becomes unreachable or leaves, and
// answers a different `n` with BarrierMismatchError. Rounds are reusable.
// Every message carries the leader epoch (see Membership.leaderEpoch): a round belongs to one
// epoch. When leadership moves (a new epoch), the rounds held by the former leader are dropped
// and every waiter that arrived under the former epoch arrives again at the new leader, within
// its own timeout: leadership moving is the cluster's business, not the caller's. A release
// from an epoch the waiter arrived under (this call, not an earlier one) still counts, since
// that leader really saw n arrivals; the waiter then withdraws its newer arrival. Anything from
// an epoch this call never arrived under is ignored, so a former leader can never release a
// later round early. Arrivals made before any leader was known are sent once one is.
import type { Cancellable, Clock } from "../actor/clock.ts";
import { CastyError } from "../config/errors.ts";
import { BarrierMismatchError, ClusterUnavailableError } from "./errors.ts";
import { formatNodeAddress, type NodeAddress, sameNodeAddress } from "../remote/address.ts";

export const BARRIER_PATH = "/_cluster/_barrier";

/** How long a waiter refused by a node that does not lead (yet) waits before arriving again. */
const LEADERSHIP_RETRY_MS = 100;

export type BarrierMsg =
  | {
    readonly t: "arrive";
    readonly name: string;
    readonly n: number;
    readonly node: NodeAddress;
    readonly epoch: number;
  }
  | {
    readonly t: "withdraw";
    readonly name: string;
    readonly node: NodeAddress;
    readonly epoch: number;
  }
  | { readonly t: "release"; readonly name: string; readonly epoch: number }
  | {
    readonly t: "progress";
    readonly name: string;
    readonly participants: readonly NodeAddress[];
    readonly epoch: number;
  }
  | {
    readonly t: "fail";
    readonly name: string;
    readonly kind: "mismatch" | "participant" | "leadership";
    readonly reason: string;
    readonly epoch: number;
  };

interface Waiting {
  readonly n: number;
  /** The leader epoch the arrival was sent under (undefined: not sent yet, no leader). */
  epoch: number | undefined;
  /** Earlier epochs this call arrived under (leadership moved since). */
  readonly earlier: Set<number>;
  /** Participants of the round as last reported by the leader. */
  participants: readonly NodeAddress[];
  readonly resolve: () => void;
  readonly reject: (err: unknown) => void;
  readonly timer: Cancellable;
  readonly cleanup: () => void;
}

interface Round {
  readonly n: number;
  readonly epoch: number;
  readonly participants: Map<string, NodeAddress>;
}

export interface BarrierServiceOptions {
  readonly self: NodeAddress;
  readonly clock: Clock;
  readonly leader: () => NodeAddress | undefined;
  /** The latest leader epoch this node knows (0: none yet). */
  readonly epoch: () => number;
  /** Whether this node holds that epoch as the acting leader. */
  readonly isLeader: () => boolean;
  readonly send: (to: NodeAddress, msg: BarrierMsg) => void;
}

export class BarrierService {
  readonly #o: BarrierServiceOptions;
  readonly #waiting = new Map<string, Waiting>();
  readonly #rounds = new Map<string, Round>();
  #closed = false;
  #epoch = 0;

  constructor(options: BarrierServiceOptions) {
    this.#o = options;
  }

  arrive(name: string, n: number, timeout: number, signal?: AbortSignal): Promise<void> {
    if (typeof name !== "string" || name.length === 0) {
      return Promise.reject(new TypeError("A barrier needs a non-empty name"));
    }
    if (!Number.isInteger(n) || n < 1) {
      return Promise.reject(
        new RangeError(`Barrier "${name}": n must be a positive integer, got ${n}`),
      );
    }
    if (this.#closed) {
      return Promise.reject(
        new ClusterUnavailableError(`Barrier "${name}": the node is shut down`),
      );
    }
    if (this.#waiting.has(name)) {
      return Promise.reject(new TypeError(`Barrier "${name}": this node is already waiting on it`));
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    const onAbort = () => this.#give(name, signal!.reason, true);
    signal?.addEventListener("abort", onAbort, { once: true });
    const timer = this.#o.clock.setTimeout(() => {
      this.#give(
        name,
        new CastyError(
          "BARRIER_TIMEOUT",
          `Barrier "${name}": fewer than ${n} nodes arrived within ${timeout} ms`,
        ),
        true,
      );
    }, timeout);
    this.#waiting.set(name, {
      n,
      epoch: undefined,
      earlier: new Set(),
      participants: [],
      resolve,
      reject,
      timer,
      cleanup: () => signal?.removeEventListener("abort", onAbort),
    });
    this.#sendArrival(name, n);
    return promise;
  }

  /**
   * The leader or its epoch may have moved. A new epoch drops the rounds this node held as a
   * former leader and fails the waiters that arrived under an earlier epoch; arrivals that
   * waited for a leader are sent.
   */
  leaderChanged(): void {
    this.#checkEpoch();
    for (const [name, w] of this.#waiting) if (w.epoch === undefined) this.#sendArrival(name, w.n);
  }

  #checkEpoch(): void {
    const epoch = this.#o.epoch();
    if (epoch === this.#epoch) return;
    this.#epoch = epoch;
    this.#rounds.clear();
    for (const [name, w] of this.#waiting) {
      if (w.epoch === undefined || w.epoch === epoch) continue;
      this.#rearrive(name, w);
    }
  }

  /** The arrival's epoch is over: arrive again under the current one (or once a leader is known). */
  #rearrive(name: string, w: Waiting): void {
    if (w.epoch !== undefined) w.earlier.add(w.epoch);
    w.epoch = undefined;
    w.participants = [];
    queueMicrotask(() => {
      if (this.#waiting.get(name) === w && w.epoch === undefined) this.#sendArrival(name, w.n);
    });
  }

  /** A node became unreachable, was downed or removed: fail the rounds it takes part in. */
  nodeLost(node: NodeAddress): void {
    const key = formatNodeAddress(node);
    // As a participant: the leader (which may be the lost node) told us who else is waiting.
    for (const [name, w] of [...this.#waiting]) {
      if (w.participants.some((p) => sameNodeAddress(p, node))) {
        this.#give(
          name,
          new ClusterUnavailableError(
            `Barrier "${name}" failed: participant ${key} became unreachable or left the cluster`,
          ),
          true,
        );
      }
    }
    // As the leader: fail the rounds for everyone.
    for (const [name, round] of [...this.#rounds]) {
      if (!round.participants.has(key)) continue;
      this.#rounds.delete(name);
      round.participants.delete(key);
      const msg: BarrierMsg = {
        t: "fail",
        name,
        kind: "participant",
        reason: `participant ${key} became unreachable or left the cluster`,
        epoch: round.epoch,
      };
      for (const p of round.participants.values()) this.#send(p, msg);
    }
  }

  receive(msg: BarrierMsg): void {
    this.#checkEpoch();
    switch (msg.t) {
      case "arrive": {
        // Only the holder of the current epoch keeps rounds, and only for that epoch.
        if (!this.#o.isLeader() || msg.epoch !== this.#epoch) {
          this.#send(msg.node, {
            t: "fail",
            name: msg.name,
            kind: "leadership",
            reason: `leadership moved (the arrival was for epoch ${msg.epoch}, ${
              this.#o.isLeader() ? "the leader holds" : "this node does not lead in"
            } epoch ${this.#epoch}); call barrier() again`,
            epoch: msg.epoch,
          });
          return;
        }
        const key = formatNodeAddress(msg.node);
        let round = this.#rounds.get(msg.name);
        if (round && round.n !== msg.n) {
          this.#send(msg.node, {
            t: "fail",
            name: msg.name,
            kind: "mismatch",
            reason: `expected ${round.n} participants, this node said ${msg.n}`,
            epoch: round.epoch,
          });
          return;
        }
        if (!round) {
          round = { n: msg.n, epoch: this.#epoch, participants: new Map() };
          this.#rounds.set(msg.name, round);
        }
        round.participants.set(key, msg.node);
        const all = [...round.participants.values()];
        const epoch = round.epoch;
        if (all.length >= round.n) {
          this.#rounds.delete(msg.name);
          for (const p of all) this.#send(p, { t: "release", name: msg.name, epoch });
        } else {
          for (const p of all) {
            this.#send(p, { t: "progress", name: msg.name, participants: all, epoch });
          }
        }
        return;
      }
      case "withdraw": {
        const round = this.#rounds.get(msg.name);
        if (round === undefined || round.epoch !== msg.epoch) return;
        round.participants.delete(formatNodeAddress(msg.node));
        if (round.participants.size === 0) this.#rounds.delete(msg.name);
        return;
      }
      case "release": {
        const w = this.#waiting.get(msg.name);
        if (w === undefined) return;
        if (w.epoch === msg.epoch) this.#settle(msg.name, undefined);
        else if (w.earlier.has(msg.epoch)) this.#give(msg.name, undefined, true); // withdraw the newer arrival
        return; // otherwise another call's or epoch's round
      }
      case "progress": {
        const w = this.#waiting.get(msg.name);
        if (w && w.epoch === msg.epoch) w.participants = msg.participants;
        return;
      }
      case "fail": {
        const w = this.#waiting.get(msg.name);
        if (w === undefined || w.epoch !== msg.epoch) return;
        if (msg.kind === "leadership") {
          // The node we took for the leader does not lead in our epoch (yet or any more): try
          // again a little later; the timeout still bounds the whole wait.
          w.earlier.add(msg.epoch);
          w.epoch = undefined;
          this.#o.clock.setTimeout(() => {
            if (this.#waiting.get(msg.name) === w && w.epoch === undefined) {
              this.#sendArrival(msg.name, w.n);
            }
          }, LEADERSHIP_RETRY_MS);
          return;
        }
        this.#settle(
          msg.name,
          msg.kind === "mismatch"
            ? new BarrierMismatchError(msg.name, msg.reason)
            : new ClusterUnavailableError(`Barrier "${msg.name}" failed: ${msg.reason}`),
        );
        return;
      }
    }
  }

  close(): void {
    this.#closed = true;
    for (const name of [...this.#waiting.keys()]) {
      this.#give(
        name,
        new ClusterUnavailableError(`Barrier "${name}": the node is shutting down`),
        false,
      );
    }
  }

  #send(to: NodeAddress, msg: BarrierMsg): void {
    if (sameNodeAddress(to, this.#o.self)) queueMicrotask(() => this.receive(msg));
    else this.#o.send(to, msg);
  }

  #sendArrival(name: string, n: number): void {
    this.#checkEpoch();
    const leader = this.#o.leader();
    const w = this.#waiting.get(name);
    if (!leader || this.#epoch === 0 || w === undefined) return; // sent when a leader appears
    w.epoch = this.#epoch;
    const msg: BarrierMsg = { t: "arrive", name, n, node: this.#o.self, epoch: this.#epoch };
    if (sameNodeAddress(leader, this.#o.self)) this.receive(msg);
    else this.#o.send(leader, msg);
  }

  #settle(name: string, error: unknown): void {
    const w = this.#waiting.get(name);
    if (!w) return;
    this.#waiting.delete(name);
    w.timer.cancel();
    w.cleanup();
    if (error === undefined) w.resolve();
    else w.reject(error);
  }

  #give(name: string, error: unknown, withdraw: boolean): void {
    const epoch = this.#waiting.get(name)?.epoch;
    if (epoch === undefined && !this.#waiting.has(name)) return;
    this.#settle(name, error);
    const leader = this.#o.leader();
    if (withdraw && leader && epoch !== undefined) {
      const msg: BarrierMsg = { t: "withdraw", name, node: this.#o.self, epoch };
      if (sameNodeAddress(leader, this.#o.self)) this.receive(msg);
      else this.#o.send(leader, msg);
    }
  }
}
