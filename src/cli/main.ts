/**
 * The `casty` command line: run a node, or print a cluster's status.
 *
 * ```sh
 * deno run -A jsr:@casty/casty/cli node --config casty.toml --port 25520 --seed 10.0.0.2:25520
 * deno run -A jsr:@casty/casty/cli status --contact 10.0.0.2:25520 --system bank
 * npx casty status --contact 10.0.0.2:25520 --config casty.toml   # from a clone of the repo
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
import { ConfigError } from "../config/errors.ts";
import { ClusteredActorSystem } from "../cluster/clustered_actor_system.ts";
import { GetTopology, TOPOLOGY_PATH, type TopologySnapshot } from "../cluster/topology.ts";
import { defaultConfig } from "../config/casty_config.ts";
import { loadConfig } from "../config/load_config.ts";
import {
  AddressError,
  formatNodeAddress,
  type NodeAddress,
  parseNodeAddress,
} from "../remote/address.ts";
import { defaultTcp } from "../runtime/select.ts";
import { TcpConnectError, type TlsOptions } from "../runtime/tcp.ts";
// Loaded for their effect too: every node the CLI starts (`casty node`, and the throwaway node
// of `casty status`) has sharding and management (`[cluster.http]`, GetNodeStats).
import "../sharding/mod.ts";
import { managementPort } from "../management/management.ts";
import { GetNodeStats, MANAGEMENT_PATH, type NodeStats } from "../management/node_stats.ts";
import { membersJson, shardsJson } from "../management/cluster_json.ts";

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
  casty status --contact HOST:PORT [--system NAME] [--config casty.toml] [--timeout MS] [--json]
  casty cert create-ca [--out DIR] [--name CN] [--days 3650] [--force]
  casty cert create-node [--out DIR] [--name NAME] [--host DNS]... [--ip IP]... [--days 365] [--ca-cert FILE] [--ca-key FILE] [--force]
  casty cert create-client [--out DIR] [--name NAME] [--days 365] [--ca-cert FILE] [--ca-key FILE] [--force]
  casty cert info FILE...
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
      case "cert":
        return await (await import("./cert.ts")).cert(rest, out, err);
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
  const http = managementPort(formatNodeAddress(node.selfAddress));
  if (http !== undefined) {
    const scheme = config.cluster.tls ? "https" : "http";
    out(
      `management and dashboard at ${scheme}://${
        config.cluster.http?.host ?? "127.0.0.1"
      }:${http}/`,
    );
  }
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
  const asJson = args.includes("--json");
  const flags = parseFlags(args.filter((a) => a !== "--json"), [
    "contact",
    "system",
    "name",
    "config",
    "timeout",
  ]);
  const contactText = one(flags, "contact");
  if (!contactText) throw new TypeError('status needs "--contact HOST:PORT"');
  const contact = parseNodeAddress(contactText);
  const configPath = one(flags, "config");
  const config = configPath === undefined ? undefined : await loadConfig(configPath);
  // Told: --system (or its older spelling --name), else the config's [system] name. Not told:
  // start with the default name and learn the real one from the contact's refusal.
  const told = one(flags, "system") ?? one(flags, "name") ?? config?.system.name;
  const timeout = Number(one(flags, "timeout") ?? 5000);
  if (!(timeout > 0)) throw new TypeError(`--timeout must be a positive number of ms`);
  const tls = config?.cluster.tls;
  const secret = config?.cluster.secret;
  const where = formatNodeAddress(contact);

  // Fail fast when nothing listens there (or the TLS handshake fails), before any actor work.
  try {
    const connection = await defaultTcp().connect(contact.host, contact.port, { timeout, tls });
    connection.destroy();
  } catch (e) {
    err(
      e instanceof TcpConnectError
        ? `casty: ${e.message}`
        : `casty: cannot reach ${where}: ${e instanceof Error ? e.message : String(e)}`,
    );
    return 1;
  }

  let name = told ?? defaultConfig().system.name;
  let result = await askTopology(contact, name, timeout, tls, secret);
  if (result.kind === "wrong-system" && told === undefined) {
    name = result.actual;
    result = await askTopology(contact, name, timeout, tls, secret);
  }
  switch (result.kind) {
    case "wrong-system":
      err(
        `casty: ${where} runs system "${result.actual}", not "${name}" (pass --system ${result.actual})`,
      );
      return 1;
    case "refused":
      err(`casty: ${where} refused the connection: ${result.message}`);
      return 1;
    case "timeout":
      err(`casty: no answer from ${where} (system "${name}") within ${timeout} ms`);
      return 1;
  }
  const { snapshot, stats } = result;
  if (asJson) {
    const members = membersJson(snapshot, contact);
    out(JSON.stringify(
      {
        system: name,
        contact: where,
        leader: members.leader,
        members: members.members,
        unreachable: members.unreachable.map((u) => u.node),
        shards: shardsJson(snapshot, stats),
        nodes: Object.fromEntries(stats),
      },
      null,
      2,
    ));
    return 0;
  }
  for (const line of statusLines(name, where, snapshot, stats)) out(line);
  return 0;
}

/**
 * The text of `casty status`: a summary line, the leader, the members table (address, status,
 * reachable, roles, up since), the unreachable nodes, and shards and entities per node.
 *
 * @param system The system name.
 * @param contact The node asked, `"host:port"`.
 * @param snapshot The cluster as that node sees it.
 * @param stats The stats of the nodes that answered (for entity counts).
 * @returns The lines.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TopologySnapshot } from "@casty/casty";
 * import { statusLines } from "@casty/casty/cli";
 * const a = { host: "127.0.0.1", port: 25520 };
 * const m = { address: a, status: "up" as const, roles: ["web"], id: "000000000000-abcdefgh", upNumber: 1 };
 * const lines = statusLines("bank", "127.0.0.1:25520", new TopologySnapshot([m], a, []), new Map());
 * assert.equal(lines[0], 'cluster "bank" seen from 127.0.0.1:25520: 1 members, 1 up');
 * assert.equal(lines[4], "  127.0.0.1:25520  up      yes        web    1970-01-01 00:00:00Z");
 * ```
 */
