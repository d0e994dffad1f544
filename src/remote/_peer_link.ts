// The transport's per-peer state: a peer's outbound lanes (a byte-counted user queue and a
// control queue written first), its dial and backoff state, and the links (TCP connections)
// that carry them.

import type { Cancellable } from "../actor/clock.ts";
import { RingQueue } from "../actor/mailbox.ts";
import type { TcpConnection } from "../runtime/tcp.ts";
import { formatNodeAddress, type NodeAddress } from "./address.ts";
import { FrameDecoder, type FrameType } from "./_framing.ts";
import type { Challenge, Hello } from "./_handshake_frames.ts";
import type { Envelope, PeerIdentity } from "./transport.ts";

/** Largest frame accepted before a connection has completed its handshake. */
export const HANDSHAKE_MAX_FRAME = 64 * 1024;

/** What a handshaking link waits for next. */
export type Stage = "hello" | "auth" | "challenge" | "ack";

export type LinkState = "handshaking" | "active" | "closed";

/** One TCP connection (main or control, either direction) and its handshake state. */
export class Link {
  readonly conn: TcpConnection;
  readonly outbound: boolean;
  readonly decoder: FrameDecoder = new FrameDecoder({ maxFrameSize: HANDSHAKE_MAX_FRAME });
  state: LinkState = "handshaking";
  stage: Stage;
  /** A proof is being computed or checked; the peer must wait for our answer. */
  busy = false;
  nonce = "";
  hello: Hello | undefined;
  challenge: Challenge | undefined;
  lastActivity = 0;
  /**
   * A control connection: dialled next to a peer's main connection, it carries only the
   * dialer's control lane, so heartbeats never wait behind user bytes in a TCP stream, and
   * its reads are never paused by inbound flow control.
   */
  control = false;
  peer: Peer | undefined;
  identity: PeerIdentity | undefined;
  timer: Cancellable | undefined;
  lingerTimer: Cancellable | undefined;
  maxFrame = HANDSHAKE_MAX_FRAME;
  refusal: string | undefined;
  closeReason: string | undefined;
  onFrame: (type: FrameType, payload: Uint8Array) => void = () => {};
  constructor(conn: TcpConnection, outbound: boolean, peer?: Peer) {
    this.conn = conn;
    this.outbound = outbound;
    this.peer = peer;
    this.stage = outbound ? "challenge" : "hello";
  }
  describe(): string {
    const remote = this.identity ?? this.peer?.address ?? this.conn.remoteAddress;
    return `${this.outbound ? "to" : "from"} ${formatNodeAddress(remote)}`;
  }
}

/** A node this transport talks to: its connections, both outbound lanes, dial state. */
export class Peer {
  key: string;
  address: NodeAddress;
  incarnation: string | undefined;
  active: Link | undefined;
  dialing: Link | undefined;
  connecting = false;
  /** The user lane. */
  readonly queue: RingQueue<Envelope> = new RingQueue(16);
  /** The control lane, written before the user lane. */
  readonly control: RingQueue<Envelope> = new RingQueue(4);
  queueBytes = 0;
  controlBytes = 0;
  /** Callers of `whenWritable` waiting for room on the user lane. */
  waiters: (() => void)[] = [];
  /** Our control connection to this peer (see `Link.control`). */
  controlOut: Link | undefined;
  controlDialing = false;
  /** `forget` was called while a connection was live: drop the entry once it is unused. */
  forgetWhenUnused = false;
  attempts = 0;
  nextAttemptAt = 0;
  downSince: number | undefined;
  retryTimer: Cancellable | undefined;
  flushScheduled = false;
  continuation: ReturnType<typeof setTimeout> | undefined;
  constructor(key: string, address: NodeAddress) {
    this.key = key;
    this.address = address;
  }
}

/** Whether a peer has envelopes queued on either lane. */
export function pending(peer: Peer): boolean {
  return peer.queue.length > 0 || peer.control.length > 0;
}
