/**
 * Reading `casty.toml`: discovery, parsing and validation.
 *
 * @module
 */

import { ConfigError } from "./errors.ts";
import { type CastyConfig, defaultConfig } from "./casty_config.ts";
import { configFromObject } from "./config_from_object.ts";

/** The file name {@linkcode loadConfig} looks for. */
export const CONFIG_FILE_NAME = "casty.toml";

/** Options of {@linkcode loadConfig} and {@linkcode findConfigFile}. */
export interface LoadConfigOptions {
  /**
   * Directory that discovery starts from and a relative `path` is resolved against.
   * @default {process.cwd()}
   */
  readonly cwd?: string;
}

/**
 * Loads `casty.toml`. With a `path`, reads exactly that file; without one, walks up from the
 * working directory to the first `casty.toml` (like `package.json` discovery) and returns the
 * built-in defaults when there is none.
 *
 * @param path The file to read; relative paths are resolved against `options.cwd`.
 * @param options See {@linkcode LoadConfigOptions}.
 * @returns The validated, deeply frozen configuration.
 * @throws {ConfigError} with key `""` when an explicit `path` does not exist or the file is
 * not valid TOML (the message gives the line and column), and naming the dotted key
 * (`cluster.gossip.interval`) of an unknown key or a bad value.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadConfig } from "@casty/casty/config";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/casty.toml`, '[system]\nname = "my-app"\n');
 * const config = await loadConfig(undefined, { cwd: dir });
 * assert.equal(config.system.name, "my-app");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function loadConfig(
  path?: string,
  options: LoadConfigOptions = {},
): Promise<CastyConfig> {
  const { resolve } = await import("node:path");
  let file: string;
  if (path === undefined) {
    const found = await findConfigFile(options);
    if (found === undefined) return defaultConfig();
    file = found;
  } else {
    file = resolve(await cwdOf(options), path);
  }
  return parseConfig(await readConfigFile(file), file);
}

/**
 * Finds the `casty.toml` that {@linkcode loadConfig} would read without a path: the first one
 * in the working directory or any of its ancestors.
 *
 * @param options See {@linkcode LoadConfigOptions}.
 * @returns The absolute path of the file, or `undefined` when there is none.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { findConfigFile } from "@casty/casty/config";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/casty.toml`, "");
 * await Deno.mkdir(`${dir}/src/app`, { recursive: true });
 * const found = await findConfigFile({ cwd: `${dir}/src/app` });
 * assert.ok(found === `${await Deno.realPath(dir)}/casty.toml` || found?.endsWith("casty.toml"));
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function findConfigFile(options: LoadConfigOptions = {}): Promise<string | undefined> {
  const [{ stat }, { dirname, join, resolve }] = await Promise.all([
    import("node:fs/promises"),
    import("node:path"),
  ]);
  let dir = resolve(await cwdOf(options));
  for (;;) {
    const candidate = join(dir, CONFIG_FILE_NAME);
    try {
      if ((await stat(candidate)).isFile()) return candidate;
    } catch {
      // Missing or unreadable: keep walking up.
    }
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/**
 * Parses and validates the text of a `casty.toml`. The TOML parser is loaded on first use.
 *
 * @param text The file's contents.
 * @param source The file's path: named in parse errors, and the directory of relative
 * `[cluster.tls]` paths.
 * @returns The validated, deeply frozen configuration.
 * @throws {ConfigError} with key `""` when `text` is not valid TOML (the message gives the
 * line and column), and naming the dotted key of an unknown key or a bad value.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseConfig } from "@casty/casty/config";
 * const config = await parseConfig(`
 * [defaults.supervision]
 * within_seconds = 45.0
 *
 * [cluster]
 * seed_nodes = ["node1:25520"]
 * `);
 * assert.equal(config.defaults.supervision.within, 45000);
 * assert.equal(config.cluster.seedNodes[0], "node1:25520");
 * ```
 */
export async function parseConfig(text: string, source?: string): Promise<CastyConfig> {
  const { parse } = await import("@std/toml");
  let document: Record<string, unknown>;
  try {
    document = parse(text) as Record<string, unknown>;
  } catch (error) {
    throw new ConfigError("", parseErrorMessage(error, source), { cause: error });
  }
  return configFromObject(document, { baseDir: source === undefined ? undefined : dirOf(source) });
}

async function readConfigFile(file: string): Promise<string> {
  const { readFile } = await import("node:fs/promises");
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const reason = code === "ENOENT"
      ? `Cannot find config file "${file}"`
      : `Cannot read config file "${file}": ${(error as Error).message}`;
    throw new ConfigError("", reason, { cause: error });
  }
}

async function cwdOf(options: LoadConfigOptions): Promise<string> {
  if (options.cwd !== undefined) return options.cwd;
  const { default: process } = await import("node:process");
  return process.cwd();
}

function parseErrorMessage(error: unknown, source: string | undefined): string {
  const where = source === undefined ? "config" : `config file "${source}"`;
  const { message = String(error), line, column, codeblock } = error as {
    message?: string;
    line?: number;
    column?: number;
    codeblock?: string;
  };
  // The parser's message repeats the code frame after a blank line; keep only its first line.
  const reason = message.replace(/^Invalid TOML document: /, "").split("\n")[0];
  const position = typeof line === "number" ? ` at line ${line}, column ${column}` : "";
  const frame = typeof codeblock === "string" && codeblock !== ""
    ? `\n\n${codeblock.trimEnd()}`
    : "";
  return `Cannot parse ${where}${position}: ${reason}${frame}`;
}

function dirOf(path: string): string | undefined {
  const index = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  return index < 0 ? undefined : index === 0 ? path.slice(0, 1) : path.slice(0, index);
}
