/**
 * Management over HTTP: the cluster extension that serves `GET /cluster/members`,
 * `GET /cluster/shards`, `GET /metrics`, the dashboard at `/` and its server-sent events at
 * `/events` on the node's `http` port, with the cluster port's authentication (the shared secret
 * as a bearer token or a dashboard cookie; TLS with a client certificate). Every node that loads
 * this module also answers `GetNodeStats` at `/_cluster/_management`, so one node's dashboard
 * (and `casty status`) shows every node's load.
 *
 * @module
 */
import { type Behavior, Behaviors } from "../actor/behaviors.ts";
import type { Cancellable } from "../actor/clock.ts";
import { CastyError } from "../actor/errors.ts";
import {
  addDefaultExtension,
  type ClusterExtension,
  type ClusterExtensionContext,
} from "../cluster/extension.ts";
import type { ManagementHttpOptions } from "../cluster/start_options.ts";
import { SubscribeTopology, TOPOLOGY_PATH, TopologySnapshot } from "../cluster/topology.ts";
import { formatNodeAddress } from "../remote/address.ts";
import { type HttpServer, serveHttp } from "../runtime/http.ts";
import { dashboardSnapshot, membersJson, shardsJson } from "./cluster_json.ts";
import { dashboardHtml } from "./dashboard.ts";
import { METRICS_CONTENT_TYPE, metricsText } from "./metrics.ts";
import { GetNodeStats, MANAGEMENT_PATH, type NodeStats, NodeStatsSampler } from "./node_stats.ts";

/**
 * The management HTTP server cannot start as configured.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ManagementHttpError } from "./management.ts";
 * const err = new ManagementHttpError("INSECURE_HTTP", "no");
 * assert.equal(err.code, "INSECURE_HTTP");
 * ```
 */
export class ManagementHttpError extends CastyError {
  /**
   * Creates a ManagementHttpError.
   *
   * @param code `"INSECURE_HTTP"`: a public address with neither `tls` nor `secret`.
   * @param message What is wrong.
   */
  constructor(code: "INSECURE_HTTP", message: string) {
    super(code, message);
    this.name = "ManagementHttpError";
  }
}

/** The name of the dashboard's session cookie. */
const COOKIE = "casty_session";
/** How long a peer may take to answer GetNodeStats. */
const PEER_TIMEOUT = 1500;
/** A server-sent event stream whose client reads slower than this many bytes behind is closed. */
const SLOW_CLIENT_BYTES = 1 << 20;
const ENDPOINTS = ["/", "/cluster/members", "/cluster/shards", "/metrics", "/events"];

