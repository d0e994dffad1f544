/**
 * The membership protocol's messages and their strict validation: a message from the network
 * is checked field by field (types, finite integers, sizes) before the engine sees it.
 *
 * @module
 */

import type { UniqueNode } from "./member.ts";
import type { VectorClock } from "./vector_clock.ts";
import {
  MalformedMessageError,
  WIRE_LIMITS,
  wireAddress,
  type WireGossip,
  wireInt,
  wireString,
} from "./gossip_wire.ts";

/**
 * The messages membership nodes exchange. Plain JSON-able objects: they serialize with
 * `JSON.stringify` as they are. `to` carries the addressee's incarnation id, so a message
 * meant for a previous incarnation at the same address is ignored.
 *
 * - `join`: a node asks a seed (any member) to be added;
 * - `welcome`: the seed's answer, with the state that now contains the joiner;
 * - `gossipStatus`: a digest (version and `seen` bitset) sent every gossip round;
 * - `gossip`: the full state, sent when the digest shows the peer is behind or concurrent;
 * - `heartbeat` / `heartbeatRsp`: failure-detector probes and their answers.
 *
 * @example
 * ```ts
 * import type { MembershipMessage } from "./membership_messages.ts";
 * import assert from "node:assert/strict";
 * const msg: MembershipMessage = {
 *   type: "join",
 *   node: { address: { host: "127.0.0.1", port: 25521 }, id: "00000lx2k3a4-9f8e7d6c" },
 *   roles: [],
 * };
 * assert.equal(JSON.parse(JSON.stringify(msg)).type, "join");
 * ```
 */
export type MembershipMessage =
  | {
    readonly type: "join";
    readonly node: UniqueNode;
    readonly roles: readonly string[];
  }
  | {
    readonly type: "welcome";
    readonly from: UniqueNode;
    readonly to: string;
    readonly gossip: WireGossip;
  }
  | {
    readonly type: "gossip";
    readonly from: UniqueNode;
    readonly to: string;
    readonly gossip: WireGossip;
    readonly reply: boolean;
  }
  | {
    readonly type: "gossipStatus";
    readonly from: UniqueNode;
    readonly to: string;
    readonly version: VectorClock;
    readonly seen: string;
    readonly reply: boolean;
  }
  | {
    readonly type: "heartbeat";
    readonly from: UniqueNode;
    readonly to: string;
    readonly seq: number;
  }
  | {
    readonly type: "heartbeatRsp";
    readonly from: UniqueNode;
    readonly seq: number;
  };

function object(x: unknown, what: string): Record<string, unknown> {
  if (x === null || typeof x !== "object" || Array.isArray(x)) {
    throw new MalformedMessageError(`Cannot decode membership message: ${what} is not an object`);
  }
  return x as Record<string, unknown>;
}

function uniqueNode(x: unknown, what: string): UniqueNode {
  const o = object(x, what);
  const a = object(o.address, `${what} address`);
  const id = wireString(o.id, WIRE_LIMITS.id, `${what} id`);
  if (id.length === 0) {
    throw new MalformedMessageError(`Cannot decode membership message: ${what} id is empty`);
  }
  return { address: wireAddress(a.host, a.port, `${what} address`), id };
}

function bool(x: unknown, what: string): boolean {
  if (typeof x !== "boolean") {
    throw new MalformedMessageError(`Cannot decode membership message: ${what} is not a boolean`);
  }
  return x;
}

/**
 * Checks that a value received from the network is a well-formed {@linkcode MembershipMessage}
 * (gossip payloads are checked in full when decoded, by `decodeGossip`).
 *
 * @param raw The decoded JSON value.
 * @returns The same message, typed.
 * @throws {MalformedMessageError} When any field has the wrong type, range or size.
 * @example
 * ```ts
 * import { MalformedMessageError } from "./gossip.ts";
 * import { parseMembershipMessage } from "./membership_messages.ts";
 * import assert from "node:assert/strict";
 * const ok = { type: "heartbeatRsp", from: { address: { host: "h", port: 1 }, id: "a" }, seq: 3 };
 * assert.equal(parseMembershipMessage(ok).type, "heartbeatRsp");
 * assert.throws(() => parseMembershipMessage({ ...ok, seq: Infinity }), MalformedMessageError);
 * ```
 */
export function parseMembershipMessage(raw: unknown): MembershipMessage {
  const o = object(raw, "message");
  const to = () => wireString(o.to, WIRE_LIMITS.id, "to");
  const seq = () => wireInt(o.seq, 0, Number.MAX_SAFE_INTEGER, "seq");
  switch (o.type) {
    case "join": {
      const node = uniqueNode(o.node, "node");
      if (!Array.isArray(o.roles) || o.roles.length > WIRE_LIMITS.roles) {
        throw new MalformedMessageError("Cannot decode membership message: bad roles");
      }
      for (const r of o.roles) wireString(r, WIRE_LIMITS.role, "role");
      return { type: "join", node, roles: o.roles as string[] };
    }
    case "welcome":
      uniqueNode(o.from, "from");
      to();
      object(o.gossip, "gossip");
      return raw as MembershipMessage;
    case "gossip":
      uniqueNode(o.from, "from");
      to();
      object(o.gossip, "gossip");
      bool(o.reply, "reply");
      return raw as MembershipMessage;
    case "gossipStatus": {
      uniqueNode(o.from, "from");
      to();
      bool(o.reply, "reply");
      wireString(o.seen, Math.ceil(WIRE_LIMITS.members / 6) + 4, "seen");
      const v = object(o.version, "version");
      const entries = Object.keys(v);
      if (entries.length > WIRE_LIMITS.entries) {
        throw new MalformedMessageError("Cannot decode membership message: version too large");
      }
      for (const k of entries) {
        wireString(k, WIRE_LIMITS.key, "version node");
        wireInt(v[k], 0, Number.MAX_SAFE_INTEGER, "version counter");
      }
      return raw as MembershipMessage;
    }
    case "heartbeat":
      uniqueNode(o.from, "from");
      to();
      seq();
      return raw as MembershipMessage;
    case "heartbeatRsp":
      uniqueNode(o.from, "from");
      seq();
      return raw as MembershipMessage;
    default:
      throw new MalformedMessageError(
        `Cannot decode membership message: unknown type ${
          JSON.stringify(String(o.type)).slice(0, 40)
        }`,
      );
  }
}
