// The actor cell: one per actor, owning its mailbox, behavior, children and lifecycle.
// Private to src/actor/. Performance notes: no Promise per message, sync handlers take a
// fast path, mailboxes are drained in batches by the dispatcher, and an idle actor holds
// only a handful of small objects (children/watchers/mailbox storage are lazy).
import { ACTOR_REF, type ActorRef } from "./actor_ref.ts";
import type { ActorContext, SpawnOptions } from "./actor_context.ts";
import type { ActorSystem } from "./actor_system.ts";
import {
  Behavior,
  type LifecycleHooks,
  type LifecyclePayload,
  type MessageHandler,
  type SetupFactory,
  SpyEvent,
  type SpyPayload,
  type SupervisePayload,
} from "./behaviors.ts";
import type { Cancellable, Clock } from "./clock.ts";
import { ActorNameTakenError, MailboxFullError } from "./errors.ts";
import {
  ActorRestarted,
  ActorStarted,
  ActorStopped,
  DeadLetter,
  type DeadLetterReason,
  Terminated,
  UnhandledMessage,
} from "./events.ts";
import type { EventStream } from "./event_stream.ts";
import { type Logger, prefixedLogger } from "./logger.ts";
import { type Mailbox, RingQueue } from "./mailbox.ts";
import type { Scheduler } from "./scheduler.ts";
import type { SupervisionStrategy } from "./supervision.ts";
import type { Dispatcher } from "./_dispatcher.ts";
import { NameRegistry } from "./_name_registry.ts";
import { reportFailedTell } from "./_tell_safely.ts";

/**
 * What the remote layer plugs into a system (through `attachRemote` in actor_system.ts, once):
 * the node's address prefix and death watch of refs that are not local cells.
 */
export interface RemoteHooks {
  /** `casty://name@host:port`: the prefix of every local actor's URI from now on. */
  readonly addressPrefix: string;
  /** Watches a ref that is not a local cell; `false` when it is not one of the remote layer's. */
  watch(watcher: ActorCell<unknown>, ref: ActorRef<never>): boolean;
  /** Stops watching such a ref. */
  unwatch(watcher: ActorCell<unknown>, ref: ActorRef<never>): void;
  /** Called after any local cell has terminated (remote watchers of it are told). */
  cellStopped(cell: ActorCell<unknown>): void;
  /** Called when a watchable ref that is not a cell (an ask's reply ref) ends. */
  pathStopped?(path: string): void;
}

/** Everything a cell needs from its system. */
export interface SystemCore {
  readonly system: ActorSystem;
  readonly name: string;
  readonly clock: Clock;
  readonly log: Logger;
  readonly eventStream: EventStream;
  readonly scheduler: Scheduler;
  readonly dispatcher: Dispatcher;
  /** `casty://name` locally; `casty://name@host:port` once clustered. */
  addressPrefix: string;
  /** Set during shutdown when the config asks to suppress dead letters then. */
  suppressDeadLetters: boolean;
  /** Called when a root cell has terminated, to free its name. */
  rootTerminated(cell: ActorCell<unknown>): void;
  /** The remote layer's hooks; undefined while the system is local-only. */
  remote: RemoteHooks | undefined;
  /** Whether a config was given (without one, spawns need no path lookups). */
  readonly configured: boolean;
  /** Resolves the mailbox for a spawn (config overrides); explicit options win. */
  mailboxFor(path: string, explicit: Mailbox | undefined): Mailbox;
  /** Wraps a behavior with configured supervision, if any. */
  behaviorFor<M>(path: string, behavior: Behavior<M>): Behavior<M>;
}

/**
 * Refs that are not cells but can be watched carry this key: ask reply refs, which "stop" when
 * their ask ends, so that whoever watches them (a topology subscription, a remote watch) is
 * told `Terminated` and lets go of them.
 */
export const WATCHABLE: unique symbol = Symbol("casty.watchable");

/** What a watchable ref offers under {@linkcode WATCHABLE}. */
export interface Watchable {
  /** Adds a watcher; `false` when the ref has ended already. */
  addWatcher(cell: ActorCell<unknown>): boolean;
  removeWatcher(cell: ActorCell<unknown>): void;
}

function watchableOf(ref: ActorRef<never>): Watchable | undefined {
  return (ref as { [WATCHABLE]?: Watchable })[WATCHABLE];
}

const CREATED = 0;
const STARTING = 1;
const RUNNING = 2;
const RESTARTING = 3;
const SUSPENDED = 4;
const STOPPING = 5;
const STOPPED = 6;

/** The low bits of `#bits`: the lifecycle state (CREATED … STOPPED). */
const STATE = 7;
/** A handler, a hook or a restart is running (asynchronously, or the cell is in a step). */
const BUSY = 8;
/** The cell is in the dispatcher's queue. */
const SCHEDULED = 16;
/** A stop waits for the current step to end. */
const STOP_REQUESTED = 32;
/** The mailbox is bounded: its `Mailbox` is in the rare state (unbounded is the default). */
const BOUNDED = 64;
/** The mailbox field holds a ring (a queue), not EMPTY or a message (see `#box`). */
const RING = 128;

const SAME_KIND = "same";

/** The mailbox field when empty (messages may be `undefined`). */
const EMPTY: unique symbol = Symbol("empty");

type SysMsg =
  | { readonly kind: "childFailed"; readonly child: ActorCell<unknown>; readonly error: unknown }
  | { readonly kind: "fail"; readonly error: unknown };

interface Waiter {
  readonly msg: unknown;
  readonly resolve: () => void;
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === "object" && v !== null &&
    typeof (v as { then?: unknown }).then === "function";
}

