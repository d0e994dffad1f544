/**
 * The typed form of `casty.toml`: {@linkcode CastyConfig} and its built-in defaults.
 *
 * Every table of the file becomes a plain read-only object with camelCase fields. Durations
 * are milliseconds: keys the file writes in seconds (`interval = 1.5`, `within_seconds = 45`)
 * are multiplied by 1000, keys it writes in milliseconds (`min_std_deviation_ms`) are kept,
 * and the unit suffix is dropped from the field name.
 *
 * @module
 */

import { deepFreeze } from "./_reader.ts";

/** What a full bounded mailbox does with a new message (file: `drop_new`, `drop_oldest`, `backpressure`). */
export type MailboxStrategy = "dropNew" | "dropOldest" | "backpressure";

/** What a supervisor does with a failed child (file: `restart`, `stop`, `escalate`). */
export type SupervisionDirective = "restart" | "stop" | "escalate";

/** `[defaults.mailbox]`, or `mailbox = {…}` of an actor override. */
export interface MailboxSettings {
  /**
   * Maximum queued messages; `undefined` means unbounded (file: `capacity`, or
   * `capacity = "unbounded"` to lift a bound set in `[defaults.mailbox]`).
   * @default {undefined}
   */
  readonly capacity?: number;
  /**
   * Overflow behaviour of a bounded mailbox (file: `strategy`).
   * @default {"dropNew"}
   */
  readonly strategy: MailboxStrategy;
}

/** `[defaults.supervision]`, or `supervision = {…}` of an actor override. */
export interface SupervisionSettings {
  /**
   * Directive applied to a failing child (file: `strategy`). Without a
   * `[defaults.supervision]` table an actor that fails stops, exactly as with no config at
   * all; a `[defaults.supervision]` table that names no strategy means `"restart"` (the
   * seed's file default).
   * @default {"stop"}
   */
  readonly strategy: SupervisionDirective;
  /**
   * Restarts allowed within the `within` window (file: `max_restarts`).
   * @default {3}
   */
  readonly maxRestarts: number;
  /**
   * Length of the restart window in milliseconds (file: `within_seconds`, in seconds).
   * @default {60000}
   */
  readonly within: number;
}

/** `[defaults.sharding]`, or `sharding = {…}` of an actor override. */
export interface ShardingSettings {
  /**
   * Number of shards entities are hashed into (file: `num_shards`).
   * @default {100}
   */
  readonly numShards: number;
}

/** `[defaults.replication]`, or `replication = {…}` of an actor override. */
export interface ReplicationSettings {
  /**
   * Passive replicas per entity (file: `replicas`).
   * @default {0}
   */
  readonly replicas: number;
  /**
   * Replica acknowledgements awaited before a command is confirmed; at most `replicas`
   * (file: `min_acks`).
   * @default {0}
   */
  readonly minAcks: number;
  /**
   * Milliseconds to wait for the acknowledgements (file: `ack_timeout`, in seconds).
   * @default {5000}
   */
  readonly ackTimeout: number;
}

/** `[defaults]`: the settings every actor gets unless an `[actors."…"]` entry overrides them. */
export interface ActorDefaults {
  /** `[defaults.mailbox]`. */
  readonly mailbox: MailboxSettings;
  /** `[defaults.supervision]`. */
  readonly supervision: SupervisionSettings;
  /** `[defaults.sharding]`. */
  readonly sharding: ShardingSettings;
  /** `[defaults.replication]`. */
  readonly replication: ReplicationSettings;
}

/** `[system]`. */
export interface SystemSettings {
  /**
   * Name of the actor system, part of every actor address (file: `name`).
   * @default {"casty"}
   */
  readonly name: string;
  /**
   * Whether messages left in mailboxes at shutdown are discarded silently instead of being
   * published as `DeadLetter`s (file: `suppress_dead_letters_on_shutdown`).
   * @default {false}
   */
  readonly suppressDeadLettersOnShutdown: boolean;
}

