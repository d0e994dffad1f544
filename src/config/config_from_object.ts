/**
 * Validation of a parsed `casty.toml` into a {@linkcode CastyConfig}.
 *
 * @module
 */

import { ConfigError } from "./errors.ts";
import { isSystemName, SYSTEM_NAME_RULE } from "./system_name.ts";
import {
  type ActorDefaults,
  type ActorOverride,
  type CastyConfig,
  type ClusterSettings,
  defaultConfig,
  type MailboxSettings,
  type ReplicationSettings,
  type ShardingSettings,
  type SupervisionSettings,
  type SystemSettings,
  type TransportSettings,
} from "./casty_config.ts";
import { deepFreeze, describe, isTable, joinKey, TableReader } from "./_reader.ts";

/** Options of {@linkcode configFromObject}. */
export interface ConfigFromObjectOptions {
  /**
   * Directory that relative `[cluster.tls]` paths are resolved against (the directory of the
   * `casty.toml`); relative paths are kept as written when absent.
   */
  readonly baseDir?: string;
}

const MAILBOX_KEYS = ["capacity", "strategy"] as const;
const SUPERVISION_KEYS = ["strategy", "max_restarts", "within_seconds"] as const;
const SHARDING_KEYS = ["num_shards"] as const;
const REPLICATION_KEYS = ["replicas", "min_acks", "ack_timeout"] as const;
const OVERRIDE_KEYS = ["mailbox", "supervision", "sharding", "replication"] as const;

const MAILBOX_STRATEGIES = {
  drop_new: "dropNew",
  drop_oldest: "dropOldest",
  backpressure: "backpressure",
} as const;
const DIRECTIVES = { restart: "restart", stop: "stop", escalate: "escalate" } as const;

/** A plain name matches exactly; anything else is a regular expression. */
const SIMPLE_NAME = /^[\w-]+$/;

/**
 * Validates an already-parsed `casty.toml` (a plain object, e.g. from a TOML or JSON parser)
 * and builds the {@linkcode CastyConfig}: unknown tables and keys, wrong types and
 * out-of-range values are rejected, durations are converted to milliseconds and missing keys
 * take the built-in defaults. The result is deeply frozen.
 *
 * @param object The parsed document, with the file's snake_case keys.
 * @param options See {@linkcode ConfigFromObjectOptions}.
 * @returns The validated configuration.
 * @throws {ConfigError} naming the dotted key (`cluster.gossip.interval`) of the first problem.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { configFromObject } from "@casty/casty/config";
 * const config = configFromObject({ cluster: { gossip: { interval: 1.5 } } });
 * assert.equal(config.cluster.gossip.interval, 1500);
 * ```
 */
export function configFromObject(
  object: Readonly<Record<string, unknown>>,
  options: ConfigFromObjectOptions = {},
): CastyConfig {
  const base = defaultConfig();
  const root = new TableReader(object, "", [
    "system",
    "defaults",
    "cluster",
    "transport",
    "serialization",
    "actors",
  ]);
  const defaults = readDefaults(root.table("defaults", [...OVERRIDE_KEYS]), base.defaults);
  const serialization = root.table("serialization", ["serializer"]);
  return deepFreeze({
    system: readSystem(root.table("system", ["name", "suppress_dead_letters_on_shutdown"]), base),
    defaults,
    cluster: readCluster(root.table("cluster", CLUSTER_KEYS), base.cluster, options.baseDir),
    transport: readTransport(root.table("transport", TRANSPORT_KEYS), base.transport),
    serialization: {
      serializer: serialization?.choice("serializer", { json: "json" }) ??
        base.serialization.serializer,
    },
    actors: readActors(root, defaults),
  });
}

function readSystem(t: TableReader | undefined, base: CastyConfig): SystemSettings {
  const name = t?.string("name");
  if (t !== undefined && name !== undefined && !isSystemName(name)) {
    throw t.error("name", `expected ${SYSTEM_NAME_RULE}, got ${describe(name)}`);
  }
  return {
    name: name ?? base.system.name,
    suppressDeadLettersOnShutdown: t?.boolean("suppress_dead_letters_on_shutdown") ??
      base.system.suppressDeadLettersOnShutdown,
  };
}