/** The rarely used state of a cell (see `ActorCell.#rare`). */
class RareState {
  waiters: RingQueue<Waiter> | undefined = undefined;
  sys: SysMsg[] | undefined = undefined;
  watchers: Set<ActorCell<unknown>> | undefined = undefined;
  watching: Set<ActorRef<never>> | undefined = undefined;
  restartTimes: number[] | undefined = undefined;
  backoffTimer: Cancellable | undefined = undefined;
  terminated: PromiseWithResolvers<void> | undefined = undefined;
  drainStop = false;
  childWatch = false;
  hooks: LifecycleHooks<unknown>[] | undefined = undefined;
  strategy: SupervisionStrategy | undefined = undefined;
  spy: SpyPayload | undefined = undefined;
  log: Logger | undefined = undefined;
  children: NameRegistry<ActorCell<unknown>> | undefined = undefined;
  /** A bounded mailbox's configuration (see BOUNDED). */
  mailbox: Mailbox | undefined = undefined;
}

/** The ref of a local actor. */
export class LocalActorRef<M> implements ActorRef<M> {
  readonly #cell: ActorCell<M>;
  #path: string | undefined;

  constructor(cell: ActorCell<M>) {
    this.#cell = cell;
  }

  /** The actor's path (built on first use and kept here: an actor's cell has no field for it). */
  get path(): string {
    return this.#path ??= this.#cell.buildPath();
  }

  get [ACTOR_REF](): true {
    return true;
  }

  get address(): string {
    return this.#cell.core.addressPrefix + this.#cell.path;
  }

  tell(msg: M): void {
    this.#cell.enqueue(msg);
  }

  send(msg: M): Promise<void> {
    return this.#cell.enqueueAsync(msg);
  }

  /** @internal */
  get cell(): ActorCell<M> {
    return this.#cell;
  }

  toString(): string {
    return `ActorRef(${this.address})`;
  }

  toJSON(): string {
    return this.address;
  }
}

/** Validates an actor name. */
export function checkName(name: string): void {
  if (typeof name !== "string" || name.length === 0 || name.includes("/") || /\s/.test(name)) {
    throw new TypeError(
      `Invalid actor name ${JSON.stringify(name)}: use a non-empty name without "/" or spaces`,
    );
  }
}

const EMPTY_CELLS: readonly ActorCell<unknown>[] = [];

/** A class of cells: `ActorCell` or a subclass that keeps its parent's data on the child. */
export type CellClass = new <C>(
  core: SystemCore,
  parent: ActorCell<unknown> | undefined,
  name: string,
  behavior: Behavior<C>,
  mailbox: Mailbox,
) => ActorCell<C>;

/**
 * The cell is also the actor's context (`ActorContext`): one object per actor, not two. Its
 * context members are the ones below `self`; everything else is folder-private.
 */
export class ActorCell<M> implements ActorContext<M> {
  readonly core: SystemCore;
  /** The parent's cell (`parent`, of the context, is its ref). */
  readonly parentCell: ActorCell<unknown> | undefined;
  readonly name: string;
  #ref: LocalActorRef<M> | undefined;
  readonly #initial: Behavior<M>;

  /**
   * The state (STATE bits) and the BUSY, SCHEDULED, STOP_REQUESTED and BOUNDED flags: one
   * field, not five (an idle actor is a million times this object in a large sharded node).
   */
  #bits = CREATED;
  #handler: MessageHandler<M> | undefined;
  /**
   * The mailbox: EMPTY, or the one message it holds (most actors never hold more: no queue
   * object for them), or a ring once a second message came (kept from then on, even empty;
   * the RING bit says which, so no message is ever inspected). One field for both.
   */
  #box: unknown = EMPTY;
  /** What few actors ever use, made on first use (a million idle actors need none of it). */
  #rare: RareState | undefined;

