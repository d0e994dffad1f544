/**
 * The receptionist: cluster-wide service discovery. An actor registers under a typed
 * {@linkcode ServiceKey} (or is spawned as `Behaviors.discoverable(b, key)`); any node finds the
 * instances with `node.lookup(key)` or subscribes to changes. Every node runs a receptionist at
 * `/_cluster/_receptionist` holding the whole registry: each node owns its own registrations and
 * sends them (versioned) to every other node on each change and every few seconds, so a
 * deregistration reaches every node; the registrations of a stopped actor go away when it stops,
 * and those of a removed or downed node go away everywhere when the membership says so.
 *
 * @module
 */
import type { ActorRef } from "../actor/actor_ref.ts";
import type { ActorSystem } from "../actor/actor_system.ts";
import { type Behavior, Behaviors } from "../actor/behaviors.ts";
import type { Cancellable } from "../actor/clock.ts";
import { Terminated } from "../actor/events.ts";
import type { SerializableClass } from "../serialization/serialization.ts";
import { compareNodeAddresses as compareAddresses, parseActorUri } from "../remote/address.ts";
import { MemberDowned, MemberRemoved, MemberUp } from "./events.ts";
import {
  addDefaultExtension,
  type ClusterExtension,
  type ClusterExtensionContext,
} from "./extension.ts";
import { type Member, type NodeAddress, nodeKey } from "./member.ts";
import { type ServiceEntry, TOPOLOGY_PATH } from "./topology.ts";

/** The well-known path of the receptionist on every node. */
export const RECEPTIONIST_PATH = "/_cluster/_receptionist";

const SERVICE_TYPE: unique symbol = Symbol("casty.serviceType");

/**
 * A typed name under which actors register: `new ServiceKey<PaymentMsg>("payment")`. Two keys
 * with the same name are the same key.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ServiceKey } from "@casty/casty";
 * type PaymentMsg = { type: "pay"; amount: number };
 * const key = new ServiceKey<PaymentMsg>("payment");
 * assert.equal(key.name, "payment");
 * ```
 */
export class ServiceKey<M> {
  /** Phantom: the message type of the registered actors. */
  declare readonly [SERVICE_TYPE]?: M;
  /**
   * Creates a ServiceKey.
   *
   * @param name The service's name (non-empty).
   * @throws {TypeError} on an empty name.
   */
  constructor(readonly name: string) {
    if (typeof name !== "string" || name === "") {
      throw new TypeError("Cannot make a ServiceKey: the name is empty");
    }
  }

  /** `ServiceKey(name)`. */
  toString(): string {
    return `ServiceKey(${this.name})`;
  }
}

/**
 * One registered actor and the node it runs on.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ServiceInstance } from "@casty/casty";
 * const check = (i: ServiceInstance<string>) => assert.equal(typeof i.node.port, "number");
 * check({ ref: {} as never, node: { host: "127.0.0.1", port: 1 } });
 * ```
 */
export interface ServiceInstance<M> {
  /** The actor. */
  readonly ref: ActorRef<M>;
  /** Its node. */
  readonly node: NodeAddress;
}

/**
 * The instances registered under a key, as one node knows them (ordered by node address, then
 * path).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Listing, ServiceKey } from "@casty/casty";
 * const empty = new Listing(new ServiceKey<string>("echo"), []);
 * assert.equal(empty.refs.length, 0);
 * ```
 */
export class Listing<M> {
  /** Discriminant. */
  readonly type = "listing" as const;
  /**
   * Creates a Listing.
   *
   * @param key The service key.
   * @param instances The registered actors with their nodes.
   */
  constructor(readonly key: ServiceKey<M>, readonly instances: readonly ServiceInstance<M>[]) {}

  /** The registered actors. */
  get refs(): ActorRef<M>[] {
    return this.instances.map((i) => i.ref);
  }
}

/**
 * Registers `ref` under `key` (an actor of another node is registered by that node's
 * receptionist). It stays registered until it stops or is deregistered.
 *
 * @example
 * ```ts
 * import { Behaviors, ClusteredActorSystem, Register, ServiceKey } from "@casty/casty";
 * await using node = await ClusteredActorSystem.start({ name: "t", host: "127.0.0.1", port: 0, logLevel: "warn" });
 * const ref = node.spawn(Behaviors.ignore<string>(), "echo");
 * node.receptionist.tell(new Register(new ServiceKey<string>("echo"), ref));
 * ```
 */
