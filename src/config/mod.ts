/**
 * Configuration from `casty.toml`: the typed {@linkcode CastyConfig}, its loader and the
 * per-actor resolution of `[actors."pattern"]` overrides.
 *
 * The file keeps snake_case keys and writes durations in seconds (or in milliseconds for keys
 * ending in `_ms`); `CastyConfig` uses camelCase and milliseconds throughout. Every key is
 * validated: an unknown key or a bad value is a `ConfigError` naming the dotted key.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseConfig, resolveActorConfig } from "@casty/casty/config";
 *
 * const config = await parseConfig(`
 * [system]
 * name = "my-app"
 *
 * [cluster.gossip]
 * interval = 1.5
 *
 * [actors."sensor-\\\\d+"]
 * mailbox = { capacity = 100, strategy = "drop_oldest" }
 * `);
 * assert.equal(config.cluster.gossip.interval, 1500);
 * const sensor = resolveActorConfig(config, "sensor-042");
 * assert.ok(sensor.mailbox.capacity === 100 && sensor.mailbox.strategy === "dropOldest");
 * ```
 *
 * @module
 */

export {
  type ActorDefaults,
  type ActorOverride,
  type CastyConfig,
  type ClusterSettings,
  defaultConfig,
  type DowningSettings,
  type FailureDetectorSettings,
  type GossipSettings,
  type HeartbeatSettings,
  type HttpSettings,
  type MailboxSettings,
  type MailboxStrategy,
  type ReconnectBackoffSettings,
  type ReplicationSettings,
  type SerializationSettings,
  type ShardingSettings,
  type SupervisionDirective,
  type SupervisionSettings,
  type SystemSettings,
  type TlsSettings,
  type TransportSettings,
} from "./casty_config.ts";
export { configFromObject, type ConfigFromObjectOptions } from "./config_from_object.ts";
export {
  CONFIG_FILE_NAME,
  findConfigFile,
  loadConfig,
  type LoadConfigOptions,
  parseConfig,
} from "./load_config.ts";
export { resolveActorConfig, type ResolvedActorConfig } from "./resolve_actor_config.ts";
export { CastyError, type CastyErrorOptions, ConfigError } from "./errors.ts";
export { isSystemName, SYSTEM_NAME_RULE } from "./system_name.ts";
