// A small loopback TCP proxy for partition tests (the tests' own; users get the same thing as
// `PartitionProxy` from @casty/casty/testing, src/testing/partition_proxy.ts). Each node advertises a proxy port; every
// connection to the node goes through its proxy, which reads the dialer's identity from the
// casty handshake frame ([u32 length][u8 type 0][JSON {…, port}]) and refuses or cuts the
// connections that cross a partition.
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
}

export class NodeProxy {
  readonly port: number;
  readonly #server: Server;
  readonly #table: PartitionTable;
  readonly #links = new Set<Link>();
  readonly #pending = new Set<Socket>();

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
      const link: Link = { dialer, client, upstream };
      this.#links.add(link);
      upstream.write(buf);
      client.pipe(upstream);
      upstream.pipe(client);
      const close = () => {
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

  /** Cuts the live connections that the partition no longer allows. */
  enforce(): void {
    for (const l of [...this.#links]) {
      if (!this.#table.allowed(l.dialer, this.port)) {
        this.#links.delete(l);
        l.client.destroy();
        l.upstream.destroy();
      }
    }
  }

  async close(): Promise<void> {
    for (const l of this.#links) {
      l.client.destroy();
      l.upstream.destroy();
    }
    for (const s of this.#pending) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}

/** A free TCP port on 127.0.0.1 (bound, then released): the test kit's. */
export { freePort } from "../../src/testing/partition_proxy.ts";
