/**
 * HTTP over `node:http`, and HTTPS over `node:https` on every runtime (mutual TLS, like the
 * cluster port: a client certificate from the CA is required).
 *
 * @module
 */
import * as http from "node:http";
import * as https from "node:https";
import type { Socket } from "node:net";
import { Buffer } from "node:buffer";
import { answer, type HttpAdapter, type HttpServeOptions, type HttpServer } from "../http.ts";
import { resolvePem } from "./tcp.ts";

function toRequest(
  req: http.IncomingMessage,
  secure: boolean,
  signal: AbortSignal,
  body: Uint8Array | undefined,
): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  const host = req.headers.host ?? "localhost";
  return new Request(`${secure ? "https" : "http"}://${host}${req.url ?? "/"}`, {
    method: req.method,
    headers,
    signal,
    body: body && body.length > 0 ? body as BodyInit : undefined,
  });
}

function readBody(req: http.IncomingMessage): Promise<Uint8Array | undefined> {
  if (req.method === "GET" || req.method === "HEAD") return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(new Uint8Array(Buffer.concat(chunks))));
    req.on("error", reject);
  });
}

async function respond(
  res: http.ServerResponse,
  response: Response,
  closed: AbortSignal,
): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    if (name === "set-cookie") return;
    headers[name] = value;
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length > 0) headers["set-cookie"] = cookies;
  res.writeHead(response.status, headers);
  if (response.body === null) {
    res.end();
    return;
  }
  const reader = response.body.getReader();
  const cancel = () => void reader.cancel().catch(() => {});
  closed.addEventListener("abort", cancel, { once: true });
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      res.write(value);
    }
    res.end();
  } catch {
    res.destroy();
  } finally {
    closed.removeEventListener("abort", cancel);
  }
}

async function serve(options: HttpServeOptions & { readonly host: string }): Promise<HttpServer> {
  const secure = options.tls !== undefined;
  const listener = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const abort = new AbortController();
    res.on("close", () => abort.abort());
    try {
      const body = await readBody(req);
      const response = await answer(
        options.handler,
        toRequest(req, secure, abort.signal, body),
        options.onError,
      );
      await respond(res, response, abort.signal);
    } catch (err) {
      options.onError?.(err);
      if (!res.headersSent) res.writeHead(400).end();
      else res.destroy();
    }
  };
  const server: http.Server = options.tls !== undefined
    ? https.createServer({
      cert: resolvePem(options.tls.cert),
      key: resolvePem(options.tls.key),
      ca: resolvePem(options.tls.ca),
      requestCert: true,
      rejectUnauthorized: true,
    }, listener)
    : http.createServer(listener);
  const sockets = new Set<Socket>();
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  // A client without a valid certificate is refused by the handshake; keep serving.
  server.on("tlsClientError", () => {});
  server.on("clientError", (_err: Error, socket: Socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as { port: number }).port;
  let stopped: Promise<void> | undefined;
  return {
    host: options.host,
    port,
    secure,
    stop: () =>
      stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}

/**
 * The `node:http` / `node:https` implementation of {@linkcode HttpAdapter} (every runtime).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nodeHttp } from "./http.ts";
 * const server = await nodeHttp.serve({ host: "127.0.0.1", port: 0, handler: () => new Response("ok") });
 * assert.equal(await (await fetch(`http://127.0.0.1:${server.port}/`)).text(), "ok");
 * await server.stop();
 * ```
 */
export const nodeHttp: HttpAdapter = { name: "node", serve };
