// Shared fixtures of the sharding tests: an account entity that records, per node, which
// entities are alive (to check that no entity lives on two nodes at once) and every message it
// handled (to check delivery once and in per-sender order).
import assert from "node:assert/strict";
import type { ActorRef, Behavior } from "../../mod.ts";
import type { TestCluster } from "../../src/testing/mod.ts";
import { Behaviors } from "../../mod.ts";

export type AccountMsg =
  | { type: "deposit"; amount: number; from?: string; seq?: number }
  | { type: "getBalance"; replyTo: ActorRef<number> }
  | { type: "where"; replyTo: ActorRef<string> };

/** Which node hosts each live entity, and what every entity handled. */
export class Ledger {
  /** entityId → node labels where it is alive now. */
  readonly alive = new Map<string, Set<string>>();
  /** The first violation seen: an entity alive on two nodes at once. */
  duplicate: string | undefined;
  /** entityId → handled deposits (from, seq) in handling order, across incarnations. */
  readonly handled = new Map<string, { from?: string; seq?: number; node: string }[]>();

  started(id: string, node: string): void {
    let s = this.alive.get(id);
    if (s === undefined) this.alive.set(id, s = new Set());
    s.add(node);
    if (s.size > 1 && this.duplicate === undefined) {
      this.duplicate = `entity ${id} alive on ${[...s].join(" and ")}`;
    }
  }

  stopped(id: string, node: string): void {
    this.alive.get(id)?.delete(node);
  }

  nodeOf(id: string): string | undefined {
    const s = this.alive.get(id);
    return s && s.size > 0 ? [...s][0] : undefined;
  }
}

/** The account entity of the seed's bank example, instrumented with `ledger`. */
export function account(ledger: Ledger, node: string): (id: string) => Behavior<AccountMsg> {
  return (id) =>
    Behaviors.setup<AccountMsg>(() => {
      ledger.started(id, node);
      const active = (balance: number): Behavior<AccountMsg> =>
        Behaviors.receive<AccountMsg>((_ctx, msg) => {
          switch (msg.type) {
            case "deposit": {
              let h = ledger.handled.get(id);
              if (h === undefined) ledger.handled.set(id, h = []);
              h.push({ from: msg.from, seq: msg.seq, node });
              return active(balance + msg.amount);
            }
            case "getBalance":
              msg.replyTo.tell(balance);
              return Behaviors.same();
            case "where":
              msg.replyTo.tell(node);
              return Behaviors.same();
          }
        });
      return Behaviors.withLifecycle(active(0), { postStop: () => ledger.stopped(id, node) });
    });
}

import { type ClusteredActorSystem, DeadLetter, ShardEnvelope, ShardForward } from "../../mod.ts";

/** Deposits from one sender per node, numbered per sender, to a fixed set of entities. */
export class Traffic {
  /** (sender, seq) → entity, for every deposit sent. */
  readonly sent = new Map<string, string>();
  /** `sender/seq` of every deposit that became a dead letter. */
  readonly dead = new Set<string>();
  /** `sender/seq` → send time (clock ms). */
  readonly sentAt = new Map<string, number>();
  /**
   * Crash and cut windows [from, to]: a message on its way to a node as it crashes or as the
   * link is cut is lost with it, like data written to the socket of a killed process or of a
   * connection that breaks (the network drops it; at-most-once there).
   */
  readonly crashes: [number, number][] = [];
  #seq = new Map<string, number>();
  #i = 0;

  constructor(readonly ledger: Ledger, readonly entities: readonly string[]) {}

  /** Watches the dead letters of `node`. */
  watch(node: ClusteredActorSystem): void {
    node.eventStream.subscribe(DeadLetter, (d) => {
      let m = d.message as unknown;
      // An envelope that waited in a region's mailbox is wrapped (fast-path bookkeeping).
      if (m !== null && typeof m === "object" && "envelope" in m) m = m.envelope;
      if (m instanceof ShardForward) m = m.message;
      if (m instanceof ShardEnvelope) m = m.message;
      const x = m as { type?: string; from?: string; seq?: number };
      if (x?.type === "deposit" && x.from !== undefined) this.dead.add(`${x.from}/${x.seq}`);
    });
  }

