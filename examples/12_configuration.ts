/**
 * Configuration: `casty.toml` holds the system name, per-actor mailbox and supervision
 * settings (by exact name or regex) and the cluster's settings. `loadConfig()` finds the file
 * by walking up from the working directory (no file: the built-in defaults), `new ActorSystem({
 * config })` applies it to every spawn, and `ClusteredActorSystem.fromConfig(config, overrides)`
 * (or `start({ config })`) starts a node from it; explicit options win over the file.
 *
 * Run: `deno run -A examples/12_configuration.ts` or `bun examples/12_configuration.ts`
 *
 * @module
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ActorSystem,
  Behaviors,
  ClusteredActorSystem,
  loadConfig,
  type Logger,
  resolveActorConfig,
} from "../mod.ts";

const CASTY_TOML = `
[system]
name = "bank"

[defaults.mailbox]
capacity = 1000
strategy = "drop_new"

[defaults.supervision]
strategy = "restart"
max_restarts = 3
within_seconds = 60

[actors."sensor-\\\\d+"]
mailbox = { capacity = 10, strategy = "drop_oldest" }

[actors.auditor]
supervision = { strategy = "stop" }

[cluster]
host = "127.0.0.1"
port = 0
roles = ["worker"]

[cluster.gossip]
interval = 0.5
`;

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };
const dir = await mkdtemp(join(tmpdir(), "casty-config-"));
try {
  const empty = await loadConfig(undefined, { cwd: dir });
  console.log(`no casty.toml: system "${empty.system.name}", defaults only`);

  await writeFile(join(dir, "casty.toml"), CASTY_TOML);
  const config = await loadConfig(undefined, { cwd: dir });
  console.log(`system: ${config.system.name}, gossip every ${config.cluster.gossip.interval} ms`);
  const sensor = resolveActorConfig(config, "sensor-42");
  console.log(`sensor-42 mailbox: ${sensor.mailbox.capacity}, ${sensor.mailbox.strategy}`);
  console.log(`auditor supervision: ${resolveActorConfig(config, "auditor").supervision.strategy}`);

  {
    // Every spawn gets its settings: a failing "worker" restarts (the default), per the file.
    await using system = new ActorSystem({ config, logger: quiet });
    let starts = 0;
    const worker = system.spawn(
      Behaviors.setup<string>(() => {
        starts++;
        return Behaviors.receive<string>((_ctx, msg) => {
          if (msg === "fail") throw new Error("boom");
        });
      }),
      "worker",
    );
    worker.tell("fail");
    for (let i = 0; starts < 2 && i < 1000; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(starts, 2);
    console.log(`actor system "${system.name}": worker restarted after a failure`);
  }

  {
    // A node from the same file; the explicit roles win over the file's.
    await using node = await ClusteredActorSystem.fromConfig(config, {
      roles: ["api"],
      logger: quiet,
    });
    assert.ok(node.selfAddress.port > 0);
    console.log(
      `node "${node.name}" on ${node.selfAddress.host}, roles ${node.membership.selfMember?.roles}`,
    );
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
