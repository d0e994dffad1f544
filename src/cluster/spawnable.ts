/**
 * Remote deployment: behaviors that can be spawned on another node by name. A behavior is a
 * function and cannot travel, so (as in Akka's remote deployment and Orleans' grain classes)
 * what travels is a registered key plus serializable arguments: a module imported by both the
 * nodes and the client registers `spawnable("worker", (id) => …)`; `worker("w1")` is an ordinary
 * behavior that also remembers `{ key: "worker", args: ["w1"] }`, and
 * `client.spawn(worker("w1"), "w1", { node: "any" })` asks a node to build and spawn it there.
 *
 * The node side is a cluster extension (every node starts it): a request at
 * {@linkcode SPAWN_PATH} names the key, the arguments and the actor's name; the node calls the
 * factory it registered under that key and spawns the result as a root actor (`/<name>`), then
 * answers with its path, or with why it could not.
 *
 * @module
 */
import type { ActorRef } from "../actor/actor_ref.ts";
import { Behavior, Behaviors } from "../actor/behaviors.ts";
import { ActorNameTakenError, CastyError } from "../actor/errors.ts";
import { addDefaultExtension, type ClusterExtension } from "./extension.ts";

/** The reserved path of the remote spawn handler on every node. */
export const SPAWN_PATH = "/_cluster/_spawn";

/** What a spawnable behavior carries: its registered key and the arguments it was made with. */
export interface SpawnableTag {
  /** The key it was registered under with {@linkcode spawnable}. */
  readonly key: string;
  /** The arguments given to the factory (they travel to the node: keep them serializable). */
  readonly args: readonly unknown[];
}

/** Why a remote spawn failed ({@linkcode RemoteSpawnError.code}). */
export type RemoteSpawnErrorCode =
  | "NOT_SPAWNABLE"
  | "UNKNOWN_KEY"
  | "NOT_A_MEMBER"
  | "FACTORY_FAILED";

/**
 * A spawn on another node failed: the behavior was not made by a {@linkcode spawnable} factory
 * (`NOT_SPAWNABLE`), the node has no factory under that key (`UNKNOWN_KEY`: it does not import
 * the module that registers it), the node is not an up member (`NOT_A_MEMBER`), or the factory
 * threw on the node (`FACTORY_FAILED`). A taken name is an `ActorNameTakenError`, an argument
 * that cannot be serialized a `SerializationError`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RemoteSpawnError } from "@casty/casty";
 * const err = new RemoteSpawnError("UNKNOWN_KEY", 'Cannot spawn "w1" on 127.0.0.1:1: no behavior registered as "worker" there');
 * assert.equal(err.code, "UNKNOWN_KEY");
 * assert.equal(err.name, "RemoteSpawnError");
 * ```
 */
export class RemoteSpawnError extends CastyError {
  /** Why it failed. */
  declare readonly code: RemoteSpawnErrorCode;
  /**
   * Creates a RemoteSpawnError.
   *
   * @param code Why it failed.
   * @param message What failed, for people.
   */
  constructor(code: RemoteSpawnErrorCode, message: string) {
    super(code, message);
    this.name = "RemoteSpawnError";
  }
}

type AnyFactory = (...args: unknown[]) => Behavior<unknown>;
const registry = new Map<string, AnyFactory>();
const tags = new WeakMap<Behavior<unknown>, SpawnableTag>();

/**
 * Registers a behavior factory under `key`, so that the behaviors it makes can be spawned on
 * another node: define it in a module that both the nodes and the client import. The returned
 * function makes ordinary behaviors (spawn them anywhere, locally too) that also carry
 * `{ key, args }` (see {@linkcode spawnableOf}); on a node the factory runs again with the same
 * arguments, after they traveled through the serializer.
 *
 * @param key A unique name for the factory, the same in every process.
 * @param factory Builds the behavior from serializable arguments.
 * @returns A function with the factory's signature whose behaviors are spawnable remotely.
 * @throws {TypeError} when `key` is empty, or already registered with another factory.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ActorSystem, Behaviors, spawnable, spawnableOf } from "@casty/casty";
 * const greeter = spawnable("doc-greeter", (greeting: string) =>
 *   Behaviors.receive<{ name: string; replyTo: { tell(s: string): void } }>((_ctx, m) => {
 *     m.replyTo.tell(`${greeting}, ${m.name}`);
 *   }));
 * const b = greeter("Hello");
 * assert.deepEqual(spawnableOf(b), { key: "doc-greeter", args: ["Hello"] });
 * await using system = new ActorSystem({ name: "doc" });
 * const ref = system.spawn(b, "greeter"); // an ordinary behavior locally
 * const reply = await system.ask(ref, (replyTo) => ({ name: "Ada", replyTo }), { timeout: 2000 });
 * assert.equal(reply, "Hello, Ada");
 * ```
 */
