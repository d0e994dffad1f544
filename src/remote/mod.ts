/**
 * The network layer: actor addresses and URIs, the tagged-JSON serializer, the node-to-node
 * transport (length-prefixed frames over TCP or mutual TLS, one connection per node pair) and
 * remoting (remote refs, remote death watch).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseActorUri, TaggedJsonSerializer } from "@casty/casty/remote";
 * const uri = parseActorUri("casty://bank@127.0.0.1:25520/accounts");
 * assert.ok(uri.address?.port === 25520);
 * const s = new TaggedJsonSerializer();
 * const back = s.deserialize(s.serialize({ at: new Date(0), n: 10n })) as { at: Date; n: bigint };
 * assert.equal(back.n, 10n);
 * ```
 *
 * @module
 */
export {
  type ActorUri,
  AddressError,
  compareNodeAddresses,
  formatActorUri,
  formatNodeAddress,
  type NodeAddress,
  nodeAddress,
  parseActorUri,
  parseNodeAddress,
  sameNodeAddress,
} from "./address.ts";
export {
  type DecodeLimits,
  type SerializableClass,
  type Serializer,
  TaggedJsonSerializer,
  type TaggedJsonSerializerOptions,
} from "../serialization/serialization.ts";
export { SerializationError } from "../serialization/errors.ts";
export {
  type Envelope,
  type PeerIdentity,
  type Transport,
  type TransportHandlers,
  type UndeliverableReason,
} from "./transport.ts";
export { type ReconnectBackoff, TcpTransport, type TcpTransportOptions } from "./tcp_transport.ts";
export {
  RemoteActorRef,
  Remoting,
  type RemotingOptions,
  type SystemMessageHandler,
} from "./remoting.ts";
export { FrameError, type FrameErrorKind } from "./_framing.ts";
export type {
  SocketAddress,
  Tcp,
  TcpConnection,
  TcpConnectOptions,
  TcpListener,
  TcpListenOptions,
  TlsOptions,
} from "../runtime/tcp.ts";
export { TcpConnectError } from "../runtime/tcp.ts";