/** `[cluster.gossip]`. */
export interface GossipSettings {
  /**
   * Milliseconds between gossip rounds (file: `interval`, in seconds).
   * @default {1000}
   */
  readonly interval: number;
  /**
   * Peers contacted per round (file: `fanout`).
   * @default {3}
   */
  readonly fanout: number;
}

/** `[cluster.heartbeat]`. */
export interface HeartbeatSettings {
  /**
   * Milliseconds between heartbeats to each monitored node (file: `interval`, in seconds).
   * @default {500}
   */
  readonly interval: number;
  /**
   * Milliseconds between failure-detector checks (file: `availability_check_interval`, in
   * seconds).
   * @default {2000}
   */
  readonly availabilityCheckInterval: number;
}

/** `[cluster.failure_detector]`: the phi accrual failure detector. */
export interface FailureDetectorSettings {
  /**
   * Phi above which a node is considered unreachable (file: `threshold`).
   * @default {8}
   */
  readonly threshold: number;
  /**
   * Heartbeat intervals kept for the estimate (file: `max_sample_size`).
   * @default {200}
   */
  readonly maxSampleSize: number;
  /**
   * Lower bound of the interval standard deviation, in milliseconds (file:
   * `min_std_deviation_ms`).
   * @default {100}
   */
  readonly minStdDeviation: number;
  /**
   * Extra pause tolerated before suspicion grows, in milliseconds (file:
   * `acceptable_heartbeat_pause_ms`). The default tolerates a 1.5 s event-loop stall.
   * @default {1750}
   */
  readonly acceptableHeartbeatPause: number;
  /**
   * Interval assumed before the first heartbeat arrives, in milliseconds (file:
   * `first_heartbeat_estimate_ms`); the default heartbeat interval, so that a new member's
   * failure is detected as fast as an old member's.
   * @default {500}
   */
  readonly firstHeartbeatEstimate: number;
}

/** `[cluster.downing]`: the split-brain resolver. */
export interface DowningSettings {
  /**
   * Milliseconds the unreachable set must stay unchanged before the resolver acts (file:
   * `stable_after`, in seconds).
   * @default {4000}
   */
  readonly stableAfter: number;
  /**
   * The strategy (file: `keep_majority`, `static_quorum`, `keep_oldest`, `down_all` or `off`);
   * see the cluster's `DowningStrategy`.
   * @default {"keepMajority"}
   */
  readonly strategy: "keepMajority" | "staticQuorum" | "keepOldest" | "downAll" | "off";
  /** For `static_quorum` (required there): the least number of members that stay up. */
  readonly quorumSize?: number;
}

/**
 * `[cluster.tls]`: mutual TLS between nodes. Paths are resolved against the directory of the
 * `casty.toml` they come from.
 */
export interface TlsSettings {
  /** Path of this node's PEM certificate chain (file: `certfile`). */
  readonly cert: string;
  /** Path of this node's PEM private key (file: `keyfile`). */
  readonly key: string;
  /** Path of the PEM CA certificate peers must be signed by (file: `cafile`). */
  readonly ca: string;
  /**
   * Whether a client checks the server certificate's SANs against the dialled host (file:
   * `verify_hostname`).
   * @default {true}
   */
  readonly verifyHostname: boolean;
}

/**
 * `[cluster.http]`: the management HTTP server (JSON endpoints, `/metrics`, the dashboard).
 * Off when absent.
 */
export interface HttpSettings {
  /** TCP port; `0` lets the OS choose (file: `port`, required). */
  readonly port: number;
  /**
   * Interface to bind (file: `host`).
   * @default {"127.0.0.1"}
   */
  readonly host?: string;
}

