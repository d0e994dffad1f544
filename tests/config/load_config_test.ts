import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, realpath, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { ConfigError } from "../../src/config/errors.ts";
import {
  type CastyConfig,
  defaultConfig,
  findConfigFile,
  loadConfig,
  parseConfig,
} from "../../src/config/mod.ts";

const SEED_EXAMPLE = new URL("./seed_example.toml", import.meta.url);

/** The seed's complete example, as `CastyConfig` (actors compared without their regex). */
const SEED_EXPECTED = {
  system: { name: "my-app", suppressDeadLettersOnShutdown: false },
  defaults: {
    mailbox: { capacity: 1000, strategy: "dropNew" },
    supervision: { strategy: "restart", maxRestarts: 3, within: 60_000 },
    sharding: { numShards: 256 },
    replication: { replicas: 2, minAcks: 1, ackTimeout: 5_000 },
  },
  cluster: {
    host: "0.0.0.0",
    port: 25520,
    seedNodes: ["node1:25520", "node2:25520"],
    roles: ["worker"],
    gossip: { interval: 1_000, fanout: 3 },
    heartbeat: { interval: 500, availabilityCheckInterval: 2_000 },
    failureDetector: {
      threshold: 8,
      maxSampleSize: 200,
      minStdDeviation: 100,
      acceptableHeartbeatPause: 0,
      firstHeartbeatEstimate: 1_000,
    },
    downing: { stableAfter: 4_000, strategy: "keepMajority" },
  },
  transport: defaultConfig().transport,
  serialization: { serializer: "json" },
  actors: [
    {
      pattern: "orders",
      regex: "^orders$",
      sharding: { numShards: 512 },
      replication: { replicas: 3, minAcks: 2 },
    },
    {
      pattern: "my-worker",
      regex: "^my-worker$",
      mailbox: { capacity: 5000, strategy: "backpressure" },
      supervision: { strategy: "stop" },
    },
    {
      pattern: "child-\\d+",
      regex: "^(?:child-\\d+)$",
      mailbox: { capacity: 100, strategy: "dropOldest" },
    },
  ],
};

/** `config` with each override's regex replaced by its source, for deep comparison. */
function comparable(config: CastyConfig): unknown {
  return { ...config, actors: config.actors.map((a) => ({ ...a, regex: a.regex.source })) };
}

