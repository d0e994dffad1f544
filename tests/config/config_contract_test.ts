// The configuration contract as a user reads it: a config that sets nothing changes nothing,
// and the system-name rule is the same in casty.toml, ActorSystem and actor URIs.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ActorSystem, Behaviors, type CastyConfig, ConfigError, loadConfig } from "../../mod.ts";
import { parseConfig } from "../../src/config/load_config.ts";
import { isSystemName } from "../../src/config/system_name.ts";
import { parseActorUri } from "../../src/remote/address.ts";
import { memoryLogger, waitFor } from "../_helpers/probe.ts";

/**
 * Spawns an actor that throws on "boom", sends it "boom" then "ping", and reports how many
 * times its setup ran and whether it is still alive once the failure was handled.
 */
async function failOnce(system: ActorSystem): Promise<{ setups: number; alive: boolean }> {
  let setups = 0;
  let pings = 0;
  const ref = system.spawn(
    Behaviors.setup<string>(() => {
      setups++;
      return Behaviors.receive<string>((_ctx, msg) => {
        if (msg === "boom") throw new Error("boom");
        pings++;
      });
    }),
    "worker",
  );
  ref.tell("boom");
  ref.tell("ping");
  // Either it restarted (second setup, then the ping) or it stopped (lookup finds nothing).
  await waitFor(() => pings > 0 || system.lookup("/worker") === undefined, {
    what: "the failure to be handled",
  });
  return { setups, alive: system.lookup("/worker") !== undefined };
}

describe("a config that sets nothing", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "casty-contract-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("changes nothing: with no casty.toml a failing actor stops, as without a config", async () => {
    const config = await loadConfig(undefined, { cwd: dir });
    {
      await using plain = new ActorSystem({ logger: memoryLogger() });
      assert.deepEqual(await failOnce(plain), { setups: 1, alive: false });
    }
    {
      await using configured = new ActorSystem({ config, logger: memoryLogger() });
      assert.equal(configured.name, new ActorSystem({ logger: memoryLogger() }).name);
      assert.deepEqual(await failOnce(configured), { setups: 1, alive: false });
    }
  });

  it("restarts failing actors once [defaults.supervision] is present, strategy or not", async () => {
    for (
      const table of [
        "[defaults.supervision]\nmax_restarts = 2",
        '[defaults.supervision]\nstrategy = "restart"',
      ]
    ) {
      const config = await parseConfig(table);
      assert.equal(config.defaults.supervision.strategy, "restart");
      await using system = new ActorSystem({ config, logger: memoryLogger() });
      assert.deepEqual(await failOnce(system), { setups: 2, alive: true });
    }
  });

  it("stops failing actors when the file says stop, even for a matching override", async () => {
    const config = await parseConfig(
      '[defaults.supervision]\nstrategy = "restart"\n[actors.worker]\nsupervision = { strategy = "stop" }',
    );
    await using system = new ActorSystem({ config, logger: memoryLogger() });
    assert.deepEqual(await failOnce(system), { setups: 1, alive: false });
  });
});

describe("the system-name rule", () => {
  it("is one rule: what the file accepts, ActorSystem and actor URIs accept", async () => {
    for (const name of ["my-app", "app_2", "A1"]) {
      assert.equal(isSystemName(name), true);
      const config: CastyConfig = await parseConfig(`[system]\nname = "${name}"`);
      await using system = new ActorSystem({ config, logger: memoryLogger() });
      assert.equal(system.name, name);
      assert.equal(parseActorUri(`casty://${name}@127.0.0.1:1/a`).system, name);
    }
  });

  it("refuses in the file what ActorSystem would refuse, naming the key", async () => {
    for (const name of ["my.app", "-app", "a b", ""]) {
      assert.equal(isSystemName(name), false);
      await assert.rejects(parseConfig(`[system]\nname = "${name}"`), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.key, "system.name");
        return true;
      });
      assert.throws(() => new ActorSystem({ name }), TypeError);
      assert.throws(() => parseActorUri(`casty://${name}@127.0.0.1:1/a`));
    }
  });

  it("keeps the file's valid name when written to disk and discovered", async () => {
    const dir = await mkdtemp(join(tmpdir(), "casty-name-"));
    try {
      await writeFile(join(dir, "casty.toml"), '[system]\nname = "orders"\n');
      const config = await loadConfig(undefined, { cwd: dir });
      await using system = new ActorSystem({ config, logger: memoryLogger() });
      assert.equal(system.name, "orders");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
