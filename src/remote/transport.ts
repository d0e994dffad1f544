/**
 * The port between the actor layer and the network: node-to-node delivery of envelopes
 * whose payload is already serialized. {@linkcode TcpTransport} implements it over TCP;
 * an in-memory twin can implement it for simulations.
 *
 * @module
 */

import type { NodeAddress } from "./address.ts";

/** One message on the wire: its recipient, optional sender, and serialized payload. */
export interface Envelope {
  /** The recipient actor's path (such as `/user/alice`). */
  readonly recipient: string;
  /** The sender's path or URI, if any. */
  readonly sender?: string;
  /**
   * The serialized message. On receipt it may be a view into a larger receive buffer that
   * is never reused; copy it (`payload.slice()`) only to keep it for a long time.
   */
  readonly payload: Uint8Array;
  /**
   * The lane: `"control"` envelopes (heartbeats, gossip, membership, other cluster system
   * messages) never queue behind user envelopes and are never dropped by user-lane overflow.
   * Absent means `"user"`.
   */
  readonly lane?: "control" | "user";
}

/**
 * A node as seen on a connection: its advertised address and its incarnation, a random id
 * drawn at every start, so that a restarted node is recognisable.
 */
export interface PeerIdentity extends NodeAddress {
  /** Random id of this run of the node. */
  readonly incarnation: string;
}

/**
 * Why an envelope was not delivered:
 * - `"queue-overflow"`: the peer's outbound queue was full;
 * - `"refused"`: the peer refused the handshake (such as a different system name);
 * - `"unreachable"`: no connection could be made for `unreachableTimeout`;
 * - `"shutdown"`: the transport shut down with the envelope still queued;
 * - `"too-large"`: the encoded envelope exceeds the maximum frame size.
 */
export type UndeliverableReason =
  | "queue-overflow"
  | "refused"
  | "unreachable"
  | "shutdown"
  | "too-large";

/** Callbacks of a transport. Exceptions they throw are logged and otherwise ignored. */
export interface TransportHandlers {
  /** An envelope arrived from `from`. Per peer, envelopes arrive in the order sent. */
  onInbound?: (from: PeerIdentity, envelope: Envelope) => void;
  /** An envelope could not be delivered; nothing is dropped without this call. */
  onUndeliverable?: (to: NodeAddress, envelope: Envelope, reason: UndeliverableReason) => void;
  /** A connection to `peer` completed its handshake (or a new incarnation replaced one). */
  onPeerConnected?: (peer: PeerIdentity) => void;
  /** The connection to `peer` was lost or closed. */
  onPeerDisconnected?: (peer: PeerIdentity, reason: string) => void;
}

/** Node-to-node delivery of envelopes. */
export interface Transport extends AsyncDisposable {
  /** The actor system's name; peers with another name are refused. */
  readonly systemName: string;
  /** The address this node advertises (with the bound port when started on port 0). */
  readonly selfAddress: NodeAddress;
  /** This run's random incarnation id. */
  readonly incarnation: string;
  /**
   * Queues an envelope for `to`. Never throws for network reasons: failures go to
   * `onUndeliverable`.
   */
  send(to: NodeAddress, envelope: Envelope): void;
  /** Replaces the callbacks (fields left out are removed). */
  setHandlers(handlers: TransportHandlers): void;
  /** Envelopes queued for `to` (user lane) and not yet written to its connection. */
  queuedCount(to: NodeAddress): number;
  /** Payload bytes queued for `to` (user lane) and not yet written. */
  queuedBytes(to: NodeAddress): number;
  /**
   * Resolves once `to`'s user-lane queue has room for another envelope (at once when it has);
   * rejects with the signal's reason when `signal` aborts first.
   */
  whenWritable(to: NodeAddress, signal?: AbortSignal): Promise<void>;
  /**
   * Drops what is queued for `to`, each envelope reported to `onUndeliverable` with `reason`;
   * returns how many were dropped.
   */
  dropQueued(to: NodeAddress, reason?: UndeliverableReason): number;
  /**
   * Forgets a node the cluster removed: what is queued for it is dropped and its peer, alias
   * and incarnation entries go (once no live connection uses them). Optional.
   */
  forget?(to: NodeAddress): boolean;
  /**
   * Stops accepting new connections; those already open stay until `shutdown`. A node on its
   * way out calls it: a peer that dials it now (a partition just healed as it downed itself)
   * keeps its queue instead of flushing it into a process about to exit, and turns it into
   * dead letters once the cluster tells it the node is gone. Optional.
   */
  stopAccepting?(): Promise<void>;
  /** Closes every connection; queued envelopes go to `onUndeliverable` as `"shutdown"`. */
  shutdown(): Promise<void>;
}
