// The handshake state machine of a cluster connection (the frames are in _handshake_frames.ts):
//
//   dialer: hello → (challenge arrives: check its proof and certificate) → auth → ack | refuse
//   acceptor: (hello arrives) → challenge → (auth arrives: check everything) → proven | refuse
//
// A `Handshake` drives one side of every connection until it is proven (acceptor) or accepted
// (dialer), then hands the link to its `HandshakeHost` (the transport), which owns peers, race
// resolution and everything after. It owns the handshake timeout, the HMAC challenge-response
// with the shared secret, the TLS certificate-name checks and the refusals, which reveal
// nothing to the refused side: the refusing side logs the real reason.

import type { Clock } from "../actor/clock.ts";
import type { Logger } from "../actor/logger.ts";
import { formatNodeAddress, type NodeAddress } from "./address.ts";
import {
  certificateNames,
  constantTimeEqual,
  handshakeProof,
  type HandshakeTranscript,
  newNonce,
} from "./_auth.ts";
import {
  FRAME_HANDSHAKE,
  FRAME_HANDSHAKE_ACK,
  FRAME_HANDSHAKE_AUTH,
  FRAME_HANDSHAKE_CHALLENGE,
  FRAME_HANDSHAKE_REFUSE,
  type FrameType,
} from "./_framing.ts";
import {
  type Challenge,
  handshakeFrame,
  type Hello,
  parseAuth,
  parseChallenge,
  parseHello,
  parseRefusal,
  PROTOCOL_VERSION,
  type RefuseReason,
} from "./_handshake_frames.ts";
import type { Link } from "./_peer_link.ts";

export type { Challenge, Hello, RefuseReason };

/** What a handshake knows about this node; fixed for the transport's lifetime. */
export interface HandshakeSettings {
  readonly systemName: string;
  readonly selfAddress: NodeAddress;
  readonly incarnation: string;
  /** The largest frame this node accepts, announced to the peer. */
  readonly maxFrameSize: number;
  /** The shared-secret key, when the cluster has a secret. */
  readonly key: CryptoKey | undefined;
  /** Whether connections use TLS. */
  readonly tls: boolean;
  /** Whether a peer's certificate must name the host it claims. */
  readonly checkNames: boolean;
  /** Milliseconds a connection gets to complete the handshake. */
  readonly timeout: number;
  readonly clock: Clock;
  readonly log: Logger;
}

/** The identity a peer proved: the endpoint part of its hello or challenge. */
export interface Endpoint {
  readonly host: string;
  readonly port: number;
  readonly incarnation: string;
  readonly maxFrameSize: number;
}

/** What the owner of the connections (the transport) does with a handshake's outcomes. */
export interface HandshakeHost {
  /** Whether new handshakes may still complete (false while shutting down). */
  running(): boolean;
  /**
   * Acceptor: the dialer proved its claims. The host either accepts (`Handshake.ack`, then
   * `establish`) or refuses (`Handshake.refuse`).
   */
  proven(link: Link, hello: Hello): void;
  /** Dialer: the acceptor accepted; the host makes the link active (`establish`). */
  accepted(link: Link, challenge: Challenge): void;
  /** Closes a link whose handshake failed, timed out or was refused. */
  close(link: Link, reason: string, graceful: boolean): void;
}

/**
 * Marks a link's handshake done: it carries envelopes from the identity it proved, with
 * frames up to the smaller of both sides' maximum.
 */
export function establish(link: Link, peer: Endpoint, maxFrameSize: number): void {
  link.state = "active";
  link.timer?.cancel();
  link.timer = undefined;
  link.identity = Object.freeze({
    host: peer.host,
    port: peer.port,
    incarnation: peer.incarnation,
  });
  link.maxFrame = Math.min(maxFrameSize, peer.maxFrameSize);
  link.decoder.maxFrameSize = maxFrameSize;
}

/** Expected frame type per handshake stage. */
const EXPECTED = {
  hello: FRAME_HANDSHAKE,
  auth: FRAME_HANDSHAKE_AUTH,
  challenge: FRAME_HANDSHAKE_CHALLENGE,
  ack: FRAME_HANDSHAKE_ACK,
} as const;

/** Runs the handshake of every connection of one transport (both roles). */
export class Handshake {
  readonly #s: HandshakeSettings;
  readonly #host: HandshakeHost;
  readonly #selfKey: string;

  constructor(settings: HandshakeSettings, host: HandshakeHost) {
    this.#s = settings;
    this.#host = host;
    this.#selfKey = formatNodeAddress(settings.selfAddress);
  }

