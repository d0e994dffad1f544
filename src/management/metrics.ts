/**
 * `GET /metrics`: this node's view and load in the Prometheus text exposition format (0.0.4).
 *
 * @module
 */
import type { MemberStatus } from "../cluster/member.ts";
import type { TopologySnapshot } from "../cluster/topology.ts";
import type { DurableJournalStats } from "../persistence/journal_support.ts";
import { formatNodeAddress, type NodeAddress } from "../remote/address.ts";
import type { NodeStats } from "./node_stats.ts";
import { AKKA_STATUS } from "./cluster_json.ts";

/** The content type of the Prometheus text format. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Every member status, in lifecycle order (the keys of the Akka spellings). */
const STATUSES = Object.keys(AKKA_STATUS) as MemberStatus[];

function label(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

/** Lines of one metric family. */
class Family {
  readonly lines: string[];
  constructor(name: string, type: "gauge" | "counter", help: string) {
    this.lines = [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`];
    this.name = name;
  }
  readonly name: string;
  add(value: number, labels: Record<string, string> = {}): this {
    const l = Object.entries(labels).map(([k, v]) => `${k}="${label(v)}"`).join(",");
    this.lines.push(`${this.name}${l ? `{${l}}` : ""} ${Number.isFinite(value) ? value : 0}`);
    return this;
  }
}

/**
 * The Prometheus text of one node: members by status, unreachable members, the leader, actors
 * and mailbox depths, messages and dead letters (totals and per second), journal writes, and
 * shards and entities per sharded type on this node.
 *
 * @param snapshot The cluster as this node sees it.
 * @param self This node.
 * @param stats This node's stats.
 * @param journals Journals to report, by name.
 * @returns The exposition text (ends with a newline).
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TopologySnapshot } from "@casty/casty";
 * import { metricsText } from "./metrics.ts";
 * const a = { host: "127.0.0.1", port: 25520 };
 * const stats = {
 *   node: "127.0.0.1:25520", id: "x", startedAt: 0, actors: 1, queued: 0, maxQueued: 0, mailboxes: {},
 *   processed: 5, deadLetters: 0, messagesPerSecond: 1, deadLettersPerSecond: 0, entities: {},
 * };
 * const text = metricsText(new TopologySnapshot([], a, []), a, stats, {});
 * assert.match(text, /^casty_messages_processed_total 5$/m);
 * ```
 */
export function metricsText(
  snapshot: TopologySnapshot,
  self: NodeAddress,
  stats: NodeStats,
  journals: Readonly<Record<string, { readonly stats: DurableJournalStats }>>,
): string {
  const families: Family[] = [];
  const family = (name: string, type: "gauge" | "counter", help: string): Family => {
    const f = new Family(name, type, help);
    families.push(f);
    return f;
  };
  const members = family(
    "casty_cluster_members",
    "gauge",
    "Members by status, in this node's view",
  );
  for (const status of STATUSES) {
    members.add(snapshot.members.filter((m) => m.status === status).length, { status });
  }
  family("casty_cluster_unreachable_members", "gauge", "Members this node cannot reach")
    .add(snapshot.unreachable.length);
  family("casty_cluster_is_leader", "gauge", "1 when this node is the leader")
    .add(snapshot.leader && formatNodeAddress(snapshot.leader) === formatNodeAddress(self) ? 1 : 0);
  family("casty_actors", "gauge", "Live actors on this node").add(stats.actors);
  family("casty_mailbox_depth_total", "gauge", "Messages waiting in all mailboxes")
    .add(stats.queued);
  family("casty_mailbox_depth_max", "gauge", "The deepest single mailbox").add(stats.maxQueued);
  const depth = family(
    "casty_mailbox_depth",
    "gauge",
    "Messages waiting per root actor and its descendants (non-empty only)",
  );
  for (const [actor, n] of Object.entries(stats.mailboxes).sort()) depth.add(n, { actor });
  family("casty_messages_processed_total", "counter", "Messages (and system messages) handled")
    .add(stats.processed);
  family("casty_messages_per_second", "gauge", "Messages handled per second (last second)")
    .add(stats.messagesPerSecond);
  family("casty_dead_letters_total", "counter", "Messages that could not be delivered")
    .add(stats.deadLetters);
  family("casty_dead_letters_per_second", "gauge", "Dead letters per second (last second)")
    .add(stats.deadLettersPerSecond);
  const names = Object.keys(journals).sort();
  if (names.length > 0) {
    const calls = family("casty_journal_persist_calls_total", "counter", "persist calls written");
    const events = family("casty_journal_events_written_total", "counter", "Events written");
    const tx = family("casty_journal_transactions_total", "counter", "Write transactions");
    const conflicts = family("casty_journal_conflicts_total", "counter", "Conflicting persists");
    const snaps = family("casty_journal_snapshots_written_total", "counter", "Snapshots written");
    for (const journal of names) {
      const s = journals[journal].stats;
      calls.add(s.persistCalls, { journal });
      events.add(s.eventsWritten, { journal });
      tx.add(s.transactions, { journal });
      conflicts.add(s.conflicts, { journal });
      snaps.add(s.snapshotsWritten, { journal });
    }
  }
  const types = Object.keys(snapshot.allocations).sort();
  const here = formatNodeAddress(self);
  const shards = family("casty_shards", "gauge", "Shards this node serves (primary), per type");
  const all = family(
    "casty_shards_allocated",
    "gauge",
    "Shards allocated in the cluster, per type",
  );
  const entities = family("casty_entities", "gauge", "Live entities on this node, per type");
  for (const type of types) {
    const list = Object.values(snapshot.allocations[type]);
    shards.add(list.filter((a) => formatNodeAddress(a.primary) === here).length, { type });
    all.add(list.length, { type });
    entities.add(stats.entities[type] ?? 0, { type });
  }
  family("casty_allocation_epoch", "gauge", "Shard allocation epoch").add(snapshot.allocationEpoch);
  return families.map((f) => f.lines.join("\n")).join("\n") + "\n";
}
