import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ConfigError } from "../../src/config/errors.ts";
import { configFromObject, defaultConfig, parseConfig } from "../../src/config/mod.ts";

async function rejectsWithKey(text: string, key: string, reason?: RegExp): Promise<void> {
  await assert.rejects(parseConfig(text), (error) => {
    assert.ok(error instanceof ConfigError, `expected a ConfigError for ${text}, got ${error}`);
    assert.equal(error.key, key, `key for:\n${text}\n${error.message}`);
    assert.ok(error.message.startsWith(`Invalid config key "${key}": `), error.message);
    if (reason) assert.match(error.message, reason);
    return true;
  });
}

describe("parseConfig() conversions", () => {
  it("converts seconds to milliseconds and drops unit suffixes", async () => {
    const config = await parseConfig(`
[defaults.supervision]
within_seconds = 45.0

[defaults.replication]
ack_timeout = 0.25

[cluster.gossip]
interval = 1.5

[cluster.heartbeat]
interval = 0.1
availability_check_interval = 3

[cluster.failure_detector]
min_std_deviation_ms = 100.0
acceptable_heartbeat_pause_ms = 2500
first_heartbeat_estimate_ms = 0.5

[cluster.downing]
stable_after = 7.5
`);
    assert.equal(config.defaults.supervision.within, 45_000);
    assert.equal(config.defaults.replication.ackTimeout, 250);
    assert.equal(config.cluster.gossip.interval, 1_500);
    assert.equal(config.cluster.heartbeat.interval, 100); // not 100.00000000000001
    assert.equal(config.cluster.heartbeat.availabilityCheckInterval, 3_000);
    assert.equal(config.cluster.failureDetector.minStdDeviation, 100);
    assert.equal(config.cluster.failureDetector.acceptableHeartbeatPause, 2_500);
    assert.equal(config.cluster.failureDetector.firstHeartbeatEstimate, 0.5);
    assert.equal(config.cluster.downing.stableAfter, 7_500);
  });

  it("honours every key of every table", async () => {
    const config = await parseConfig(`
[system]
name = "svc_prod-1"
suppress_dead_letters_on_shutdown = true

[defaults.mailbox]
capacity = 10
strategy = "drop_oldest"

[defaults.supervision]
strategy = "escalate"
max_restarts = 0
within_seconds = 1

[defaults.sharding]
num_shards = 7

[defaults.replication]
replicas = 1
min_acks = 1
ack_timeout = 2

[cluster]
host = "10.0.0.5"
port = 0
bind_host = "0.0.0.0"
seed_nodes = ["10.0.0.4:2551", "[::1]:2552", "seed.example.com:25520"]
roles = ["worker", "api"]
required_quorum = 3

[cluster.gossip]
interval = 0.5
fanout = 5

[cluster.heartbeat]
interval = 0.25
availability_check_interval = 1

[cluster.failure_detector]
threshold = 12.5
max_sample_size = 500
min_std_deviation_ms = 50
acceptable_heartbeat_pause_ms = 0
first_heartbeat_estimate_ms = 750

[cluster.downing]
stable_after = 10
strategy = "off"

[cluster.tls]
certfile = "/tls/node.pem"
keyfile = "/tls/node-key.pem"
cafile = "/tls/ca.pem"
verify_hostname = false

[transport]
max_frame_size = 1048576
outbound_queue_limit = 500
connect_timeout = 2
handshake_timeout = 1.5
unreachable_timeout = 60
max_batch_bytes = 4096
write_high_water_mark = 65536
shutdown_grace = 0

[transport.reconnect_backoff]
min = 0.05
max = 5
factor = 1.5
jitter = 0

[serialization]
serializer = "json"
`);
    assert.deepEqual(config, {
      system: { name: "svc_prod-1", suppressDeadLettersOnShutdown: true },
      defaults: {
        mailbox: { capacity: 10, strategy: "dropOldest" },
        supervision: { strategy: "escalate", maxRestarts: 0, within: 1_000 },
        sharding: { numShards: 7 },
        replication: { replicas: 1, minAcks: 1, ackTimeout: 2_000 },
      },
      cluster: {
        host: "10.0.0.5",
        port: 0,
        bindHost: "0.0.0.0",
        requiredQuorum: 3,
        seedNodes: ["10.0.0.4:2551", "[::1]:2552", "seed.example.com:25520"],
        roles: ["worker", "api"],
        gossip: { interval: 500, fanout: 5 },
        heartbeat: { interval: 250, availabilityCheckInterval: 1_000 },
        failureDetector: {
          threshold: 12.5,
          maxSampleSize: 500,
          minStdDeviation: 50,
          acceptableHeartbeatPause: 0,
          firstHeartbeatEstimate: 750,
        },
        downing: { stableAfter: 10_000, strategy: "off" },
        tls: {
          cert: "/tls/node.pem",
          key: "/tls/node-key.pem",
          ca: "/tls/ca.pem",
          verifyHostname: false,
        },
      },
      transport: {
        maxFrameSize: 1_048_576,
        outboundQueueLimit: 500,
        connectTimeout: 2_000,
        handshakeTimeout: 1_500,
        unreachableTimeout: 60_000,
        maxBatchBytes: 4_096,
        writeHighWaterMark: 65_536,
        shutdownGrace: 0,
        reconnectBackoff: { min: 50, max: 5_000, factor: 1.5, jitter: 0 },
      },
      serialization: { serializer: "json" },
      actors: [],
    });
  });

  it('accepts capacity = "unbounded" to lift a default bound', async () => {
    const config = await parseConfig(`
[defaults.mailbox]
capacity = 100

[actors.firehose]
mailbox = { capacity = "unbounded" }
`);
    assert.equal(config.defaults.mailbox.capacity, 100);
    assert.ok("capacity" in config.actors[0].mailbox!);
    assert.equal(config.actors[0].mailbox!.capacity, undefined);
  });

  it("keeps only the fields an override sets", async () => {
    const config = await parseConfig(`
[actors.orders]
mailbox = { capacity = 5000 }
supervision = { max_restarts = 10 }
`);
    assert.deepEqual(config.actors[0].mailbox, { capacity: 5000 });
    assert.deepEqual(config.actors[0].supervision, { maxRestarts: 10 });
    assert.equal(config.actors[0].sharding, undefined);
  });

  it("accepts override sub-tables written as [actors.x.mailbox]", async () => {
    const config = await parseConfig(`
[actors.orders.mailbox]
capacity = 5
`);
    assert.deepEqual(config.actors[0].mailbox, { capacity: 5 });
  });
});

