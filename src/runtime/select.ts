/**
 * Picks the {@linkcode Tcp} implementation for the current runtime by feature detection
 * (`globalThis.Deno`, then `globalThis.Bun`, else `node:net`). Tests can override the
 * choice with {@linkcode setDefaultTcp} or ask for one implementation with
 * {@linkcode tcpFor}.
 *
 * @module
 */

import { bunTcp } from "./bun/tcp.ts";
import { denoTcp } from "./deno/tcp.ts";
import { nodeTcp } from "./node/tcp.ts";
import type { Tcp } from "./tcp.ts";

/** The name of a TCP implementation. */
export type RuntimeName = "deno" | "bun" | "node";

/**
 * The runtime this code runs on.
 *
 * @returns `"deno"`, `"bun"` or `"node"` (anything else with `node:net`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { detectRuntime } from "./select.ts";
 * assert.ok(["deno", "bun", "node"].includes(detectRuntime()));
 * ```
 */
export function detectRuntime(): RuntimeName {
  const g = globalThis as { Deno?: unknown; Bun?: unknown };
  if (g.Deno !== undefined) return "deno";
  if (g.Bun !== undefined) return "bun";
  return "node";
}

/**
 * The implementations usable on this runtime: its native one, and `node` everywhere.
 *
 * @returns Names, native first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { supportedTcp } from "./select.ts";
 * assert.ok(supportedTcp().includes("node"));
 * ```
 */
export function supportedTcp(): RuntimeName[] {
  const native = detectRuntime();
  return native === "node" ? ["node"] : [native, "node"];
}

/**
 * One implementation by name.
 *
 * @param name Which implementation.
 * @returns It.
 * @throws {TypeError} When the current runtime cannot run it (such as `"bun"` on Deno).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tcpFor } from "./select.ts";
 * assert.ok(tcpFor("node").name === "node");
 * ```
 */
export function tcpFor(name: RuntimeName): Tcp {
  if (!supportedTcp().includes(name)) {
    throw new TypeError(`Cannot use the ${name} TCP adapter on ${detectRuntime()}`);
  }
  return name === "deno" ? denoTcp : name === "bun" ? bunTcp : nodeTcp;
}

let override: Tcp | undefined;

/**
 * The implementation used when none is given: the override if set, else the runtime's
 * native one.
 *
 * @returns The default {@linkcode Tcp}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultTcp, detectRuntime } from "./select.ts";
 * assert.ok(defaultTcp().name === detectRuntime());
 * ```
 */
export function defaultTcp(): Tcp {
  return override ?? tcpFor(detectRuntime());
}

/**
 * Overrides (or, with `undefined`, restores) the default implementation, for tests.
 *
 * @param tcp The implementation to use by default.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultTcp, setDefaultTcp, tcpFor } from "./select.ts";
 * setDefaultTcp(tcpFor("node"));
 * assert.ok(defaultTcp().name === "node");
 * setDefaultTcp(undefined);
 * ```
 */
export function setDefaultTcp(tcp: Tcp | undefined): void {
  override = tcp;
}

/**
 * Whether allocating a small `Uint8Array` is expensive on this runtime compared with taking a
 * view of an existing buffer (true on Deno, where each new ArrayBuffer costs ~0.4 µs; false on
 * Bun and Node). The serializer pools small encodings when it is.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { smallBuffersAreCostly } from "./select.ts";
 * assert.ok(typeof smallBuffersAreCostly() === "boolean");
 * ```
 */
export function smallBuffersAreCostly(): boolean {
  return detectRuntime() === "deno";
}
