/**
 * Remoting: location-transparent refs on top of a {@linkcode Transport} and a
 * {@linkcode Serializer}. Messages to remote refs are serialized and sent to the node that
 * hosts the actor; messages arriving from other nodes are delivered to local actors; refs
 * inside messages resolve to working refs on either side; remote death watch delivers
 * `Terminated` when a remote actor stops or its node goes away.
 *
 * @module
 */
import { ACTOR_REF, type ActorRef } from "../actor/actor_ref.ts";
import { type ActorSystem, attachRemote } from "../actor/actor_system.ts";
import { MailboxFullError } from "../actor/errors.ts";
import { SerializationError } from "../serialization/errors.ts";
import { DeadLetter } from "../actor/events.ts";
import type { Logger } from "../actor/logger.ts";
import type { ActorCell } from "../actor/internal.ts";
import { formatNodeAddress, type NodeAddress, parseActorUri, sameNodeAddress } from "./address.ts";
import {
  decodeKeyed,
  isDefaultJson,
  keyedFullForm,
  keyedPartsOfAny,
  type KeyedShape,
  serializedText,
  type Serializer,
  type TaggedJsonSerializer,
} from "../serialization/serialization.ts";
import {
  ESCAPED_PAYLOAD,
  escapePayload,
  isMarked,
  KEYED_FIELDS_PAYLOAD,
  KEYED_PAYLOAD,
  MAX_KEY_UNITS,
  readKeyed,
  TextEnvelope,
} from "./_envelope_codec.ts";
import type { Envelope, PeerIdentity, Transport, UndeliverableReason } from "./transport.ts";

/**
 * `ShardEnvelope(entityId, message)` as sharding and the client register it: sent in the keyed
 * form (the entity id outside the JSON), one small JSON value to parse instead of three.
 */
const SHARD_ENVELOPE: KeyedShape = {
  name: "casty.ShardEnvelope",
  key: "entityId",
  value: "message",
};

/**
 * `ShardForward(entityId, message, hops, from)` (its `type` field last, as class fields come
 * after parameter properties), as sharding registers it: a region's forward to the owner of a
 * shard, sent in the keyed form too, the other fields as one small JSON array.
 */
const SHARD_FORWARD: KeyedShape = {
  name: "casty.ShardForward",
  key: "entityId",
  value: "message",
  fields: ["entityId", "message", "hops", "from", "type"],
};

/** The keyed shapes, in the order of `KEYED_MARKERS` (a payload's first byte says which). */
const KEYED_SHAPES: readonly KeyedShape[] = [SHARD_ENVELOPE, SHARD_FORWARD];
const KEYED_MARKERS: readonly number[] = [KEYED_PAYLOAD, KEYED_FIELDS_PAYLOAD];

const nativeWellFormed = (String.prototype as { isWellFormed?: () => boolean }).isWellFormed;

/** Whether `text` has no lone surrogate (UTF-8 could not carry it). */
function isWellFormed(text: string): boolean {
  return nativeWellFormed !== undefined
    ? nativeWellFormed.call(text) as boolean
    : !/\p{Surrogate}/u.test(text);
}

/** The reserved recipient of remoting's own protocol (death watch). */
const REMOTE_PATH = "/_system/_remote";

type RemoteSystemMsg =
  | { readonly t: "watch"; readonly path: string }
  | { readonly t: "unwatch"; readonly path: string }
  | { readonly t: "terminated"; readonly path: string };

/** A handler for messages to a reserved path (the cluster's protocols use these). */
export type SystemMessageHandler = (from: PeerIdentity, message: unknown) => void;

/**
 * A ref to an actor on another node (or, when its node is this one, a ref by path that is
 * resolved at delivery). Created by {@linkcode Remoting.refFor}, by `node.lookup(uri)`, and
 * when messages carrying refs are deserialized.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ClusteredActorSystem, isActorRef } from "@casty/casty";
 * await using node = await ClusteredActorSystem.start({ name: "demo", host: "127.0.0.1", port: 0 });
 * const ref = node.lookup(`casty://demo@127.0.0.1:1/some/actor`);
 * assert.ok(isActorRef(ref) && ref.path === "/some/actor");
 * ```
 */
