/**
 * HTTP over `Bun.serve` (plain HTTP; HTTPS goes through the `node:https` adapter).
 *
 * @module
 */
import { answer, type HttpAdapter, type HttpServeOptions, type HttpServer } from "../http.ts";

// The slice of Bun's server API used here, declared locally so that `deno check` passes
// without bun-types.
interface BunServer {
  readonly port: number;
  stop(closeActiveConnections?: boolean): Promise<void> | void;
}
interface BunGlobal {
  serve(options: {
    hostname: string;
    port: number;
    idleTimeout?: number;
    fetch: (request: Request) => Response | Promise<Response>;
    error?: (error: Error) => Response;
  }): BunServer;
}

function serve(options: HttpServeOptions & { readonly host: string }): Promise<HttpServer> {
  const bun = (globalThis as unknown as { Bun: BunGlobal }).Bun;
  const server = bun.serve({
    hostname: options.host,
    port: options.port,
    // Server-sent event streams stay open; they send a comment at least every 15 s.
    idleTimeout: 60,
    fetch: (request) => answer(options.handler, request, options.onError),
    error: (error) => {
      options.onError?.(error);
      return new Response("internal error\n", { status: 500 });
    },
  });
  let stopped: Promise<void> | undefined;
  return Promise.resolve({
    host: options.host,
    port: server.port,
    secure: false,
    stop: () => stopped ??= Promise.resolve(server.stop(true)).then(() => {}),
  });
}

/**
 * The `Bun.serve` implementation of {@linkcode HttpAdapter} (Bun only).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bunHttp } from "./http.ts";
 * assert.equal(bunHttp.name, "bun");
 * ```
 */
export const bunHttp: HttpAdapter = { name: "bun", serve };