export function statusLines(
  system: string,
  contact: string,
  snapshot: TopologySnapshot,
  stats: ReadonlyMap<string, NodeStats>,
): string[] {
  const json = membersJson(snapshot, parseNodeAddress(contact));
  const up = snapshot.members.filter((m) => m.status === "up").length;
  const lines = [
    `cluster "${system}" seen from ${contact}: ${snapshot.members.length} members, ${up} up`,
    `leader: ${json.leader ?? "none"}`,
    "members:",
  ];
  const rows = json.members.map((m) => [
    m.node,
    m.status.toLowerCase(),
    m.reachable ? "yes" : "NO",
    m.roles.length ? m.roles.join(",") : "-",
    m.upSince ? m.upSince.replace("T", " ").replace(/\.\d+Z$/, "Z") : "-",
  ]);
  lines.push(...table(["address", "status", "reachable", "roles", "up since"], rows, []));
  lines.push(
    `unreachable: ${
      json.unreachable.length ? json.unreachable.map((u) => u.node).join(", ") : "none"
    }`,
  );
  lines.push(...shardTable(snapshot, stats));
  return lines;
}

/** Aligned columns, two spaces apart, indented by two; `right` lists right-aligned columns. */
function table(head: string[], rows: string[][], right: number[]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    `  ${
      cells.map((c, i) =>
        right.includes(i) ? c.padStart(widths[i]) : i === cells.length - 1 ? c : c.padEnd(widths[i])
      ).join("  ")
    }`;
  return [line(head), ...rows.map(line)];
}

/**
 * The shards per node of every sharded type in `snapshot`, as the lines of a table (the last
 * part of `casty status`); with `stats`, also the live entities of each type per node (`-` for a
 * node that did not answer).
 *
 * @param snapshot A topology snapshot.
 * @param stats The stats of the nodes that answered, by `"host:port"`.
 * @returns The lines.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TopologySnapshot } from "@casty/casty";
 * import { shardTable } from "@casty/casty/cli";
 * const a = { host: "127.0.0.1", port: 25520 };
 * const lines = shardTable(
 *   new TopologySnapshot([], a, [], { accounts: { 0: { primary: a, replicas: [] } } }, 3),
 * );
 * assert.deepEqual(lines, [
 *   "shards per node (allocation epoch 3):",
 *   "  node             accounts",
 *   "  127.0.0.1:25520         1",
 * ]);
 * ```
 */