export class RemoteActorRef<M> implements ActorRef<M> {
  /** The node hosting the actor. */
  readonly node: NodeAddress;
  /** The actor's path on that node. */
  readonly path: string;
  /** The actor's URI. */
  readonly address: string;
  readonly #remoting: Remoting;

  /**
   * Creates a RemoteActorRef.
   *
   * @param remoting The remoting that sends for this ref.
   * @param node The hosting node.
   * @param path The actor's path there.
   * @param address The full URI.
   */
  constructor(remoting: Remoting, node: NodeAddress, path: string, address: string) {
    this.#remoting = remoting;
    this.node = node;
    this.path = path;
    this.address = address;
  }

  /** Brand. */
  get [ACTOR_REF](): true {
    return true;
  }

  /**
   * Serializes and sends the message. A message that cannot be serialized is published as
   * a `DeadLetter` and throws.
   *
   * @throws {SerializationError} when the message cannot be serialized.
   */
  tell(msg: M): void {
    this.#remoting.send(this as RemoteActorRef<unknown>, msg);
  }

  /**
   * Sends the message once the outbound queue to its node has room (the transport's
   * `whenWritable`), so a fast producer slows down instead of overflowing the queue into dead
   * letters.
   *
   * @throws {SerializationError} (rejection) when the message cannot be serialized.
   */
  send(msg: M): Promise<void> {
    return this.#remoting.sendWhenRoom(this as RemoteActorRef<unknown>, msg);
  }

  /** `ActorRef(casty://…)`. */
  toString(): string {
    return `ActorRef(${this.address})`;
  }

  /** The URI. */
  toJSON(): string {
    return this.address;
  }
}

/** Options of {@linkcode Remoting}. */
export interface RemotingOptions {
  /** The local system. */
  readonly system: ActorSystem;
  /** The node-to-node transport. */
  readonly transport: Transport;
  /** The message serializer. */
  readonly serializer: Serializer;
  /** Where problems are logged. */
  readonly log: Logger;
  /**
   * Whether a node is a cluster member. Members' actors are declared terminated when
   * membership removes the node ({@linkcode Remoting.nodeGone}); watched actors on any other
   * node are declared terminated once its connection has been down for `unreachableTimeout`.
   * Without it, no node is a member.
   */
  readonly isMember?: (node: NodeAddress) => boolean;
  /**
   * Milliseconds a non-member's connection may stay down before its watched actors are
   * declared terminated.
   * @default {30000}
   */
  readonly unreachableTimeout?: number;
  /**
   * Maps a node's advertised address to the address to dial, for refs deserialized from
   * messages and made by {@linkcode Remoting.refFor} (a cluster client behind NAT or a tunnel).
   * Default: none.
   */
  readonly addressMap?: (address: NodeAddress) => NodeAddress;
}

const REF_CACHE_LIMIT = 50_000;

/**
 * Connects an actor system to a transport (see the module doc).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ClusteredActorSystem } from "@casty/casty";
 * await using node = await ClusteredActorSystem.start({ name: "demo", host: "127.0.0.1", port: 0 });
 * assert.equal(node.remoting.selfAddress.port, node.selfAddress.port);
 * ```
 */
