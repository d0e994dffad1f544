// The transport's peers and their outbound queues: the table of peers by advertised address
// (with aliases for dialled addresses that turned out to be another's), the bounded lanes
// (count and bytes) and the writers waiting for room. No sockets and no timers: the transport
// owns connections, dialling and flushing.

import { formatNodeAddress, type NodeAddress } from "./address.ts";
import { queuedSize } from "./_envelope_codec.ts";
import { Peer } from "./_peer_link.ts";
import type { Envelope } from "./transport.ts";

/** The bounds of every peer's outbound lanes. */
export interface QueueLimits {
  /** User-lane envelopes per peer. */
  readonly queueLimit: number;
  /** Queued bytes per peer and lane (see `queuedSize`). */
  readonly queueBytesLimit: number;
  /** Control-lane envelopes per peer. */
  readonly controlLimit: number;
  /** The largest frame: room means room for one more of these (or a quarter of the bytes). */
  readonly maxFrameSize: number;
}

/**
 * Peers by advertised address, and their queues.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PeerTable } from "./_peer_table.ts";
 * const table = new PeerTable({
 *   queueLimit: 1,
 *   queueBytesLimit: 1024,
 *   controlLimit: 1,
 *   maxFrameSize: 1024,
 * });
 * const to = { host: "127.0.0.1", port: 25520 };
 * const peer = table.peerFor("127.0.0.1:25520", to);
 * assert.ok(table.enqueue(peer, { recipient: "/a", payload: new Uint8Array(3) }));
 * assert.ok(!table.enqueue(peer, { recipient: "/b", payload: new Uint8Array(3) })); // full
 * assert.ok(table.enqueue(peer, { recipient: "/_cluster/x", payload: new Uint8Array(3), lane: "control" }));
 * assert.equal(table.find(to), peer);
 * assert.deepEqual(table.takeAll(peer).map((e) => e.recipient), ["/_cluster/x", "/a"]);
 * ```
 */
export class PeerTable {
  readonly #limits: QueueLimits;
  readonly #peers = new Map<string, Peer>();
  readonly #aliases = new Map<string, string>();
  // send() is hot and callers reuse address objects: remember which peer an address object
  // resolved to, checked against its host/port and the generation of the table.
  readonly #lookups = new WeakMap<
    NodeAddress,
    { host: string; port: number; gen: number; peer: Peer }
  >();
  #generation = 0;

  constructor(limits: QueueLimits) {
    this.#limits = limits;
  }

  /** The user-lane bound, in envelopes. */
  get queueLimit(): number {
    return this.#limits.queueLimit;
  }

  /** Peer entries held. */
  get size(): number {
    return this.#peers.size;
  }

  values(): IterableIterator<Peer> {
    return this.#peers.values();
  }

  /** The peer entry under an advertised key (after `resolve`). */
  get(key: string): Peer | undefined {
    return this.#peers.get(key);
  }

  /** The advertised key a dialled key stands for. */
  resolve(key: string): string {
    return this.#aliases.get(key) ?? key;
  }

  /** The peer `to` was last resolved to, while nothing in the table changed. */
  cached(to: NodeAddress): Peer | undefined {
    const cached = this.#lookups.get(to);
    return cached !== undefined && cached.gen === this.#generation && cached.host === to.host &&
        cached.port === to.port
      ? cached.peer
      : undefined;
  }

  /** Remembers that `to` resolves to `peer` (see `cached`). */
  remember(to: NodeAddress, peer: Peer): void {
    this.#lookups.set(to, { host: to.host, port: to.port, gen: this.#generation, peer });
  }

  /** The peer for an address, if there is an entry. */
  find(to: NodeAddress): Peer | undefined {
    return this.cached(to) ?? this.#peers.get(this.resolve(formatNodeAddress(to)));
  }

  /** The peer entry under `key`, made if missing. */
  peerFor(key: string, address: NodeAddress): Peer {
    let peer = this.#peers.get(key);
    if (peer === undefined) {
      peer = new Peer(key, { host: address.host, port: address.port });
      this.#peers.set(key, peer);
    }
    return peer;
  }

