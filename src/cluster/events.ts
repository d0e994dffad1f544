/**
 * Cluster membership events. Each node publishes every transition it observes exactly once,
 * in the order it observes them.
 *
 * @module
 */

import type { Member, MemberStatus, NodeAddress } from "./member.ts";

/**
 * A member was added to the cluster (status `joining`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemberJoined } from "@casty/casty/cluster";
 * const e = new MemberJoined({ address: { host: "h", port: 1 }, id: "a", status: "joining", roles: [] });
 * assert.equal(e.type, "MemberJoined");
 * ```
 */
export class MemberJoined {
  /** Discriminator. */
  readonly type: "MemberJoined" = "MemberJoined";
  /**
   * Creates a MemberJoined.
   *
   * @param member The member as now known.
   */
  constructor(readonly member: Member) {}
}

/**
 * A member became `up`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemberUp } from "@casty/casty/cluster";
 * const e = new MemberUp({ address: { host: "h", port: 1 }, id: "a", status: "up", roles: [] });
 * assert.ok(e.type === "MemberUp" && e.member.status === "up");
 * ```
 */
export class MemberUp {
  /** Discriminator. */
  readonly type: "MemberUp" = "MemberUp";
  /**
   * Creates a MemberUp.
   *
   * @param member The member as now known.
   */
  constructor(readonly member: Member) {}
}

/**
 * A member began leaving gracefully (status `leaving`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemberLeft } from "@casty/casty/cluster";
 * const e = new MemberLeft({ address: { host: "h", port: 1 }, id: "a", status: "leaving", roles: [] });
 * assert.equal(e.type, "MemberLeft");
 * ```
 */
export class MemberLeft {
  /** Discriminator. */
  readonly type: "MemberLeft" = "MemberLeft";
  /**
   * Creates a MemberLeft.
   *
   * @param member The member as now known.
   */
  constructor(readonly member: Member) {}
}

/**
 * A leaving member was moved to `exiting` by the leader; removal follows.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemberExited } from "@casty/casty/cluster";
 * const e = new MemberExited({ address: { host: "h", port: 1 }, id: "a", status: "exiting", roles: [] });
 * assert.equal(e.type, "MemberExited");
 * ```
 */
export class MemberExited {
  /** Discriminator. */
  readonly type: "MemberExited" = "MemberExited";
  /**
   * Creates a MemberExited.
   *
   * @param member The member as now known.
   */
  constructor(readonly member: Member) {}
}

/**
 * A member was marked `down` (by the split-brain resolver, by an operator, or because a newer
 * incarnation of the same address joined).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemberDowned } from "@casty/casty/cluster";
 * const e = new MemberDowned({ address: { host: "h", port: 1 }, id: "a", status: "down", roles: [] });
 * assert.equal(e.type, "MemberDowned");
 * ```
 */
export class MemberDowned {
  /** Discriminator. */
  readonly type: "MemberDowned" = "MemberDowned";
  /**
   * Creates a MemberDowned.
   *
   * @param member The member as now known.
   */
  constructor(readonly member: Member) {}
}

/**
 * A member was removed from the cluster; its `status` is `removed`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemberRemoved } from "@casty/casty/cluster";
 * const e = new MemberRemoved(
 *   { address: { host: "h", port: 1 }, id: "a", status: "removed", roles: [] },
 *   "exiting",
 * );
 * assert.equal(e.previousStatus, "exiting");
 * ```
 */
export class MemberRemoved {
  /** Discriminator. */
  readonly type: "MemberRemoved" = "MemberRemoved";
  /**
   * Creates a MemberRemoved.
   *
   * @param member The member, with status `removed`.
   * @param previousStatus Its status before removal (`exiting` after a graceful leave, `down`
   * otherwise).
   */
  constructor(readonly member: Member, readonly previousStatus: MemberStatus) {}
}

/**
 * Some member's failure detector now finds `member` unreachable.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { UnreachableMember } from "@casty/casty/cluster";
 * const e = new UnreachableMember({ address: { host: "h", port: 1 }, id: "a", status: "up", roles: [] });
 * assert.equal(e.type, "UnreachableMember");
 * ```
 */
export class UnreachableMember {
  /** Discriminator. */
  readonly type: "UnreachableMember" = "UnreachableMember";
  /**
   * Creates a UnreachableMember.
   *
   * @param member The member.
   */
  constructor(readonly member: Member) {}
}

/**
 * A member that was unreachable is reachable again for every observer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ReachableMember } from "@casty/casty/cluster";
 * const e = new ReachableMember({ address: { host: "h", port: 1 }, id: "a", status: "up", roles: [] });
 * assert.equal(e.type, "ReachableMember");
 * ```
 */
export class ReachableMember {
  /** Discriminator. */
  readonly type: "ReachableMember" = "ReachableMember";
  /**
   * Creates a ReachableMember.
   *
   * @param member The member.
   */
  constructor(readonly member: Member) {}
}

/**
 * The leader in this node's view changed; `leader` is `undefined` when there is none.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LeaderChanged } from "@casty/casty/cluster";
 * const e = new LeaderChanged({ host: "h", port: 1 });
 * assert.ok(e.leader?.port === 1);
 * ```
 */
export class LeaderChanged {
  /** Discriminator. */
  readonly type: "LeaderChanged" = "LeaderChanged";
  /**
   * Creates a LeaderChanged.
   *
   * @param leader The new leader's address.
   */
  constructor(readonly leader: NodeAddress | undefined) {}
}

/**
 * This node must stop: it was removed after leaving, it was downed, or it is on the minority
 * side of a partition. The membership engine has already stopped its timers; the owner should
 * shut the actor system down (and may start a new incarnation to rejoin).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ShutdownSelf } from "@casty/casty/cluster";
 * const e = new ShutdownSelf("minority");
 * assert.ok(e.type === "ShutdownSelf" && e.reason === "minority");
 * ```
 */
export class ShutdownSelf {
  /** Discriminator. */
  readonly type: "ShutdownSelf" = "ShutdownSelf";
  /**
   * Creates a ShutdownSelf.
   *
   * @param reason Why: `removed`, `downed` or `minority`.
   */
  constructor(readonly reason: "removed" | "downed" | "minority") {}
}

/**
 * Any event {@linkcode Membership} publishes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemberUp, type MembershipEvent } from "@casty/casty/cluster";
 * const e: MembershipEvent = new MemberUp({ address: { host: "h", port: 1 }, id: "a", status: "up", roles: [] });
 * if (e.type === "MemberUp") assert.equal(e.member.id, "a");
 * ```
 */
export type MembershipEvent =
  | MemberJoined
  | MemberUp
  | MemberLeft
  | MemberExited
  | MemberDowned
  | MemberRemoved
  | UnreachableMember
  | ReachableMember
  | LeaderChanged
  | ShutdownSelf;