export class Register<M = unknown> {
  /** Discriminant. */
  readonly type = "register" as const;
  /**
   * Creates a Register.
   *
   * @param key The service key.
   * @param ref The actor.
   */
  constructor(readonly key: ServiceKey<M>, readonly ref: ActorRef<M>) {}
}

/**
 * Removes the registration of `ref` under `key`, on every node.
 *
 * @example
 * ```ts
 * import { Behaviors, ClusteredActorSystem, Deregister, ServiceKey } from "@casty/casty";
 * await using node = await ClusteredActorSystem.start({ name: "t", host: "127.0.0.1", port: 0, logLevel: "warn" });
 * const ref = node.spawn(Behaviors.ignore<string>(), "echo");
 * node.receptionist.tell(new Deregister(new ServiceKey<string>("echo"), ref));
 * ```
 */
export class Deregister<M = unknown> {
  /** Discriminant. */
  readonly type = "deregister" as const;
  /**
   * Creates a Deregister.
   *
   * @param key The service key.
   * @param ref The actor.
   */
  constructor(readonly key: ServiceKey<M>, readonly ref: ActorRef<M>) {}
}

/**
 * Asks for the current {@linkcode Listing} of a key once (`node.lookup(key)` does it for you).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ClusteredActorSystem, Find, type Listing, ServiceKey } from "@casty/casty";
 * await using node = await ClusteredActorSystem.start({ name: "t", host: "127.0.0.1", port: 0, logLevel: "warn" });
 * const key = new ServiceKey<string>("echo");
 * const listing = await node.ask<Find<string>, Listing<string>>(node.receptionist, (replyTo) => new Find(key, replyTo));
 * assert.equal(listing.refs.length, 0);
 * ```
 */
export class Find<M = unknown> {
  /** Discriminant. */
  readonly type = "find" as const;
  /**
   * Creates a Find.
   *
   * @param key The service key.
   * @param replyTo Receives the listing.
   */
  constructor(readonly key: ServiceKey<M>, readonly replyTo: ActorRef<Listing<M>>) {}
}

/**
 * Subscribes to a key: the subscriber gets the current {@linkcode Listing} at once, then a new
 * one on every change, until it stops or unsubscribes.
 *
 * @example
 * ```ts
 * import { Behaviors, ClusteredActorSystem, type Listing, ServiceKey, Subscribe } from "@casty/casty";
 * await using node = await ClusteredActorSystem.start({ name: "t", host: "127.0.0.1", port: 0, logLevel: "warn" });
 * const watcher = node.spawn(Behaviors.receive<Listing<string>>((ctx, l) => ctx.log.info(`${l.refs.length}`)), "w");
 * node.receptionist.tell(new Subscribe(new ServiceKey<string>("echo"), watcher));
 * ```
 */
export class Subscribe<M = unknown> {
  /** Discriminant. */
  readonly type = "subscribe" as const;
  /**
   * Creates a Subscribe.
   *
   * @param key The service key.
   * @param subscriber Receives the listings.
   */
  constructor(readonly key: ServiceKey<M>, readonly subscriber: ActorRef<Listing<M>>) {}
}

/**
 * Stops a {@linkcode Subscribe}.
 *
 * @example
 * ```ts
 * import { Behaviors, ClusteredActorSystem, type Listing, ServiceKey, Subscribe, Unsubscribe } from "@casty/casty";
 * await using node = await ClusteredActorSystem.start({ name: "t", host: "127.0.0.1", port: 0, logLevel: "warn" });
 * const key = new ServiceKey<string>("echo");
 * const watcher = node.spawn(Behaviors.ignore<Listing<string>>(), "w");
 * node.receptionist.tell(new Subscribe(key, watcher));
 * node.receptionist.tell(new Unsubscribe(key, watcher));
 * ```
 */
