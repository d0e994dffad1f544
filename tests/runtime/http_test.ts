// The Web-standard HTTP adapters (Deno.serve / Bun.serve / node:http) on real sockets: the
// request reaches the handler as a Request, the Response comes back (status, headers, cookies,
// body), a streamed body arrives piece by piece, a throwing handler gives a 500, and stop()
// ends open streams and frees the port.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { bunHttp, denoHttp, type HttpAdapter, nodeHttp, serveHttp } from "../../src/runtime/mod.ts";
import { detectRuntime } from "../../src/runtime/select.ts";

const runtime = detectRuntime();
const adapters: HttpAdapter[] = [
  ...(runtime === "deno" ? [denoHttp] : runtime === "bun" ? [bunHttp] : []),
  nodeHttp,
];

async function portIsFree(port: number): Promise<boolean> {
  const server = createServer();
  return await new Promise<boolean>((resolve) => {
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

for (const adapter of adapters) {
  describe(`the ${adapter.name} HTTP adapter`, () => {
    it("hands the handler a Request and sends back its Response", async () => {
      const server = await adapter.serve({
        host: "127.0.0.1",
        port: 0,
        handler: async (request) => {
          const url = new URL(request.url);
          const body = request.method === "POST" ? await request.text() : "";
          const headers = new Headers({ "content-type": "application/json", "x-seen": "1" });
          headers.append("set-cookie", "a=1; HttpOnly");
          headers.append("set-cookie", "b=2");
          return new Response(
            JSON.stringify({
              method: request.method,
              path: url.pathname,
              query: url.searchParams.get("q"),
              auth: request.headers.get("authorization"),
              body,
            }),
            { status: 201, headers },
          );
        },
      });
      try {
        assert.ok(server.port > 0);
        assert.equal(server.secure, false);
        const r = await fetch(`http://127.0.0.1:${server.port}/x/y?q=1`, {
          method: "POST",
          headers: { authorization: "Bearer t" },
          body: "hello",
        });
        assert.equal(r.status, 201);
        assert.equal(r.headers.get("x-seen"), "1");
        assert.deepEqual(r.headers.getSetCookie(), ["a=1; HttpOnly", "b=2"]);
        assert.deepEqual(await r.json(), {
          method: "POST",
          path: "/x/y",
          query: "1",
          auth: "Bearer t",
          body: "hello",
        });
      } finally {
        await server.stop();
      }
    });

    it("answers 500 when the handler throws, and keeps serving", async () => {
      const errors: unknown[] = [];
      let calls = 0;
      const server = await adapter.serve({
        host: "127.0.0.1",
        port: 0,
        handler: () => {
          if (calls++ === 0) throw new Error("boom");
          return new Response("fine");
        },
        onError: (e) => errors.push(e),
      });
      try {
        const bad = await fetch(`http://127.0.0.1:${server.port}/`);
        assert.equal(bad.status, 500);
        await bad.body?.cancel();
        assert.equal((errors[0] as Error).message, "boom");
        assert.equal(await (await fetch(`http://127.0.0.1:${server.port}/`)).text(), "fine");
      } finally {
        await server.stop();
      }
    });

    it("streams a body piece by piece, and stop() ends an open stream and frees the port", async () => {
      let push: ((s: string) => void) | undefined;
      const server = await adapter.serve({
        host: "127.0.0.1",
        port: 0,
        handler: () =>
          new Response(
            new ReadableStream<Uint8Array>({
              start(controller) {
                push = (s) => controller.enqueue(new TextEncoder().encode(s));
                push("first\n");
              },
            }),
            { headers: { "content-type": "text/event-stream" } },
          ),
      });
      const response = await fetch(`http://127.0.0.1:${server.port}/`);
      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      assert.equal(decoder.decode((await reader.read()).value), "first\n");
      push!("second\n");
      assert.equal(decoder.decode((await reader.read()).value), "second\n");
      const stopping = server.stop();
      // The client sees the end (or a reset) rather than hanging.
      const end = await reader.read().then((r) => r.done, () => true);
      assert.equal(end, true);
      await stopping;
      assert.equal(await portIsFree(server.port), true);
    });
  });
}

describe("serveHttp()", () => {
  it("binds 127.0.0.1 by default and refuses a bad port", async () => {
    const server = await serveHttp({ port: 0, handler: () => new Response("ok") });
    try {
      assert.equal(server.host, "127.0.0.1");
      assert.equal(await (await fetch(`http://127.0.0.1:${server.port}/`)).text(), "ok");
    } finally {
      await server.stop();
    }
    assert.throws(
      () => serveHttp({ port: 70000, handler: () => new Response("") }),
      /^RangeError: Cannot serve HTTP on port 70000: use 0 to 65535$/,
    );
  });
});
