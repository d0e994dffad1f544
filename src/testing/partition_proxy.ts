/**
 * Network partitions between real node processes on one machine: a small TCP proxy in front
 * of each node. A node binds a private port (`bindPort`) and advertises its proxy's port
 * (`port`), so every connection to it goes through the proxy, which reads the dialer's
 * advertised port from the casty handshake and refuses or cuts the connections that cross a
 * partition. Plain TCP only (with or without a cluster secret): TLS hides the handshake.
 *
 * @module
 */
import { defaultTcp } from "../runtime/select.ts";
// deno-lint-ignore no-unused-vars
import type { startNodeProcess } from "./node_process.ts";
import type { Tcp, TcpConnection } from "../runtime/tcp.ts";

/**
 * The two ports of a node behind a {@linkcode PartitionProxy}: start the node with
 * `port` (advertised to the others, the proxy's) and `bindPort` (where it listens).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ProxiedPorts } from "@casty/casty/testing";
 * const p: ProxiedPorts = { port: 40001, bindPort: 40002 };
 * assert.notEqual(p.port, p.bindPort);
 * ```
 */
export interface ProxiedPorts {
  /** The port the node advertises (`port` option): its proxy's. */
  readonly port: number;
  /** The port the node binds (`bindPort` option). */
  readonly bindPort: number;
}

/**
 * A node, or several, on one side of {@linkcode PartitionProxy.partition}: advertised ports.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { PortGroup } from "@casty/casty/testing";
 * const side: PortGroup = [40001, 40003];
 * assert.equal(typeof side, "object");
 * ```
 */
export type PortGroup = number | readonly number[];

const HOST = "127.0.0.1";
/** The handshake frame's header: [u32 BE length][u8 type 0]. */
const HEADER = 5;
/** A handshake larger than this is not casty's. */
const MAX_HANDSHAKE = 64 * 1024;
/** Bytes buffered towards one side before reading from the other pauses. */
const HIGH_WATER = 1024 * 1024;

interface Link {
  readonly dialer: number;
  readonly front: number;
  readonly client: TcpConnection;
  upstream?: TcpConnection;
}

interface Front {
  readonly port: number;
  readonly bindPort: number;
  readonly close: () => Promise<void>;
}

/**
 * TCP proxies that partition real node processes on loopback. Start each node with the
 * ports {@linkcode PartitionProxy.add} returns (`port` advertised, `bindPort` bound), e.g. as
 * arguments of {@linkcode startNodeProcess}; then `partition`, `cut`, `heal`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PartitionProxy } from "@casty/casty/testing";
 * await using net = new PartitionProxy();
 * const a = await net.add(); // start node A with { port: a.port, bindPort: a.bindPort }
 * const b = await net.add();
 * const c = await net.add();
 * net.partition([a.port, b.port], c.port); // A and B on one side, C alone
 * assert.equal(net.allowed(a.port, b.port), true);
 * assert.equal(net.allowed(b.port, c.port), false);
 * net.heal();
 * net.cut(a.port, b.port); // only the link A–B
 * assert.equal(net.allowed(a.port, b.port), false);
 * assert.equal(net.allowed(a.port, c.port), true);
 * ```
 */
export class PartitionProxy implements AsyncDisposable {
  readonly #tcp: Tcp;
  readonly #fronts = new Map<number, Front>();
  readonly #links = new Set<Link>();
  readonly #groups = new Map<number, number>();
  readonly #cuts = new Set<string>();
  #closed = false;

  /**
   * Creates a PartitionProxy (no node yet: {@linkcode PartitionProxy.add}).
   *
   * @param tcp The TCP implementation (default: the runtime's).
   */
  constructor(tcp: Tcp = defaultTcp()) {
    this.#tcp = tcp;
  }

  /** How many proxied connections are open. */
  get connections(): number {
    return this.#links.size;
  }

