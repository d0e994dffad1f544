// ClusteredActorSystem.start({ config }) honours the file's [system], [cluster] and [transport]
// tables; explicit options merge over them field by field; node_id is refused, not ignored.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { ClusteredActorSystem, ConfigError, parseConfig } from "../../mod.ts";
import { resolveStartOptions } from "../../src/cluster/start_options.ts";
import { memoryLogger } from "../_helpers/probe.ts";

const FILE = `
[system]
name = "bank"

[cluster]
host = "127.0.0.1"
port = 0
roles = ["worker"]

[cluster.gossip]
interval = 0.2
fanout = 2

[cluster.heartbeat]
interval = 0.1

[transport]
max_frame_size = 65536

[transport.reconnect_backoff]
min = 0.05
`;

describe("ClusteredActorSystem.start({ config })", () => {
  it("takes name, host, port, roles and seeds from the config alone", async () => {
    const config = await parseConfig(FILE);
    await using a = await ClusteredActorSystem.start({ config, logger: memoryLogger() });
    assert.equal(a.name, "bank");
    assert.equal(a.selfAddress.host, "127.0.0.1");
    assert.ok(a.selfAddress.port > 0);
    assert.deepEqual(a.membership.selfMember?.roles, ["worker"]);

    const seeded = await parseConfig(
      `${FILE.replace('roles = ["worker"]', `seed_nodes = ["127.0.0.1:${a.selfAddress.port}"]`)}`,
    );
    await using b = await ClusteredActorSystem.start({ config: seeded, logger: memoryLogger() });
    await b.waitFor(2, { timeout: 20_000 });
    const state = await a.waitFor(2, { timeout: 20_000 });
    assert.deepEqual(
      state.members.map((m) => m.address.port).sort(),
      [a.selfAddress.port, b.selfAddress.port].sort(),
    );
  });

  it("lets explicit options win, and an undefined option keep the file's value", async () => {
    const config = await parseConfig(FILE);
    await using node = await ClusteredActorSystem.fromConfig(config, {
      roles: ["api"],
      host: undefined,
      logger: memoryLogger(),
    });
    assert.equal(node.selfAddress.host, "127.0.0.1");
    assert.deepEqual(node.membership.selfMember?.roles, ["api"]);
  });

  it("merges settings tables field by field", async () => {
    const config = await parseConfig(FILE);
    const options = resolveStartOptions({
      config,
      gossip: { fanout: 7 },
      heartbeat: { interval: undefined as unknown as number },
      transport: { connectTimeout: 1234, reconnectBackoff: { max: 999 } },
      port: undefined,
    });
    assert.equal(options.name, "bank");
    assert.equal(options.port, 0);
    assert.deepEqual(options.gossip, { interval: 200, fanout: 7 });
    assert.equal(options.heartbeat?.interval, 100);
    assert.equal(options.transport?.maxFrameSize, 65_536);
    assert.equal(options.transport?.connectTimeout, 1234);
    assert.deepEqual(options.transport?.reconnectBackoff, {
      min: 50,
      max: 999,
      factor: 2,
      jitter: 0.2,
    });
  });

  it("refuses to start without name, host or port from either side", () => {
    assert.throws(
      () => resolveStartOptions({ name: "x", host: "127.0.0.1" } as never),
      /no "port" given and no config to take it from/,
    );
  });
});

describe("[cluster] node_id", () => {
  it("is refused with a ConfigError naming the key, never silently ignored", async () => {
    await assert.rejects(parseConfig('[cluster]\nnode_id = "worker-1"'), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.key, "cluster.node_id");
      assert.match(err.message, /not supported/);
      return true;
    });
  });
});

describe("ClusteredActorSystem.getClusterState({ timeout })", () => {
  it("waits for a converged view when given a timeout", async () => {
    const config = await parseConfig(FILE);
    await using a = await ClusteredActorSystem.start({ config, logger: memoryLogger() });
    await using b = await ClusteredActorSystem.start({
      config,
      seedNodes: [`127.0.0.1:${a.selfAddress.port}`],
      logger: memoryLogger(),
    });
    await b.waitFor(2, { timeout: 20_000 });
    const state = await b.getClusterState({ timeout: 20_000 });
    assert.equal(b.membership.isConverged, true);
    assert.equal(state.members.length, 2);
  });

  it("resolves at once without a timeout", async () => {
    const config = await parseConfig(FILE);
    await using a = await ClusteredActorSystem.start({ config, logger: memoryLogger() });
    const state = await a.getClusterState();
    assert.equal(state.members.length, 1);
  });
});