export class Unsubscribe<M = unknown> {
  /** Discriminant. */
  readonly type = "unsubscribe" as const;
  /**
   * Creates a Unsubscribe.
   *
   * @param key The service key.
   * @param subscriber The subscriber given to {@linkcode Subscribe}.
   */
  constructor(readonly key: ServiceKey<M>, readonly subscriber: ActorRef<Listing<M>>) {}
}

/** What the receptionist accepts. */
export type ReceptionistCommand =
  | Register
  | Deregister
  | Find
  | Subscribe
  | Unsubscribe;

/** @internal One node's registrations, sent to the other nodes. */
interface RegistrySync {
  readonly type: "registrySync";
  /** The sender's node key (`host:port#id`). */
  readonly node: string;
  readonly address: NodeAddress;
  /** Grows with every change of the sender's registrations. */
  readonly version: number;
  readonly entries: readonly { readonly key: string; readonly path: string }[];
}

type Internal =
  | ReceptionistCommand
  | RegistrySync
  | Terminated
  | { readonly type: "membership"; readonly event: MemberUp | MemberRemoved | MemberDowned }
  | { readonly type: "resync" };

interface NodeEntries {
  readonly address: NodeAddress;
  readonly version: number;
  readonly entries: readonly { readonly key: string; readonly path: string }[];
}

/** Registries of the running receptionists, for `getClusterState()`. */
const registries = new WeakMap<ActorSystem, () => ServiceEntry[]>();

/**
 * The registry a node's receptionist holds (every node's registrations), for the topology
 * snapshot.
 *
 * @internal
 */
export function registryOf(node: ActorSystem): ServiceEntry[] {
  return registries.get(node)?.() ?? [];
}

const isRegistrySync = (m: unknown): m is RegistrySync =>
  typeof m === "object" && m !== null && (m as { type?: unknown }).type === "registrySync" &&
  typeof (m as RegistrySync).node === "string" && typeof (m as RegistrySync).version === "number" &&
  Array.isArray((m as RegistrySync).entries);

/** Members that take part in registry replication. */
const peersOf = (members: readonly Member[], selfKey: string) =>
  members.filter((m) =>
    nodeKey(m) !== selfKey &&
    (m.status === "up" || m.status === "joining" || m.status === "leaving")
  );

