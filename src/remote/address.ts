/**
 * Node addresses (`host:port`) and actor URIs (`casty://system@host:port/path` for an
 * actor on a node, `casty://system/path` for a local one).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatActorUri, parseActorUri } from "./address.ts";
 * const uri = parseActorUri("casty://bank@127.0.0.1:25520/accounts/alice");
 * assert.ok(uri.system === "bank" && uri.address?.port === 25520);
 * assert.equal(uri.path, "/accounts/alice");
 * assert.equal(formatActorUri(uri), "casty://bank@127.0.0.1:25520/accounts/alice");
 * ```
 *
 * @module
 */

import { CastyError } from "../actor/errors.ts";
import { isSystemName } from "../config/system_name.ts";

/** Where a node listens (as it advertises itself to peers). */
export interface NodeAddress {
  /** Host name or IP address (IPv6 without brackets). */
  readonly host: string;
  /** TCP port. */
  readonly port: number;
}

/** The parts of an actor URI. */
export interface ActorUri {
  /** The actor system's name. */
  readonly system: string;
  /** The node, or `undefined` for a local URI. */
  readonly address?: NodeAddress;
  /** The actor path, starting with `/` (`/` alone is the system's root). */
  readonly path: string;
}

/**
 * An address or actor URI is malformed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AddressError, parseNodeAddress } from "./address.ts";
 * try {
 *   parseNodeAddress("no-port");
 * } catch (err) {
 *   assert.ok(err instanceof AddressError && err.code === "INVALID_ADDRESS");
 * }
 * ```
 */
export class AddressError extends CastyError {
  /** The text that could not be parsed. */
  readonly input: string;
  /**
   * Creates a AddressError.
   *
   * @param input The offending text.
   * @param reason What is wrong with it.
   */
  constructor(input: string, reason: string) {
    super("INVALID_ADDRESS", `Invalid address "${input}": ${reason}`);
    this.name = "AddressError";
    this.input = input;
  }
}

const SCHEME = "casty://";
const HOST_NAME = /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/;
const IPV6 = /^[0-9A-Fa-f:.]+(%[A-Za-z0-9_.-]+)?$/;

function checkPort(input: string, port: number, allowZero: boolean): void {
  if (!Number.isInteger(port) || port < (allowZero ? 0 : 1) || port > 65535) {
    throw new AddressError(input, `port must be an integer from ${allowZero ? 0 : 1} to 65535`);
  }
}

function checkHost(input: string, host: string): void {
  if (host.length === 0) throw new AddressError(input, "host is empty");
  if (host.includes(":") ? !IPV6.test(host) : !HOST_NAME.test(host)) {
    throw new AddressError(input, `"${host}" is not a valid host`);
  }
}

/**
 * Makes a validated {@linkcode NodeAddress}.
 *
 * @param host Host name or IP address.
 * @param port Port, 0–65535.
 * @returns The address.
 * @throws {AddressError} When the host or port is invalid.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nodeAddress } from "./address.ts";
 * assert.equal(nodeAddress("127.0.0.1", 25520).port, 25520);
 * ```
 */
export function nodeAddress(host: string, port: number): NodeAddress {
  const input = `${host}:${port}`;
  checkHost(input, host);
  checkPort(input, port, true);
  return { host, port };
}

/**
 * Parses `host:port` (or `[ipv6]:port`).
 *
 * @param text The address.
 * @returns The parsed address.
 * @throws {AddressError} When it is malformed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseNodeAddress } from "./address.ts";
 * assert.equal(parseNodeAddress("[::1]:7000").host, "::1");
 * ```
 */
export function parseNodeAddress(text: string): NodeAddress {
  return parseAddressIn(text, text);
}

// Parses `text` as host:port, reporting errors against `input` (the whole URI, if any).
function parseAddressIn(input: string, text: string): NodeAddress {
  let host: string;
  let portText: string;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0 || text[close + 1] !== ":") {
      throw new AddressError(input, 'expected "[ipv6]:port"');
    }
    host = text.slice(1, close);
    portText = text.slice(close + 2);
  } else {
    const colon = text.lastIndexOf(":");
    if (colon < 0) throw new AddressError(input, 'expected "host:port"');
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(":")) throw new AddressError(input, "an IPv6 host needs brackets");
  }
  if (!/^[0-9]{1,5}$/.test(portText)) {
    throw new AddressError(input, `port "${portText}" is not a number`);
  }
  checkHost(input, host);
  checkPort(input, Number(portText), true);
  return { host, port: Number(portText) };
}

