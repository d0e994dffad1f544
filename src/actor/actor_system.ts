/**
 * The actor system: root of the actor tree, home of the event stream and the scheduler.
 *
 * @module
 */
import { ACTOR_REF, type ActorRef } from "./actor_ref.ts";
import type { SpawnOptions } from "./actor_context.ts";
import type { Behavior } from "./behaviors.ts";
import { type Cancellable, type Clock, realClock } from "./clock.ts";
import { ActorNameTakenError, AskTimeoutError, CastyError } from "./errors.ts";
import { DeadLetter } from "./events.ts";
import { EventStream } from "./event_stream.ts";
import { consoleLogger, type Logger, type LogLevel } from "./logger.ts";
import { Mailbox } from "./mailbox.ts";
import { Scheduler } from "./scheduler.ts";
import {
  ActorCell,
  checkName,
  LocalActorRef,
  type RemoteHooks,
  type SystemCore,
  WATCHABLE,
  type Watchable,
} from "./_actor_cell.ts";
import { NameRegistry } from "./_name_registry.ts";
import type { CastyConfig, MailboxSettings } from "../config/casty_config.ts";
import { resolveActorConfig } from "../config/resolve_actor_config.ts";
import { isSystemName, SYSTEM_NAME_RULE } from "../config/system_name.ts";
import { Behaviors } from "./behaviors.ts";
import { OneForOneStrategy } from "./supervision.ts";
import { Dispatcher } from "./_dispatcher.ts";

/** Options of {@linkcode ActorSystem}. */
export interface ActorSystemOptions {
  /**
   * The system's name (part of every actor URI; cluster nodes must share it).
   * @default {"casty"}
   */
  name?: string;
  /**
   * Time source for the scheduler and ask timeouts.
   * @default {realClock}
   */
  clock?: Clock;
  /** Where logs go. Defaults to a console logger at `logLevel`. */
  logger?: Logger;
  /**
   * Level of the default console logger.
   * @default {"info"}
   */
  logLevel?: LogLevel;
  /**
   * Configuration (usually from `loadConfig()`): the system name, and per-actor mailbox and
   * supervision from `[defaults.*]` and `[actors."pattern"]`. Explicit spawn options and
   * behaviors supervised in code win over the file.
   */
  config?: CastyConfig;
  /**
   * Messages an actor handles in a row before others get a turn.
   * @default {1024}
   */
  throughput?: number;
}

/** Load of one root actor and its descendants (see {@linkcode ActorSystemStats}). */
export interface ActorTreeStats {
  /** Live actors: the root actor and its descendants. */
  readonly actors: number;
  /** Messages waiting in their mailboxes. */
  readonly queued: number;
  /** The deepest single mailbox among them. */
  readonly maxQueued: number;
}

/** What {@linkcode ActorSystem.stats} reports. */
export interface ActorSystemStats extends ActorTreeStats {
  /** Steps the actors have run since the system started: messages, system messages, starts. */
  readonly processed: number;
  /** Per root actor (`"/accounts"`, `"/_cluster"`, …). */
  readonly roots: Readonly<Record<string, ActorTreeStats>>;
}

