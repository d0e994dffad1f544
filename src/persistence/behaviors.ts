/**
 * The one `Behaviors` object that users see, from `@casty/casty`, `@casty/casty/actor` and
 * `@casty/casty/persistence` alike: every factory of the actor layer plus `eventSourced`.
 *
 * It lives here, in the lowest layer that has all of them: the actor layer cannot import
 * persistence (imports go config ← actor ← persistence), so its own code builds behaviors
 * with the local factories of actor/behaviors.ts, while the entries (`mod.ts` files, which no
 * code imports) all re-export this object. `eventSourced` needs only the journal's types at
 * run time, so exporting it from the actor entry loads no database driver.
 *
 * @module
 */

import {
  type ActorBehaviors,
  type Behavior,
  Behaviors as actorBehaviors,
} from "../actor/behaviors.ts";
import { eventSourced, type EventSourcedOptions } from "./event_sourced.ts";

/** Every behavior factory of casty: the local ones plus event sourcing. */
export interface CastyBehaviors extends ActorBehaviors {
  /** An event-sourced actor (see {@linkcode eventSourced}). */
  eventSourced<C, E, S>(options: EventSourcedOptions<C, E, S>): Behavior<C>;
}

/**
 * Factories for behaviors: `receive`, `setup`, `same`, `stopped`, `unhandled`, `restart`,
 * `ignore`, `withLifecycle`, `supervise`, `spy`, `persisted` and `eventSourced`.
 *
 * @example The same object from every entry
 * ```ts
 * import assert from "node:assert/strict";
 * import { ActorSystem, Behaviors } from "@casty/casty";
 * import { Behaviors as FromActor } from "@casty/casty/actor";
 * import { InMemoryJournal } from "@casty/casty/persistence";
 * assert.equal(FromActor, Behaviors);
 * type Cmd = { type: "add"; n: number; replyTo: { tell(total: number): void } };
 * await using system = new ActorSystem({ logLevel: "warn" });
 * const counter = system.spawn(
 *   FromActor.eventSourced<Cmd, number, number>({
 *     entityId: "counter-1",
 *     journal: new InMemoryJournal(),
 *     initialState: 0,
 *     onCommand: (_ctx, _total, cmd) =>
 *       FromActor.persisted([cmd.n], { reply: (total: number) => cmd.replyTo.tell(total) }),
 *     onEvent: (total, n) => total + n,
 *   }),
 *   "counter",
 * );
 * const total = await system.ask(counter, (replyTo) => ({ type: "add", n: 2, replyTo }));
 * assert.equal(total, 2);
 * ```
 */
export const Behaviors: CastyBehaviors = { ...actorBehaviors, eventSourced };