export function shardTable(
  snapshot: TopologySnapshot,
  stats: ReadonlyMap<string, NodeStats> = new Map(),
): string[] {
  const types = Object.keys(snapshot.allocations).sort();
  if (types.length === 0) return ["shard allocations: none"];
  const counts = new Map<string, Map<string, number>>();
  for (const m of snapshot.members) {
    if (m.status !== "removed") counts.set(formatNodeAddress(m.address), new Map());
  }
  for (const type of types) {
    for (const a of Object.values(snapshot.allocations[type])) {
      const node = formatNodeAddress(a.primary);
      let row = counts.get(node);
      if (row === undefined) counts.set(node, row = new Map());
      row.set(type, (row.get(type) ?? 0) + 1);
    }
  }
  const withEntities = stats.size > 0;
  const head = ["node"];
  for (const t of types) head.push(withEntities ? `${t} shards` : t);
  if (withEntities) { for (const t of types) head.push(`${t} entities`); }
  const rows = [...counts.keys()].sort().map((n) => {
    const row = counts.get(n)!;
    const cells = [n, ...types.map((t) => String(row.get(t) ?? 0))];
    if (withEntities) {
      for (const t of types) {
        const e = stats.get(n)?.entities[t];
        cells.push(e === undefined ? "-" : String(e));
      }
    }
    return cells;
  });
  const right = head.map((_, i) => i).filter((i) => i > 0);
  return [
    `shards per node (allocation epoch ${snapshot.allocationEpoch}):`,
    ...table(head, rows, right),
  ];
}

type TopologyAnswer =
  | {
    readonly kind: "ok";
    readonly snapshot: TopologySnapshot;
    readonly stats: ReadonlyMap<string, NodeStats>;
  }
  | { readonly kind: "wrong-system"; readonly actual: string }
  | { readonly kind: "refused"; readonly message: string }
  | { readonly kind: "timeout" };

/**
 * Asks the contact's topology actor from a throwaway node that joins nothing, then every live
 * member for its stats (entity counts). A refused handshake ends the wait at once: the
 * contact's refusal names its own system.
 */
async function askTopology(
  contact: NodeAddress,
  name: string,
  timeout: number,
  tls: TlsOptions | undefined,
  secret: string | undefined,
): Promise<TopologyAnswer> {
  const refused = Promise.withResolvers<TopologyAnswer>();
  const onError = (message: string) => {
    // The contact refused us (its refusal names its system), or we refused its proof of the
    // secret (a different secret): either way no answer will come.
    const refusal = /refused our handshake: (.*)$/.exec(message)?.[1] ??
      /handshake refused: (.*)$/.exec(message)?.[1];
    if (refusal === undefined) return;
    const actual = /does not match "([^"]+)"/.exec(refusal)?.[1];
    refused.resolve(
      actual !== undefined && actual !== name
        ? { kind: "wrong-system", actual }
        : { kind: "refused", message: refusal },
    );
  };
  const silent = () => {};
  await using probe = await ClusteredActorSystem.start({
    name,
    host: "127.0.0.1",
    port: 0,
    tls,
    secret,
    logger: { debug: silent, info: silent, warn: silent, error: (m) => onError(m) },
    transport: { connectTimeout: timeout },
  });
  const topology = probe.lookup<GetTopology>(
    `casty://${name}@${formatNodeAddress(contact)}${TOPOLOGY_PATH}`,
  )!;
  const asked = probe.ask<GetTopology, TopologySnapshot>(
    topology,
    (replyTo) => new GetTopology(replyTo),
    { timeout },
  ).then(
    async (snapshot): Promise<TopologyAnswer> => ({
      kind: "ok",
      snapshot,
      stats: await askStats(probe, snapshot, name, Math.min(timeout, 3000)),
    }),
    (): TopologyAnswer => ({ kind: "timeout" }),
  );
  return await Promise.race([asked, refused.promise]);
}

/** Every live, reachable member's stats, asked in parallel; the silent ones are left out. */
async function askStats(
  probe: ClusteredActorSystem,
  snapshot: TopologySnapshot,
  name: string,
  timeout: number,
): Promise<Map<string, NodeStats>> {
  const stats = new Map<string, NodeStats>();
  const unreachable = new Set(snapshot.unreachable.map(formatNodeAddress));
  await Promise.all(
    snapshot.members
      .filter((m) => m.status !== "down" && m.status !== "removed")
      .filter((m) => !unreachable.has(formatNodeAddress(m.address)))
      .map(async (m) => {
        const node = formatNodeAddress(m.address);
        try {
          stats.set(
            node,
            await probe.ask<GetNodeStats, NodeStats>(
              probe.lookup<GetNodeStats>(`casty://${name}@${node}${MANAGEMENT_PATH}`)!,
              (replyTo) => new GetNodeStats(replyTo),
              { timeout },
            ),
          );
        } catch {
          // busy, gone, or without the management module: its entities show as "-"
        }
      }),
  );
  return stats;
}

if (import.meta.main) {
  process.exitCode = await main(process.argv.slice(2));
}