export class Remoting {
  /** Actor cells that received messages from the network and may still hold some. */
  readonly #receivers = new Set<{ readonly queued: number }>();
  #lastReceiver: { readonly queued: number } | undefined;
  // The inbound path's last local target: consecutive messages mostly go to one actor, and a
  // live cell at a path is the one a lookup would find (names are unique among live actors).
  #lastPath: string | undefined;
  #lastTarget: ActorRef<unknown> | undefined;
  #lastCell: { readonly queued: number; readonly isAlive: boolean } | undefined;
  readonly #resolveRef = (uri: string): ActorRef<unknown> => this.refFor(uri);
  readonly #system: ActorSystem;
  readonly #addressMap: ((address: NodeAddress) => NodeAddress) | undefined;
  readonly #transport: Transport;
  readonly #serializer: Serializer;
  /** Whether `ShardEnvelope`s travel in the keyed form (the default serializer only). */
  readonly #keyed: boolean;
  readonly #log: Logger;
  readonly #self: NodeAddress;
  readonly #prefix: string;
  readonly #refs = new Map<string, RemoteActorRef<unknown>>();
  readonly #handlers = new Map<string, SystemMessageHandler>();
  /** Local watchers of remote actors: target URI → watching cells. */
  readonly #watching = new Map<string, Set<ActorCell<unknown>>>();
  /** Remote nodes watching local actors: local path → node keys. */
  readonly #watchedBy = new Map<string, Map<string, NodeAddress>>();
  /** Last incarnation seen per node key, to notice restarted peers. */
  readonly #incarnations = new Map<string, string>();
  readonly #peerListeners = new Set<(peer: PeerIdentity, up: boolean) => void>();
  readonly #isMember: (node: NodeAddress) => boolean;
  readonly #unreachableTimeout: number;
  /** Non-member nodes with watched actors whose connection is down: node key → timer. */
  readonly #downTimers = new Map<string, { cancel(): void }>();
  #closed = false;

