/**
 * HTTP over `Deno.serve` (plain HTTP; HTTPS goes through the `node:https` adapter).
 *
 * @module
 */
import { answer, type HttpAdapter, type HttpServeOptions, type HttpServer } from "../http.ts";

async function serve(options: HttpServeOptions & { readonly host: string }): Promise<HttpServer> {
  const listening = Promise.withResolvers<number>();
  const abort = new AbortController();
  const server = Deno.serve({
    hostname: options.host,
    port: options.port,
    signal: abort.signal,
    onListen: (addr) => listening.resolve((addr as Deno.NetAddr).port),
    onError: (err) => {
      options.onError?.(err);
      return new Response("internal error\n", { status: 500 });
    },
  }, (request) => answer(options.handler, request, options.onError));
  const port = await Promise.race([
    listening.promise,
    server.finished.then(() => {
      throw new Error(`Cannot serve HTTP on ${options.host}:${options.port}`);
    }),
  ]);
  let stopped: Promise<void> | undefined;
  return {
    host: options.host,
    port,
    secure: false,
    stop: () =>
      stopped ??= (async () => {
        abort.abort();
        await server.finished;
      })(),
  };
}

/**
 * The `Deno.serve` implementation of {@linkcode HttpAdapter} (Deno only).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { denoHttp } from "./http.ts";
 * assert.equal(denoHttp.name, "deno");
 * ```
 */
export const denoHttp: HttpAdapter = { name: "deno", serve };
