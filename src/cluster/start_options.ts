/**
 * How `ClusteredActorSystem.start()` reads its options: the built-in defaults, then the
 * config's `[system]`, `[cluster]` and `[transport]` tables, then the explicit options, merged
 * field by field (an `undefined` option never erases the file's value).
 *
 * @module
 */

import type { CastyConfig } from "../config/casty_config.ts";
import type { DurableJournalStats } from "../persistence/journal_support.ts";
import type { ClusteredActorSystemOptions } from "./clustered_actor_system.ts";

/**
 * Options of `ClusteredActorSystem.start()` when a config is given: `name`, `host` and `port`
 * (and every other setting) may then come from the file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ConfiguredStartOptions, parseConfig } from "@casty/casty";
 * const config = await parseConfig('[system]\nname = "bank"\n[cluster]\nport = 0');
 * const options: ConfiguredStartOptions = { config, roles: ["worker"] };
 * assert.equal(options.config.system.name, "bank");
 * ```
 */
export type ConfiguredStartOptions = Partial<ClusteredActorSystemOptions> & {
  /** The configuration whose `[system]`, `[cluster]` and `[transport]` tables are honoured. */
  readonly config: CastyConfig;
};

/**
 * The `http` option of `ClusteredActorSystem.start()` (file: `[cluster.http]`): the node serves
 * the management endpoints (`/cluster/members`, `/cluster/shards`, `/metrics`, the dashboard at
 * `/`) when it is given and the management module is loaded (`@casty/casty` loads it). The same
 * authentication as the cluster port applies: the secret (as a bearer token) and TLS (HTTPS
 * with a client certificate).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ManagementHttpOptions } from "@casty/casty";
 * const http: ManagementHttpOptions = { port: 0 };
 * assert.equal(http.host, undefined);
 * ```
 */
export interface ManagementHttpOptions {
  /** TCP port; `0` picks a free one. */
  readonly port: number;
  /**
   * Interface to bind.
   * @default {"127.0.0.1"}
   */
  readonly host?: string;
  /**
   * Journals whose write counters `/metrics` reports, by a name of your choice (a
   * `SqliteJournal` or `PostgresJournal` has them). Options only, not in the file.
   */
  readonly journals?: Readonly<Record<string, { readonly stats: DurableJournalStats }>>;
}

/** Keys whose values are settings tables, merged field by field rather than replaced. */
const TABLES = new Set([
  "gossip",
  "heartbeat",
  "failureDetector",
  "downing",
  "join",
  "transport",
  "reconnectBackoff",
  "tls",
  "http",
]);

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** `over` on top of `base`: undefined values are skipped, settings tables merge recursively. */
function merge(
  base: Readonly<Record<string, unknown>>,
  over: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    if (value === undefined) continue;
    const current = out[key];
    out[key] = TABLES.has(key) && isPlainObject(value) && isPlainObject(current)
      ? merge(current, value)
      : value;
  }
  return out;
}

/** The options a config's tables give (before explicit options are laid over them). */
function optionsFromConfig(config: CastyConfig): ClusteredActorSystemOptions {
  const c = config.cluster;
  const t = config.transport;
  return {
    config,
    name: config.system.name,
    host: c.host,
    port: c.port,
    bindHost: c.bindHost,
    tls: c.tls,
    secret: c.secret,
    insecure: c.insecure,
    http: c.http,
    seedNodes: c.seedNodes,
    roles: c.roles,
    requiredQuorum: c.requiredQuorum,
    gossip: c.gossip,
    heartbeat: c.heartbeat,
    failureDetector: c.failureDetector,
    downing: c.downing,
    transport: {
      maxFrameSize: t.maxFrameSize,
      outboundQueueLimit: t.outboundQueueLimit,
      connectTimeout: t.connectTimeout,
      handshakeTimeout: t.handshakeTimeout,
      unreachableTimeout: t.unreachableTimeout,
      maxBatchBytes: t.maxBatchBytes,
      writeHighWaterMark: t.writeHighWaterMark,
      shutdownGrace: t.shutdownGrace,
      reconnectBackoff: t.reconnectBackoff,
    },
  };
}

/**
 * The options `start()` runs with: with a config, its tables under the explicit options
 * (merged deeply, `undefined` skipped); without one, the options as given.
 *
 * @param options What the caller passed to `start()`.
 * @returns Complete options.
 * @throws {TypeError} When neither the options nor a config give `name`, `host` and `port`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseConfig } from "@casty/casty";
 * import { resolveStartOptions } from "./start_options.ts";
 * const config = await parseConfig("[cluster]\nport = 0\n[cluster.gossip]\ninterval = 0.2");
 * const options = resolveStartOptions({ config, gossip: { fanout: 5 }, host: undefined });
 * assert.equal(options.host, "127.0.0.1");
 * assert.deepEqual(options.gossip, { interval: 200, fanout: 5 });
 * ```
 */
export function resolveStartOptions(
  options: ClusteredActorSystemOptions | ConfiguredStartOptions,
): ClusteredActorSystemOptions {
  const resolved = options.config === undefined ? options as ClusteredActorSystemOptions : merge(
    optionsFromConfig(options.config) as unknown as Record<string, unknown>,
    options as unknown as Record<string, unknown>,
  ) as unknown as ClusteredActorSystemOptions;
  for (const key of ["name", "host", "port"] as const) {
    if (resolved[key] === undefined) {
      throw new TypeError(
        `Cannot start a clustered actor system: no "${key}" given and no config to take it from`,
      );
    }
  }
  return resolved;
}
