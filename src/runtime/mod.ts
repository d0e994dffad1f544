/**
 * Runtime adapters: the only code in casty that touches `Deno.*`, `Bun.*`, `node:net`
 * and `node:tls`. Everything above programs against {@linkcode Tcp}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { defaultTcp } from "./mod.ts";
 * const tcp = defaultTcp();
 * const listener = await tcp.listen("127.0.0.1", 0, { onAccept: (conn) => conn.close() });
 * assert.ok(listener.port > 0);
 * await listener.close();
 * ```
 *
 * @module
 */

export * from "./tcp.ts";
export * from "./select.ts";
export { readEnv } from "./env.ts";
export { denoTcp } from "./deno/tcp.ts";
export { bunTcp } from "./bun/tcp.ts";
export { nodeTcp } from "./node/tcp.ts";
export * from "./http.ts";
export { denoHttp } from "./deno/http.ts";
export { bunHttp } from "./bun/http.ts";
export { nodeHttp } from "./node/http.ts";