  /**
   * Creates a Remoting.
   *
   * @param options System, transport, serializer, logger.
   */
  constructor(options: RemotingOptions) {
    this.#system = options.system;
    this.#transport = options.transport;
    this.#serializer = options.serializer;
    this.#keyed = isDefaultJson(options.serializer);
    this.#log = options.log;
    this.#isMember = options.isMember ?? (() => false);
    this.#unreachableTimeout = options.unreachableTimeout ?? 30_000;
    this.#addressMap = options.addressMap;
    this.#self = options.transport.selfAddress;
    this.#prefix = `casty://${this.#system.name}@${formatNodeAddress(this.#self)}`;
    attachRemote(this.#system, {
      addressPrefix: this.#prefix,
      watch: (cell, ref) => this.#watch(cell, ref),
      unwatch: (cell, ref) => this.#unwatch(cell, ref),
      // Most nodes have no remote watcher at all: no path is built for the stopped cell then
      // (a million entities stopping paid ~1 µs each for it).
      cellStopped: (cell) => {
        if (this.#watchedBy.size > 0) this.#localStopped(cell.path);
      },
      // An ask's reply ref "stops" when the ask ends: remote watchers of it let go then.
      pathStopped: (path) => this.#localStopped(path),
    });
    this.#transport.setHandlers({
      onInbound: (from, env) => {
        try {
          this.#onInbound(from, env);
        } catch (err) {
          // Never let one message break the connection's read loop.
          this.#log.error(`Cannot deliver a message for "${env.recipient}"`, err);
        }
      },
      onUndeliverable: (to, env, reason) => this.#onUndeliverable(to, env, reason),
      onPeerConnected: (peer) => this.#onPeer(peer, true),
      onPeerDisconnected: (peer) => this.#onPeer(peer, false),
    });
  }

  /** This node's address. */
  get selfAddress(): NodeAddress {
    return this.#self;
  }

  /** `casty://system@host:port`. */
  get addressPrefix(): string {
    return this.#prefix;
  }

  /** The serializer in use. */
  get serializer(): Serializer {
    return this.#serializer;
  }

  /** Routes messages for a reserved path (such as `/_cluster/_membership`) to `handler`. */
  registerHandler(path: string, handler: SystemMessageHandler): void {
    this.#handlers.set(path, handler);
  }

  /** Calls `listener(peer, up)` when a connection to a peer comes up or goes down. */
  onPeer(listener: (peer: PeerIdentity, up: boolean) => void): () => void {
    this.#peerListeners.add(listener);
    return () => this.#peerListeners.delete(listener);
  }

  /**
   * A ref for a URI: a local ref when the actor lives here, otherwise a remote ref.
   *
   * @throws {AddressError} on a malformed URI.
   */
  refFor<M>(uri: string): ActorRef<M> {
    const cached = this.#refs.get(uri);
    if (cached) return cached as ActorRef<M>;
    const parsed = parseActorUri(uri);
    if (!parsed.address || sameNodeAddress(parsed.address, this.#self)) {
      const local = this.#system.lookup<M>(parsed.path);
      if (local) return local;
      return this.#remoteRef(this.#self, parsed.path, this.#prefix + parsed.path) as ActorRef<M>;
    }
    if (this.#addressMap !== undefined) {
      const mapped = this.#addressMap(parsed.address);
      if (!sameNodeAddress(mapped, parsed.address)) return this.refAt<M>(mapped, parsed.path);
    }
    return this.#remoteRef(parsed.address, parsed.path, uri) as ActorRef<M>;
  }

  /** A ref to `path` on `node`. */
  refAt<M>(node: NodeAddress, path: string): ActorRef<M> {
    const uri = `casty://${this.#system.name}@${formatNodeAddress(node)}${path}`;
    if (sameNodeAddress(node, this.#self)) {
      const local = this.#system.lookup<M>(path);
      if (local) return local;
    }
    return (this.#refs.get(uri) ?? this.#remoteRef(node, path, uri)) as ActorRef<M>;
  }

  /** Sends a message to a reserved path on a node (or delivers it here for this node). */
  sendSystem(to: NodeAddress, path: string, message: unknown): void {
    if (this.#closed) return;
    const payload = escapePayload(this.#serializer.serialize(message));
    this.#transport.send(to, { recipient: path, payload, lane: laneOf(path) });
  }

  /**
   * Sends `msg` to a remote ref.
   *
   * @throws {SerializationError} when the message cannot be serialized.
   */
  send(ref: RemoteActorRef<unknown>, msg: unknown): void {
    if (sameNodeAddress(ref.node, this.#self)) {
      this.#deliverLocal(ref.path, msg, ref.address);
      return;
    }
    // The default serializer's text goes to the transport as is: it is written as UTF-8
    // straight into the batch buffer.
    let text: string | undefined;
    let key: string | undefined;
    let marker = KEYED_PAYLOAD;
    let payload: Uint8Array | undefined;
    try {
      const keyed = this.#keyed ? keyedPartsOfAny(this.#serializer, msg, KEYED_SHAPES) : undefined;
      if (keyed !== undefined && keyed.key.length <= MAX_KEY_UNITS && isWellFormed(keyed.key)) {
        key = keyed.key;
        text = keyed.text;
        marker = KEYED_MARKERS[keyed.shape];
      } else {
        text = serializedText(this.#serializer, msg);
        if (text === undefined) payload = escapePayload(this.#serializer.serialize(msg));
      }
    } catch (err) {
      const error = err instanceof SerializationError
        ? err
        : new SerializationError(`Cannot serialize message for "${ref.address}"`, { cause: err });
      this.#system.eventStream.publish(
        new DeadLetter(msg, ref as ActorRef<never>, "serialization", error.message),
      );
      throw error;
    }
    if (this.#closed) {
      this.#system.eventStream.publish(
        new DeadLetter(msg, ref as ActorRef<never>, "shutdown", "remoting is shut down"),
      );
      return;
    }
    const lane = laneOf(ref.path);
    this.#transport.send(
      ref.node,
      text !== undefined
        ? new TextEnvelope(ref.path, text, lane, key, marker)
        : { recipient: ref.path, payload: payload!, lane },
    );
  }

  /**
   * Sends once the transport has room for `ref`'s node (its `whenWritable`), or at once for
   * this node and for control-lane paths.
   *
   * @throws {SerializationError} (rejection) when the message cannot be serialized.
   */
  async sendWhenRoom(ref: RemoteActorRef<unknown>, msg: unknown): Promise<void> {
    if (!this.#closed && laneOf(ref.path) === "user" && !sameNodeAddress(ref.node, this.#self)) {
      await this.#transport.whenWritable(ref.node);
    }
    this.send(ref, msg);
  }

  /**
   * Treats every actor on `node` as terminated for local watchers, and forgets that node's
   * watches of local actors (the node was downed, removed, or restarted).
   */
  nodeGone(node: NodeAddress): void {
    const key = formatNodeAddress(node);
    for (const [uri, cells] of [...this.#watching]) {
      const ref = this.#refs.get(uri);
      if (!ref || !sameNodeAddress(ref.node, node)) continue;
      this.#watching.delete(uri);
      for (const cell of cells) cell.deliverTerminated(ref as ActorRef<never>);
    }
    for (const [path, nodes] of [...this.#watchedBy]) {
      nodes.delete(key);
      if (nodes.size === 0) this.#watchedBy.delete(path);
    }
  }

  /** Stops sending; later sends become dead letters. */
  close(): void {
    this.#closed = true;
    for (const timer of this.#downTimers.values()) timer.cancel();
    this.#downTimers.clear();
  }

  #remoteRef(node: NodeAddress, path: string, uri: string): RemoteActorRef<unknown> {
    const ref = new RemoteActorRef<unknown>(this, node, path, uri);
    // One-shot reply addresses of asks are used once: caching them only churns the cache.
    if (path.startsWith("/_ask/")) return ref;
    if (this.#refs.size >= REF_CACHE_LIMIT) {
      // Drop the oldest half of the cache; refs still watched are kept.
      let n = REF_CACHE_LIMIT / 2;
      for (const k of this.#refs.keys()) {
        if (n-- <= 0) break;
        if (!this.#watching.has(k)) this.#refs.delete(k);
      }
    }
    this.#refs.set(uri, ref);
    return ref;
  }

  /**
   * Messages from the network still waiting in local mailboxes (the transport's inbound
   * backlog): it stops reading from peers while this is high.
   */
  inboundBacklog(): number {
    let total = 0;
    for (const cell of this.#receivers) {
      const queued = cell.queued;
      if (queued > 0) total += queued;
      else {
        this.#receivers.delete(cell);
        if (cell === this.#lastReceiver) this.#lastReceiver = undefined;
      }
    }
    return total;
  }

  /** Delivers to the local actor at `path`; `uri` names it in a dead letter (default: ours). */
  #deliverLocal(path: string, msg: unknown, uri?: string): void {
    const target = path === this.#lastPath && this.#lastCell!.isAlive
      ? this.#lastTarget!
      : this.#system.lookup(path);
    if (!target) {
      this.#system.eventStream.publish(
        new DeadLetter(
          msg,
          uri ?? this.#prefix + path,
          "unknownPath",
          `no actor at ${path} on this node`,
        ),
      );
      return;
    }
    try {
      target.tell(msg);
      const cell = (target as { cell?: { queued: number; isAlive: boolean } }).cell;
      if (cell !== undefined && cell !== this.#lastReceiver) {
        this.#lastReceiver = cell;
        this.#receivers.add(cell);
        this.#lastPath = path;
        this.#lastTarget = target;
        this.#lastCell = cell;
      }
    } catch (err) {
      if (!(err instanceof MailboxFullError)) throw err;
      this.#system.eventStream.publish(
        new DeadLetter(msg, target as ActorRef<never>, "mailboxFull", err.message),
      );
    }
  }

  /** The decoded message, or {@linkcode UNDECODABLE} (logged and published as a dead letter). */
  #decode(env: Envelope, from: PeerIdentity): unknown {
    try {
      return this.#deserialize(env.payload);
    } catch (err) {
      const detail = err instanceof Error ? err.message : String(err);
      this.#log.error(
        `Cannot decode a message for "${env.recipient}" from ${formatNodeAddress(from)}: ${detail}`,
      );
      this.#system.eventStream.publish(
        new DeadLetter(env.payload.slice(), this.#prefix + env.recipient, "serialization", detail),
      );
      return UNDECODABLE;
    }
  }

  /**
   * Decodes a payload by its first byte: the keyed form of a `ShardEnvelope` or a
   * `ShardForward` (see
   * `TextEnvelope`), decoded directly with the default serializer or given to any other one in
   * the full form it would have received before; an escaped payload (a serializer's bytes that
   * began with a marker); or, for anything else, the serializer's bytes as they are.
   *
   * @throws {SerializationError} when the payload does not decode.
   */
  #deserialize(payload: Uint8Array): unknown {
    if (!isMarked(payload)) return this.#serializer.deserialize(payload, this.#resolveRef);
    if (payload[0] === ESCAPED_PAYLOAD) {
      return this.#serializer.deserialize(payload.subarray(1), this.#resolveRef);
    }
    const parts = readKeyed(payload);
    if (typeof parts === "string") {
      throw new SerializationError(`Cannot deserialize ${payload.length} bytes: ${parts}`);
    }
    // (A marked payload that is not escaped starts with one of KEYED_MARKERS.)
    const shape = KEYED_SHAPES[KEYED_MARKERS.indexOf(payload[0])];
    if (!this.#keyed) {
      return this.#serializer.deserialize(
        keyedFullForm(shape, parts.key, parts.value),
        this.#resolveRef,
      );
    }
    return decodeKeyed(
      this.#serializer as TaggedJsonSerializer,
      shape,
      parts.key,
      parts.value,
      this.#resolveRef,
    );
  }

  #onInbound(from: PeerIdentity, env: Envelope): void {
    const handler = this.#handlers.get(env.recipient);
    if (handler || env.recipient === REMOTE_PATH) {
      const decoded = this.#decode(env, from);
      if (decoded === UNDECODABLE) return;
      if (handler) {
        try {
          handler(from, decoded);
        } catch (err) {
          this.#log.error(`handler for ${env.recipient} failed`, err);
        }
      } else {
        this.#onRemoteSystem(from, decoded as RemoteSystemMsg);
      }
      return;
    }
    const decoded = this.#decode(env, from);
    if (decoded === UNDECODABLE) return;
    this.#deliverLocal(env.recipient, decoded);
  }

  #onUndeliverable(to: NodeAddress, env: Envelope, reason: UndeliverableReason): void {
    let message: unknown = env.payload;
    try {
      message = this.#deserialize(env.payload);
    } catch {
      // keep the bytes: the dead letter still says what was lost
    }
    if (env.recipient === REMOTE_PATH && (message as RemoteSystemMsg | undefined)?.t === "watch") {
      // The node never took the watch (no connection within the transport's unreachable
      // timeout): nothing will ever report the actor's end, so it ends for the watchers now.
      this.#terminatedFrom(to, (message as { path: string }).path);
    }
    const uri = `casty://${this.#system.name}@${formatNodeAddress(to)}${env.recipient}`;
    this.#system.eventStream.publish(new DeadLetter(message, uri, "undeliverable", reason));
  }

  #onPeer(peer: PeerIdentity, up: boolean): void {
    const key = formatNodeAddress(peer);
    if (up) {
      this.#downTimers.get(key)?.cancel();
      this.#downTimers.delete(key);
    } else if (!this.#downTimers.has(key) && !this.#isMember(peer) && this.#watches(peer)) {
      // Membership never reports a non-member gone: its watched actors end once it has been
      // unreachable for the timeout.
      const node: NodeAddress = { host: peer.host, port: peer.port };
      this.#downTimers.set(
        key,
        this.#system.scheduler.internal(() => {
          this.#downTimers.delete(key);
          if (!this.#isMember(node)) this.nodeGone(node);
        }, this.#unreachableTimeout),
      );
    }
    if (up) {
      const previous = this.#incarnations.get(key);
      this.#incarnations.set(key, peer.incarnation);
      if (previous !== undefined && previous !== peer.incarnation) {
        // The node restarted: every actor we watched there is gone.
        this.nodeGone(peer);
      }
    }
    for (const l of this.#peerListeners) {
      try {
        l(peer, up);
      } catch (err) {
        this.#log.error("peer listener failed", err);
      }
    }
  }

  #watches(node: NodeAddress): boolean {
    for (const uri of this.#watching.keys()) {
      const ref = this.#refs.get(uri);
      if (ref && sameNodeAddress(ref.node, node)) return true;
    }
    return false;
  }

  #watch(cell: ActorCell<unknown>, ref: ActorRef<never>): boolean {
    if (!(ref instanceof RemoteActorRef)) return false;
    const uri = ref.address;
    let cells = this.#watching.get(uri);
    if (!cells) {
      cells = new Set();
      this.#watching.set(uri, cells);
      this.#refs.set(uri, ref as RemoteActorRef<unknown>);
      if (sameNodeAddress(ref.node, this.#self)) {
        // A by-path ref to this node whose actor does not exist (any more).
        queueMicrotask(() => this.#terminatedFrom(this.#self, ref.path));
      } else {
        this.sendSystem(ref.node, REMOTE_PATH, { t: "watch", path: ref.path });
      }
    }
    cells.add(cell);
    return true;
  }

  #unwatch(cell: ActorCell<unknown>, ref: ActorRef<never>): void {
    if (!(ref instanceof RemoteActorRef)) return;
    const cells = this.#watching.get(ref.address);
    if (!cells || !cells.delete(cell) || cells.size > 0) return;
    this.#watching.delete(ref.address);
    if (!sameNodeAddress(ref.node, this.#self)) {
      this.sendSystem(ref.node, REMOTE_PATH, { t: "unwatch", path: ref.path });
    }
  }

  #onRemoteSystem(from: PeerIdentity, msg: RemoteSystemMsg): void {
    const key = formatNodeAddress(from);
    switch (msg?.t) {
      case "watch": {
        if (!this.#system.lookup(msg.path)) {
          this.sendSystem(from, REMOTE_PATH, { t: "terminated", path: msg.path });
          return;
        }
        let nodes = this.#watchedBy.get(msg.path);
        if (!nodes) this.#watchedBy.set(msg.path, nodes = new Map());
        nodes.set(key, { host: from.host, port: from.port });
        return;
      }
      case "unwatch": {
        const nodes = this.#watchedBy.get(msg.path);
        nodes?.delete(key);
        if (nodes && nodes.size === 0) this.#watchedBy.delete(msg.path);
        return;
      }
      case "terminated":
        this.#terminatedFrom(from, msg.path);
        return;
      default:
        this.#log.warn(`unknown remoting message from ${key}: ${JSON.stringify(msg)}`);
    }
  }

  #terminatedFrom(node: NodeAddress, path: string): void {
    const uri = `casty://${this.#system.name}@${formatNodeAddress(node)}${path}`;
    const cells = this.#watching.get(uri);
    if (!cells) return;
    this.#watching.delete(uri);
    const ref = this.#refs.get(uri) ?? this.#remoteRef(node, path, uri);
    for (const cell of cells) cell.deliverTerminated(ref as ActorRef<never>);
  }

  #localStopped(path: string): void {
    const nodes = this.#watchedBy.get(path);
    if (!nodes) return;
    this.#watchedBy.delete(path);
    for (const node of nodes.values()) {
      this.sendSystem(node, REMOTE_PATH, { t: "terminated", path });
    }
  }
}

/** Envelopes to system actors (`/_cluster/`, `/_system/`) travel on the control lane. */
/** What `#decode` returns for a message it could not decode. */
const UNDECODABLE: unique symbol = Symbol("undecodable");

function laneOf(path: string): "control" | "user" {
  return path.startsWith("/_cluster/") || path.startsWith("/_system/") ? "control" : "user";
}
