// Clustered nodes with a shared secret: nodes holding it (from the option or from
// CASTY_CLUSTER_SECRET) form a cluster; a node with a wrong secret never becomes a member and
// both sides log why; `[cluster] secret` and `insecure` are read from configuration.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { ClusteredActorSystem } from "../../mod.ts";
import { configFromObject } from "../../src/config/config_from_object.ts";
import { CollectingLogger } from "../_helpers/logger.ts";
import { waitUntil } from "../_helpers/child_process.ts";

const SECRET = "cluster-secret-for-tests";

function setEnv(name: string, value: string | undefined): void {
  const deno =
    (globalThis as { Deno?: { env: { set(k: string, v: string): void; delete(k: string): void } } })
      .Deno;
  if (deno !== undefined) {
    if (value === undefined) deno.env.delete(name);
    else deno.env.set(name, value);
  } else if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

describe("ClusteredActorSystem with a shared secret", () => {
  it("forms a cluster of nodes holding the secret and keeps a wrong one out", async () => {
    const logA = new CollectingLogger();
    const logC = new CollectingLogger();
    const a = await ClusteredActorSystem.start({
      name: "guarded",
      host: "127.0.0.1",
      port: 0,
      secret: SECRET,
      logger: logA,
    });
    const seed = `127.0.0.1:${a.selfAddress.port}`;
    setEnv("CASTY_CLUSTER_SECRET", SECRET);
    let b: ClusteredActorSystem | undefined;
    try {
      b = await ClusteredActorSystem.start({
        name: "guarded",
        host: "127.0.0.1",
        port: 0,
        seedNodes: [seed],
        logger: new CollectingLogger(),
      });
    } finally {
      setEnv("CASTY_CLUSTER_SECRET", undefined);
    }
    const c = await ClusteredActorSystem.start({
      name: "guarded",
      host: "127.0.0.1",
      port: 0,
      secret: "not the cluster's secret",
      seedNodes: [seed],
      logger: logC,
    });
    try {
      await a.waitFor(2, { timeout: 20_000 });
      await waitUntil(
        () => logC.find("error", /handshake refused/).length > 0,
        10_000,
        "the wrong secret refused",
      );
      await waitUntil(
        () => logA.find("error", /refused our credentials/).length > 0,
        10_000,
        "the refusal logged by the seed",
      );
      assert.deepEqual(
        a.members.map((m) => m.address.port).sort(),
        [a.selfAddress.port, b.selfAddress.port].sort(),
      );
      assert.ok(!c.members.some((m) => m.address.port === a.selfAddress.port));
    } finally {
      await c.shutdown();
      await b.shutdown();
      await a.shutdown();
    }
  });

  it("reads [cluster] secret and insecure from configuration", () => {
    const config = configFromObject({ cluster: { secret: SECRET, insecure: true } });
    assert.equal(config.cluster.secret, SECRET);
    assert.equal(config.cluster.insecure, true);
    assert.throws(() => configFromObject({ cluster: { secret: "" } }), /secret/);
    assert.equal(configFromObject({}).cluster.secret, undefined);
  });
});