/**
 * Formats an address as `host:port` (`[ipv6]:port`); also usable as a map key.
 *
 * @param address The address.
 * @returns Its text form.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatNodeAddress } from "./address.ts";
 * assert.equal(formatNodeAddress({ host: "127.0.0.1", port: 1 }), "127.0.0.1:1");
 * ```
 */
export function formatNodeAddress(address: NodeAddress): string {
  return address.host.includes(":")
    ? `[${address.host}]:${address.port}`
    : `${address.host}:${address.port}`;
}

/**
 * Orders addresses by host (as text), then port. Every node computes the same order,
 * which is what makes simultaneous-connect resolution deterministic.
 *
 * @param a One address.
 * @param b Another address.
 * @returns Negative, zero or positive, like `Array.prototype.sort` expects.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { compareNodeAddresses } from "./address.ts";
 * const a = { host: "127.0.0.1", port: 1000 };
 * assert.ok(compareNodeAddresses(a, { host: "127.0.0.1", port: 2000 }) < 0);
 * ```
 */
export function compareNodeAddresses(a: NodeAddress, b: NodeAddress): number {
  if (a.host !== b.host) return a.host < b.host ? -1 : 1;
  return a.port - b.port;
}

/**
 * Whether two addresses are equal.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { sameNodeAddress } from "./address.ts";
 * assert.ok(sameNodeAddress({ host: "h", port: 1 }, { host: "h", port: 1 }));
 * ```
 */
export function sameNodeAddress(a: NodeAddress, b: NodeAddress): boolean {
  return a.host === b.host && a.port === b.port;
}

/**
 * Parses an actor URI: `casty://system@host:port/path` or `casty://system/path`.
 *
 * @param uri The URI.
 * @returns Its parts.
 * @throws {AddressError} When it is malformed (scheme, system name, host, port, path).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseActorUri } from "./address.ts";
 * const local = parseActorUri("casty://bank/user/alice");
 * assert.ok(local.address === undefined && local.path === "/user/alice");
 * ```
 */
export function parseActorUri(uri: string): ActorUri {
  if (!uri.startsWith(SCHEME)) throw new AddressError(uri, `expected the "${SCHEME}" scheme`);
  const rest = uri.slice(SCHEME.length);
  const slash = rest.indexOf("/");
  if (slash < 0) throw new AddressError(uri, 'missing the actor path (at least "/")');
  const authority = rest.slice(0, slash);
  const path = rest.slice(slash);
  checkPath(uri, path);
  const at = authority.indexOf("@");
  const system = at < 0 ? authority : authority.slice(0, at);
  if (!isSystemName(system)) {
    throw new AddressError(uri, `"${system}" is not a valid system name`);
  }
  if (at < 0) return { system, path };
  const address = parseAddressIn(uri, authority.slice(at + 1));
  checkPort(uri, address.port, false);
  return { system, address, path };
}

function checkPath(uri: string, path: string): void {
  if (/[\s?#]/.test(path)) {
    throw new AddressError(uri, "the path must not contain whitespace, '?' or '#'");
  }
  if (path !== "/" && (path.endsWith("/") || path.includes("//"))) {
    throw new AddressError(uri, "the path has an empty segment");
  }
}

/**
 * Formats an actor URI.
 *
 * @param uri The parts; `path` must start with `/`.
 * @returns `casty://system@host:port/path`, or `casty://system/path` without an address.
 * @throws {AddressError} When a part is invalid.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatActorUri } from "./address.ts";
 * const text = formatActorUri({ system: "bank", path: "/a" });
 * assert.equal(text, "casty://bank/a");
 * ```
 */
export function formatActorUri(uri: ActorUri): string {
  const authority = uri.address === undefined
    ? uri.system
    : `${uri.system}@${formatNodeAddress(uri.address)}`;
  const text = `${SCHEME}${authority}${uri.path}`;
  if (!isSystemName(uri.system)) {
    throw new AddressError(text, `"${uri.system}" is not a valid system name`);
  }
  if (!uri.path.startsWith("/")) throw new AddressError(text, 'the path must start with "/"');
  checkPath(text, uri.path);
  if (uri.address !== undefined) {
    checkHost(text, uri.address.host);
    checkPort(text, uri.address.port, false);
  }
  return text;
}
