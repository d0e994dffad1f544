// The handshake frames' JSON bodies (protocol version 3), parsed strictly:
//
//   dialer   → HANDSHAKE { v, system, host, port, incarnation, maxFrameSize, nonce, lane? }
//   acceptor → CHALLENGE { v, host, port, incarnation, maxFrameSize, nonce, proof?, system? }
//   dialer   → AUTH      { proof? }
//   acceptor → ACK {}  or  REFUSE { reason }
//
// The acceptor decides only after AUTH, on everything at once, and every refusal of a peer
// looks the same on the wire ({ reason: "refused" }): the system name, the check that failed
// and whether this node is dialling the claimed address stay private to the refusing side.
// Only an unauthenticated node (no secret, no TLS: loopback development or `insecure`), which
// has nothing to hide from whoever can reach it, names its system in the challenge, so that a
// dialler with another name (such as `casty status`) learns it at once.

import { DEFAULT_MAX_FRAME_SIZE, encodeFrame, type FrameType } from "./_framing.ts";

/** The handshake protocol version. */
export const PROTOCOL_VERSION = 4;

/** Refusal reasons on the wire; only these, so that a refusal reveals nothing. */
export type RefuseReason = "refused" | "superseded" | "shutting-down";

/** The dialer's opening frame. */
export interface Hello {
  /** A control connection: carries the dialer's control lane only (`lane: "control"`). */
  readonly control: boolean;
  readonly system: string;
  readonly host: string;
  readonly port: number;
  readonly incarnation: string;
  readonly maxFrameSize: number;
  readonly nonce: string;
}

/** The acceptor's reply to a hello. */
export interface Challenge {
  readonly host: string;
  readonly port: number;
  readonly incarnation: string;
  readonly maxFrameSize: number;
  readonly nonce: string;
  readonly proof: string | undefined;
  /** The acceptor's system name; only from an unauthenticated acceptor. */
  readonly system?: string;
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/**
 * A handshake frame with a JSON body.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FRAME_HANDSHAKE_ACK } from "./_framing.ts";
 * import { handshakeFrame } from "./_handshake_frames.ts";
 * assert.equal(handshakeFrame(FRAME_HANDSHAKE_ACK, {}).length, 7);
 * ```
 */
export function handshakeFrame(type: FrameType, body: Record<string, unknown>): Uint8Array {
  return encodeFrame(type, textEncoder.encode(JSON.stringify(body)));
}

function parseObject(payload: Uint8Array): Record<string, unknown> | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(textDecoder.decode(payload));
  } catch {
    return "handshake is not valid JSON";
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    return "handshake is not an object";
  }
  return parsed as Record<string, unknown>;
}

function isHex(value: unknown, min: number, max: number): value is string {
  return typeof value === "string" && value.length >= min && value.length <= max &&
    /^[0-9a-f]+$/.test(value);
}

function parseEndpoint(
  o: Record<string, unknown>,
): Omit<Challenge, "proof"> | string {
  const { v, host, port, incarnation, maxFrameSize, nonce } = o;
  if (v !== PROTOCOL_VERSION) return `handshake has protocol version ${v}, not ${PROTOCOL_VERSION}`;
  if (typeof host !== "string" || host.length === 0 || host.length > 256) {
    return "handshake has no valid host";
  }
  if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
    return "handshake has no valid port";
  }
  if (typeof incarnation !== "string" || incarnation.length === 0 || incarnation.length > 128) {
    return "handshake has no valid incarnation";
  }
  if (!isHex(nonce, 32, 128)) return "handshake has no valid nonce";
  const frame = typeof maxFrameSize === "number" && Number.isInteger(maxFrameSize) &&
      maxFrameSize >= 1024
    ? maxFrameSize
    : DEFAULT_MAX_FRAME_SIZE;
  return { host, port, incarnation, maxFrameSize: frame, nonce };
}

/**
 * Parses a dialer's hello.
 *
 * @returns The hello, or what is wrong with it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseHello, PROTOCOL_VERSION } from "./_handshake_frames.ts";
 * const body = { v: PROTOCOL_VERSION, system: "s", host: "h", port: 1, incarnation: "i", nonce: "ab".repeat(16) };
 * const hello = parseHello(new TextEncoder().encode(JSON.stringify(body)));
 * assert.equal(typeof hello === "string" ? hello : hello.system, "s");
 * assert.equal(parseHello(new TextEncoder().encode("[]")), "handshake is not an object");
 * ```
 */
export function parseHello(payload: Uint8Array): Hello | string {
  const o = parseObject(payload);
  if (typeof o === "string") return o;
  const endpoint = parseEndpoint(o);
  if (typeof endpoint === "string") return endpoint;
  const { system } = o;
  if (typeof system !== "string" || system.length === 0 || system.length > 256) {
    return "handshake has no valid system name";
  }
  return { ...endpoint, system, control: o.lane === "control" };
}

/**
 * Parses an acceptor's challenge.
 *
 * @returns The challenge, or what is wrong with it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseChallenge, PROTOCOL_VERSION } from "./_handshake_frames.ts";
 * const body = { v: PROTOCOL_VERSION, host: "h", port: 1, incarnation: "i", nonce: "ab".repeat(16) };
 * const c = parseChallenge(new TextEncoder().encode(JSON.stringify(body)));
 * assert.equal(typeof c === "string" ? c : c.proof, undefined);
 * ```
 */
export function parseChallenge(payload: Uint8Array): Challenge | string {
  const o = parseObject(payload);
  if (typeof o === "string") return o;
  const endpoint = parseEndpoint(o);
  if (typeof endpoint === "string") return endpoint;
  if (o.proof !== undefined && !isHex(o.proof, 64, 64)) return "handshake has a malformed proof";
  const system = typeof o.system === "string" && o.system.length > 0 && o.system.length <= 256
    ? o.system
    : undefined;
  return { ...endpoint, proof: o.proof as string | undefined, system };
}

/**
 * Parses a dialer's proof frame.
 *
 * @returns The proof (`undefined` when the dialer sent none), or what is wrong with it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseAuth } from "./_handshake_frames.ts";
 * assert.deepEqual(parseAuth(new TextEncoder().encode("{}")), { proof: undefined });
 * ```
 */
export function parseAuth(payload: Uint8Array): { proof: string | undefined } | string {
  const o = parseObject(payload);
  if (typeof o === "string") return o;
  if (o.proof !== undefined && !isHex(o.proof, 64, 64)) return "handshake has a malformed proof";
  return { proof: o.proof as string | undefined };
}

/**
 * The reason in a refusal frame; anything unknown reads as `"refused"`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseRefusal } from "./_handshake_frames.ts";
 * assert.equal(parseRefusal(new TextEncoder().encode('{"reason":"superseded"}')), "superseded");
 * assert.equal(parseRefusal(new TextEncoder().encode("junk")), "refused");
 * ```
 */
export function parseRefusal(payload: Uint8Array): RefuseReason {
  const o = parseObject(payload);
  if (typeof o !== "string" && (o.reason === "superseded" || o.reason === "shutting-down")) {
    return o.reason;
  }
  return "refused";
}