/** `[cluster]`. */
export interface ClusterSettings {
  /**
   * Host this node advertises to its peers (file: `host`).
   * @default {"127.0.0.1"}
   */
  readonly host: string;
  /**
   * TCP port this node listens on; `0` lets the OS choose (file: `port`).
   * @default {25520}
   */
  readonly port: number;
  /** Interface to bind when it differs from `host`, e.g. `"0.0.0.0"` (file: `bind_host`). */
  readonly bindHost?: string;
  /**
   * Contact points as `"host:port"` (`"[::1]:25520"` for IPv6) (file: `seed_nodes`).
   * @default {[]}
   */
  readonly seedNodes: readonly string[];
  /**
   * Roles of this node (file: `roles`).
   * @default {[]}
   */
  readonly roles: readonly string[];
  /** Members that must be up before startup completes (file: `required_quorum`). */
  readonly requiredQuorum?: number;
  /** `[cluster.gossip]`. */
  readonly gossip: GossipSettings;
  /** `[cluster.heartbeat]`. */
  readonly heartbeat: HeartbeatSettings;
  /** `[cluster.failure_detector]`. */
  readonly failureDetector: FailureDetectorSettings;
  /** `[cluster.downing]`. */
  readonly downing: DowningSettings;
  /** `[cluster.tls]`; plain TCP when absent. */
  readonly tls?: TlsSettings;
  /**
   * Secret shared by every node, proven in each handshake without crossing the wire (file:
   * `secret`). The `CASTY_CLUSTER_SECRET` environment variable is used when it is absent.
   */
  readonly secret?: string;
  /**
   * Accept unauthenticated peers on a non-loopback address, with neither `tls` nor `secret`
   * (file: `insecure`); logs a loud warning.
   * @default {false}
   */
  readonly insecure?: boolean;
  /** `[cluster.http]`; no management HTTP server when absent. */
  readonly http?: HttpSettings;
}

/** `[transport.reconnect_backoff]`: delays between reconnection attempts to a peer. */
export interface ReconnectBackoffSettings {
  /**
   * First delay in milliseconds (file: `min`, in seconds).
   * @default {100}
   */
  readonly min: number;
  /**
   * Largest delay in milliseconds (file: `max`, in seconds).
   * @default {10000}
   */
  readonly max: number;
  /**
   * Multiplier applied after each failed attempt (file: `factor`).
   * @default {2}
   */
  readonly factor: number;
  /**
   * Random fraction, from 0 to 1, added to or removed from each delay (file: `jitter`).
   * @default {0.2}
   */
  readonly jitter: number;
}

/** `[transport]`: the TCP transport between nodes. */
export interface TransportSettings {
  /**
   * Largest accepted frame in bytes, checked before the body is read (file: `max_frame_size`).
   * @default {16777216}
   */
  readonly maxFrameSize: number;
  /**
   * Messages queued per peer while it is unreachable or slow (file: `outbound_queue_limit`).
   * @default {100000}
   */
  readonly outboundQueueLimit: number;
  /**
   * Milliseconds to establish a connection (file: `connect_timeout`, in seconds).
   * @default {5000}
   */
  readonly connectTimeout: number;
  /**
   * Milliseconds for the handshake after connecting (file: `handshake_timeout`, in seconds).
   * @default {5000}
   */
  readonly handshakeTimeout: number;
  /**
   * Milliseconds of failed reconnection after which queued messages to a peer become dead
   * letters (file: `unreachable_timeout`, in seconds).
   * @default {30000}
   */
  readonly unreachableTimeout: number;
  /**
   * Bytes of frames coalesced into one socket write (file: `max_batch_bytes`).
   * @default {65536}
   */
  readonly maxBatchBytes: number;
  /**
   * Buffered bytes per connection above which writing pauses (file: `write_high_water_mark`).
   * @default {1048576}
   */
  readonly writeHighWaterMark: number;
  /**
   * Milliseconds allowed to flush queued frames at shutdown (file: `shutdown_grace`, in
   * seconds).
   * @default {1000}
   */
  readonly shutdownGrace: number;
  /** `[transport.reconnect_backoff]`. */
  readonly reconnectBackoff: ReconnectBackoffSettings;
}

