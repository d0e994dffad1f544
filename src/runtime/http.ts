/**
 * A Web-standard HTTP server on any runtime: a `(Request) => Response` handler served by
 * `Deno.serve` on Deno, `Bun.serve` on Bun and `node:http` elsewhere. With TLS it serves HTTPS
 * through `node:https` on every runtime (as the cluster port goes through `node:tls`), and
 * requires a client certificate from the CA, like the cluster port.
 *
 * @module
 */
import { nodeHttp } from "./node/http.ts";
import { detectRuntime } from "./select.ts";
import type { TlsOptions } from "./tcp.ts";
import { denoHttp } from "./deno/http.ts";
import { bunHttp } from "./bun/http.ts";

/** Answers one request. */
export type HttpHandler = (request: Request) => Response | Promise<Response>;

/** Options of {@linkcode serveHttp}. */
export interface HttpServeOptions {
  /**
   * The interface to bind.
   * @default {"127.0.0.1"}
   */
  readonly host?: string;
  /** The port; `0` picks a free one (see {@linkcode HttpServer.port}). */
  readonly port: number;
  /** Answers every request. A throw becomes a 500 answer; the server keeps serving. */
  readonly handler: HttpHandler;
  /**
   * HTTPS with these PEM values (or paths): the server presents `cert`/`key` and requires a
   * client certificate issued by `ca`.
   */
  readonly tls?: TlsOptions;
  /** Called with a handler's failure (the client got a 500). */
  readonly onError?: (error: unknown) => void;
}

/** A bound HTTP server. */
export interface HttpServer {
  /** The interface it is bound to. */
  readonly host: string;
  /** The bound port (the one picked when `port` was `0`). */
  readonly port: number;
  /** Whether it serves HTTPS. */
  readonly secure: boolean;
  /** Stops listening and ends open connections (streams included). */
  stop(): Promise<void>;
}

/** One runtime's way of serving HTTP. */
export interface HttpAdapter {
  /** The adapter's name. */
  readonly name: "deno" | "bun" | "node";
  /** Binds and serves; resolves once bound. */
  serve(options: HttpServeOptions & { readonly host: string }): Promise<HttpServer>;
}

/**
 * Serves `handler` on `host:port` with the runtime's own HTTP server (`node:https` for TLS).
 *
 * @param options Where and what to serve.
 * @returns The bound server.
 * @throws {Error} When the port cannot be bound.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { serveHttp } from "./http.ts";
 * const server = await serveHttp({ port: 0, handler: () => new Response("hi") });
 * const answer = await fetch(`http://127.0.0.1:${server.port}/`);
 * assert.equal(await answer.text(), "hi");
 * await server.stop();
 * ```
 */
export function serveHttp(options: HttpServeOptions): Promise<HttpServer> {
  const host = options.host ?? "127.0.0.1";
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
    throw new RangeError(`Cannot serve HTTP on port ${options.port}: use 0 to 65535`);
  }
  const runtime = detectRuntime();
  const adapter = options.tls !== undefined || runtime === "node"
    ? nodeHttp
    : runtime === "deno"
    ? denoHttp
    : bunHttp;
  return adapter.serve({ ...options, host });
}

/**
 * Calls `handler`, turning a throw into a plain 500 answer.
 *
 * @param handler The handler.
 * @param request The request.
 * @param onError Told about the failure.
 * @returns The answer.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { answer } from "./http.ts";
 * const r = await answer(() => { throw new Error("x"); }, new Request("http://h/"));
 * assert.equal(r.status, 500);
 * ```
 */
export async function answer(
  handler: HttpHandler,
  request: Request,
  onError?: (error: unknown) => void,
): Promise<Response> {
  try {
    return await handler(request);
  } catch (err) {
    onError?.(err);
    return new Response("internal error\n", {
      status: 500,
      headers: { "content-type": "text/plain; charset=utf-8" },
    });
  }
}