  get #state(): number {
    return this.#bits & STATE;
  }
  set #state(v: number) {
    this.#bits = (this.#bits & ~STATE) | v;
  }
  get #children(): NameRegistry<ActorCell<unknown>> | undefined {
    return this.#rare?.children;
  }
  set #children(v: NameRegistry<ActorCell<unknown>> | undefined) {
    if (v !== undefined || this.#rare !== undefined) this.#rareState().children = v;
  }
  get #waiters(): RingQueue<Waiter> | undefined {
    return this.#rare?.waiters;
  }
  set #waiters(v: RingQueue<Waiter> | undefined) {
    if (v !== undefined || this.#rare !== undefined) this.#rareState().waiters = v;
  }
  get #sys(): SysMsg[] | undefined {
    return this.#rare?.sys;
  }
  set #sys(v: SysMsg[] | undefined) {
    if (v !== undefined || this.#rare !== undefined) this.#rareState().sys = v;
  }
  get #watchers(): Set<ActorCell<unknown>> | undefined {
    return this.#rare?.watchers;
  }
  set #watchers(v: Set<ActorCell<unknown>> | undefined) {
    if (v !== undefined || this.#rare !== undefined) this.#rareState().watchers = v;
  }
  get #watching(): Set<ActorRef<never>> | undefined {
    return this.#rare?.watching;
  }
  set #watching(v: Set<ActorRef<never>> | undefined) {
    if (v !== undefined || this.#rare !== undefined) this.#rareState().watching = v;
  }
  get #restartTimes(): number[] | undefined {
    return this.#rare?.restartTimes;
  }
  set #restartTimes(v: number[] | undefined) {
    if (v !== undefined || this.#rare !== undefined) this.#rareState().restartTimes = v;
  }
  get #backoffTimer(): Cancellable | undefined {
    return this.#rare?.backoffTimer;
  }
  set #backoffTimer(v: Cancellable | undefined) {
    if (v !== undefined || this.#rare !== undefined) this.#rareState().backoffTimer = v;
  }
  get #terminated(): PromiseWithResolvers<void> | undefined {
    return this.#rare?.terminated;
  }
  set #terminated(v: PromiseWithResolvers<void> | undefined) {
    if (v !== undefined || this.#rare !== undefined) this.#rareState().terminated = v;
  }
  /** Stop once the mailbox is empty (the messages already queued are handled first). */
  get #drainStop(): boolean {
    return this.#rare !== undefined && this.#rare.drainStop;
  }
  set #drainStop(v: boolean) {
    if (v || this.#rare !== undefined) this.#rareState().drainStop = v;
  }
  /** Every child that stops is reported to this actor as `Terminated` (no watch per child). */
  get #childWatch(): boolean {
    return this.#rare !== undefined && this.#rare.childWatch;
  }
  set #childWatch(v: boolean) {
    if (v || this.#rare !== undefined) this.#rareState().childWatch = v;
  }
  /** Lifecycle hooks of the current behavior (outermost first). */
  get #hooks(): LifecycleHooks<M>[] | undefined {
    return this.#rare?.hooks as LifecycleHooks<M>[] | undefined;
  }
  set #hooks(v: LifecycleHooks<M>[] | undefined) {
    if (v !== undefined || this.#rare !== undefined) {
      this.#rareState().hooks = v as LifecycleHooks<unknown>[] | undefined;
    }
  }
  get #strategy(): SupervisionStrategy | undefined {
    return this.#rare?.strategy;
  }
  set #strategy(v: SupervisionStrategy | undefined) {
    if (v !== undefined || this.#rare !== undefined) this.#rareState().strategy = v;
  }
  get #spy(): SpyPayload | undefined {
    return this.#rare?.spy;
  }
  set #spy(v: SpyPayload | undefined) {
    if (v !== undefined || this.#rare !== undefined) this.#rareState().spy = v;
  }
  #rareState(): RareState {
    return this.#rare ??= new RareState();
  }

  constructor(
    core: SystemCore,
    parent: ActorCell<unknown> | undefined,
    name: string,
    behavior: Behavior<M>,
    mailbox: Mailbox,
  ) {
    this.core = core;
    this.parentCell = parent;
    this.name = name;
    this.#initial = behavior;
    if (mailbox.capacity !== undefined) {
      this.#rareState().mailbox = mailbox;
      this.#bits |= BOUNDED;
    }
  }

  // ---------------------------------------------------------------- public (folder-private)

  // ------------------------------------------------------------ ActorContext (what handlers see)

  get self(): ActorRef<M> {
    return this.ref;
  }

  get system(): ActorSystem {
    return this.core.system;
  }

  get parent(): ActorRef<never> | undefined {
    return this.parentCell?.ref as ActorRef<never> | undefined;
  }

  get children(): readonly ActorRef<never>[] {
    return this.childRefs();
  }

  child(name: string): ActorRef<never> | undefined {
    return this.childNamed(name)?.ref as ActorRef<never> | undefined;
  }

  spawn<C>(behavior: Behavior<C>, name: string, options?: SpawnOptions): ActorRef<C> {
    return this.spawnChild(behavior, name, options);
  }

  stop(child: ActorRef<never>): void {
    this.stopChild(child);
  }

  /** A logger whose lines name this actor (made on first use). */
  get log(): Logger {
    return this.#rareState().log ??= prefixedLogger(this.core.log, this.path + ":");
  }

  /** Its ref, made on first use (an entity nobody asks for its ref never has one). */
  get ref(): LocalActorRef<M> {
    return this.#ref ??= new LocalActorRef(this);
  }

  /** `/a/b` (kept by the ref, made on first use). */
  get path(): string {
    return this.ref.path;
  }

  /** Builds the path (the ref keeps it). */
  buildPath(): string {
    return this.parentCell ? `${this.parentCell.path}/${this.name}` : `/${this.name}`;
  }

  get isTerminated(): boolean {
    return this.#state === STOPPED;
  }

  get isAlive(): boolean {
    return (this.#bits & STATE) < STOPPING;
  }

  /** Queues the start; called once right after construction. */
  start(): void {
    this.#schedule();
  }

  whenTerminated(): Promise<void> {
    if (this.#state === STOPPED) return Promise.resolve();
    return (this.#terminated ??= Promise.withResolvers<void>()).promise;
  }

  /** Messages waiting in the mailbox. */
  get queued(): number {
    return this.#queued();
  }

  /** Whether a message waits in the mailbox (`queued > 0`, cheaper). */
  get hasQueued(): boolean {
    return (this.#bits & RING) === 0 ? this.#box !== EMPTY : (this.#box as RingQueue<M>).length > 0;
  }

  enqueue(msg: M): void {
    const bits = this.#bits;
    if ((bits & STATE) >= STOPPING) {
      this.#deadLetter(msg, "stopped");
      return;
    }
    if ((bits & BOUNDED) !== 0 && !this.#makeRoom(msg)) return;
    this.#push(msg);
    if ((this.#bits & (SCHEDULED | BUSY)) === 0) this.#schedule();
  }

  /**
   * Makes room in a full bounded mailbox for `msg`, or drops it (false) or throws, as its
   * overflow strategy says.
   */
  #makeRoom(msg: M): boolean {
    const config = this.#rare!.mailbox!;
    const cap = config.capacity!;
    if (this.#queued() >= cap || (this.#waiters?.length ?? 0) > 0) {
      switch (config.overflow) {
        case "dropNew":
          this.#deadLetter(msg, "mailboxFull");
          return false;
        case "dropOldest":
          this.#deadLetter(this.#shift(), "mailboxFull");
          break;
        case "backpressure":
          throw new MailboxFullError(this.path, cap, msg);
      }
    }
    return true;
  }

  enqueueAsync(msg: M): Promise<void> {
    const config = (this.#bits & BOUNDED) !== 0 ? this.#rare!.mailbox! : undefined;
    if (
      this.#state >= STOPPING || config === undefined || config.overflow !== "backpressure" ||
      (this.#queued() < config.capacity! && (this.#waiters?.length ?? 0) === 0)
    ) {
      try {
        this.enqueue(msg);
        return Promise.resolve();
      } catch (err) {
        return Promise.reject(err);
      }
    }
    const { promise, resolve } = Promise.withResolvers<void>();
    (this.#waiters ??= new RingQueue<Waiter>()).push({ msg, resolve });
    return promise;
  }

  childRefs(): ActorRef<never>[] {
    if (!this.#children) return [];
    const out: ActorRef<never>[] = [];
    for (const c of this.#children.values()) if (c.isAlive) out.push(c.ref as ActorRef<never>);
    return out;
  }

  childNamed(name: string): ActorCell<unknown> | undefined {
    const c = this.#children?.get(name);
    return c && c.isAlive ? c : undefined;
  }

  /** Any child, alive or stopping (for lookup of paths). */
  childCell(name: string): ActorCell<unknown> | undefined {
    const rare = this.#rare;
    const children = rare === undefined ? undefined : rare.children;
    return children === undefined ? undefined : children.get(name);
  }

  /**
   * The registry of its children (made now if it has none; the same object for the cell's whole
   * life): for a parent that looks its children up per message (a sharding region).
   */
  childRegistry(): NameRegistry<ActorCell<unknown>> {
    return this.#children ??= new NameRegistry();
  }

  /** Every child in the registry, alive or stopping (not yet terminated). */
  childCells(): IterableIterator<ActorCell<unknown>> {
    return this.#children === undefined ? EMPTY_CELLS.values() : this.#children.values();
  }

  spawnChild<C>(behavior: Behavior<C>, name: string, options?: SpawnOptions): ActorRef<C> {
    checkName(name);
    return this.spawnChildCell(behavior, name, options).ref;
  }

  /**
   * Spawns a child whose name the caller made valid (no `checkName`), and returns its cell.
   * `cls` makes the cell (a subclass keeps the parent's data on it: sharding's entities);
   * `absent`: the caller knows no child has the name (one registry lookup less).
   *
   * @throws {ActorNameTakenError} when a live child already has the name.
   */
  spawnChildCell<C>(
    behavior: Behavior<C>,
    name: string,
    options?: SpawnOptions,
    cls: CellClass = ActorCell as CellClass,
    absent = false,
  ): ActorCell<C> {
    const children = this.#children ??= new NameRegistry();
    // Without a config the path is not needed yet: the child builds it on first use.
    const core = this.core;
    const path = core.configured ? `${this.path}/${name}` : undefined;
    let b = path === undefined ? behavior : core.behaviorFor(path, behavior);
    if (this.#spy?.spyChildren) {
      b = new Behavior<C>("spy", { ...this.#spy, inner: b } as SpyPayload);
    }
    const mailbox = path === undefined
      ? options?.mailbox ?? core.mailboxFor("", undefined)
      : core.mailboxFor(path, options?.mailbox);
    const cell = new cls<C>(core, this as ActorCell<unknown>, name, b, mailbox);
    // One registry lookup (a cell that is never started costs nothing more).
    if (absent) children.insertAbsent(name, cell as ActorCell<unknown>);
    else if (!children.add(name, cell as ActorCell<unknown>)) {
      throw new ActorNameTakenError(`${this.path}/${name}`);
    }
    if (this.#state >= STOPPING) {
      // A stopping parent cannot adopt new children: the child stops before it starts.
      cell.#state = STOPPED;
      children.delete(name);
      return cell;
    }
    cell.start();
    return cell;
  }

  stopChild(ref: ActorRef<never>): void {
    const cell = (ref as unknown as LocalActorRef<unknown>).cell as ActorCell<unknown> | undefined;
    if (!(ref instanceof LocalActorRef) || cell?.parentCell !== (this as ActorCell<unknown>)) {
      throw new TypeError(
        `Cannot stop "${ref.path}" from "${this.path}": only direct children can be stopped`,
      );
    }
    cell.requestStop();
  }

  /**
   * Stops after the messages in the mailbox are handled (a later `requestStop` still stops at
   * once). Whoever asks must stop sending first, or the drain may not end.
   */
  requestStopWhenDrained(): void {
    if (this.#state >= STOPPING || this.#drainStop) return;
    this.#drainStop = true;
    if ((this.#bits & (SCHEDULED | BUSY)) === 0) this.#schedule();
  }

  /** Reports every child that stops from now on as `Terminated(child)` (see `watchChildren`). */
  watchChildren(): void {
    this.#childWatch = true;
  }

  requestStop(): void {
    if (this.#state >= STOPPING) return;
    if ((this.#bits & BUSY) !== 0 || this.#state === CREATED) {
      this.#bits |= STOP_REQUESTED;
      if (this.#state === CREATED && (this.#bits & SCHEDULED) === 0) this.#schedule();
      if (this.#state === RESTARTING && this.#backoffTimer) {
        this.#backoffTimer.cancel();
        this.#backoffTimer = undefined;
        this.#bits &= ~BUSY;
        this.#stop();
      }
      return;
    }
    this.#stop();
  }

  watch(ref: ActorRef<never>): void {
    if (ref instanceof LocalActorRef) {
      const target = ref.cell as ActorCell<unknown>;
      if (target === (this as ActorCell<unknown>)) return;
      (this.#watching ??= new Set()).add(ref as ActorRef<never>);
      if (target.#state === STOPPED) {
        this.#deliverTerminated(ref as ActorRef<never>);
      } else {
        (target.#watchers ??= new Set()).add(this as ActorCell<unknown>);
      }
      return;
    }
    const watchable = watchableOf(ref);
    if (watchable) {
      (this.#watching ??= new Set()).add(ref);
      if (!watchable.addWatcher(this as ActorCell<unknown>)) this.#deliverTerminated(ref);
      return;
    }
    if (this.core.remote?.watch(this as ActorCell<unknown>, ref)) {
      (this.#watching ??= new Set()).add(ref);
      return;
    }
    throw new TypeError(`Cannot watch "${ref.address}": not a local actor or a remote actor ref`);
  }

  unwatch(ref: ActorRef<never>): void {
    if (!this.#watching?.delete(ref)) return;
    if (ref instanceof LocalActorRef) {
      (ref.cell as ActorCell<unknown>).#watchers?.delete(this as ActorCell<unknown>);
    } else if (watchableOf(ref)) {
      watchableOf(ref)!.removeWatcher(this as ActorCell<unknown>);
    } else {
      this.core.remote?.unwatch(this as ActorCell<unknown>, ref);
    }
  }

  /** Delivers `Terminated(ref)` if this actor still watches `ref` (used for remote refs too). */
  deliverTerminated(ref: ActorRef<never>): void {
    this.#deliverTerminated(ref);
  }

  pipeToSelf<T>(
    promise: Promise<T>,
    onSuccess: (value: T) => M,
    onFailure?: (error: unknown) => M,
  ): void {
    promise.then(
      (value) => {
        let msg: M;
        try {
          msg = onSuccess(value);
        } catch (err) {
          this.#sysEnqueue({ kind: "fail", error: err });
          return;
        }
        this.#enqueueFromCallback(msg);
      },
      (error) => {
        if (!onFailure) {
          this.#sysEnqueue({ kind: "fail", error });
          return;
        }
        let msg: M;
        try {
          msg = onFailure(error);
        } catch (err) {
          this.#sysEnqueue({ kind: "fail", error: err });
          return;
        }
        this.#enqueueFromCallback(msg);
      },
    );
  }

  // A throw inside a promise callback is an unhandled rejection, which kills the process:
  // a full `backpressure` mailbox turns the piped message into a DeadLetter instead.
  #enqueueFromCallback(msg: M): void {
    try {
      this.enqueue(msg);
    } catch (err) {
      reportFailedTell(this.core, this.ref as ActorRef<never>, msg, err, `${this.path} pipeToSelf`);
    }
  }

  /**
   * Runs up to `budget` steps (messages, system messages, start). Called by the dispatcher.
   * Returns how many steps ran.
   */
  run(budget: number): number {
    let n = 0;
    if ((this.#bits & STATE) === CREATED) {
      n++;
      this.#begin();
    }
    while (n < budget && (this.#bits & BUSY) === 0) {
      // `#rare` read directly here (its accessors are not inlined everywhere: Bun).
      const rare = this.#rare;
      const sys = rare === undefined ? undefined : rare.sys;
      if (sys !== undefined && sys.length > 0) {
        n++;
        this.#handleSys(sys.shift()!);
        continue;
      }
      if ((this.#bits & STATE) !== RUNNING) break;
      if ((this.#bits & STOP_REQUESTED) !== 0) {
        this.#stop();
        break;
      }
      let msg: M;
      const box = this.#box;
      if ((this.#bits & RING) === 0 ? box === EMPTY : (box as RingQueue<M>).length === 0) {
        if (rare !== undefined && rare.drainStop) this.#stop();
        break;
      }
      if ((this.#bits & RING) === 0) {
        msg = box as M;
        this.#box = EMPTY;
      } else msg = (box as RingQueue<M>).shift() as M;
      if (rare !== undefined && rare.waiters !== undefined && rare.waiters.length > 0) {
        this.#admitWaiter();
      }
      n++;
      let result: unknown;
      try {
        result = this.#handler!(this, msg);
      } catch (err) {
        this.#fail(err);
        continue;
      }
      if (result === undefined || (result as Behavior<M>).kind === SAME_KIND) {
        if (rare !== undefined && rare.spy !== undefined) this.#reportSpy(msg);
        continue;
      }
      if (isThenable(result)) {
        this.#bits |= BUSY;
        result.then(
          (b) => this.#afterAsync(b, msg),
          (err) => this.#afterAsyncError(err),
        );
        break;
      }
      if (rare !== undefined && rare.spy !== undefined) this.#reportSpy(msg);
      this.#become(result, msg);
    }
    this.#bits &= ~SCHEDULED;
    if ((this.#bits & BUSY) === 0 && this.#hasWork()) this.#schedule();
    return n;
  }

  // ---------------------------------------------------------------- private

  /** Messages in the mailbox (the one-message slot and the ring). */
  #queued(): number {
    const box = this.#box;
    return (this.#bits & RING) !== 0 ? (box as RingQueue<M>).length : box === EMPTY ? 0 : 1;
  }

  /** Appends to the mailbox (no checks). */
  #push(msg: M): void {
    const box = this.#box;
    if ((this.#bits & RING) !== 0) (box as RingQueue<M>).push(msg);
    else if (box === EMPTY) this.#box = msg;
    else {
      const ring = new RingQueue<M>(4);
      ring.push(box as M);
      ring.push(msg);
      this.#box = ring;
      this.#bits |= RING;
    }
  }

  /** Takes the oldest message (the mailbox must not be empty). */
  #shift(): M {
    const box = this.#box;
    if ((this.#bits & RING) !== 0) return (box as RingQueue<M>).shift() as M;
    this.#box = EMPTY;
    return box as M;
  }

  #schedule(): void {
    this.#bits |= SCHEDULED;
    this.core.dispatcher.schedule(this as ActorCell<unknown>);
  }

  #hasWork(): boolean {
    if (this.#sys !== undefined && this.#sys.length > 0) return true;
    if ((this.#bits & STATE) === RUNNING) {
      return (this.#bits & STOP_REQUESTED) !== 0 || this.#drainStop || this.hasQueued;
    }
    return false;
  }

  #sysEnqueue(msg: SysMsg): void {
    if (this.#state >= STOPPING) {
      if (msg.kind === "fail") this.core.log.error(`${this.path}: failure after stop`, msg.error);
      return;
    }
    (this.#sys ??= []).push(msg);
    if ((this.#bits & (SCHEDULED | BUSY)) === 0) this.#schedule();
  }

  #handleSys(msg: SysMsg): void {
    switch (msg.kind) {
      case "childFailed":
        if (this.#children?.get(msg.child.name) === msg.child) this.#fail(msg.error);
        break;
      case "fail":
        this.#fail(msg.error);
        break;
    }
  }

  #admitWaiter(): void {
    const w = this.#waiters!.shift()!;
    this.#push(w.msg as M);
    w.resolve();
  }

  #deadLetter(msg: unknown, reason: DeadLetterReason): void {
    if (this.core.suppressDeadLetters) return;
    this.core.eventStream.publish(new DeadLetter(msg, this.ref as ActorRef<never>, reason));
  }

  #reportSpy(msg: M): void {
    const spy = this.#spy!;
    try {
      spy.observer.tell(new SpyEvent(this.path, msg, this.core.clock.now()));
    } catch (err) {
      this.core.log.warn(`${this.path}: cannot report to spy ${spy.observer.path}`, err);
    }
  }

  #begin(): void {
    // Even when a stop was requested before start, the actor starts first so that preStart
    // and postStop always come in pairs.
    const initial = this.#initial;
    if (initial instanceof Behavior && initial.kind === "receive") {
      // The common case (nothing to unwrap, nothing asynchronous): no closure for `#enter`.
      this.#handler = initial.payload as MessageHandler<M>;
      this.#state = RUNNING;
      this.#publishStarted();
      return;
    }
    this.#state = STARTING;
    this.#bits |= BUSY;
    this.#enter(this.#initial, false, () => {
      this.#bits &= ~BUSY;
      if (this.#state !== STARTING) return;
      this.#state = RUNNING;
      this.#publishStarted();
    });
  }

  #publishStarted(): void {
    const es = this.core.eventStream;
    if (es.hasSubscribers(ActorStarted)) es.publish(new ActorStarted(this.ref as ActorRef<never>));
  }

  /**
   * Unwraps `behavior` down to a receive handler, running setup factories and lifecycle
   * hooks on the way. Sync all the way unless a factory or hook returns a promise. Calls
   * `done` once installed; on failure, fails the actor instead.
   */
  #enter(behavior: Behavior<M>, restarting: boolean, done: () => void): void {
    let b: Behavior<M> = behavior;
    try {
      for (;;) {
        if (!(b instanceof Behavior)) {
          throw new TypeError(`expected a Behavior, got ${describe(b)}`);
        }
        switch (b.kind) {
          case "receive":
            this.#handler = b.payload as MessageHandler<M>;
            done();
            return;
          case "setup": {
            const next = (b.payload as SetupFactory<M>)(this);
            if (isThenable(next)) {
              next.then(
                (nb) => this.#enterAsync(nb as Behavior<M>, restarting, done),
                (err) => this.#enterFailed(err),
              );
              return;
            }
            b = next;
            continue;
          }
          case "lifecycle": {
            const p = b.payload as LifecyclePayload;
            const hooks = p.hooks as LifecycleHooks<M>;
            (this.#hooks ??= []).push(hooks);
            const hook = restarting ? (hooks.postRestart ?? hooks.preStart) : hooks.preStart;
            const inner = p.inner as Behavior<M>;
            if (hook) {
              const r = hook(this);
              if (isThenable(r)) {
                r.then(
                  () => this.#enterAsync(inner, restarting, done),
                  (err) => this.#enterFailed(err),
                );
                return;
              }
            }
            b = inner;
            continue;
          }
          case "supervise": {
            const p = b.payload as SupervisePayload;
            this.#strategy ??= p.strategy;
            b = p.inner as Behavior<M>;
            continue;
          }
          case "spy": {
            const p = b.payload as SpyPayload;
            this.#spy ??= p;
            b = p.inner as Behavior<M>;
            continue;
          }
          case "stopped":
            this.#bits &= ~BUSY;
            this.#state = RUNNING;
            this.#stop();
            return;
          case "persisted":
            throw new TypeError(
              "Behaviors.persisted() can only be returned from an event-sourced command handler",
            );
          case "marker":
            throw new TypeError(
              `${
                (b.payload as { name?: string })?.name ?? "This behavior"
              } can only be spawned on a ClusteredActorSystem`,
            );
          default:
            throw new TypeError(`Behaviors.${b.kind}() cannot be an actor's initial behavior`);
        }
      }
    } catch (err) {
      this.#enterFailed(err);
    }
  }

  #enterAsync(b: Behavior<M>, restarting: boolean, done: () => void): void {
    if (this.#state >= STOPPING) return;
    this.#enter(b, restarting, () => {
      done();
      this.#resume();
    });
  }

  #enterFailed(err: unknown): void {
    this.#bits &= ~BUSY;
    if (this.#state === STARTING || this.#state === RESTARTING) this.#state = RUNNING;
    this.#fail(err);
    this.#resume();
  }

  /** After async work completes: continue processing or honour a pending stop. */
  #resume(): void {
    if ((this.#bits & BUSY) !== 0) return;
    if ((this.#bits & STOP_REQUESTED) !== 0 && this.#state < STOPPING) {
      if (this.#state !== RUNNING) this.#state = RUNNING;
      this.#stop();
      return;
    }
    if ((this.#bits & SCHEDULED) === 0 && this.#hasWork()) this.#schedule();
  }

  #afterAsync(result: unknown, msg: M): void {
    this.#bits &= ~BUSY;
    if (this.#state >= STOPPING) return;
    if (this.#spy !== undefined) this.#reportSpy(msg);
    if (result !== undefined && (result as Behavior<M>).kind !== SAME_KIND) {
      this.#become(result, msg);
    }
    this.#resume();
  }

  #afterAsyncError(err: unknown): void {
    this.#bits &= ~BUSY;
    if (this.#state >= STOPPING) return;
    this.#fail(err);
    this.#resume();
  }

  #become(result: unknown, msg: M): void {
    if (!(result instanceof Behavior)) {
      this.#fail(
        new TypeError(
          `Handler of "${this.path}" returned ${describe(result)}; return a Behavior or undefined`,
        ),
      );
      return;
    }
    switch (result.kind) {
      case "receive":
        this.#handler = result.payload as MessageHandler<M>;
        return;
      case "same":
        return;
      case "unhandled":
        this.core.eventStream.publish(new UnhandledMessage(this.ref as ActorRef<never>, msg));
        return;
      case "stopped":
        this.#stop();
        return;
      case "restart":
        this.#restart(undefined);
        return;
      default:
        this.#bits |= BUSY;
        this.#enter(result as Behavior<M>, false, () => {
          this.#bits &= ~BUSY;
        });
        if ((this.#bits & BUSY) === 0) return;
    }
  }

  #fail(error: unknown): void {
    if (this.#state >= STOPPING) {
      this.core.log.error(`${this.path}: failed while stopping`, error);
      return;
    }
    const strategy = this.#strategy;
    let directive: string = "stop";
    if (strategy) {
      try {
        directive = strategy.decide(
          error,
          this.#restartTimes ??= [],
          this.core.clock.now(),
        );
      } catch (err) {
        this.core.log.error(`${this.path}: supervision decider threw; stopping`, err);
        directive = "stop";
      }
    }
    switch (directive) {
      case "restart":
        this.core.log.warn(`${this.path}: restarting after failure`, error);
        this.#restart(error);
        return;
      case "escalate":
        if (this.parentCell && this.parentCell.isAlive) {
          this.core.log.warn(`${this.path}: escalating failure to ${this.parentCell.path}`, error);
          this.#state = SUSPENDED;
          this.parentCell.#sysEnqueue({
            kind: "childFailed",
            child: this as ActorCell<unknown>,
            error,
          });
          return;
        }
        this.core.log.error(`${this.path}: failed with nowhere to escalate; stopping`, error);
        this.#stop();
        return;
      default:
        this.core.log.error(`${this.path}: failed; stopping`, error);
        this.#stop();
    }
  }

  #restart(error: unknown): void {
    this.#bits |= BUSY;
    this.#state = RESTARTING;
    const hooks = this.#hooks;
    const run = async () => {
      if (hooks) {
        for (let i = hooks.length - 1; i >= 0; i--) {
          const h = hooks[i];
          try {
            if (h.preRestart) await h.preRestart(this, error);
            else if (h.postStop) await h.postStop(this);
          } catch (err) {
            this.core.log.error(`${this.path}: preRestart hook failed`, err);
          }
        }
      }
      await this.#stopChildren();
    };
    const afterCleanup = () => {
      if ((this.#bits & STOP_REQUESTED) !== 0) {
        this.#bits &= ~BUSY;
        this.#state = RUNNING;
        this.#hooks = undefined;
        this.#stop();
        return;
      }
      // The strategy that decided this restart sets the backoff (the next incarnation
      // installs its strategy again when its behavior is unwrapped).
      const delay = this.#strategy?.restartDelay(this.#restartTimes?.length ?? 1) ?? 0;
      this.#hooks = undefined;
      this.#strategy = undefined;
      this.#spy = undefined;
      this.#handler = undefined;
      const go = () => {
        this.#backoffTimer = undefined;
        this.#enter(this.#initial, true, () => {
          this.#bits &= ~BUSY;
          if (this.#state !== RESTARTING) return;
          this.#state = RUNNING;
          this.core.eventStream.publish(new ActorRestarted(this.ref as ActorRef<never>, error));
          this.#resume();
        });
      };
      if (delay > 0) this.#backoffTimer = this.core.scheduler.internal(go, delay);
      else go();
    };
    if (!hooks && (!this.#children || this.#children.size === 0)) {
      afterCleanup();
    } else {
      run().then(afterCleanup, (err) => {
        this.core.log.error(`${this.path}: restart cleanup failed`, err);
        afterCleanup();
      });
    }
  }

  async #stopChildren(): Promise<void> {
    const children = this.#children;
    if (!children || children.size === 0) return;
    const waits: Promise<void>[] = [];
    for (const c of children.values()) {
      c.requestStop();
      if (!c.isTerminated) waits.push(c.whenTerminated());
    }
    await Promise.all(waits);
  }

  #stop(): void {
    if (this.#state >= STOPPING) return;
    this.#state = STOPPING;
    this.#bits |= BUSY;
    if (this.#backoffTimer) {
      this.#backoffTimer.cancel();
      this.#backoffTimer = undefined;
    }
    const hasChildren = this.#children !== undefined && this.#children.size > 0;
    if (!hasChildren && !this.#hooks) {
      this.#finishStop();
      return;
    }
    (async () => {
      await this.#stopChildren();
      const hooks = this.#hooks;
      if (hooks) {
        for (let i = hooks.length - 1; i >= 0; i--) {
          const h = hooks[i];
          if (!h.postStop) continue;
          try {
            await h.postStop(this);
          } catch (err) {
            this.core.log.error(`${this.path}: postStop hook failed`, err);
          }
        }
      }
    })().then(
      () => this.#finishStop(),
      (err) => {
        this.core.log.error(`${this.path}: stop failed`, err);
        this.#finishStop();
      },
    );
  }

  #finishStop(): void {
    this.#state = STOPPED;
    this.#bits &= ~BUSY;
    this.#hooks = undefined;
    this.#handler = undefined;
    const self = this as ActorCell<unknown>;
    if (this.parentCell) {
      const siblings = this.parentCell.#children;
      if (siblings?.get(this.name) === self) siblings.delete(this.name);
      const parent = this.parentCell;
      // A stopping parent is stopping its children itself: it needs no Terminated for them.
      if (parent.#childWatch && parent.#state < STOPPING) {
        parent.#push(new Terminated(this.ref));
        if ((parent.#bits & (SCHEDULED | BUSY)) === 0) parent.#schedule();
      }
    } else {
      this.core.rootTerminated(self);
    }
    if (this.#watching) {
      for (const ref of this.#watching) {
        if (ref instanceof LocalActorRef) (ref.cell as ActorCell<unknown>).#watchers?.delete(self);
        else if (watchableOf(ref)) watchableOf(ref)!.removeWatcher(self);
        else this.core.remote?.unwatch(self, ref);
      }
      this.#watching = undefined;
    }
    const es = this.core.eventStream;
    // A stopped actor's event subscriptions end with it (else each event becomes a DeadLetter).
    es.unsubscribeRef(this.ref as ActorRef<never>);
    if (es.hasSubscribers(ActorStopped)) es.publish(new ActorStopped(this.ref as ActorRef<never>));
    if (this.#watchers) {
      const ref = this.ref as ActorRef<never>;
      for (const w of this.#watchers) w.#deliverTerminated(ref);
      this.#watchers = undefined;
    }
    while (this.#queued() > 0) this.#deadLetter(this.#shift(), "stopped");
    const waiters = this.#waiters;
    if (waiters && waiters.length > 0) {
      for (const w of waiters.clear()) {
        this.#deadLetter(w.msg, "stopped");
        w.resolve();
      }
    }
    this.#sys = undefined;
    this.core.remote?.cellStopped(self);
    this.#terminated?.resolve();
  }

  #deliverTerminated(ref: ActorRef<never>): void {
    if (!this.#watching?.has(ref)) return;
    this.#watching.delete(ref);
    const msg = new Terminated(ref) as M;
    if (this.#state >= STOPPING) {
      this.#deadLetter(msg, "stopped");
      return;
    }
    // Like a system message, Terminated is never dropped by a bounded mailbox's overflow
    // strategy: death watch must not be lost to a full mailbox.
    this.#push(msg);
    if ((this.#bits & (SCHEDULED | BUSY)) === 0) this.#schedule();
  }
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (typeof v === "object") return `an object (${(v as object).constructor?.name ?? "Object"})`;
  return `a ${typeof v} (${String(v)})`;
}

/** The cell of a local actor's ref; `undefined` for any other ref. */
export function localCell(ref: ActorRef<never>): ActorCell<unknown> | undefined {
  return ref instanceof LocalActorRef ? ref.cell as ActorCell<unknown> : undefined;
}

/**
 * Resolves once the local actor of `ref` has terminated (its children stopped, its postStop
 * hooks ran and its name is free again).
 *
 * @throws {TypeError} when `ref` is not a local actor's ref.
 */
export function terminationOf(ref: ActorRef<never>): Promise<void> {
  if (!(ref instanceof LocalActorRef)) {
    throw new TypeError(`Cannot await the termination of "${ref.path}": not a local actor`);
  }
  return (ref.cell as ActorCell<unknown>).whenTerminated();
}

/**
 * From now on, every child of the actor of `ctx` that stops is reported to it as
 * `Terminated(child)`, like a watch of each child but without a watch set per child (what
 * sharding uses for its entities: a million children cost a million watcher sets otherwise).
 * Children that stop while the actor itself stops are not reported.
 */
export function watchChildren(ctx: ActorContext<unknown>): void {
  const self = ctx.self;
  if (!(self instanceof LocalActorRef)) {
    throw new TypeError(`Cannot watch the children of "${self.path}": not a local actor`);
  }
  (self.cell as ActorCell<unknown>).watchChildren();
}

/**
 * Stops `child`, a direct child of the actor of `ctx`, once it has handled the messages already
 * in its mailbox (the parent stops sending to it first). A later `ctx.stop(child)` still stops it
 * at once. Used by sharding to hand an entity off without counting every message.
 */
export function stopWhenDrained(ctx: ActorContext<unknown>, child: ActorRef<never>): void {
  const cell = child instanceof LocalActorRef ? child.cell as ActorCell<unknown> : undefined;
  if (cell === undefined || cell.parentCell?.path !== ctx.self.path) {
    throw new TypeError(
      `Cannot stop "${child.path}" from "${ctx.self.path}": only direct children can be stopped`,
    );
  }
  cell.requestStopWhenDrained();
}