/** Options of {@linkcode ActorSystem.ask}. */
export interface AskOptions {
  /**
   * Milliseconds to wait for the reply.
   * @default {5000}
   */
  timeout?: number;
  /** Aborts the ask; the promise rejects with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * The reply type of a message: the type parameter of its `replyTo` ref (looked up inside
 * envelopes with a `message` field too). {@linkcode ActorSystem.ask} uses it when the reply
 * type is not given explicitly.
 *
 * @example
 * ```ts
 * import type { ActorRef, ReplyOf } from "@casty/casty";
 * type Msg = { type: "get"; replyTo: ActorRef<number> } | { type: "inc" };
 * const n: ReplyOf<Msg> = 1;
 * ```
 */
export type ReplyOf<M> = M extends { replyTo: ActorRef<infer R> } ? R
  : M extends { message: infer I } ? (I extends { replyTo: ActorRef<infer R2> } ? R2 : never)
  : never;

/** The message factory of an ask: builds the message around the temporary reply ref. */
export type AskFactory<M, R> = (replyTo: ActorRef<R>) => M;

let askCounter = 0;

// Reply paths of asks are `/_ask/<n>-<token>`. `n`, a counter, keys the map of pending asks so
// that lookup stays a number lookup; `token` is 128 random bits drawn for this ask alone, and a
// reply is routed only when the whole path matches. A counter with one random per-system
// prefix would not do: the prefix is part of every reply path this node sends, so a single
// leaked path (a message a peer logs or forwards, a DeadLetter, a replyTo kept after the
// reply) would make every other pending ask's path guessable, and any peer could answer
// other callers' asks. Independent tokens mean one path reveals nothing about another. To keep
// a local ask cheap, random words are drawn 256 asks at a time, and the path string is built
// only when something reads it (a remote ask, a dead letter).
const RANDOM_POOL = new Uint32Array(1024);
let randomNext = RANDOM_POOL.length;

function randomWord(): number {
  if (randomNext === RANDOM_POOL.length) {
    crypto.getRandomValues(RANDOM_POOL);
    randomNext = 0;
  }
  const w = RANDOM_POOL[randomNext];
  // Each word is used once: a path must not be derivable from an earlier one.
  RANDOM_POOL[randomNext++] = 0;
  return w;
}

function hex8(n: number): string {
  return n.toString(16).padStart(8, "0");
}

// Comparing reply paths in constant time keeps a peer from learning a token by timing.
function samePath(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

// Set by a static block of ActorSystem: the cluster layer reaches the core through
// systemCore() without it becoming part of the public API.
let coreOf: (system: ActorSystem) => SystemCore;

/** @internal The core shared with cells, for the remote and cluster layers. */
export function systemCore(system: ActorSystem): SystemCore {
  return coreOf(system);
}

/**
 * @internal Plugs the remote layer into a system: from now on its actors' URIs carry
 * `hooks.addressPrefix`, and cells watch remote refs through `hooks`. Once per system.
 *
 * @throws {Error} when a remote layer is already attached.
 */
export function attachRemote(system: ActorSystem, hooks: RemoteHooks): void {
  const core = coreOf(system);
  if (core.remote !== undefined) {
    throw new Error(`Cannot attach a remote layer to system "${system.name}": one is attached`);
  }
  core.remote = hooks;
  core.addressPrefix = hooks.addressPrefix;
}

/**
 * @internal Spawns a child of the local actor `parent` from outside that actor (the cluster layer
 * spawns its system actors under `/_cluster` this way, synchronously).
 *
 * @throws {TypeError} when `parent` is not a local actor of this process.
 * @throws {ActorNameTakenError} when the parent has a live child of that name.
 */
export function spawnChildOf<M>(
  parent: ActorRef<never>,
  behavior: Behavior<M>,
  name: string,
  options: SpawnOptions = {},
): ActorRef<M> {
  if (!(parent instanceof LocalActorRef)) {
    throw new TypeError(`Cannot spawn a child of "${parent.path}": not a local actor`);
  }
  return (parent.cell as ActorCell<unknown>).spawnChild(behavior, name, options);
}

function isSupervised(b: Behavior<never>): boolean {
  let cur: Behavior<never> | undefined = b;
  while (cur) {
    if (cur.kind === "supervise") return true;
    if (cur.kind !== "lifecycle" && cur.kind !== "spy") return false;
    cur = (cur.payload as { inner: Behavior<never> }).inner;
  }
  return false;
}

/**
 * The temporary ref behind an ask. A reply after completion becomes a `DeadLetter`. It can be
 * watched, locally and from other nodes: the ask's end is its `Terminated`.
 */
class AskRef<R> implements ActorRef<R>, Watchable {
  readonly #system: ActorSystem;
  readonly #id: number;
  readonly #asks: Map<number, AskRef<unknown>>;
  #resolve: ((value: R) => void) | undefined;
  #reject: ((error: unknown) => void) | undefined;
  timer: Cancellable | undefined;
  signal: AbortSignal | undefined;
  readonly #t0 = randomWord();
  readonly #t1 = randomWord();
  readonly #t2 = randomWord();
  readonly #t3 = randomWord();
  #path: string | undefined;
  #watchers: Set<ActorCell<unknown>> | undefined;

  constructor(
    system: ActorSystem,
    id: number,
    asks: Map<number, AskRef<unknown>>,
    resolve: (value: R) => void,
    reject: (error: unknown) => void,
  ) {
    this.#system = system;
    this.#id = id;
    this.#asks = asks;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  get [ACTOR_REF](): true {
    return true;
  }

  get [WATCHABLE](): Watchable {
    return this;
  }

  addWatcher(cell: ActorCell<unknown>): boolean {
    if (this.#resolve === undefined) return false;
    (this.#watchers ??= new Set()).add(cell);
    return true;
  }

  removeWatcher(cell: ActorCell<unknown>): void {
    this.#watchers?.delete(cell);
  }

  get path(): string {
    return this.#path ??= `/_ask/${this.#id}-${hex8(this.#t0)}${hex8(this.#t1)}${hex8(this.#t2)}${
      hex8(this.#t3)
    }`;
  }

  get address(): string {
    return this.#system.addressOf(this.path);
  }

  tell(msg: R): void {
    const resolve = this.#resolve;
    if (resolve === undefined) {
      this.#system.eventStream.publish(
        new DeadLetter(msg, this as ActorRef<never>, "lateReply", "the ask had already completed"),
      );
      return;
    }
    this.#finish();
    resolve(msg);
  }

  send(msg: R): Promise<void> {
    this.tell(msg);
    return Promise.resolve();
  }

  fail(error: unknown): void {
    const reject = this.#reject;
    if (reject === undefined) return;
    this.#finish();
    reject(error);
  }

  handleEvent(): void {
    // AbortSignal listener (an EventListener object, so no closure per ask).
    this.fail(this.signal?.reason);
  }

  #finish(): void {
    this.#resolve = undefined;
    this.#reject = undefined;
    this.timer?.cancel();
    this.#asks.delete(this.#id);
    this.signal?.removeEventListener("abort", this);
    const watchers = this.#watchers;
    if (watchers) {
      this.#watchers = undefined;
      for (const cell of watchers) cell.deliverTerminated(this as ActorRef<never>);
    }
    // Only a path that was read can have been sent to another node (and watched from there).
    if (this.#path !== undefined) coreOf(this.#system).remote?.pathStopped?.(this.#path);
  }

  toJSON(): string {
    return this.address;
  }
}

/**
 * An actor system: spawns root actors, asks them, looks them up, schedules messages, and
 * shuts everything down in order. Implements `Symbol.asyncDispose`, so `await using` works.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ActorSystem, Behaviors, type ActorRef, type Behavior } from "@casty/casty";
 * type AccountMsg =
 *   | { type: "deposit"; amount: number }
 *   | { type: "getBalance"; replyTo: ActorRef<number> };
 * const account = (balance = 0): Behavior<AccountMsg> =>
 *   Behaviors.receive((_ctx, msg) => {
 *     switch (msg.type) {
 *       case "deposit": return account(balance + msg.amount);
 *       case "getBalance": msg.replyTo.tell(balance); return Behaviors.same();
 *     }
 *   });
 * await using system = new ActorSystem({ name: "bank" });
 * const ref = system.spawn(account(), "account");
 * ref.tell({ type: "deposit", amount: 100 });
 * const balance = await system.ask(ref, (replyTo) => ({ type: "getBalance", replyTo }), { timeout: 2000 });
 * assert.equal(balance, 100);
 * ```
 */
export class ActorSystem implements AsyncDisposable {
  /** The system's name. */
  readonly name: string;
  /** The clock every timer of this system uses. */
  readonly clock: Clock;
  /** The system logger. */
  readonly log: Logger;
  /** The event stream. */
  readonly eventStream: EventStream;
  /** The scheduler behind `tick`/`schedule`. */
  readonly scheduler: Scheduler;
  readonly #core: SystemCore;
  readonly #roots = new NameRegistry<ActorCell<unknown>>();
  // Keyed by number: a fresh string key per ask makes the Map slow on V8 (p99 spikes).
  readonly #asks = new Map<number, AskRef<unknown>>();
  readonly #config: CastyConfig | undefined;
  readonly #mailboxes = new WeakMap<MailboxSettings, Mailbox>();
  #shutdown: Promise<void> | undefined;

  /**
   * Creates a ActorSystem.
   *
   * @param options Name, clock, logging.
   */
  constructor(options: ActorSystemOptions = {}) {
    const name = options.name ?? options.config?.system.name ?? "casty";
    this.#config = options.config;
    if (!isSystemName(name)) {
      throw new TypeError(`Invalid system name ${JSON.stringify(name)}: use ${SYSTEM_NAME_RULE}`);
    }
    this.name = name;
    this.clock = options.clock ?? realClock;
    this.log = options.logger ?? consoleLogger(options.logLevel ?? "info");
    this.eventStream = new EventStream(this.log);
    this.scheduler = new Scheduler(this.clock, { eventStream: this.eventStream, log: this.log });
    const roots = this.#roots;
    this.#core = {
      system: this,
      name,
      clock: this.clock,
      log: this.log,
      eventStream: this.eventStream,
      scheduler: this.scheduler,
      dispatcher: new Dispatcher(options.throughput ?? 1024),
      addressPrefix: `casty://${name}`,
      remote: undefined,
      suppressDeadLetters: false,
      configured: options.config !== undefined,
      rootTerminated(cell) {
        if (roots.get(cell.name) === cell) roots.delete(cell.name);
      },
      mailboxFor: (path, explicit) => this.resolveMailbox(path, explicit),
      behaviorFor: (path, behavior) => this.resolveBehavior(path, behavior),
    };
  }

  /** The configuration this system was created with, if any. */
  get config(): CastyConfig | undefined {
    return this.#config;
  }

  /** Whether {@linkcode ActorSystem.shutdown} has been called. */
  get isShutdown(): boolean {
    return this.#shutdown !== undefined;
  }

  /**
   * Steps the actors have run since the system started (messages, system messages, starts):
   * a cheap counter, unlike {@linkcode ActorSystem.stats}.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ActorSystem, Behaviors } from "@casty/casty";
   * await using system = new ActorSystem({ name: "s" });
   * const before = system.messagesProcessed;
   * await system.ask(system.spawn(Behaviors.receive<{ replyTo: { tell(n: number): void } }>((_c, m) => m.replyTo.tell(1)), "one"), (replyTo) => ({ replyTo }));
   * assert.ok(system.messagesProcessed > before);
   * ```
   */
  get messagesProcessed(): number {
    return this.#core.dispatcher.steps;
  }

  /**
   * Counts live actors and their waiting messages, per root actor, and the steps run so far
   * (what `/metrics` reports). It walks every actor: call it about once a second, not per
   * message.
   *
   * @returns The counts now.
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { ActorSystem, Behaviors } from "@casty/casty";
   * await using system = new ActorSystem({ name: "s" });
   * system.spawn(Behaviors.ignore<string>(), "quiet");
   * const stats = system.stats();
   * assert.equal(stats.roots["/quiet"].actors, 1);
   * ```
   */
  stats(): ActorSystemStats {
    const roots: Record<string, ActorTreeStats> = {};
    let actors = 0;
    let queued = 0;
    let maxQueued = 0;
    for (const root of this.#roots.values()) {
      if (!root.isAlive) continue;
      const tree = { actors: 0, queued: 0, maxQueued: 0 };
      const stack: ActorCell<unknown>[] = [root];
      while (stack.length > 0) {
        const cell = stack.pop()!;
        tree.actors++;
        const q = cell.queued;
        tree.queued += q;
        if (q > tree.maxQueued) tree.maxQueued = q;
        for (const child of cell.childRefs()) {
          if (child instanceof LocalActorRef) stack.push(child.cell as ActorCell<unknown>);
        }
      }
      roots[root.path] = tree;
      actors += tree.actors;
      queued += tree.queued;
      if (tree.maxQueued > maxQueued) maxQueued = tree.maxQueued;
    }
    return { actors, queued, maxQueued, processed: this.#core.dispatcher.steps, roots };
  }

  /**
   * Spawns a root actor at `/<name>`.
   *
   * @throws {ActorNameTakenError} when a live root actor has the name.
   * @throws {TypeError} on an invalid name.
   */
  spawn<M>(behavior: Behavior<M>, name: string, options: SpawnOptions = {}): ActorRef<M> {
    checkName(name);
    if (this.#shutdown) {
      throw new CastyError(
        "SYSTEM_TERMINATED",
        `Cannot spawn actor "/${name}": system "${this.name}" is shut down`,
      );
    }
    const path = `/${name}`;
    const cell = new ActorCell<M>(
      this.#core,
      undefined,
      name,
      this.resolveBehavior(path, behavior),
      this.resolveMailbox(path, options.mailbox),
    );
    if (!this.#roots.add(name, cell as ActorCell<unknown>)) throw new ActorNameTakenError(path);
    cell.start();
    return cell.ref;
  }

  /**
   * Sends the message built by `factory` (which receives a temporary reply ref) and waits for
   * the first reply.
   *
   * @throws {AskTimeoutError} (rejection) when no reply arrives within `timeout` ms.
   */
  ask<M, R = ReplyOf<M>>(
    target: ActorRef<M>,
    factory: NoInfer<AskFactory<M, R>>,
    options: AskOptions = {},
  ): Promise<R> {
    const timeout = options.timeout ?? 5000;
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (!(timeout > 0)) {
      return Promise.reject(new RangeError(`Ask timeout must be positive, got ${timeout}`));
    }
    const { promise, resolve, reject } = Promise.withResolvers<R>();
    const id = ++askCounter;
    const ref = new AskRef<R>(this, id, this.#asks, resolve, reject);
    this.#asks.set(id, ref as AskRef<unknown>);
    ref.timer = this.scheduler.internal(
      () => ref.fail(new AskTimeoutError(target.path, timeout)),
      timeout,
    );
    if (signal) {
      ref.signal = signal;
      signal.addEventListener("abort", ref, { once: true });
    }
    try {
      target.tell(factory(ref));
    } catch (err) {
      ref.fail(err);
    }
    return promise;
  }

  /**
   * Finds a live actor by path (`/a/b`) or local URI (`casty://name/a/b`).
   *
   * @returns The ref, or `undefined` when no live actor has that path.
   */
  lookup<M = unknown>(path: string): ActorRef<M> | undefined {
    const local = this.localPath(path);
    if (local === undefined) return undefined;
    if (local.startsWith("/_ask/")) {
      const dash = local.indexOf("-", 6);
      if (dash < 0) return undefined;
      const ask = this.#asks.get(Number(local.slice(6, dash)));
      return ask && samePath(ask.path, local) ? (ask as ActorRef<M>) : undefined;
    }
    // Walk the segments without allocating an array (lookup is on the inbound message path).
    let cell: ActorCell<unknown> | undefined;
    let start = 1;
    const end = local.length;
    while (start < end) {
      let slash = local.indexOf("/", start);
      if (slash < 0) slash = end;
      if (slash > start) {
        const name = local.slice(start, slash);
        cell = cell === undefined ? this.#roots.get(name) : cell.childCell(name);
        if (cell === undefined) return undefined;
      }
      start = slash + 1;
    }
    return cell && cell.isAlive ? (cell.ref as ActorRef<M>) : undefined;
  }

  /** Tells `target` `message` every `intervalMs` under `key` (replacing that key's schedule). */
  tick<M>(key: string, target: ActorRef<M>, message: M, intervalMs: number): void {
    this.scheduler.tick(key, target, message, intervalMs);
  }

  /** Tells `target` `message` once after `delayMs` under `key` (replacing that key's schedule). */
  schedule<M>(key: string, target: ActorRef<M>, message: M, delayMs: number): void {
    this.scheduler.schedule(key, target, message, delayMs);
  }

  /** Cancels the schedule under `key`; returns whether there was one. */
  cancelSchedule(key: string): boolean {
    return this.scheduler.cancel(key);
  }

  /** The URI of a path in this system (`casty://name/path`, or with host:port once clustered). */
  addressOf(path: string): string {
    return this.#core.addressPrefix + path;
  }

  /**
   * Stops every actor, user actors (names not starting with `_`) first, then system actors;
   * then cancels every timer and rejects pending asks. Idempotent.
   */
  shutdown(): Promise<void> {
    return this.#shutdown ??= this.doShutdown();
  }

  /** Same as {@linkcode ActorSystem.shutdown}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }

  /** The steps of shutdown; subclasses extend it (calling `super.doShutdown()` last). */
  protected async doShutdown(): Promise<void> {
    if (this.#config?.system.suppressDeadLettersOnShutdown) this.#core.suppressDeadLetters = true;
    const roots = [...this.#roots.values()];
    await this.#stopAll(roots.filter((c) => !c.name.startsWith("_")));
    await this.#stopAll(roots.filter((c) => c.name.startsWith("_")));
    // Actors spawned by postStop hooks during shutdown.
    await this.#stopAll([...this.#roots.values()]);
    for (const ask of [...this.#asks.values()]) {
      ask.fail(
        new CastyError("SYSTEM_TERMINATED", `Cannot ask: system "${this.name}" shut down`),
      );
    }
    this.scheduler.close();
  }

  async #stopAll(cells: ActorCell<unknown>[]): Promise<void> {
    for (const c of cells) c.requestStop();
    await Promise.all(cells.map((c) => c.whenTerminated()));
  }

  /**
   * Turns a path or URI into a local path, or `undefined` when it names another system or
   * node. Subclasses extend it for clustered addresses.
   */
  protected localPath(pathOrUri: string): string | undefined {
    if (pathOrUri.startsWith("/")) return pathOrUri;
    const prefix = this.#core.addressPrefix;
    if (pathOrUri.startsWith(prefix + "/")) return pathOrUri.slice(prefix.length);
    return undefined;
  }

  /** The mailbox for a new actor: explicit options, else the config's, else unbounded. */
  protected resolveMailbox(path: string, explicit: Mailbox | undefined): Mailbox {
    if (explicit) return explicit;
    const config = this.#config;
    if (!config) return Mailbox.unbounded;
    const settings = resolveActorConfig(config, path).mailbox;
    let mailbox = this.#mailboxes.get(settings);
    if (!mailbox) {
      mailbox = settings.capacity === undefined && settings.strategy === "dropNew"
        ? Mailbox.unbounded
        : new Mailbox({ capacity: settings.capacity, overflow: settings.strategy });
      this.#mailboxes.set(settings, mailbox);
    }
    return mailbox;
  }

  /**
   * Wraps a behavior at spawn with the configured supervision, unless it is supervised in
   * code already or no config was given (then an actor that fails stops).
   */
  protected resolveBehavior<M>(path: string, behavior: Behavior<M>): Behavior<M> {
    const config = this.#config;
    if (!config || path.slice(path.lastIndexOf("/") + 1).startsWith("_")) return behavior;
    if (isSupervised(behavior)) return behavior;
    const s = resolveActorConfig(config, path).supervision;
    // "stop" is what an unsupervised actor does: wrapping would change nothing but the cost.
    if (s.strategy === "stop") return behavior;
    return Behaviors.supervise(
      behavior,
      new OneForOneStrategy({
        maxRestarts: s.maxRestarts,
        within: s.within,
        decider: () => s.strategy,
      }),
    );
  }

  static {
    coreOf = (system) => system.#core;
  }
}
