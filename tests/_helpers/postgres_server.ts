// A throwaway PostgreSQL server for tests and benches: initdb in a temporary folder, started with
// pg_ctl on a free port of 127.0.0.1 with its unix socket in that folder, stopped and removed
// afterwards. The server refuses to run as root, so as root it runs as the `postgres` user
// through `runuser`. Needs the Debian package `postgresql`; without it, start() fails loudly.
import { freePort } from "../../src/testing/partition_proxy.ts";
import { execFile } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";

/** Options of {@linkcode startPostgres}. */
export interface PostgresServerOptions {
  /** fsync at commit. Off by default: the tests kill clients, not the server's machine. */
  fsync?: boolean;
  /** Extra `-c name=value` server settings. */
  settings?: Record<string, string | number>;
}

/** A running throwaway server. */
export interface PostgresServer extends AsyncDisposable {
  readonly host: string;
  readonly port: number;
  /** `postgres://postgres@127.0.0.1:<port>/postgres` (trust authentication). */
  readonly url: string;
  /** Stops the server (`pg_ctl stop -m <mode>`), keeping its data. */
  stop(mode?: "fast" | "immediate"): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
  /** Stops the server and removes its folder. Idempotent. */
  destroy(): Promise<void>;
  /** The server log so far. */
  log(): string;
}

const ROOT = "/usr/lib/postgresql";

/** The newest installed PostgreSQL's bin folder; throws a clear error when there is none. */
export function postgresBinDir(): string {
  const versions = existsSync(ROOT)
    ? readdirSync(ROOT).filter((v) => existsSync(join(ROOT, v, "bin", "pg_ctl")))
    : [];
  if (versions.length === 0) {
    throw new Error(
      `PostgreSQL server binaries not found in ${ROOT}/<version>/bin (initdb, pg_ctl): ` +
        "install the Debian package with `apt-get install -y postgresql` (.ci/run does it)",
    );
  }
  versions.sort((a, b) => Number(b) - Number(a));
  return join(ROOT, versions[0], "bin");
}

function run(file: string, args: string[], asUser: boolean): Promise<string> {
  const [cmd, argv] = asUser ? ["runuser", ["-u", "postgres", "--", file, ...args]] : [file, args];
  return new Promise((resolve, reject) => {
    execFile(cmd, argv, { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(" ")} failed: ${err.message}\n${stderr}`));
      else resolve(String(stdout));
    });
  });
}

function idOf(flag: "-u" | "-g"): Promise<number> {
  return run("id", [flag, "postgres"], false).then((out) => Number(out.trim()));
}

/** Creates and starts a fresh server. */
export async function startPostgres(options: PostgresServerOptions = {}): Promise<PostgresServer> {
  const bin = postgresBinDir();
  const asUser = process.getuid?.() === 0;
  const dir = mkdtempSync(join(tmpdir(), "casty-pg-"));
  const data = join(dir, "data");
  const logFile = join(dir, "server.log");
  let destroyed = false;
  let running = false;
  try {
    if (asUser) chownSync(dir, await idOf("-u"), await idOf("-g"));
    await run(join(bin, "initdb"), [
      "-D",
      data,
      "-U",
      "postgres",
      "-A",
      "trust",
      "-E",
      "UTF8",
      "--locale=C",
      "--no-sync",
    ], asUser);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const port = await freePort();
  const settings: Record<string, string | number> = {
    listen_addresses: "127.0.0.1",
    unix_socket_directories: dir,
    fsync: options.fsync ? "on" : "off",
    max_connections: 100,
    ...options.settings,
  };
  const serverArgs = [`-p ${port}`, ...Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`)]
    .join(" ");
  const start = async (): Promise<void> => {
    await run(
      join(bin, "pg_ctl"),
      ["-D", data, "-l", logFile, "-o", serverArgs, "-w", "start"],
      asUser,
    );
    running = true;
  };
  const stop = async (mode: "fast" | "immediate" = "fast"): Promise<void> => {
    if (!running) return;
    await run(join(bin, "pg_ctl"), ["-D", data, "-m", mode, "-w", "stop"], asUser);
    running = false;
  };
  const destroy = async (): Promise<void> => {
    if (destroyed) return;
    destroyed = true;
    try {
      await stop("immediate");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  try {
    await start();
  } catch (err) {
    let log = "";
    try {
      log = readFileSync(logFile, "utf8");
    } catch { /* no log yet */ }
    await destroy().catch(() => {});
    throw new Error(`${(err as Error).message}\nserver log:\n${log}`);
  }
  return {
    host: "127.0.0.1",
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop,
    start,
    destroy,
    log: () => {
      try {
        return readFileSync(logFile, "utf8");
      } catch {
        return "";
      }
    },
    [Symbol.asyncDispose]: destroy,
  };
}