describe("parseConfig() unknown keys", () => {
  const cases: [string, string, string][] = [
    ["an unknown top-level table", "[bogus]\nx = 1", "bogus"],
    ["a top-level key", 'name = "x"', "name"],
    ["[system]", '[system]\nnmae = "x"', "system.nmae"],
    ["[defaults]", "[defaults.mailboxes]\ncapacity = 1", "defaults.mailboxes"],
    ["[defaults.mailbox]", "[defaults.mailbox]\ncap = 1", "defaults.mailbox.cap"],
    ["[defaults.supervision]", "[defaults.supervision]\nwithin = 1", "defaults.supervision.within"],
    ["[defaults.sharding]", "[defaults.sharding]\nshards = 1", "defaults.sharding.shards"],
    ["[defaults.replication]", "[defaults.replication]\nack = 1", "defaults.replication.ack"],
    ["[cluster]", "[cluster]\nseeds = []", "cluster.seeds"],
    ["[cluster.gossip]", "[cluster.gossip]\nintervall = 1.0", "cluster.gossip.intervall"],
    ["[cluster.heartbeat]", "[cluster.heartbeat]\nperiod = 1.0", "cluster.heartbeat.period"],
    [
      "[cluster.failure_detector]",
      "[cluster.failure_detector]\nmin_std_deviation = 1.0",
      "cluster.failure_detector.min_std_deviation",
    ],
    ["[cluster.downing]", "[cluster.downing]\nafter = 1", "cluster.downing.after"],
    ["[cluster.tls]", '[cluster.tls]\ncert = "x"', "cluster.tls.cert"],
    ["[transport]", "[transport]\nmax_pending_per_path = 64", "transport.max_pending_per_path"],
    [
      "[transport.reconnect_backoff]",
      "[transport.reconnect_backoff]\ninitial = 1",
      "transport.reconnect_backoff.initial",
    ],
    [
      "[serialization]",
      '[serialization.compression]\nalgorithm = "zlib"',
      "serialization.compression",
    ],
    ["an [actors.x] key", "[actors.orders]\ntimeout = 1", "actors.orders.timeout"],
    [
      "an [actors.x] sub-key",
      "[actors.orders]\nmailbox = { capasity = 1 }",
      "actors.orders.mailbox.capasity",
    ],
    [
      "a quoted [actors.x] pattern",
      '[actors."child-\\\\d+"]\nsharding = { shards = 1 }',
      'actors."child-\\\\d+".sharding.shards',
    ],
  ];
  for (const [where, text, key] of cases) {
    it(`rejects an unknown key in ${where}, naming it`, async () => {
      await rejectsWithKey(text, key, /unknown key; expected one of /);
    });
  }
});