function readDefaults(t: TableReader | undefined, base: ActorDefaults): ActorDefaults {
  const defaults = {
    mailbox: { ...base.mailbox, ...readMailbox(t?.table("mailbox", MAILBOX_KEYS)) },
    supervision: readDefaultSupervision(t?.table("supervision", SUPERVISION_KEYS), base),
    sharding: { ...base.sharding, ...readSharding(t?.table("sharding", SHARDING_KEYS)) },
    replication: {
      ...base.replication,
      ...readReplication(t?.table("replication", REPLICATION_KEYS)),
    },
  };
  if (defaults.replication.minAcks > defaults.replication.replicas) {
    throw new ConfigError(
      "defaults.replication.min_acks",
      `must not exceed replicas (${defaults.replication.replicas}), got ${defaults.replication.minAcks}`,
    );
  }
  return defaults;
}

/**
 * `[defaults.supervision]` over the base. A table that names no strategy means "restart" (the
 * seed's file default) unless the base already chose one from a file; no table keeps the
 * base, whose built-in strategy "stop" is what an actor does without any config.
 */
function readDefaultSupervision(
  t: TableReader | undefined,
  base: ActorDefaults,
): SupervisionSettings {
  const baseSupervision = base.supervision;
  if (t === undefined) return baseSupervision;
  const own = readSupervision(t);
  const strategy = own.strategy ??
    (baseSupervision.strategy === "stop" ? "restart" : baseSupervision.strategy);
  return { ...baseSupervision, ...own, strategy };
}

// The readers below return only the fields the table sets, so that spreading them over a
// base merges field by field.

function readMailbox(t: TableReader | undefined): Partial<MailboxSettings> {
  const out: { capacity?: number; strategy?: MailboxSettings["strategy"] } = {};
  if (t === undefined) return out;
  const capacity = t.raw("capacity");
  if (capacity === "unbounded") out.capacity = undefined;
  else if (capacity !== undefined) {
    if (typeof capacity !== "number" || !Number.isSafeInteger(capacity) || capacity < 1) {
      throw t.error(
        "capacity",
        `expected a positive integer or "unbounded", got ${describe(capacity)}`,
      );
    }
    out.capacity = capacity;
  }
  const strategy = t.choice("strategy", MAILBOX_STRATEGIES);
  if (strategy !== undefined) out.strategy = strategy;
  return out;
}

function readSupervision(t: TableReader | undefined): Partial<SupervisionSettings> {
  return compact({
    strategy: t?.choice("strategy", DIRECTIVES),
    maxRestarts: t?.integer("max_restarts", { min: 0 }),
    within: t?.seconds("within_seconds"),
  });
}

function readSharding(t: TableReader | undefined): Partial<ShardingSettings> {
  return compact({ numShards: t?.integer("num_shards") });
}

function readReplication(t: TableReader | undefined): Partial<ReplicationSettings> {
  return compact({
    replicas: t?.integer("replicas", { min: 0 }),
    minAcks: t?.integer("min_acks", { min: 0 }),
    ackTimeout: t?.seconds("ack_timeout"),
  });
}

const CLUSTER_KEYS = [
  "host",
  "port",
  "bind_host",
  "node_id",
  "seed_nodes",
  "roles",
  "required_quorum",
  "gossip",
  "heartbeat",
  "failure_detector",
  "downing",
  "tls",
  "secret",
  "insecure",
  "http",
];

