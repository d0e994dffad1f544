// A small loopback TCP proxy for partition tests (the tests' own; users get the same thing as
// `PartitionProxy` from @casty/casty/testing, src/testing/partition_proxy.ts). Each node advertises a proxy port; every
// connection to the node goes through its proxy, which reads the dialer's identity from the
// casty handshake frame ([u32 length][u8 type 0][JSON {…, port}]) and refuses or cuts the
// connections that cross a partition. It can also slow one direction between two nodes: a
// connection carries bytes both ways and either end may have dialled it (the transport's main
// connection is the one the lower address dialled; each node dials its own control connection for
// its cluster messages), so `PartitionTable.delay(from, to, ms)` delays what `from` writes on
// every connection between the two, in `to`'s proxy when `from` dialled, in `from`'s otherwise.
import { connect, createServer, type Server, type Socket } from "node:net";

export class PartitionTable {
  #groups = new Map<number, number>();
  #proxies = new Set<NodeProxy>();

  /** Splits the nodes (by advertised port) into groups that cannot talk to each other. */
  partition(...groups: number[][]): void {
    this.#groups.clear();
    groups.forEach((g, i) => g.forEach((port) => this.#groups.set(port, i)));
    for (const p of this.#proxies) p.enforce();
  }

  heal(): void {
    this.#groups.clear();
  }

  /**
   * Delays everything node `from` sends to node `to` (advertised ports) by `ms` (0: no delay),
   * on the connections open now and later, whichever of the two dialled them; bytes keep their
   * order, and the other direction is untouched.
   */
  delay(from: number, to: number, ms: number): void {
    for (const p of this.#proxies) {
      if (p.port === to) p.delay(from, ms);
      if (p.port === from) p.delay(to, ms, "toDialer");
    }
  }

  allowed(a: number, b: number): boolean {
    const ga = this.#groups.get(a);
    const gb = this.#groups.get(b);
    return ga === undefined || gb === undefined || ga === gb;
  }

  add(p: NodeProxy): void {
    this.#proxies.add(p);
  }
}

interface Link {
  readonly dialer: number;
  readonly client: Socket;
  readonly upstream: Socket;
  readonly stop: () => void;
}

/** Which way through a proxy: what the dialer sends to the node, or what the node answers. */
export type ProxyDirection = "toNode" | "toDialer";

/** Bytes held back per connection and direction before the sender is paused. */
const DELAY_QUEUE_BYTES = 8 << 20;

/**
 * Copies `src` to `dst`, each chunk `delay()` ms late (read when the chunk arrives), in order: a
 * chunk never overtakes an earlier one. At most `DELAY_QUEUE_BYTES` wait; beyond that `src` is
 * paused until they drain (nothing is dropped). Returns a function that cancels the timer.
 */
function forward(src: Socket, dst: Socket, delay: () => number): () => void {
  const queue: { due: number; chunk: Buffer }[] = [];
  let queued = 0;
  let blocked = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    if (timer === undefined && !blocked && queue.length > 0) {
      timer = setTimeout(pump, Math.max(0, queue[0].due - Date.now()));
    }
  };
  const write = (chunk: Buffer) => {
    if (!dst.write(chunk)) {
      blocked = true;
      src.pause();
    }
  };
  const pump = () => {
    timer = undefined;
    const now = Date.now();
    while (!blocked && queue.length > 0 && queue[0].due <= now) {
      const { chunk } = queue.shift()!;
      queued -= chunk.length;
      write(chunk);
    }
    if (!blocked && queued < DELAY_QUEUE_BYTES) src.resume();
    arm();
  };
  dst.on("drain", () => {
    blocked = false;
    pump();
  });
  src.on("data", (chunk: Buffer) => {
    const ms = delay();
    if (ms <= 0 && queue.length === 0 && !blocked) return write(chunk);
    queue.push({ due: Date.now() + Math.max(0, ms), chunk });
    queued += chunk.length;
    if (queued >= DELAY_QUEUE_BYTES) src.pause();
    arm();
  });
  return () => {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    queue.length = 0;
  };
}

export class NodeProxy {
  readonly port: number;
  readonly #server: Server;
  readonly #table: PartitionTable;
  readonly #links = new Set<Link>();
  readonly #pending = new Set<Socket>();
  readonly #delays: Record<ProxyDirection, Map<number, number>> = {
    toNode: new Map(),
    toDialer: new Map(),
  };

  private constructor(server: Server, port: number, table: PartitionTable) {
    this.#server = server;
    this.port = port;
    this.#table = table;
    table.add(this);
  }

  /** Listens on a free port and forwards to 127.0.0.1:`targetPort` (the node's bind port). */
  static async start(targetPort: number, table: PartitionTable): Promise<NodeProxy> {
    const ref: { proxy?: NodeProxy } = {};
    const server = createServer((client) => ref.proxy!.accept(client, targetPort));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    ref.proxy = new NodeProxy(server, port, table);
    return ref.proxy;
  }

  accept(client: Socket, targetPort: number): void {
    this.#pending.add(client);
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length < 5) return;
      const len = buf.readUInt32BE(0);
      if (len > 64 * 1024) return client.destroy();
      if (buf.length < 4 + len) return;
      client.off("data", onData);
      this.#pending.delete(client);
      let dialer = -1;
      try {
        dialer = (JSON.parse(buf.subarray(5, 4 + len).toString("utf8")) as { port: number }).port;
      } catch {
        return client.destroy();
      }
      if (!this.#table.allowed(dialer, this.port)) return client.destroy();
      const upstream = connect(targetPort, "127.0.0.1");
      upstream.write(buf);
      const stopIn = forward(client, upstream, () => this.#delays.toNode.get(dialer) ?? 0);
      const stopOut = forward(upstream, client, () => this.#delays.toDialer.get(dialer) ?? 0);
      const link: Link = {
        dialer,
        client,
        upstream,
        stop: () => {
          stopIn();
          stopOut();
        },
      };
      this.#links.add(link);
      const close = () => {
        link.stop();
        this.#links.delete(link);
        client.destroy();
        upstream.destroy();
      };
      client.on("close", close);
      upstream.on("close", close);
      client.on("error", close);
      upstream.on("error", close);
    };
    client.on("data", onData);
    client.on("error", () => client.destroy());
  }

  /**
   * Delays by `ms` (0: none) what the node at advertised port `dialer` sends through this proxy
   * to the node (`"toNode"`), or what the node sends back on the connections `dialer` opened
   * (`"toDialer"`), from the next chunk on, on open and future connections alike.
   */
  delay(dialer: number, ms: number, direction: ProxyDirection = "toNode"): void {
    if (ms > 0) this.#delays[direction].set(dialer, ms);
    else this.#delays[direction].delete(dialer);
  }

  /** Cuts the live connections that the partition no longer allows. */
  enforce(): void {
    for (const l of [...this.#links]) {
      if (!this.#table.allowed(l.dialer, this.port)) {
        this.#links.delete(l);
        l.stop();
        l.client.destroy();
        l.upstream.destroy();
      }
    }
  }

  async close(): Promise<void> {
    for (const l of this.#links) {
      l.stop();
      l.client.destroy();
      l.upstream.destroy();
    }
    for (const s of this.#pending) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** A free TCP port on 127.0.0.1 (bound, then released): the test kit's. */
export { freePort } from "../../src/testing/partition_proxy.ts";
