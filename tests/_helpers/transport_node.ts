// A TcpTransport on 127.0.0.1 that records everything its callbacks see, for transport tests.

import { TcpTransport, type TcpTransportOptions } from "../../src/remote/tcp_transport.ts";
import type { Envelope, PeerIdentity, UndeliverableReason } from "../../src/remote/transport.ts";
import type { NodeAddress } from "../../src/remote/address.ts";
import { CollectingLogger } from "./logger.ts";

/** A started transport and what its callbacks received. */
export interface TransportNode {
  transport: TcpTransport;
  inbound: { from: PeerIdentity; envelope: Envelope }[];
  undeliverable: { to: NodeAddress; envelope: Envelope; reason: UndeliverableReason }[];
  connected: PeerIdentity[];
  disconnected: PeerIdentity[];
  log: CollectingLogger;
}

/** Starts a transport named `systemName` on a free port with fast reconnects. */
export async function startTransportNode(
  systemName: string,
  options: Partial<TcpTransportOptions> = {},
): Promise<TransportNode> {
  const node = {
    inbound: [],
    undeliverable: [],
    connected: [],
    disconnected: [],
    log: new CollectingLogger(),
  } as unknown as TransportNode;
  node.transport = await TcpTransport.start({
    systemName,
    host: "127.0.0.1",
    port: 0,
    logger: node.log,
    reconnectBackoff: { min: 10, max: 100 },
    onInbound: (from, envelope) => node.inbound.push({ from, envelope }),
    onUndeliverable: (to, envelope, reason) => node.undeliverable.push({ to, envelope, reason }),
    onPeerConnected: (peer) => node.connected.push(peer),
    onPeerDisconnected: (peer) => node.disconnected.push(peer),
    ...options,
  });
  return node;
}