describe("parseConfig() bad values", () => {
  it("gives the documented message for a non-numeric interval", async () => {
    await assert.rejects(parseConfig('[cluster.gossip]\ninterval = "fast"'), {
      name: "ConfigError",
      key: "cluster.gossip.interval",
      message:
        'Invalid config key "cluster.gossip.interval": expected a positive number of seconds, got "fast"',
    });
  });

  const cases: [string, string, string, RegExp][] = [
    [
      "a negative capacity",
      "[defaults.mailbox]\ncapacity = -1",
      "defaults.mailbox.capacity",
      /got -1$/,
    ],
    [
      "a zero capacity",
      "[defaults.mailbox]\ncapacity = 0",
      "defaults.mailbox.capacity",
      /positive/,
    ],
    [
      "a fractional capacity",
      "[defaults.mailbox]\ncapacity = 1.5",
      "defaults.mailbox.capacity",
      /integer/,
    ],
    [
      "a string capacity",
      '[defaults.mailbox]\ncapacity = "lots"',
      "defaults.mailbox.capacity",
      /or "unbounded", got "lots"/,
    ],
    [
      "an unknown mailbox strategy",
      '[defaults.mailbox]\nstrategy = "reject"',
      "defaults.mailbox.strategy",
      /expected one of "drop_new", "drop_oldest", "backpressure", got "reject"/,
    ],
    [
      "a camelCase mailbox strategy",
      '[defaults.mailbox]\nstrategy = "dropNew"',
      "defaults.mailbox.strategy",
      /got "dropNew"/,
    ],
    [
      "an unknown supervision strategy",
      '[defaults.supervision]\nstrategy = "resume"',
      "defaults.supervision.strategy",
      /"restart", "stop", "escalate"/,
    ],
    [
      "negative max_restarts",
      "[defaults.supervision]\nmax_restarts = -1",
      "defaults.supervision.max_restarts",
      /non-negative integer/,
    ],
    [
      "zero num_shards",
      "[defaults.sharding]\nnum_shards = 0",
      "defaults.sharding.num_shards",
      /positive integer/,
    ],
    [
      "min_acks above replicas",
      "[defaults.replication]\nreplicas = 1\nmin_acks = 2",
      "defaults.replication.min_acks",
      /must not exceed replicas \(1\)/,
    ],
    [
      "a zero interval",
      "[cluster.gossip]\ninterval = 0",
      "cluster.gossip.interval",
      /positive number of seconds/,
    ],
    [
      "a negative interval",
      "[cluster.gossip]\ninterval = -1.0",
      "cluster.gossip.interval",
      /got -1$/,
    ],
    [
      "an infinite interval",
      "[cluster.gossip]\ninterval = inf",
      "cluster.gossip.interval",
      /got Infinity$/,
    ],
    [
      "an interval longer than a timer can wait",
      "[cluster.heartbeat]\ninterval = 3000000.0",
      "cluster.heartbeat.interval",
      /at most 2147483\.647 seconds/,
    ],
    [
      "a fractional fanout",
      "[cluster.gossip]\nfanout = 2.5",
      "cluster.gossip.fanout",
      /positive integer/,
    ],
    [
      "a zero threshold",
      "[cluster.failure_detector]\nthreshold = 0",
      "cluster.failure_detector.threshold",
      /positive number, got 0/,
    ],
    [
      "a negative heartbeat pause",
      "[cluster.failure_detector]\nacceptable_heartbeat_pause_ms = -5",
      "cluster.failure_detector.acceptable_heartbeat_pause_ms",
      /non-negative number of milliseconds/,
    ],
    [
      "a port out of range",
      "[cluster]\nport = 70000",
      "cluster.port",
      /from 0 to 65535, got 70000/,
    ],
    ["a string port", '[cluster]\nport = "25520"', "cluster.port", /got "25520"/],
    ["a date port", "[cluster]\nport = 1979-05-27", "cluster.port", /got a date \(1979-05-27\)/],
    ["an empty host", '[cluster]\nhost = ""', "cluster.host", /non-empty string/],
    [
      "a seed without a port",
      '[cluster]\nseed_nodes = ["node1:25520", "node2"]',
      "cluster.seed_nodes",
      /expected "host:port".*got "node2" at index 1/,
    ],
    [
      "a seed with port 0",
      '[cluster]\nseed_nodes = ["node1:0"]',
      "cluster.seed_nodes",
      /"node1:0"/,
    ],
    [
      "a seed with a bad port",
      '[cluster]\nseed_nodes = ["node1:http"]',
      "cluster.seed_nodes",
      /"node1:http"/,
    ],
    [
      "a non-string seed",
      "[cluster]\nseed_nodes = [25520]",
      "cluster.seed_nodes",
      /got 25520 at index 0/,
    ],
    [
      "seed_nodes as a string",
      '[cluster]\nseed_nodes = "node1:25520"',
      "cluster.seed_nodes",
      /an array/,
    ],
    ["an empty role", '[cluster]\nroles = ["worker", ""]', "cluster.roles", /at index 1/],
    [
      "a zero required_quorum",
      "[cluster]\nrequired_quorum = 0",
      "cluster.required_quorum",
      /positive integer/,
    ],
    [
      "an unknown downing strategy",
      '[cluster.downing]\nstrategy = "oldest"',
      "cluster.downing.strategy",
      /"keep_majority", "static_quorum", "keep_oldest", "down_all", "off"/,
    ],
    [
      "a TLS table without keyfile",
      '[cluster.tls]\ncertfile = "a.pem"\ncafile = "ca.pem"',
      "cluster.tls.keyfile",
      /required/,
    ],
    ["a numeric certfile", "[cluster.tls]\ncertfile = 3", "cluster.tls.certfile", /string, got 3/],
    ["a system name with a space", '[system]\nname = "my app"', "system.name", /got "my app"/],
    [
      "a non-boolean flag",
      '[system]\nsuppress_dead_letters_on_shutdown = "yes"',
      "system.suppress_dead_letters_on_shutdown",
      /true or false, got "yes"/,
    ],
    [
      "a zero max_frame_size",
      "[transport]\nmax_frame_size = 0",
      "transport.max_frame_size",
      /positive integer/,
    ],
    [
      "a jitter above 1",
      "[transport.reconnect_backoff]\njitter = 1.5",
      "transport.reconnect_backoff.jitter",
      /from 0 to 1/,
    ],
    [
      "a backoff factor below 1",
      "[transport.reconnect_backoff]\nfactor = 0.5",
      "transport.reconnect_backoff.factor",
      /at least 1/,
    ],
    [
      "a backoff min above max",
      "[transport.reconnect_backoff]\nmin = 20\nmax = 10",
      "transport.reconnect_backoff.max",
      /must not exceed/,
    ],
    [
      "an unsupported serializer",
      '[serialization]\nserializer = "pickle"',
      "serialization.serializer",
      /"json"/,
    ],
    ["a table given as a value", "system = 3", "system", /expected a table, got 3/],
    [
      "a sub-table given as a value",
      "[cluster]\ngossip = 1.0",
      "cluster.gossip",
      /expected a table/,
    ],
    ["actors given as an array", "actors = []", "actors", /expected a table, got an array/],
    ["an override given as a value", "[actors]\norders = 5", "actors.orders", /expected a table/],
    [
      "an override sub-table given as a value",
      "[actors.orders]\nmailbox = 5000",
      "actors.orders.mailbox",
      /expected a table/,
    ],
    [
      "a bad regex",
      '[actors."child-(\\\\d+"]\nmailbox = { capacity = 1 }',
      'actors."child-(\\\\d+"',
      /valid regular expression/,
    ],
    [
      "an empty pattern",
      '[actors.""]\nmailbox = { capacity = 1 }',
      'actors.""',
      /must not be empty/,
    ],
    [
      "a bad value in an override",
      "[actors.orders]\nmailbox = { capacity = -5 }",
      "actors.orders.mailbox.capacity",
      /got -5/,
    ],
    [
      "an override min_acks above its replicas",
      "[actors.orders]\nreplication = { replicas = 1, min_acks = 2 }",
      "actors.orders.replication.min_acks",
      /min_acks \(2\) must not exceed replicas \(1\)/,
    ],
    [
      "an override replicas below the inherited min_acks",
      "[defaults.replication]\nreplicas = 2\nmin_acks = 1\n[actors.orders]\nreplication = { replicas = 0 }",
      "actors.orders.replication.replicas",
      /min_acks \(1, from \[defaults\.replication\]\) must not exceed replicas \(0\)/,
    ],
  ];
  for (const [what, text, key, reason] of cases) {
    it(`rejects ${what}, naming ${key}`, async () => {
      await rejectsWithKey(text, key, reason);
    });
  }
});

describe("configFromObject()", () => {
  it("validates an object from any parser", () => {
    const config = configFromObject({ cluster: { port: 2551, gossip: { interval: 2 } } });
    assert.equal(config.cluster.port, 2551);
    assert.equal(config.cluster.gossip.interval, 2_000);
    assert.deepEqual(configFromObject({}), defaultConfig());
  });

  it("throws ConfigError synchronously", () => {
    assert.throws(() => configFromObject({ cluster: { gossip: { fanout: "3" } } }), {
      name: "ConfigError",
      key: "cluster.gossip.fanout",
    });
  });
});