  /** Arms the handshake timeout of a new connection (either direction). */
  begin(link: Link): void {
    const timeout = this.#s.timeout;
    link.timer = this.#s.clock.setTimeout(() => {
      link.timer = undefined;
      if (link.state === "handshaking") {
        this.#s.log.warn(
          `Closing connection ${link.describe()}: no handshake within ${timeout} ms`,
        );
        this.#host.close(link, "handshake timeout", false);
      }
    }, timeout);
  }

  /** Dialer: sends the hello on a connection that `begin` has armed. */
  hello(link: Link): void {
    link.nonce = newNonce();
    link.conn.write(handshakeFrame(FRAME_HANDSHAKE, {
      ...this.#endpoint(link.nonce),
      system: this.#s.systemName,
      ...(link.control ? { lane: "control" } : {}),
    }));
  }

  /** Acceptor: accepts a proven hello (the last handshake frame). */
  ack(link: Link): void {
    link.conn.write(handshakeFrame(FRAME_HANDSHAKE_ACK, {}));
  }

  /** Refuses a handshake; for a peer, the frame carries the reason and nothing else. */
  refuse(link: Link, reason: RefuseReason, why: string): void {
    link.conn.write(handshakeFrame(FRAME_HANDSHAKE_REFUSE, { reason }));
    this.#host.close(link, `refused: ${why}`, true);
  }

  /** Closes a link for a protocol violation (logged; a dialer's queue is kept for a retry). */
  protocolError(link: Link, message: string): void {
    this.#s.log.error(`Closing connection ${link.describe()}: ${message}`);
    link.refusal ??= "protocol";
    this.#host.close(link, message, false);
  }

  /** A frame on a link that is still handshaking. */
  onFrame(link: Link, type: FrameType, payload: Uint8Array): void {
    if (link.busy) {
      this.protocolError(link, `frame type 0x0${type} before our handshake reply`);
      return;
    }
    if (type === FRAME_HANDSHAKE_REFUSE) {
      this.#onRefuse(link, payload);
      return;
    }
    const expected = EXPECTED[link.stage];
    if (type !== expected) {
      this.protocolError(link, `expected handshake frame 0x0${expected}, got 0x0${type}`);
      return;
    }
    if (link.stage === "hello") void this.#onHello(link, payload);
    else if (link.stage === "auth") void this.#onAuth(link, payload);
    else if (link.stage === "challenge") void this.#onChallenge(link, payload);
    else this.#host.accepted(link, link.challenge!);
  }

  /** This node's identity as sent in a hello or challenge. */
  #endpoint(nonce: string): Record<string, unknown> {
    return {
      v: PROTOCOL_VERSION,
      host: this.#s.selfAddress.host,
      port: this.#s.selfAddress.port,
      incarnation: this.#s.incarnation,
      maxFrameSize: this.#s.maxFrameSize,
      nonce,
    };
  }

  /** What both proofs of a link's handshake cover, given the other side's identity. */
  #transcript(
    link: Link,
    other: { host: string; port: number; incarnation: string },
  ): HandshakeTranscript {
    const self = `${this.#selfKey}#${this.#s.incarnation}`;
    const them = `${formatNodeAddress(other)}#${other.incarnation}`;
    return link.outbound
      ? {
        system: this.#s.systemName,
        dialerNonce: link.nonce,
        acceptorNonce: link.challenge!.nonce,
        dialer: self,
        acceptor: them,
      }
      : {
        system: this.#s.systemName,
        dialerNonce: link.hello!.nonce,
        acceptorNonce: link.nonce,
        dialer: them,
        acceptor: self,
      };
  }

  /** Acceptor: a hello arrived; answer with our identity, nonce and proof, decide later. */
  async #onHello(link: Link, payload: Uint8Array): Promise<void> {
    const hello = parseHello(payload);
    if (typeof hello === "string") {
      this.#s.log.error(`Refusing connection ${link.describe()}: ${hello}`);
      this.refuse(link, "refused", hello);
      return;
    }
    if (!this.#host.running()) {
      this.refuse(link, "shutting-down", "shutting down");
      return;
    }
    link.hello = hello;
    link.nonce = newNonce();
    const key = this.#s.key;
    let proof: string | undefined;
    if (key !== undefined) {
      link.busy = true;
      proof = await handshakeProof(key, "acceptor", this.#transcript(link, hello));
      link.busy = false;
      if (link.state !== "handshaking") return;
    }
    link.stage = "auth";
    // An unauthenticated node has nothing to hide: it names its system (see
    // _handshake_frames.ts).
    const system = key === undefined && !this.#s.tls ? this.#s.systemName : undefined;
    link.conn.write(
      handshakeFrame(FRAME_HANDSHAKE_CHALLENGE, { ...this.#endpoint(link.nonce), proof, system }),
    );
  }

  /** Acceptor: the dialer's proof arrived; check everything, then hand over or refuse. */
  async #onAuth(link: Link, payload: Uint8Array): Promise<void> {
    const hello = link.hello!;
    const systemName = this.#s.systemName;
    const auth = parseAuth(payload);
    const claimed = formatNodeAddress(hello);
    const from = `${formatNodeAddress(link.conn.remoteAddress)} claiming ${claimed}`;
    if (typeof auth === "string") {
      this.#s.log.error(`Refused handshake from ${from}: ${auth}`);
      this.refuse(link, "refused", auth);
      return;
    }
    let secretOk = true;
    if (this.#s.key !== undefined) {
      link.busy = true;
      const expected = await handshakeProof(this.#s.key, "dialer", this.#transcript(link, hello));
      link.busy = false;
      if (link.state !== "handshaking") return;
      secretOk = auth.proof !== undefined && constantTimeEqual(auth.proof, expected);
    }
    let why: string | undefined;
    if (hello.system !== systemName) {
      why = `its system name "${hello.system}" does not match "${systemName}"`;
    } else if (!secretOk) {
      why = auth.proof === undefined
        ? "it sent no proof of the cluster secret (it has no secret configured)"
        : "its proof of the cluster secret is wrong (a different secret)";
    } else if (this.#s.checkNames && !certificateNames(link.conn.peerNames ?? [], hello.host)) {
      why = `its TLS certificate does not name the host "${hello.host}" it claims (names: ${
        (link.conn.peerNames ?? []).join(", ") || "none"
      })`;
    } else if (claimed === this.#selfKey) {
      why = "it claims this node's own address";
    }
    if (why !== undefined) {
      this.#s.log.error(`Refused handshake from ${from}: ${why}`);
      this.refuse(link, "refused", why);
      return;
    }
    if (!this.#host.running()) {
      this.refuse(link, "shutting-down", "shutting down");
      return;
    }
    this.#host.proven(link, hello);
  }

  /** Dialer: the acceptor answered; check its proof and certificate, then prove ourselves. */
  async #onChallenge(link: Link, payload: Uint8Array): Promise<void> {
    const peer = link.peer!;
    const challenge = parseChallenge(payload);
    if (typeof challenge === "string") {
      this.protocolError(link, challenge);
      return;
    }
    link.challenge = challenge;
    const transcript = this.#transcript(link, challenge);
    const key = this.#s.key;
    let proof: string | undefined;
    let why: string | undefined;
    if (key !== undefined) {
      link.busy = true;
      const expected = await handshakeProof(key, "acceptor", transcript);
      proof = await handshakeProof(key, "dialer", transcript);
      link.busy = false;
      if (link.state !== "handshaking") return;
      if (challenge.proof === undefined) {
        why = "it sent no proof of the cluster secret (it has no secret configured)";
      } else if (!constantTimeEqual(challenge.proof, expected)) {
        why = "its proof of the cluster secret is wrong (a different secret or system name)";
      }
    }
    if (
      why === undefined && this.#s.checkNames &&
      !certificateNames(link.conn.peerNames ?? [], challenge.host)
    ) {
      why = `its TLS certificate does not name the host "${challenge.host}" it claims`;
    }
    if (challenge.system !== undefined && challenge.system !== this.#s.systemName) {
      const why =
        `system name "${this.#s.systemName}" of ${this.#selfKey} does not match "${challenge.system}"`;
      this.#s.log.error(`${peer.key} refused our handshake: ${why}`);
      link.refusal = "refused";
      this.refuse(link, "refused", why);
      return;
    }
    if (why !== undefined) {
      this.#s.log.error(`Cannot connect to ${peer.key}: handshake refused: ${why}`);
      link.refusal = "refused";
      this.refuse(link, "refused", why);
      return;
    }
    link.stage = "ack";
    link.conn.write(handshakeFrame(FRAME_HANDSHAKE_AUTH, proof === undefined ? {} : { proof }));
  }

  /** The other side refused (either role). */
  #onRefuse(link: Link, payload: Uint8Array): void {
    const reason = parseRefusal(payload);
    const who = link.peer?.key ?? formatNodeAddress(link.conn.remoteAddress);
    const systemName = this.#s.systemName;
    if (!link.outbound) {
      // The dialer refused our challenge: it could not verify our proof or certificate.
      const hello = link.hello;
      const hint = hello !== undefined && hello.system !== systemName
        ? `its system name "${hello.system}" does not match "${systemName}"`
        : this.#s.key !== undefined
        ? "it does not hold this cluster's secret, or none"
        : "it requires a secret or certificate this node does not present";
      this.#s.log.error(`Handshake from ${who} failed: the peer refused our credentials (${hint})`);
      this.#host.close(link, "refused by the peer", false);
      return;
    }
    link.refusal = reason;
    if (reason === "superseded" || reason === "shutting-down") {
      this.#s.log.debug(`${who} refused our connection: ${reason}`);
    } else {
      this.#s.log.error(
        `${who} refused our handshake: handshake refused (the refusing node logs why)`,
      );
    }
    this.#host.close(link, `handshake refused (${reason})`, false);
  }
}
