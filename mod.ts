/**
 * casty: an actor framework and cluster for TypeScript on Deno and Bun.
 *
 * Behaviors are values, refs are typed, failures are supervised, and (in the other entry
 * points) state is event-sourced and entities are sharded across a cluster.
 *
 * @example
 * ```ts
 * import { ActorSystem, Behaviors, type ActorRef, type Behavior } from "@casty/casty";
 *
 * type AccountMsg =
 *   | { type: "deposit"; amount: number }
 *   | { type: "getBalance"; replyTo: ActorRef<number> };
 *
 * const account = (balance = 0): Behavior<AccountMsg> =>
 *   Behaviors.receive((_ctx, msg) => {
 *     switch (msg.type) {
 *       case "deposit": return account(balance + msg.amount);
 *       case "getBalance": msg.replyTo.tell(balance); return Behaviors.same();
 *     }
 *   });
 *
 * await using system = new ActorSystem({ name: "bank" });
 * const ref = system.spawn(account(), "account");
 * ref.tell({ type: "deposit", amount: 100 });
 * const balance = await system.ask(ref, (replyTo) => ({ type: "getBalance", replyTo }), { timeout: 2000 });
 * console.assert(balance === 100);
 * ```
 *
 * @module
 */
export * from "./src/actor/mod.ts";