async function rejectsWithKey(promise: Promise<unknown>, key: string, message?: RegExp) {
  await assert.rejects(promise, (error) => {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${error}`);
    assert.equal(error.name, "ConfigError");
    assert.equal(error.key, key);
    if (message) assert.match(error.message, message);
    return true;
  });
}

describe("parseConfig()", () => {
  it("parses the seed's complete example with every conversion", async () => {
    const text = await readFile(SEED_EXAMPLE, "utf8");
    assert.deepEqual(comparable(await parseConfig(text)), SEED_EXPECTED);
  });

  it("reads the minimal file and fills in every default", async () => {
    const config = await parseConfig('[system]\nname = "my-app"\n');
    const expected = defaultConfig();
    assert.deepEqual(config, { ...expected, system: { ...expected.system, name: "my-app" } });
  });

  it("returns the defaults for an empty file", async () => {
    assert.deepEqual(await parseConfig(""), defaultConfig());
    assert.deepEqual(await parseConfig("# only a comment\n"), defaultConfig());
  });

  it("returns a deeply frozen object", async () => {
    const config = await parseConfig(await readFile(SEED_EXAMPLE, "utf8"));
    assert.ok(Object.isFrozen(config));
    assert.ok(Object.isFrozen(config.cluster.gossip));
    assert.ok(Object.isFrozen(config.cluster.seedNodes));
    assert.ok(Object.isFrozen(config.actors[0].replication));
    assert.ok(config.actors[2].regex.test("child-7"));
  });

  it("rejects invalid TOML with the parser's line and column", async () => {
    await rejectsWithKey(
      parseConfig('[system]\nname = "a"\nname = "b"\n', "/etc/app/casty.toml"),
      "",
      /^Cannot parse config file "\/etc\/app\/casty\.toml" at line 3, column 1: /,
    );
    await rejectsWithKey(parseConfig("[cluster\nport = 1"), "", /^Cannot parse config at line 1/);
  });

  it("resolves relative TLS paths against the file's directory", async () => {
    const text = `[cluster.tls]
certfile = "certs/node.pem"
keyfile = "/abs/node-key.pem"
cafile = "../ca.pem"
`;
    const config = await parseConfig(text, "/srv/app/casty.toml");
    assert.deepEqual(config.cluster.tls, {
      cert: "/srv/app/certs/node.pem",
      key: "/abs/node-key.pem",
      ca: "/srv/app/../ca.pem",
      verifyHostname: true,
    });
    const bare = await parseConfig(text);
    assert.equal(bare.cluster.tls?.cert, "certs/node.pem");
  });
});

describe("loadConfig()", () => {
  let root: string;

  before(async () => {
    root = await realpath(await mkdtemp(join(tmpdir(), "casty-config-")));
  });

  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it("reads an explicit path", async () => {
    const config = await loadConfig(fileURLToPath(SEED_EXAMPLE));
    assert.deepEqual(comparable(config), SEED_EXPECTED);
  });

  it("resolves a relative explicit path against the cwd option", async () => {
    const dir = join(root, "relative");
    await mkdir(join(dir, "infra"), { recursive: true });
    await writeFile(join(dir, "infra", "app.toml"), '[system]\nname = "infra"\n');
    const config = await loadConfig("infra/app.toml", { cwd: dir });
    assert.equal(config.system.name, "infra");
  });

  it("rejects an explicit path that does not exist, naming it", async () => {
    const missing = join(root, "nope", "casty.toml");
    await rejectsWithKey(
      loadConfig(missing),
      "",
      new RegExp(`^Cannot find config file "${missing.replaceAll("\\", "\\\\")}"$`),
    );
  });

  it("rejects an explicit path that is not a readable file", async () => {
    await rejectsWithKey(loadConfig(root), "", /^Cannot read config file ".*": /);
  });

  it("names the file in a TOML syntax error", async () => {
    const dir = join(root, "broken");
    await mkdir(dir);
    await writeFile(join(dir, "casty.toml"), "[system]\nname = \n");
    await rejectsWithKey(
      loadConfig(undefined, { cwd: dir }),
      "",
      /^Cannot parse config file ".*broken[/\\]casty\.toml" at line 2, column \d+: /,
    );
  });

  it("names the key of a bad value in the file", async () => {
    const file = join(root, "bad.toml");
    await writeFile(file, '[cluster.gossip]\ninterval = "fast"\n');
    await rejectsWithKey(
      loadConfig(file),
      "cluster.gossip.interval",
      /^Invalid config key "cluster\.gossip\.interval": expected a positive number of seconds, got "fast"$/,
    );
  });

  it("returns the defaults when no casty.toml exists up the tree", async () => {
    const dir = join(root, "empty", "deep");
    await mkdir(dir, { recursive: true });
    // Holds only if no ancestor of the temp dir has a casty.toml, which the next line checks.
    assert.equal(await findConfigFile({ cwd: dir }), undefined);
    assert.deepEqual(await loadConfig(undefined, { cwd: dir }), defaultConfig());
  });

  it("discovers casty.toml by walking up from the cwd option", async () => {
    const project = join(root, "walk");
    const cwd = join(project, "src", "app");
    await mkdir(cwd, { recursive: true });
    await writeFile(join(project, "casty.toml"), '[system]\nname = "walked"\n');
    assert.equal(await findConfigFile({ cwd }), join(project, "casty.toml"));
    assert.equal((await loadConfig(undefined, { cwd })).system.name, "walked");
  });

  it("prefers the nearest casty.toml", async () => {
    const project = join(root, "nearest");
    const inner = join(project, "inner");
    const cwd = join(inner, "x");
    await mkdir(cwd, { recursive: true });
    await writeFile(join(project, "casty.toml"), '[system]\nname = "outer"\n');
    await writeFile(join(inner, "casty.toml"), '[system]\nname = "inner"\n');
    assert.equal((await loadConfig(undefined, { cwd })).system.name, "inner");
  });

  it("ignores a directory named casty.toml while walking up", async () => {
    const project = join(root, "dirnamed");
    const cwd = join(project, "a");
    await mkdir(join(cwd, "casty.toml"), { recursive: true });
    await writeFile(join(project, "casty.toml"), '[system]\nname = "file"\n');
    assert.equal((await loadConfig(undefined, { cwd })).system.name, "file");
  });

  it("walks up from the process working directory by default", async () => {
    const project = join(root, "process-cwd");
    const cwd = join(project, "one", "two");
    await mkdir(cwd, { recursive: true });
    await writeFile(join(project, "casty.toml"), '[system]\nname = "from-cwd"\n');
    const previous = process.cwd();
    process.chdir(cwd);
    try {
      assert.equal((await loadConfig()).system.name, "from-cwd");
      assert.equal((await loadConfig("../../casty.toml")).system.name, "from-cwd");
    } finally {
      process.chdir(previous);
    }
  });
});