  /** Sends one deposit from `sender` through `region`. */
  send(sender: string, region: ActorRef<ShardEnvelope<AccountMsg>>, now = 0): void {
    const seq = (this.#seq.get(sender) ?? 0) + 1;
    this.#seq.set(sender, seq);
    const id = this.entities[this.#i++ % this.entities.length];
    this.sent.set(`${sender}/${seq}`, id);
    this.sentAt.set(`${sender}/${seq}`, now);
    region.tell(new ShardEnvelope(id, { type: "deposit", amount: 1, from: sender, seq }));
  }

  /** Deposits handled so far plus dead letters. */
  accounted(): number {
    let n = this.dead.size;
    for (const h of this.ledger.handled.values()) n += h.length;
    return n;
  }

  /** Messages lost in a crash window (neither handled nor dead letters). */
  excused(): string[] {
    const handled = new Set<string>();
    for (const h of this.ledger.handled.values()) {
      for (const x of h) handled.add(`${x.from}/${x.seq}`);
    }
    return [...this.sent.keys()].filter((k) =>
      !handled.has(k) && !this.dead.has(k) && this.#excused(k)
    );
  }

  #excused(key: string): boolean {
    const t = this.sentAt.get(key) ?? -1;
    return this.crashes.some(([a, b]) => t >= a && t <= b);
  }

  /**
   * Problems: a deposit handled twice, handled by the wrong entity, handled out of its sender's
   * order, or (when `complete`) neither handled nor a dead letter.
   */
  problems(complete: boolean): string[] {
    const out: string[] = [];
    const seen = new Set<string>();
    for (const [id, handled] of this.ledger.handled) {
      const last = new Map<string, number>();
      for (const h of handled) {
        const key = `${h.from}/${h.seq}`;
        if (seen.has(key)) out.push(`${key} handled twice`);
        seen.add(key);
        if (this.sent.get(key) !== id) out.push(`${key} handled by entity ${id}`);
        if ((last.get(h.from!) ?? 0) > h.seq!) {
          out.push(`${key} handled after ${h.from}/${last.get(h.from!)} by ${id} on ${h.node}`);
        }
        last.set(h.from!, h.seq!);
      }
    }
    if (complete) {
      for (const key of this.sent.keys()) {
        if (!seen.has(key) && !this.dead.has(key) && !this.#excused(key)) {
          out.push(`${key} lost without a dead letter`);
        }
      }
    }
    return out;
  }
}

/** The region ref of the "accounts" type. */
export type Region = ActorRef<ShardEnvelope<AccountMsg>>;

/** Spawns "accounts" on every node of `cluster` (ledger labels n0, n1, …). */
export function spawnAccounts(cluster: TestCluster, ledger: Ledger, numShards = 30): Region[] {
  return cluster.nodes.map((node, i) =>
    node.spawn(Behaviors.sharded(account(ledger, `n${i}`), { numShards }), "accounts")
  );
}

/**
 * Accounts on every node, `messages` deposits to `entities` accounts sent round-robin from every
 * node, and time advanced until each is handled (or a dead letter).
 */
export async function startTraffic(
  cluster: TestCluster,
  entities: number,
  messages: number,
): Promise<{ ledger: Ledger; regions: Region[]; traffic: Traffic }> {
  const ledger = new Ledger();
  const regions = spawnAccounts(cluster, ledger);
  const traffic = new Traffic(ledger, Array.from({ length: entities }, (_, i) => `acct-${i}`));
  cluster.nodes.forEach((n) => traffic.watch(n));
  const n = regions.length;
  for (let k = 0; k < messages; k++) traffic.send(`s${k % n}`, regions[k % n]);
  await cluster.until(() => {
    assert.equal(ledger.duplicate, undefined);
    return traffic.accounted() === traffic.sent.size;
  }, { timeout: 30_000 });
  return { ledger, regions, traffic };
}