  /**
   * Puts a proxy in front of a node: listens on a free port (the node's advertised `port`)
   * and forwards to `127.0.0.1:bindPort`.
   *
   * @param bindPort Where the node will listen (default: a free port picked now).
   * @returns The ports to start the node with.
   * @throws {Error} after {@linkcode PartitionProxy.close}.
   */
  async add(bindPort?: number): Promise<ProxiedPorts> {
    if (this.#closed) throw new Error("Cannot add a node: the partition proxy is closed");
    const target = bindPort ?? await freePort(this.#tcp);
    const ref: { port?: number } = {};
    const listener = await this.#tcp.listen(HOST, 0, {
      onAccept: (conn) => this.#accept(conn, ref.port!, target),
      onError: () => {},
    });
    ref.port = listener.port;
    this.#fronts.set(listener.port, {
      port: listener.port,
      bindPort: target,
      close: () => listener.close(),
    });
    return { port: listener.port, bindPort: target };
  }

  /**
   * Splits the nodes into groups that cannot reach each other (both ways) until
   * {@linkcode PartitionProxy.heal}; replaces the previous partition. Open connections across
   * are cut at once, new ones refused. Nodes in no group reach everyone.
   *
   * @param groups Two or more groups of advertised ports.
   */
  partition(...groups: PortGroup[]): void {
    this.#groups.clear();
    groups.forEach((g, i) => {
      for (const port of typeof g === "number" ? [g] : g) this.#groups.set(port, i);
    });
    this.#enforce();
  }

  /**
   * Cuts the single link between two nodes, both ways, until {@linkcode PartitionProxy.heal}
   * (or {@linkcode PartitionProxy.restore}); the partition, if any, stays.
   *
   * @param a An advertised port.
   * @param b Another.
   */
  cut(a: number, b: number): void {
    this.#cuts.add(a < b ? `${a}-${b}` : `${b}-${a}`);
    this.#enforce();
  }

  /**
   * Undoes {@linkcode PartitionProxy.cut} for one link.
   *
   * @param a An advertised port.
   * @param b Another.
   */
  restore(a: number, b: number): void {
    this.#cuts.delete(a < b ? `${a}-${b}` : `${b}-${a}`);
  }

  /** Removes the partition and every cut link. */
  heal(): void {
    this.#groups.clear();
    this.#cuts.clear();
  }

  /**
   * Whether nodes `a` and `b` can reach each other now.
   *
   * @param a An advertised port.
   * @param b Another.
   * @returns `true` when no partition or cut separates them.
   */
  allowed(a: number, b: number): boolean {
    if (this.#cuts.has(a < b ? `${a}-${b}` : `${b}-${a}`)) return false;
    const ga = this.#groups.get(a);
    const gb = this.#groups.get(b);
    return ga === undefined || gb === undefined || ga === gb;
  }

  /** Closes every proxy and connection. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const l of this.#links) this.#drop(l);
    await Promise.all([...this.#fronts.values()].map((f) => f.close()));
    this.#fronts.clear();
  }

  /** Same as {@linkcode PartitionProxy.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #enforce(): void {
    for (const l of [...this.#links]) if (!this.allowed(l.dialer, l.front)) this.#drop(l);
  }

  #drop(l: Link): void {
    this.#links.delete(l);
    l.client.destroy();
    l.upstream?.destroy();
  }

  #accept(client: TcpConnection, front: number, target: number): void {
    if (this.#closed) return client.destroy();
    let head = new Uint8Array(0);
    let link: Link | undefined;
    const pending: Uint8Array[] = [];
    client.onClose(() => {
      if (link !== undefined) this.#drop(link);
    });
    client.onData((chunk) => {
      if (link !== undefined) {
        if (link.upstream === undefined) pending.push(chunk);
        else forward(link.upstream, chunk, client);
        return;
      }
      const joined = new Uint8Array(head.length + chunk.length);
      joined.set(head);
      joined.set(chunk, head.length);
      head = joined;
      if (head.length < HEADER) return;
      const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
      const length = view.getUint32(0);
      if (head[4] !== 0 || length > MAX_HANDSHAKE) return client.destroy();
      if (head.length < 4 + length) return;
      const dialer = dialerPort(head.subarray(HEADER, 4 + length));
      if (dialer === undefined || !this.allowed(dialer, front)) return client.destroy();
      link = { dialer, front, client };
      this.#links.add(link);
      pending.push(head);
      const l = link;
      this.#tcp.connect(HOST, target, { timeout: 5000 }).then((upstream) => {
        if (!this.#links.has(l)) return upstream.destroy();
        l.upstream = upstream;
        upstream.onClose(() => this.#drop(l));
        upstream.onData((bytes) => forward(client, bytes, upstream));
        upstream.onDrain(() => client.resume());
        client.onDrain(() => upstream.resume());
        for (const bytes of pending.splice(0)) forward(upstream, bytes, client);
      }, () => this.#drop(l));
    });
  }
}

/** Writes `bytes` to `to`, pausing `from` while `to` has too much buffered. */
function forward(to: TcpConnection, bytes: Uint8Array, from: TcpConnection): void {
  to.write(bytes);
  if (to.bufferedAmount > HIGH_WATER) from.pause();
}

function dialerPort(json: Uint8Array): number | undefined {
  try {
    const hello = JSON.parse(new TextDecoder().decode(json)) as { port?: unknown };
    return Number.isInteger(hello.port) ? hello.port as number : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A free TCP port on 127.0.0.1, for a process that binds it a little later.
 *
 * Ports are picked at random below the ephemeral range (20000–32767; Linux hands out
 * 32768–60999 for outgoing connections, macOS and Windows 49152–65535), so a connection some
 * other socket opens meanwhile cannot take it; each is bound once to see that it is free, and
 * one process never gets the same port twice from here. After 64 ports in use it falls back
 * to one the system picks.
 *
 * @param tcp The TCP implementation (default: the runtime's).
 * @returns The port.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { freePort } from "@casty/casty/testing";
 * const port = await freePort();
 * assert.ok(port > 0 && port < 65536);
 * assert.notEqual(await freePort(), port);
 * ```
 */
export async function freePort(tcp: Tcp = defaultTcp()): Promise<number> {
  for (let attempt = 0; attempt < 64; attempt++) {
    const port = PICK_FROM + Math.floor(Math.random() * (PICK_TO - PICK_FROM + 1));
    if (handedOut.has(port)) continue;
    const listener = await tcp.listen(HOST, port, { onAccept: (c) => c.destroy() }).catch(
      () => undefined,
    );
    if (listener === undefined) continue;
    await listener.close();
    handedOut.add(port);
    return port;
  }
  const listener = await tcp.listen(HOST, 0, { onAccept: (c) => c.destroy() });
  const port = listener.port;
  await listener.close();
  handedOut.add(port);
  return port;
}

const PICK_FROM = 20_000;
const PICK_TO = 32_767;
const handedOut = new Set<number>();