  /** Removes a peer's entry and aliases; wakes its writers (their sends will fail or redial). */
  remove(peer: Peer): void {
    if (this.#peers.get(peer.key) === peer) this.#peers.delete(peer.key);
    this.dropAliases(peer.key);
    this.#generation++;
    this.wakeWriters(peer, true);
  }

  /** Drops the aliases to and from `key`. */
  dropAliases(key: string): void {
    for (const [alias, target] of this.#aliases) {
      if (alias === key || target === key) this.#aliases.delete(alias);
    }
  }

  /**
   * The dialled address of `peer` turned out to be an alias of `key`: the entry moves there,
   * or, when `key` already has one, its queued envelopes join that one's lanes in order.
   *
   * @returns The peer that now stands for `key`.
   */
  rekey(peer: Peer, key: string, address: NodeAddress): Peer {
    this.#aliases.set(peer.key, key);
    this.#generation++;
    const existing = this.#peers.get(key);
    this.#peers.delete(peer.key);
    peer.dialing = undefined;
    if (existing === undefined) {
      peer.key = key;
      peer.address = address;
      this.#peers.set(key, peer);
      return peer;
    }
    for (const envelope of this.takeAll(peer)) {
      if (envelope.lane === "control") {
        existing.control.push(envelope);
        existing.controlBytes += queuedSize(envelope);
      } else {
        existing.queue.push(envelope);
        existing.queueBytes += queuedSize(envelope);
      }
    }
    this.wakeWriters(peer, true);
    return existing;
  }

  /**
   * Queues an envelope on its lane unless that lane is full (in envelopes or bytes).
   *
   * @returns Whether it was queued.
   */
  enqueue(peer: Peer, envelope: Envelope): boolean {
    const size = queuedSize(envelope);
    const limits = this.#limits;
    if (envelope.lane === "control") {
      if (
        peer.control.length >= limits.controlLimit ||
        (peer.controlBytes > 0 && peer.controlBytes + size > limits.queueBytesLimit)
      ) return false;
      peer.control.push(envelope);
      peer.controlBytes += size;
      return true;
    }
    if (
      peer.queue.length >= limits.queueLimit ||
      (peer.queueBytes > 0 && peer.queueBytes + size > limits.queueBytesLimit)
    ) return false;
    peer.queue.push(envelope);
    peer.queueBytes += size;
    return true;
  }

  /** Room for another envelope of up to a quarter of the byte bound (or a maximal frame). */
  hasRoom(peer: Peer): boolean {
    const { queueLimit, queueBytesLimit, maxFrameSize } = this.#limits;
    return peer.queue.length < queueLimit &&
      (peer.queueBytes === 0 ||
        peer.queueBytes + Math.min(maxFrameSize, queueBytesLimit / 4) <= queueBytesLimit);
  }

  /** Resolves once `wakeWriters` finds room on the peer's user lane; rejects on abort. */
  waitForRoom(peer: Peer, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const wake = (): void => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = (): void => {
        const i = peer.waiters.indexOf(wake);
        if (i >= 0) peer.waiters.splice(i, 1);
        reject(signal!.reason);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      peer.waiters.push(wake);
    });
  }

  /** Wakes `waitForRoom` callers once the user lane has room (or always, with `all`). */
  wakeWriters(peer: Peer, all = false): void {
    if (peer.waiters.length === 0 || (!all && !this.hasRoom(peer))) return;
    const waiters = peer.waiters;
    peer.waiters = [];
    for (const wake of waiters) wake();
  }

  /** Empties both lanes (control first) and wakes writers. */
  takeAll(peer: Peer): Envelope[] {
    const out = peer.control.clear();
    for (const envelope of peer.queue.clear()) out.push(envelope);
    peer.queueBytes = 0;
    peer.controlBytes = 0;
    this.wakeWriters(peer);
    return out;
  }
}
