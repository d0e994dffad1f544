/**
 * The gossiped cluster state: its data and merge (`gossip_state.ts`), convergence and leader
 * rules (`gossip_leader.ts`) and its wire form (`gossip_wire.ts`), re-exported in one place.
 *
 * @module
 */

export {
  addSeen,
  bumpVersion,
  emptyGossip,
  findMember,
  type GossipState,
  hasSeen,
  isTombstoned,
  laterEpoch,
  type LeaderEpoch,
  markSeen,
  membersAt,
  mergeGossip,
  observe,
  observedUnreachable,
  pruneTombstones,
  putMember,
  type ReachabilityRow,
  removeMembers,
  sortMembers,
  type Tombstone,
  unreachableKeys,
} from "./gossip_state.ts";
export { claimLeadership, isConverged, leaderActions, leaderOf } from "./gossip_leader.ts";
export {
  decodeGossip,
  decodeSeen,
  encodeGossip,
  encodeSeen,
  MalformedMessageError,
  WIRE_LIMITS,
  wireAddress,
  type WireGossip,
  wireInt,
  type WireMember,
  wireString,
} from "./gossip_wire.ts";
