/**
 * The `casty` command line: run a node, or print a cluster's status.
 *
 * ```sh
 * deno run -A jsr:@casty/casty/cli node --config casty.toml --port 25520 --seed 10.0.0.2:25520
 * deno run -A jsr:@casty/casty/cli status --contact 10.0.0.2:25520 --name bank
 * ```
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { main } from "@casty/casty/cli";
 * const code = await main(["help"], { out: () => {} });
 * assert.equal(code, 0);
 * ```
 *
 * @module
 */
import process from "node:process";
import { ConfigError } from "../actor/errors.ts";
import { ClusteredActorSystem } from "../cluster/clustered_actor_system.ts";
import { GetTopology, TOPOLOGY_PATH, type TopologySnapshot } from "../cluster/topology.ts";
import { defaultConfig } from "../config/casty_config.ts";
import { loadConfig } from "../config/load_config.ts";
import { AddressError, formatNodeAddress, parseNodeAddress } from "../remote/address.ts";

/** Where the CLI writes; the defaults are stdout and stderr. */
export interface CliOutput {
  /** Normal output, one line per call. */
  out?: (line: string) => void;
  /** Errors and usage, one line per call. */
  err?: (line: string) => void;
  /** Resolves when the node should stop (SIGINT/SIGTERM by default). */
  stopSignal?: Promise<void>;
}

const USAGE = `usage:
  casty node [--config casty.toml] [--name NAME] [--host HOST] [--port PORT] [--seed HOST:PORT]... [--roles a,b]
  casty status --contact HOST:PORT [--name NAME] [--config casty.toml] [--timeout MS]
  casty help`;

interface Flags {
  readonly values: Map<string, string[]>;
}

function parseFlags(args: string[], allowed: readonly string[]): Flags {
  const values = new Map<string, string[]>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith("--")) throw new TypeError(`unexpected argument "${a}"`);
    const [name, inline] = a.slice(2).split("=", 2);
    if (!allowed.includes(name)) throw new TypeError(`unknown option "--${name}"`);
    const value = inline ?? args[++i];
    if (value === undefined) throw new TypeError(`option "--${name}" needs a value`);
    values.set(name, [...(values.get(name) ?? []), value]);
  }
  return { values };
}

function one(flags: Flags, name: string): string | undefined {
  return flags.values.get(name)?.at(-1);
}

function port(text: string, what: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new TypeError(`${what} must be a port number from 0 to 65535, got "${text}"`);
  }
  return n;
}

/**
 * Runs the CLI with `args` (without the program name) and returns the exit code: 0 on success,
 * 1 when the command failed, 2 on bad usage.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { main } from "@casty/casty/cli";
 * const lines: string[] = [];
 * const code = await main(["status"], { err: (l) => lines.push(l) });
 * assert.ok(code === 2 && lines[0].includes("--contact"));
 * ```
 */
export async function main(args: string[], io: CliOutput = {}): Promise<number> {
  const out = io.out ?? ((l: string) => console.log(l));
  const err = io.err ?? ((l: string) => console.error(l));
  const [command, ...rest] = args;
  try {
    switch (command) {
      case "node":
        return await runNode(rest, out, io.stopSignal);
      case "status":
        return await status(rest, out, err);
      case "help":
      case "--help":
      case "-h":
      case undefined:
        out(USAGE);
        return command === undefined ? 2 : 0;
      default:
        err(`casty: unknown command "${command}"`);
        err(USAGE);
        return 2;
    }
  } catch (e) {
    if (e instanceof TypeError || e instanceof ConfigError || e instanceof AddressError) {
      err(`casty: ${e.message}`);
      if (e instanceof TypeError) err(USAGE);
      return 2;
    }
    err(`casty: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
    return 1;
  }
}

async function runNode(
  args: string[],
  out: (l: string) => void,
  stopSignal?: Promise<void>,
): Promise<number> {
  const flags = parseFlags(args, ["config", "name", "host", "port", "seed", "roles"]);
  const configPath = one(flags, "config");
  const config = await loadConfig(configPath);
  const seeds = flags.values.get("seed");
  const roles = one(flags, "roles");
  const p = one(flags, "port");
  const node = await ClusteredActorSystem.fromConfig(config, {
    ...(one(flags, "name") ? { name: one(flags, "name")! } : {}),
    ...(one(flags, "host") ? { host: one(flags, "host")! } : {}),
    ...(p !== undefined ? { port: port(p, "--port") } : {}),
    ...(seeds ? { seedNodes: seeds.map((s) => formatNodeAddress(parseNodeAddress(s))) } : {}),
    ...(roles ? { roles: roles.split(",").filter((r) => r.length > 0) } : {}),
    logLevel: "warn",
  });
  out(`casty node "${node.name}" up at ${formatNodeAddress(node.selfAddress)}`);
  const stop = stopSignal ?? new Promise<void>((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
  await stop;
  out("leaving the cluster");
  await node.leave();
  out("stopped");
  return 0;
}

async function status(
  args: string[],
  out: (l: string) => void,
  err: (l: string) => void,
): Promise<number> {
  const flags = parseFlags(args, ["contact", "name", "config", "timeout"]);
  const contactText = one(flags, "contact");
  if (!contactText) throw new TypeError('status needs "--contact HOST:PORT"');
  const contact = parseNodeAddress(contactText);
  const configPath = one(flags, "config");
  const name = one(flags, "name") ??
    (configPath ? (await loadConfig(configPath)).system.name : defaultConfig().system.name);
  const timeout = Number(one(flags, "timeout") ?? 5000);
  if (!(timeout > 0)) throw new TypeError(`--timeout must be a positive number of ms`);
  // A throwaway node that joins nothing: it only talks to the contact's topology actor.
  await using probe = await ClusteredActorSystem.start({
    name,
    host: "127.0.0.1",
    port: 0,
    logLevel: "error",
  });
  const topology = probe.lookup<GetTopology>(
    `casty://${name}@${formatNodeAddress(contact)}${TOPOLOGY_PATH}`,
  )!;
  let snapshot: TopologySnapshot;
  try {
    snapshot = await probe.ask<GetTopology, TopologySnapshot>(
      topology,
      (replyTo) => new GetTopology(replyTo),
      { timeout },
    );
  } catch (e) {
    err(
      `casty: no answer from ${formatNodeAddress(contact)} (system "${name}") within ${timeout} ms`,
    );
    void e;
    return 1;
  }
  const up = snapshot.members.filter((m) => m.status === "up").length;
  out(
    `cluster "${name}" seen from ${
      formatNodeAddress(contact)
    }: ${snapshot.members.length} members, ${up} up`,
  );
  out(`leader: ${snapshot.leader ? formatNodeAddress(snapshot.leader) : "none"}`);
  for (const m of snapshot.members) {
    const unreachable = snapshot.unreachable.some((u) =>
      u.host === m.address.host && u.port === m.address.port
    );
    out(
      `  ${formatNodeAddress(m.address)}  ${m.status}${unreachable ? " (unreachable)" : ""}` +
        `${m.roles.length ? `  roles: ${m.roles.join(",")}` : ""}  id: ${m.id}`,
    );
  }
  const types = Object.keys(snapshot.allocations);
  out(types.length === 0 ? "shard allocations: none" : `shard allocations: ${types.join(", ")}`);
  return 0;
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