export function spawnable<A extends unknown[], M>(
  key: string,
  factory: (...args: A) => Behavior<M>,
): (...args: A) => Behavior<M> {
  if (typeof key !== "string" || key === "") {
    throw new TypeError(`Cannot register a spawnable behavior: key must be a non-empty string`);
  }
  if (typeof factory !== "function") {
    throw new TypeError(`Cannot register spawnable "${key}": factory must be a function`);
  }
  const known = registry.get(key);
  if (known !== undefined && known !== (factory as unknown)) {
    throw new TypeError(
      `Cannot register spawnable "${key}": another factory is registered under that key`,
    );
  }
  registry.set(key, factory as unknown as AnyFactory);
  return (...args: A): Behavior<M> => {
    // A fresh behavior per call (the factory may return a shared one, such as `ignore()`),
    // built when the actor starts, so that the tag belongs to this call only.
    const behavior = Behaviors.setup<M>(() => factory(...args));
    tags.set(behavior as Behavior<unknown>, { key, args: [...args] });
    return behavior;
  };
}

/**
 * The key and arguments of a behavior made by a {@linkcode spawnable} factory, else
 * `undefined` (wrapping it, e.g. in `Behaviors.supervise`, makes a new behavior without them).
 *
 * @param behavior Any behavior.
 * @returns Its tag, or `undefined`.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Behaviors, spawnableOf } from "@casty/casty";
 * assert.equal(spawnableOf(Behaviors.ignore()), undefined);
 * ```
 */
export function spawnableOf<M>(behavior: Behavior<M>): SpawnableTag | undefined {
  return behavior instanceof Behavior ? tags.get(behavior as Behavior<unknown>) : undefined;
}

/** A remote spawn request, as it travels to {@linkcode SPAWN_PATH}. */
export interface SpawnRequest {
  /** `"spawn"`. */
  readonly t: "spawn";
  /** The factory's key. */
  readonly key: string;
  /** Its arguments. */
  readonly args: readonly unknown[];
  /** The root actor's name on the node. */
  readonly name: string;
  /** Where the answer goes. */
  readonly replyTo: ActorRef<SpawnReply>;
}

/** The answer to a {@linkcode SpawnRequest}. */
export type SpawnReply =
  | { readonly ok: true; readonly path: string }
  | {
    readonly ok: false;
    readonly code: RemoteSpawnErrorCode | "ACTOR_NAME_TAKEN";
    readonly message: string;
  };

/**
 * Turns a failed {@linkcode SpawnReply} into the error the caller sees.
 *
 * @param reply The node's answer.
 * @param path The path that was asked for (for a taken name).
 * @returns An `ActorNameTakenError` or a {@linkcode RemoteSpawnError}.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ActorNameTakenError } from "@casty/casty";
 * import { spawnReplyError } from "./spawnable.ts";
 * const err = spawnReplyError({ ok: false, code: "ACTOR_NAME_TAKEN", message: "taken" }, "/w1");
 * assert.ok(err instanceof ActorNameTakenError);
 * ```
 */
export function spawnReplyError(
  reply: Extract<SpawnReply, { ok: false }>,
  path: string,
): Error {
  if (reply.code === "ACTOR_NAME_TAKEN") return new ActorNameTakenError(path);
  return new RemoteSpawnError(reply.code, reply.message);
}

/**
 * The cluster extension that answers remote spawn requests; every node starts it by default.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { remoteSpawnExtension } from "@casty/casty/cluster";
 * assert.equal(remoteSpawnExtension.name, "remote-spawn");
 * ```
 */
export const remoteSpawnExtension: ClusterExtension = {
  name: "remote-spawn",
  start(ctx) {
    const self = `${ctx.selfAddress.host}:${ctx.selfAddress.port}`;
    ctx.registerHandler(SPAWN_PATH, (_from, msg) => {
      const m = msg as Partial<SpawnRequest> | undefined;
      if (m?.t !== "spawn" || m.replyTo === undefined) return;
      const reply = (r: SpawnReply) => {
        try {
          m.replyTo!.tell(r);
        } catch (err) {
          ctx.log.warn(`Cannot answer a remote spawn request`, err);
        }
      };
      const name = m.name;
      if (typeof name !== "string" || typeof m.key !== "string" || !Array.isArray(m.args)) {
        reply({ ok: false, code: "FACTORY_FAILED", message: `Cannot spawn: malformed request` });
        return;
      }
      const factory = registry.get(m.key);
      if (factory === undefined) {
        reply({
          ok: false,
          code: "UNKNOWN_KEY",
          message:
            `Cannot spawn "${name}" on ${self}: no behavior registered as "${m.key}" there (does the node import the module that calls spawnable("${m.key}", …)?)`,
        });
        return;
      }
      try {
        // Built now, not at actor start, so that a factory that throws is an answer, not a
        // failed actor.
        const built = factory(...m.args);
        const ref = ctx.node.spawn(built, name);
        ctx.log.debug(`spawned "${m.key}" as ${ref.path} for a remote request`);
        reply({ ok: true, path: ref.path });
      } catch (err) {
        if (err instanceof ActorNameTakenError) {
          reply({ ok: false, code: "ACTOR_NAME_TAKEN", message: err.message });
        } else {
          reply({
            ok: false,
            code: "FACTORY_FAILED",
            message: `Cannot spawn "${name}" on ${self}: ${
              err instanceof Error ? err.message : String(err)
            }`,
          });
        }
      }
    });
  },
};

addDefaultExtension(remoteSpawnExtension);