function readCluster(
  t: TableReader | undefined,
  base: ClusterSettings,
  baseDir: string | undefined,
): ClusterSettings {
  const gossip = t?.table("gossip", ["interval", "fanout"]);
  const heartbeat = t?.table("heartbeat", ["interval", "availability_check_interval"]);
  const detector = t?.table("failure_detector", [
    "threshold",
    "max_sample_size",
    "min_std_deviation_ms",
    "acceptable_heartbeat_pause_ms",
    "first_heartbeat_estimate_ms",
  ]);
  const downing = t?.table("downing", ["stable_after", "strategy", "quorum_size"]);
  const tls = t?.table("tls", ["certfile", "keyfile", "cafile", "verify_hostname"]);
  const http = t?.table("http", ["port", "host"]);
  // Refused rather than ignored: a node is its advertised host:port plus an incarnation id
  // drawn at each start (so a restarted node is told apart from its previous life); a fixed
  // id would defeat that.
  if (t?.string("node_id") !== undefined) {
    throw t.error(
      "node_id",
      "is not supported: a node is identified by its host:port and a new incarnation id at every start; remove node_id",
    );
  }
  return {
    host: t?.string("host") ?? base.host,
    port: t?.integer("port", { min: 0, max: 65_535 }) ?? base.port,
    ...compact({
      bindHost: t?.string("bind_host"),
      secret: t?.string("secret"),
      insecure: t?.boolean("insecure"),
      requiredQuorum: t?.integer("required_quorum"),
    }),
    seedNodes: t?.strings("seed_nodes", '"host:port" strings', checkHostPort) ?? base.seedNodes,
    roles: t?.strings("roles", "non-empty strings") ?? base.roles,
    gossip: {
      interval: gossip?.seconds("interval") ?? base.gossip.interval,
      fanout: gossip?.integer("fanout") ?? base.gossip.fanout,
    },
    heartbeat: {
      interval: heartbeat?.seconds("interval") ?? base.heartbeat.interval,
      availabilityCheckInterval: heartbeat?.seconds("availability_check_interval") ??
        base.heartbeat.availabilityCheckInterval,
    },
    failureDetector: {
      threshold: detector?.number("threshold") ?? base.failureDetector.threshold,
      maxSampleSize: detector?.integer("max_sample_size") ?? base.failureDetector.maxSampleSize,
      minStdDeviation: detector?.millis("min_std_deviation_ms") ??
        base.failureDetector.minStdDeviation,
      acceptableHeartbeatPause: detector?.millis("acceptable_heartbeat_pause_ms", {
        allowZero: true,
      }) ?? base.failureDetector.acceptableHeartbeatPause,
      firstHeartbeatEstimate: detector?.millis("first_heartbeat_estimate_ms") ??
        base.failureDetector.firstHeartbeatEstimate,
    },
    downing: readDowning(downing, base.downing),
    ...(tls === undefined ? {} : { tls: readTls(tls, baseDir) }),
    ...(http === undefined ? {} : { http: readHttp(http) }),
  };
}

function readHttp(t: TableReader): NonNullable<ClusterSettings["http"]> {
  const port = t.integer("port", { min: 0, max: 65_535 });
  if (port === undefined) throw t.error("port", "is required when [cluster.http] is present");
  const host = t.string("host");
  return host === undefined ? { port } : { port, host };
}

function readDowning(
  t: TableReader | undefined,
  base: ClusterSettings["downing"],
): ClusterSettings["downing"] {
  const strategy = t?.choice("strategy", {
    keep_majority: "keepMajority",
    static_quorum: "staticQuorum",
    keep_oldest: "keepOldest",
    down_all: "downAll",
    off: "off",
  }) ?? base.strategy;
  const quorumSize = t?.integer("quorum_size") ?? base.quorumSize;
  if (strategy === "staticQuorum" && quorumSize === undefined) {
    throw new ConfigError(
      "cluster.downing.quorum_size",
      `strategy "static_quorum" needs quorum_size (a positive integer)`,
    );
  }
  return {
    stableAfter: t?.seconds("stable_after") ?? base.stableAfter,
    strategy,
    ...(quorumSize === undefined ? {} : { quorumSize }),
  };
}

function readTls(t: TableReader, baseDir: string | undefined): ClusterSettings["tls"] {
  const path = (key: string): string => {
    const value = t.string(key);
    if (value === undefined) throw t.error(key, "is required when [cluster.tls] is present");
    return resolvePath(baseDir, value);
  };
  return {
    cert: path("certfile"),
    key: path("keyfile"),
    ca: path("cafile"),
    verifyHostname: t.boolean("verify_hostname") ?? true,
  };
}

const TRANSPORT_KEYS = [
  "max_frame_size",
  "outbound_queue_limit",
  "connect_timeout",
  "handshake_timeout",
  "unreachable_timeout",
  "max_batch_bytes",
  "write_high_water_mark",
  "shutdown_grace",
  "reconnect_backoff",
];