function receptionistBehavior(
  ext: ClusterExtensionContext,
  resyncInterval: number,
): Behavior<Internal> {
  const selfKey = nodeKey({ address: ext.selfAddress, id: ext.incarnation });
  return Behaviors.setup<Internal>((ctx) => {
    /** This node's registrations: key name → path → ref. */
    const local = new Map<string, Map<string, ActorRef<unknown>>>();
    const keys = new Map<string, ServiceKey<unknown>>();
    /** Other nodes' registrations by node key. */
    const remote = new Map<string, NodeEntries>();
    /** Node keys that left: their late syncs are ignored. */
    const gone = new Set<string>();
    const subscribers = new Map<string, Map<string, ActorRef<Listing<unknown>>>>();
    let version = 0;
    let timer: Cancellable | undefined;

    const off = ext.subscribe((event) => {
      if (
        event instanceof MemberUp || event instanceof MemberRemoved ||
        event instanceof MemberDowned
      ) ctx.self.tell({ type: "membership", event });
    });
    registries.set(ext.node, () => entries());

    const keyFor = (name: string): ServiceKey<unknown> => {
      let k = keys.get(name);
      if (!k) keys.set(name, k = new ServiceKey(name));
      return k;
    };

    const entries = (): ServiceEntry[] => {
      const out: ServiceEntry[] = [];
      for (const [key, paths] of local) {
        for (const path of paths.keys()) out.push({ key, node: ext.selfAddress, path });
      }
      for (const n of remote.values()) {
        for (const e of n.entries) out.push({ key: e.key, node: n.address, path: e.path });
      }
      return out.sort((a, b) =>
        a.key < b.key ? -1 : a.key > b.key ? 1 : compareAddresses(a.node, b.node) ||
          (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)
      );
    };

    const listing = (name: string): Listing<unknown> => {
      const instances: ServiceInstance<unknown>[] = [];
      for (const e of entries()) {
        if (e.key !== name) continue;
        const ref = e.node === ext.selfAddress
          ? local.get(name)!.get(e.path)!
          : ext.refAt<unknown>(e.node, e.path);
        instances.push({ ref, node: e.node });
      }
      return new Listing(keyFor(name), instances);
    };

    const notify = (names: Iterable<string>) => {
      for (const name of new Set(names)) {
        const subs = subscribers.get(name);
        if (!subs || subs.size === 0) continue;
        const l = listing(name);
        for (const s of subs.values()) s.tell(l);
      }
      ext.node.lookup(TOPOLOGY_PATH)?.tell({ type: "topologyChanged" } as never);
    };

    const syncMessage = (): RegistrySync => ({
      type: "registrySync",
      node: selfKey,
      address: ext.selfAddress,
      version,
      entries: [...local].flatMap(([key, paths]) =>
        [...paths.keys()].map((path) => ({ key, path }))
      ),
    });

    const push = (to?: readonly Member[]) => {
      const msg = syncMessage();
      for (const m of to ?? peersOf(ext.view().members, selfKey)) {
        ext.refAt<RegistrySync>(m.address, RECEPTIONIST_PATH).tell(msg);
      }
    };

    const schedule = () => {
      timer = ctx.system.scheduler.internal(
        () => ctx.self.tell({ type: "resync" }),
        resyncInterval,
      );
    };
    schedule();

    const ownerOf = (ref: ActorRef<unknown>): NodeAddress | undefined => {
      try {
        return parseActorUri(ref.address).address;
      } catch {
        return undefined;
      }
    };
    const isLocal = (ref: ActorRef<unknown>) => {
      const a = ownerOf(ref);
      return a === undefined ||
        (a.host === ext.selfAddress.host && a.port === ext.selfAddress.port);
    };

    const removeLocal = (name: string, path: string): boolean => {
      const paths = local.get(name);
      if (!paths?.delete(path)) return false;
      if (paths.size === 0) local.delete(name);
      return true;
    };

    return Behaviors.withLifecycle(
      Behaviors.receive<Internal>((_ctx, msg) => {
        if (msg instanceof Terminated) {
          const path = msg.ref.path;
          const changed: string[] = [];
          for (const name of [...local.keys()]) if (removeLocal(name, path)) changed.push(name);
          for (const subs of subscribers.values()) subs.delete(msg.ref.address);
          if (changed.length > 0) {
            version++;
            push();
            notify(changed);
          }
          return;
        }
        switch (msg.type) {
          case "register": {
            if (!isLocal(msg.ref)) {
              // The actor's own node keeps its registration (and sees it stop).
              ext.refAt<Register>(ownerOf(msg.ref)!, RECEPTIONIST_PATH).tell(msg);
              return;
            }
            const name = msg.key.name;
            let paths = local.get(name);
            if (!paths) local.set(name, paths = new Map());
            if (paths.has(msg.ref.path)) return;
            paths.set(msg.ref.path, msg.ref);
            try {
              ctx.watch(msg.ref as ActorRef<never>);
            } catch {
              // not watchable (already stopped): Terminated follows
            }
            version++;
            push();
            notify([name]);
            return;
          }
          case "deregister": {
            if (!isLocal(msg.ref)) {
              ext.refAt<Deregister>(ownerOf(msg.ref)!, RECEPTIONIST_PATH).tell(msg);
              return;
            }
            if (!removeLocal(msg.key.name, msg.ref.path)) return;
            const stillRegistered = [...local.values()].some((p) => p.has(msg.ref.path));
            if (!stillRegistered) {
              try {
                ctx.unwatch(msg.ref as ActorRef<never>);
              } catch {
                // never watched
              }
            }
            version++;
            push();
            notify([msg.key.name]);
            return;
          }
          case "find":
            msg.replyTo.tell(listing(msg.key.name));
            return;
          case "subscribe": {
            const name = msg.key.name;
            let subs = subscribers.get(name);
            if (!subs) subscribers.set(name, subs = new Map());
            subs.set(msg.subscriber.address, msg.subscriber as ActorRef<Listing<unknown>>);
            try {
              ctx.watch(msg.subscriber as ActorRef<never>);
            } catch {
              // a temporary ref cannot be watched
            }
            msg.subscriber.tell(listing(name));
            return;
          }
          case "unsubscribe":
            subscribers.get(msg.key.name)?.delete(msg.subscriber.address);
            return;
          case "registrySync": {
            if (!isRegistrySync(msg) || msg.node === selfKey || gone.has(msg.node)) return;
            const known = ext.view().members.some((m) =>
              nodeKey(m) === msg.node && m.status !== "down" && m.status !== "removed"
            );
            if (!known) return; // not (yet) a member: its next sync will do
            const before = remote.get(msg.node);
            if (before && before.version >= msg.version) return;
            remote.set(msg.node, {
              address: msg.address,
              version: msg.version,
              entries: msg.entries,
            });
            const changed = new Set<string>();
            for (const e of before?.entries ?? []) changed.add(e.key);
            for (const e of msg.entries) changed.add(e.key);
            notify(changed);
            return;
          }
          case "membership": {
            const key = nodeKey(msg.event.member);
            if (msg.event instanceof MemberUp) {
              if (key !== selfKey) push([msg.event.member]);
              return;
            }
            if (key === selfKey) return;
            gone.add(key);
            const before = remote.get(key);
            if (!before) return;
            remote.delete(key);
            notify(before.entries.map((e) => e.key));
            return;
          }
          case "resync":
            push();
            schedule();
            return;
        }
      }),
      {
        postStop: () => {
          off();
          timer?.cancel();
          registries.delete(ext.node);
        },
      },
    );
  });
}