function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, "");
  return h === "localhost" || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body, null, 2) + "\n", {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

function sameSecret(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  let diff = x.length ^ y.length;
  for (let i = 0; i < x.length; i++) diff |= x[i] ^ (y[i % Math.max(1, y.length)] ?? 0);
  return diff === 0;
}

async function sessionToken(secret: string): Promise<string> {
  const enc = new TextEncoder();
  const key = await crypto.subtle.importKey(
    "raw",
    enc.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, enc.encode("casty-dashboard")));
  return [...mac].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function cookieValue(request: Request, name: string): string | undefined {
  for (const part of (request.headers.get("cookie") ?? "").split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return v.join("=");
  }
  return undefined;
}

interface SseClient {
  readonly controller: ReadableStreamDefaultController<Uint8Array>;
}

/** One node's management HTTP server. */
class ManagementServer {
  readonly #ctx: ClusterExtensionContext;
  readonly #sampler: NodeStatsSampler;
  readonly #secret: string | undefined;
  readonly #session: string | undefined;
  readonly #clients = new Set<SseClient>();
  readonly #encoder = new TextEncoder();
  #topology: TopologySnapshot;
  #peers = new Map<string, NodeStats>();
  #collecting: Promise<void> | undefined;
  #timer: Cancellable | undefined;
  #server: HttpServer | undefined;
  #stopped = false;

  constructor(
    ctx: ClusterExtensionContext,
    sampler: NodeStatsSampler,
    topology: TopologySnapshot,
    secret: string | undefined,
    session: string | undefined,
  ) {
    this.#ctx = ctx;
    this.#sampler = sampler;
    this.#topology = topology;
    this.#secret = secret;
    this.#session = session;
  }

  get server(): HttpServer | undefined {
    return this.#server;
  }

  async start(http: ManagementHttpOptions): Promise<void> {
    const host = http.host ?? "127.0.0.1";
    const tls = this.#ctx.options.tls;
    if (!isLoopback(host) && tls === undefined && this.#secret === undefined) {
      if (this.#ctx.options.insecure !== true) {
        throw new ManagementHttpError(
          "INSECURE_HTTP",
          `Cannot serve management HTTP on "${host}": it is not a loopback address and neither ` +
            "`tls` nor `secret` is set; set one of them, or `insecure: true` to serve it open",
        );
      }
      this.#ctx.log.warn(
        `management HTTP on "${host}" is open to anyone who can reach it (insecure: true)`,
      );
    }
    this.#server = await serveHttp({
      host,
      port: http.port,
      tls,
      handler: (request) => this.#handle(request),
      onError: (err) => this.#ctx.log.warn("management HTTP request failed", err),
    });
    const scheme = this.#server.secure ? "https" : "http";
    this.#ctx.log.info(`management HTTP at ${scheme}://${host}:${this.#server.port}/`);
    this.#tick();
  }

  /** A new topology: every dashboard gets it at once. */
  topologyChanged(snapshot: TopologySnapshot): void {
    this.#topology = snapshot;
    this.#push();
  }

  #tick(): void {
    this.#timer = this.#ctx.clock.setTimeout(() => {
      if (this.#stopped) return;
      if (this.#clients.size > 0) void this.#collect().then(() => this.#push());
      this.#tick();
    }, 1000);
  }

  /** The cluster as this node sees it now (the pushes may lag behind allocations). */
  async #refresh(): Promise<void> {
    this.#topology = await this.#ctx.node.getClusterState();
  }

  /** Asks every live member for its stats (this node answers itself). */
  #collect(): Promise<void> {
    return this.#collecting ??= (async () => {
      await this.#refresh();
      const self = formatNodeAddress(this.#ctx.selfAddress);
      const fresh = new Map<string, NodeStats>();
      fresh.set(self, this.#localStats());
      const asks = this.#topology.members
        .filter((m) => m.status !== "down" && m.status !== "removed")
        .filter((m) => formatNodeAddress(m.address) !== self)
        .filter((m) =>
          !this.#topology.unreachable.some((u) =>
            formatNodeAddress(u) === formatNodeAddress(m.address)
          )
        )
        .map(async (m) => {
          try {
            const stats = await this.#ctx.node.ask<GetNodeStats, NodeStats>(
              this.#ctx.refAt<GetNodeStats>(m.address, MANAGEMENT_PATH),
              (replyTo) => new GetNodeStats(replyTo),
              { timeout: PEER_TIMEOUT },
            );
            fresh.set(formatNodeAddress(m.address), stats);
          } catch {
            // No answer in time (busy, gone, or without the management module): left out.
          }
        });
      await Promise.all(asks);
      this.#peers = fresh;
    })().finally(() => (this.#collecting = undefined));
  }

  #localStats(): NodeStats {
    return this.#sampler.stats(Object.keys(this.#topology.allocations));
  }

  #snapshotEvent(): Uint8Array {
    // The last collection has this node's stats too (at most a second old): counting the
    // actors walks them all, so it is done once per second, not once per push.
    const peers = new Map(this.#peers);
    const self = formatNodeAddress(this.#ctx.selfAddress);
    if (!peers.has(self)) peers.set(self, this.#localStats());
    const s = dashboardSnapshot(
      this.#topology,
      this.#ctx.selfAddress,
      peers,
      this.#ctx.clock.wallNow(),
    );
    return this.#encoder.encode(`event: snapshot\ndata: ${JSON.stringify(s)}\n\n`);
  }

  #push(): void {
    if (this.#clients.size === 0) return;
    const event = this.#snapshotEvent();
    for (const client of [...this.#clients]) this.#send(client, event);
  }

  #send(client: SseClient, event: Uint8Array): void {
    try {
      if ((client.controller.desiredSize ?? 0) < -SLOW_CLIENT_BYTES) {
        this.#clients.delete(client);
        client.controller.close();
        return;
      }
      client.controller.enqueue(event);
    } catch {
      this.#clients.delete(client);
    }
  }

  #authorized(request: Request): boolean {
    if (this.#secret === undefined) return true;
    const auth = request.headers.get("authorization");
    if (auth !== null && /^Bearer /i.test(auth)) {
      return sameSecret(auth.slice(7).trim(), this.#secret);
    }
    const cookie = cookieValue(request, COOKIE);
    return cookie !== undefined && sameSecret(cookie, this.#session!);
  }

  async #handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const path = url.pathname.replace(/\/+$/, "") || "/";
    const known = ENDPOINTS.includes(path) || path.startsWith("/cluster/shards/");
    if (!known) {
      return json({
        error: `No such endpoint: ${request.method} ${url.pathname}`,
        endpoints: ENDPOINTS,
      }, 404);
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      return json(
        { error: `Method ${request.method} is not allowed on ${path}: use GET` },
        405,
        { allow: "GET, HEAD" },
      );
    }
    const token = url.searchParams.get("token");
    if (path === "/" && token !== null && this.#secret !== undefined) {
      if (!sameSecret(token, this.#secret)) return this.#refuse(path, "the token is wrong");
      // The secret leaves the address bar: the page reloads without it, with a session cookie.
      const secure = this.#server?.secure ? "; Secure" : "";
      return new Response(null, {
        status: 303,
        headers: {
          location: "/",
          "set-cookie": `${COOKIE}=${this.#session}; Path=/; HttpOnly; SameSite=Strict${secure}`,
        },
      });
    }
    if (!this.#authorized(request)) {
      return this.#refuse(path, "this node has a secret");
    }
    await this.#refresh();
    switch (path) {
      case "/":
        return new Response(dashboardHtml(this.#ctx.systemName), {
          headers: {
            "content-type": "text/html; charset=utf-8",
            "cache-control": "no-store",
            "content-security-policy":
              "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'",
          },
        });
      case "/cluster/members":
        return json(membersJson(this.#topology, this.#ctx.selfAddress));
      case "/metrics":
        return new Response(
          metricsText(
            this.#topology,
            this.#ctx.selfAddress,
            this.#localStats(),
            this.#ctx.options.http?.journals ?? {},
          ),
          { headers: { "content-type": METRICS_CONTENT_TYPE } },
        );
      case "/events":
        return this.#events();
    }
    await this.#collect();
    const shards = shardsJson(this.#topology, this.#peers);
    if (path === "/cluster/shards") return json(shards);
    const type = decodeURIComponent(path.slice("/cluster/shards/".length));
    const one = shards.types[type];
    if (one === undefined) {
      return json({ error: `No sharded type "${type}" is allocated in this cluster` }, 404);
    }
    return json({ type, allocationEpoch: shards.allocationEpoch, ...one });
  }

  #refuse(path: string, why: string): Response {
    const hint = path === "/"
      ? "open this page once as /?token=<secret>"
      : "send the header Authorization: Bearer <secret>";
    return json({ error: `Unauthorized: ${why}; ${hint}` }, 401, {
      "www-authenticate": 'Bearer realm="casty"',
    });
  }

  #events(): Response {
    let client: SseClient | undefined;
    const clients = this.#clients;
    const stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        client = { controller };
        clients.add(client);
        controller.enqueue(this.#encoder.encode("retry: 1000\n\n"));
        this.#send(client, this.#snapshotEvent());
        void this.#collect().then(() =>
          client && clients.has(client) && this.#send(client, this.#snapshotEvent())
        );
      },
      cancel: () => {
        if (client !== undefined) clients.delete(client);
      },
    });
    return new Response(stream, {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        "x-accel-buffering": "no",
      },
    });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#timer?.cancel();
    for (const client of this.#clients) {
      try {
        client.controller.close();
      } catch {
        // already closed
      }
    }
    this.#clients.clear();
    await this.#server?.stop();
  }
}

type ManagementMsg = GetNodeStats | TopologySnapshot;

function managementActor(
  stats: () => Promise<NodeStats>,
  onTopology: (s: TopologySnapshot) => void,
): Behavior<ManagementMsg> {
  return Behaviors.receive<ManagementMsg>((_ctx, msg) => {
    if (msg instanceof TopologySnapshot) {
      onTopology(msg);
      return;
    }
    return stats().then((s) => {
      msg.replyTo.tell(s);
      return Behaviors.same<ManagementMsg>();
    });
  });
}

/** The management servers running in this process, by node address (for tests and the CLI). */
const servers = new Map<string, ManagementServer>();

/**
 * The bound management HTTP port of a node started in this process, or `undefined` when it
 * serves none.
 *
 * @param node The node's address, `"host:port"`.
 * @returns The port.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ClusteredActorSystem } from "@casty/casty";
 * import { managementPort } from "./management.ts";
 * await using node = await ClusteredActorSystem.start({
 *   name: "m", host: "127.0.0.1", port: 0, http: { port: 0 }, logLevel: "error",
 * });
 * const port = managementPort(`127.0.0.1:${node.selfAddress.port}`)!;
 * const answer = await fetch(`http://127.0.0.1:${port}/cluster/members`);
 * assert.equal((await answer.json()).members.length, 1);
 * ```
 */
export function managementPort(node: string): number | undefined {
  return servers.get(node)?.server?.port;
}

/**
 * The management extension: every node answers `GetNodeStats`; a node with the `http` option
 * serves the endpoints and the dashboard. Loading this module adds it to every node.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { managementExtension } from "./management.ts";
 * assert.equal(managementExtension.name, "management");
 * ```
 */
export const managementExtension: ClusterExtension = {
  name: "management",
  async start(ctx) {
    ctx.registerSerializable(GetNodeStats, "casty.GetNodeStats");
    const sampler = new NodeStatsSampler(ctx);
    let topology = await ctx.node.getClusterState();
    const current: { server?: ManagementServer } = {};
    const ref = ctx.spawnSystemActor(
      managementActor(
        async () => {
          topology = await ctx.node.getClusterState();
          return sampler.stats(Object.keys(topology.allocations));
        },
        (s) => {
          topology = s;
          current.server?.topologyChanged(s);
        },
      ),
      MANAGEMENT_PATH.slice(MANAGEMENT_PATH.lastIndexOf("/") + 1),
    );
    const http = ctx.options.http;
    if (http === undefined) return () => sampler.stop();
    // Only a node that serves dashboards follows every topology change.
    ctx.node.lookup(TOPOLOGY_PATH)?.tell(new SubscribeTopology(ref as never));
    const secret = ctx.options.secret;
    const server = new ManagementServer(
      ctx,
      sampler,
      topology,
      secret,
      secret === undefined ? undefined : await sessionToken(secret),
    );
    current.server = server;
    try {
      await server.start(http);
    } catch (err) {
      sampler.stop();
      throw err;
    }
    const key = formatNodeAddress(ctx.selfAddress);
    servers.set(key, server);
    return async () => {
      if (servers.get(key) === server) servers.delete(key);
      sampler.stop();
      await server.stop();
    };
  },
};

addDefaultExtension(managementExtension);