function readTransport(t: TableReader | undefined, base: TransportSettings): TransportSettings {
  const backoff = t?.table("reconnect_backoff", ["min", "max", "factor", "jitter"]);
  const reconnectBackoff = {
    min: backoff?.seconds("min") ?? base.reconnectBackoff.min,
    max: backoff?.seconds("max") ?? base.reconnectBackoff.max,
    factor: backoff?.number("factor") ?? base.reconnectBackoff.factor,
    jitter: backoff?.fraction("jitter") ?? base.reconnectBackoff.jitter,
  };
  if (backoff !== undefined && reconnectBackoff.factor < 1) {
    throw backoff.error(
      "factor",
      `expected a number of at least 1, got ${reconnectBackoff.factor}`,
    );
  }
  if (backoff !== undefined && reconnectBackoff.min > reconnectBackoff.max) {
    const key = backoff.has("max") ? "max" : "min";
    throw backoff.error(
      key,
      `min (${reconnectBackoff.min / 1000} s) must not exceed max (${
        reconnectBackoff.max / 1000
      } s)`,
    );
  }
  return {
    maxFrameSize: t?.integer("max_frame_size") ?? base.maxFrameSize,
    outboundQueueLimit: t?.integer("outbound_queue_limit") ?? base.outboundQueueLimit,
    connectTimeout: t?.seconds("connect_timeout") ?? base.connectTimeout,
    handshakeTimeout: t?.seconds("handshake_timeout") ?? base.handshakeTimeout,
    unreachableTimeout: t?.seconds("unreachable_timeout") ?? base.unreachableTimeout,
    maxBatchBytes: t?.integer("max_batch_bytes") ?? base.maxBatchBytes,
    writeHighWaterMark: t?.integer("write_high_water_mark") ?? base.writeHighWaterMark,
    shutdownGrace: t?.seconds("shutdown_grace", { allowZero: true }) ?? base.shutdownGrace,
    reconnectBackoff,
  };
}

function readActors(root: TableReader, defaults: ActorDefaults): ActorOverride[] {
  const entries = root.raw("actors");
  if (entries === undefined) return [];
  if (!isTable(entries)) throw root.error("actors", `expected a table, got ${describe(entries)}`);
  // Object key order is insertion (file) order, except that integer-like keys ("42") come
  // first; such keys are exact names, which two patterns can only share with a regex.
  return Object.keys(entries).map((pattern) => readOverride(entries[pattern], pattern, defaults));
}

function readOverride(value: unknown, pattern: string, defaults: ActorDefaults): ActorOverride {
  const path = joinKey("actors", pattern);
  if (pattern === "") throw new ConfigError(path, "an actor pattern must not be empty");
  const t = new TableReader(value, path, [...OVERRIDE_KEYS]);
  let regex: RegExp;
  if (SIMPLE_NAME.test(pattern)) regex = new RegExp(`^${pattern}$`);
  else {
    try {
      regex = new RegExp(`^(?:${pattern})$`);
    } catch (error) {
      throw new ConfigError(
        path,
        `expected a plain name or a valid regular expression: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }
  const override: {
    pattern: string;
    regex: RegExp;
    mailbox?: Partial<MailboxSettings>;
    supervision?: Partial<SupervisionSettings>;
    sharding?: Partial<ShardingSettings>;
    replication?: Partial<ReplicationSettings>;
  } = { pattern, regex };
  const mailbox = t.table("mailbox", MAILBOX_KEYS);
  if (mailbox) override.mailbox = readMailbox(mailbox);
  const supervision = t.table("supervision", SUPERVISION_KEYS);
  if (supervision) override.supervision = readSupervision(supervision);
  const sharding = t.table("sharding", SHARDING_KEYS);
  if (sharding) override.sharding = readSharding(sharding);
  const replication = t.table("replication", REPLICATION_KEYS);
  if (replication) {
    const own = readReplication(replication);
    const merged = { ...defaults.replication, ...own };
    if (merged.minAcks > merged.replicas) {
      const key = own.minAcks !== undefined ? "min_acks" : "replicas";
      const from = (field: "minAcks" | "replicas"): string =>
        own[field] !== undefined ? "" : ", from [defaults.replication]";
      throw replication.error(
        key,
        `min_acks (${merged.minAcks}${from("minAcks")}) must not exceed ` +
          `replicas (${merged.replicas}${from("replicas")})`,
      );
    }
    override.replication = own;
  }
  return override;
}

/** `"host:port"` with a port from 1 to 65535; IPv6 hosts in brackets. */
function checkHostPort(value: string): string | undefined {
  const match = /^(\[[^\]]+\]|[^:\s[\]]+):(\d{1,5})$/.exec(value);
  if (match === null || Number(match[2]) < 1 || Number(match[2]) > 65_535) {
    return 'expected "host:port" with a port from 1 to 65535';
  }
  return undefined;
}

function resolvePath(baseDir: string | undefined, path: string): string {
  if (baseDir === undefined || /^(?:[/\\]|[A-Za-z]:[/\\])/.test(path)) return path;
  const separator = baseDir.endsWith("/") || baseDir.endsWith("\\") ? "" : "/";
  return `${baseDir}${separator}${path}`;
}

/** Drops `undefined` fields so that spreading the result never erases a base value. */
function compact<T extends object>(object: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(object)) if (value !== undefined) out[key] = value;
  return out as { [K in keyof T]?: Exclude<T[K], undefined> };
}
