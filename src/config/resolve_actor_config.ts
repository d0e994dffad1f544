/**
 * Per-actor settings: `[actors."pattern"]` overrides merged over `[defaults.*]`.
 *
 * @module
 */

import {
  type CastyConfig,
  defaultConfig,
  type MailboxSettings,
  type ReplicationSettings,
  type ShardingSettings,
  type SupervisionSettings,
} from "./casty_config.ts";

/** The settings that apply to one actor, every field filled in. */
export interface ResolvedActorConfig {
  /** Mailbox capacity and overflow strategy. */
  readonly mailbox: MailboxSettings;
  /** Supervision directive and restart window. */
  readonly supervision: SupervisionSettings;
  /** Shard count, for an actor that is a sharded region. */
  readonly sharding: ShardingSettings;
  /** Replication, for an actor that is a sharded region. */
  readonly replication: ReplicationSettings;
  /** The `[actors."…"]` pattern that matched, or `undefined` when none did. */
  readonly matched?: string;
}

const BUILT_IN = defaultConfig().defaults;

/**
 * The settings for the actor called `actorName`, merged field by field: the first
 * `[actors."pattern"]` entry (in file order) whose pattern matches the whole name, then
 * `[defaults.*]`, then the built-in defaults. A plain pattern (`orders`) matches only that
 * name; any other pattern is a regular expression that must match the whole name.
 *
 * Only the last segment of a path is matched, so child actors resolve by their own name
 * (`"/user/parent/child-1"` resolves as `"child-1"`). Internal actors, whose name starts
 * with `_`, ignore the file altogether and get the built-in defaults.
 *
 * @param config The loaded configuration.
 * @param actorName The actor's name, or its path.
 * @returns The merged settings.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseConfig, resolveActorConfig } from "@casty/casty/config";
 * const config = await parseConfig(`
 * [defaults.mailbox]
 * capacity = 1000
 * strategy = "drop_new"
 *
 * [actors.orders]
 * mailbox = { capacity = 5000 }
 * `);
 * const orders = resolveActorConfig(config, "orders");
 * assert.ok(orders.mailbox.capacity === 5000 && orders.mailbox.strategy === "dropNew");
 * assert.equal(resolveActorConfig(config, "billing").mailbox.capacity, 1000);
 * ```
 */
export function resolveActorConfig(
  config: Pick<CastyConfig, "defaults" | "actors">,
  actorName: string,
): ResolvedActorConfig {
  const name = actorName.slice(actorName.lastIndexOf("/") + 1);
  if (name.startsWith("_")) return BUILT_IN;
  const { defaults } = config;
  const override = config.actors.find((entry) => entry.regex.test(name));
  if (override === undefined) return defaults;
  return Object.freeze({
    mailbox: Object.freeze({ ...defaults.mailbox, ...override.mailbox }),
    supervision: Object.freeze({ ...defaults.supervision, ...override.supervision }),
    sharding: Object.freeze({ ...defaults.sharding, ...override.sharding }),
    replication: Object.freeze({ ...defaults.replication, ...override.replication }),
    matched: override.pattern,
  });
}