/**
 * The receptionist's wire classes with their serializer tags (nodes and cluster clients register
 * them).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RECEPTIONIST_WIRE, ServiceKey } from "@casty/casty/cluster";
 * assert.ok(RECEPTIONIST_WIRE.some(([cls, tag]) => cls === ServiceKey && tag === "casty.ServiceKey"));
 * ```
 */
export const RECEPTIONIST_WIRE: readonly (readonly [SerializableClass, string])[] = [
  [ServiceKey, "casty.ServiceKey"],
  [Listing, "casty.Listing"],
  [Register, "casty.Register"],
  [Deregister, "casty.Deregister"],
  [Find, "casty.Find"],
  [Subscribe, "casty.Subscribe"],
  [Unsubscribe, "casty.Unsubscribe"],
];

/**
 * The receptionist cluster extension (on by default: added to the default list when this
 * module loads, which `ClusteredActorSystem` does).
 *
 * @internal
 */
export const receptionistExtension: ClusterExtension = {
  name: "receptionist",
  start(ctx) {
    for (const [cls, tag] of RECEPTIONIST_WIRE) ctx.registerSerializable(cls, tag);
    ctx.spawnSystemActor(receptionistBehavior(ctx, 2000), "_receptionist");
  },
};

addDefaultExtension(receptionistExtension);

/**
 * A behavior registered with the receptionist under `key` while it runs (again after each
 * restart); it is deregistered on every node when it stops. On a plain `ActorSystem` (no
 * receptionist) it just runs `behavior`.
 *
 * @param behavior The actor's behavior.
 * @param key The service key.
 * @returns The wrapped behavior.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Behaviors, ServiceKey } from "@casty/casty";
 * import { testCluster } from "@casty/casty/testing";
 * const Echo = new ServiceKey<string>("echo");
 * await using c = await testCluster(2);
 * c.nodes[0].spawn(Behaviors.discoverable(Behaviors.ignore<string>(), Echo), "echo");
 * await c.advance(100); // the registration reaches node 1
 * const listing = await c.run(c.nodes[1].lookup(Echo));
 * assert.equal(listing.refs.length, 1);
 * ```
 */
export function discoverable<M>(behavior: Behavior<M>, key: ServiceKey<M>): Behavior<M> {
  return Behaviors.setup<M>((ctx) => {
    const receptionist = ctx.system.lookup<Register<M>>(RECEPTIONIST_PATH);
    if (receptionist) receptionist.tell(new Register(key, ctx.self));
    else ctx.log.debug(`${key} not registered: no receptionist on this system`);
    return behavior;
  });
}