/** `[serialization]`. */
export interface SerializationSettings {
  /**
   * The wire serializer; `"json"` is the built-in tagged JSON. Custom serializers are passed
   * in code, not in the file.
   * @default {"json"}
   */
  readonly serializer: "json";
}

/**
 * One `[actors."pattern"]` entry: settings that replace `[defaults.*]` field by field for the
 * actors whose name matches.
 */
export interface ActorOverride {
  /** The key as written in the file: a plain name (`orders`) or a regular expression. */
  readonly pattern: string;
  /** `pattern` anchored at both ends: an exact name, or the regex with full-match semantics. */
  readonly regex: RegExp;
  /** Only the mailbox fields the entry sets. */
  readonly mailbox?: Partial<MailboxSettings>;
  /** Only the supervision fields the entry sets. */
  readonly supervision?: Partial<SupervisionSettings>;
  /** Only the sharding fields the entry sets. */
  readonly sharding?: Partial<ShardingSettings>;
  /** Only the replication fields the entry sets. */
  readonly replication?: Partial<ReplicationSettings>;
}

/** The whole of `casty.toml`, validated, with built-in defaults filled in. */
export interface CastyConfig {
  /** `[system]`. */
  readonly system: SystemSettings;
  /** `[defaults.*]`. */
  readonly defaults: ActorDefaults;
  /** `[cluster]` and its sub-tables. */
  readonly cluster: ClusterSettings;
  /** `[transport]`. */
  readonly transport: TransportSettings;
  /** `[serialization]`. */
  readonly serialization: SerializationSettings;
  /** `[actors."pattern"]` entries in file order; the first that matches an actor wins. */
  readonly actors: readonly ActorOverride[];
}

/**
 * The configuration used when there is no `casty.toml`: the same defaults as the
 * programmatic API. Returns a new deeply frozen object on each call.
 *
 * @returns The built-in defaults.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultConfig } from "@casty/casty/config";
 * const config = defaultConfig();
 * assert.equal(config.system.name, "casty");
 * assert.equal(config.cluster.gossip.interval, 1000);
 * assert.equal(config.defaults.mailbox.capacity, undefined);
 * ```
 */
export function defaultConfig(): CastyConfig {
  return deepFreeze({
    system: { name: "casty", suppressDeadLettersOnShutdown: false },
    defaults: {
      mailbox: { capacity: undefined, strategy: "dropNew" },
      // "stop": a config that sets nothing changes nothing (an unsupervised actor stops).
      supervision: { strategy: "stop", maxRestarts: 3, within: 60_000 },
      sharding: { numShards: 100 },
      replication: { replicas: 0, minAcks: 0, ackTimeout: 5_000 },
    },
    cluster: {
      host: "127.0.0.1",
      port: 25520,
      seedNodes: [],
      roles: [],
      gossip: { interval: 1_000, fanout: 3 },
      heartbeat: { interval: 500, availabilityCheckInterval: 2_000 },
      failureDetector: {
        threshold: 8,
        maxSampleSize: 200,
        minStdDeviation: 100,
        acceptableHeartbeatPause: 1_750,
        firstHeartbeatEstimate: 500,
      },
      downing: { stableAfter: 4_000, strategy: "keepMajority" },
    },
    transport: {
      maxFrameSize: 16 * 1024 * 1024,
      outboundQueueLimit: 100_000,
      connectTimeout: 5_000,
      handshakeTimeout: 5_000,
      unreachableTimeout: 30_000,
      maxBatchBytes: 65_536,
      writeHighWaterMark: 1_048_576,
      shutdownGrace: 1_000,
      reconnectBackoff: { min: 100, max: 2_000, factor: 2, jitter: 0.2 },
    },
    serialization: { serializer: "json" },
    actors: [],
  });
}
