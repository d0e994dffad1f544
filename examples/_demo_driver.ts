/**
 * The driver of `examples/demo.ts` (started as a child process; not an example on its own).
 * Usage: `_demo_driver.ts <dir> [--short] [--seed host:port]...`; the cluster secret comes from
 * `CASTY_CLUSTER_SECRET`. Opens the accounts, drives deposits and transfers (withdraw, then
 * deposit) and records every acknowledged one, asks for a node to be killed mid-run, follows the
 * failover, audits under a distributed lock, and proves the final balances against its record.
 * Speaks JSON lines: prints events on stdout, reads `{"killed":port}` on stdin.
 *
 * @module
 */
import process from "node:process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import {
  type ActorRef,
  Behaviors,
  ClusterClient,
  ClusteredActorSystem,
  type DistributedApi,
  entityShard,
  type Member,
  type NodeAddress,
  type ShardAllocation,
  type ShardEnvelope,
  SqliteJournal,
} from "../mod.ts";
import {
  type AccountCmd,
  ACCOUNTS,
  type AccountView,
  BANK_ROLE,
  clusterTuning,
  emit,
  NUM_SHARDS,
  REPLICATION,
  type Reply,
  SYSTEM,
} from "./_demo_shared.ts";

// ---------------------------------------------------------------- how the driver reaches the bank

/** The cluster as the driver sees it. */
interface ClusterView {
  readonly up: readonly number[];
  readonly down: readonly number[];
  readonly unreachable: readonly number[];
  readonly all: readonly number[];
  /** The leader's port (its coordinator grants the shards' leases). */
  readonly leader: number | undefined;
  /** Shard → port of its primary, for the accounts. */
  readonly primaries: ReadonlyMap<number, number>;
}

/** What the driver needs from the cluster: swap this to drive it from a cluster client. */
interface Bank {
  /** Applies one operation to one account. */
  apply(account: string, op: string, amount: number): Promise<Reply>;
  /** An account's balance and applied-operation count. */
  view(account: string): Promise<AccountView>;
  /** The counter of completed transfers. */
  readonly transfers: { increment(): Promise<number>; get(): Promise<number> };
  /** The lock that guards the audits. */
  readonly audit: {
    acquire(options: { timeout: number }): Promise<number>;
    release(): Promise<boolean>;
  };
  /** The current view of the cluster. */
  cluster(): Promise<ClusterView>;
  /** How it reaches the cluster, for the output. */
  readonly kind: string;
  /** Routing details when something keeps failing (a client's view of the counter's shard). */
  diagnose?(): Record<string, unknown>;
  close(): Promise<void>;
}

const ASK_TIMEOUT = 2000;

/** The accounts, the counter and the lock through a node or a client (the same calls). */
function through(
  via: Pick<ClusteredActorSystem, "entityAsk">,
  accounts: ActorRef<ShardEnvelope<AccountCmd>>,
  d: Pick<DistributedApi, "counter" | "lock">,
): Pick<Bank, "apply" | "view" | "transfers" | "audit"> {
  return {
    apply: (id, op, amount) =>
      via.entityAsk<AccountCmd, Reply>(
        accounts,
        id,
        (replyTo) => ({ type: "apply", op, amount, replyTo }),
        { timeout: ASK_TIMEOUT },
      ),
    view: (id) =>
      via.entityAsk<AccountCmd, AccountView>(
        accounts,
        id,
        (replyTo) => ({ type: "view", replyTo }),
        { timeout: ASK_TIMEOUT },
      ),
    transfers: d.counter("transfers", { timeout: ASK_TIMEOUT }),
    audit: d.lock("audit", { lease: 5000 }),
  };
}

/** The driver as a cluster member with the role "driver" (it hosts no accounts). */
async function memberBank(dir: string, seeds: string[], short: boolean): Promise<Bank> {
  const structures = new SqliteJournal({ path: join(dir, "structures.db"), synchronous: "normal" });
  const node = await ClusteredActorSystem.start({
    name: SYSTEM,
    host: "127.0.0.1",
    port: 0,
    seedNodes: seeds,
    roles: ["driver"],
    logLevel: "error",
    ...clusterTuning(short),
  });
  const accounts = node.spawn(
    Behaviors.sharded<AccountCmd>(() => {
      throw new Error("the driver hosts no accounts");
    }, { numShards: NUM_SHARDS, role: BANK_ROLE, replication: REPLICATION }),
    ACCOUNTS,
  );
  const d = node.distributed({ journal: structures });
  return {
    kind: 'a cluster member with the role "driver" (hosts no accounts)',
    ...through(node, accounts, d),
    cluster: async () => viewOf(await node.getClusterState()),
    async close() {
      await node.shutdown();
      await structures.close();
    },
  };
}

/** The driver as a `ClusterClient`: outside the cluster, it routes straight to each owner. */
async function clientBank(seeds: string[]): Promise<Bank> {
  const client = await ClusterClient.connect({
    contactPoints: seeds,
    systemName: SYSTEM,
    secret: process.env.CASTY_CLUSTER_SECRET,
    logLevel: "error",
  });
  const accounts = client.entityRef<AccountCmd>(ACCOUNTS, { numShards: NUM_SHARDS });
  const d = client.distributed();
  return {
    kind: "a ClusterClient (not a member: it routes each command to the shard's owner)",
    ...through(client, accounts, d),
    cluster: () => Promise.resolve(viewOf(client.getClusterState())),
    diagnose: () => {
      const st = client.getClusterState();
      const shard = entityShard("_dd:counter:transfers", 100);
      return {
        shard,
        allocation: st.allocations["casty-distributed-100"]?.[shard],
        epoch: st.allocationEpoch,
        breakers: st.breakers,
        buffered: st.buffered,
        contact: st.contact,
        members: st.members.map((m) => `${m.address.port}:${m.status}`),
      };
    },
    close: () => client.close(),
  };
}

/** The driver's view of a cluster state (a node's or a client's). */
function viewOf(s: {
  readonly members: readonly Member[];
  readonly leader: NodeAddress | undefined;
  readonly unreachable: readonly NodeAddress[];
  readonly allocations: Readonly<Record<string, Readonly<Record<number, ShardAllocation>>>>;
}): ClusterView {
  const bank = s.members.filter((m) => m.roles.includes(BANK_ROLE));
  const primaries = new Map<number, number>();
  for (const [shard, a] of Object.entries(s.allocations[ACCOUNTS] ?? {})) {
    primaries.set(Number(shard), a.primary.port);
  }
  return {
    up: bank.filter((m) => m.status === "up").map((m) => m.address.port),
    down: bank.filter((m) => m.status === "down").map((m) => m.address.port),
    all: bank.map((m) => m.address.port),
    leader: s.leader?.port,
    unreachable: s.unreachable.map((a) => a.port),
    primaries,
  };
}

// ---------------------------------------------------------------- the run

const args = process.argv.slice(2);
const dir = args[0];
const short = args.includes("--short");
const seeds = args.flatMap((a, i) => args[i - 1] === "--seed" ? [a] : []);

const PLAN: {
  accounts: number;
  workers: number;
  load: number;
  auditAt: number[];
  killAt: number;
  joinAt?: number;
} = short ? { accounts: 12, workers: 16, load: 6000, auditAt: [1000], killAt: 1500 } : {
  accounts: 24,
  workers: 32,
  load: 55_000,
  auditAt: [8000, 42_000],
  killAt: 18_000,
  joinAt: args.includes("--rejoin") ? 32_000 : undefined,
};
const INITIAL = 1000;
const GIVE_UP = short ? 30_000 : 60_000;

const ids = Array.from({ length: PLAN.accounts }, (_, i) => `acct-${String(i).padStart(2, "0")}`);
const expected = new Map(ids.map((id) => [id, 0]));
const appliedOps = new Map(ids.map((id) => [id, 0]));
const stats = {
  acked: 0,
  deposits: 0,
  depositSum: 0,
  transfers: 0,
  rejected: 0,
  retries: 0,
  unresolved: 0,
  counterAcked: 0,
  counterFailed: 0,
};
const latencies: number[] = []; // all acknowledged commands, ms
let windowLat: number[] = [];
let windowNodes: Record<number, number> = {};
const start = Date.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const random = (n: number) => Math.floor(Math.random() * n);
const percentile = (xs: number[], p: number) => {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

// A ClusterClient by default (the driver is outside the cluster, as a web server would be);
// `--member` drives from a member node instead.
const bank = args.includes("--member")
  ? await memberBank(dir, seeds, short)
  : await clientBank(seeds);
emit({ event: "driver", kind: bank.kind });

// Failover observation: the accounts whose primary was the killed node.
let killedAt: number | undefined;
let victim: number | undefined;
let orphans = new Set<string>();
let firstServed: number | undefined;
let lastServed = 0;

/** Applies one operation, retrying (same id) until it is acknowledged; undefined if it never is. */
async function settle(id: string, op: string, amount: number): Promise<Reply | undefined> {
  const deadline = Date.now() + GIVE_UP;
  let attempt = 0;
  for (;;) {
    const sent = Date.now();
    let reply: Reply | undefined;
    try {
      reply = await bank.apply(id, op, amount);
    } catch {
      reply = undefined; // no answer in time: the entity may be moving
    }
    if (reply !== undefined && (reply.ok || !reply.retry)) {
      const ms = Date.now() - sent;
      latencies.push(ms);
      windowLat.push(ms);
      windowNodes[reply.node] = (windowNodes[reply.node] ?? 0) + 1;
      stats.acked++;
      if (reply.ok) {
        expected.set(id, expected.get(id)! + amount);
        appliedOps.set(id, appliedOps.get(id)! + 1);
        if (reply.node !== victim && orphans.delete(id)) {
          if (firstServed === undefined) {
            firstServed = Date.now();
            failoverStep("promoted", "first command served by a promoted replica", {
              node: reply.node,
            });
          }
          if (orphans.size === 0) {
            lastServed = Date.now();
            failoverStep("served", "every account it hosted served again");
          }
        }
      }
      return reply;
    }
    stats.retries++;
    if (Date.now() > deadline) {
      stats.unresolved++;
      return undefined;
    }
    // Exponential backoff with jitter: hundreds of operations may wait for a moving entity.
    await sleep(Math.min(2000, 100 * 2 ** Math.min(attempt++, 5)) * (0.5 + Math.random()));
  }
}

let opSeq = 0;
let paused = false;
let stopping = false;
/** Operations under way: a worker leaves one that is still retrying after DETACH ms here. */
const running = new Set<Promise<void>>();
const counterPending = new Set<Promise<void>>();
const DETACH = 1000;
const MAX_RUNNING = 600;

async function deposit(): Promise<void> {
  const id = ids[random(ids.length)];
  const amount = 1 + random(100);
  const r = await settle(id, `d${++opSeq}`, amount);
  if (r?.ok) {
    stats.deposits++;
    stats.depositSum += amount;
  }
}

async function transfer(): Promise<void> {
  const from = ids[random(ids.length)];
  let to = ids[random(ids.length)];
  while (to === from) to = ids[random(ids.length)];
  const amount = 1 + random(200);
  const n = ++opSeq;
  const w = await settle(from, `t${n}-w`, -amount);
  if (!w?.ok) {
    if (w !== undefined) stats.rejected++;
    return;
  }
  // The money left `from`: the deposit is retried until it is acknowledged.
  await settle(to, `t${n}-d`, amount);
  stats.transfers++;
  const p = bank.transfers.increment().then(
    () => void stats.counterAcked++,
    () => void stats.counterFailed++,
  );
  counterPending.add(p);
  p.finally(() => counterPending.delete(p));
}

/**
 * Starts one operation after another; one that is still retrying after DETACH ms (its entity is
 * moving) goes on in the background, so the load goes on for the other entities.
 */
async function worker(): Promise<void> {
  while (!stopping) {
    if (paused || running.size >= MAX_RUNNING) {
      await sleep(20);
      continue;
    }
    const op: Promise<void> = (Math.random() < 0.5 ? deposit() : transfer()).finally(() =>
      running.delete(op)
    );
    running.add(op);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([op, new Promise((r) => (timer = setTimeout(r, DETACH)))]);
    clearTimeout(timer);
  }
}

async function quiesce(): Promise<void> {
  while (running.size > 0 || counterPending.size > 0) await sleep(10);
}

function failoverStep(step: string, text: string, extra: Record<string, unknown> = {}): void {
  emit({ event: "failover", step, text, ms: Date.now() - killedAt!, ...extra });
}

/** A read that is retried while its entity moves (up to 20 times). */
async function retrying<T>(read: () => Promise<T>): Promise<T> {
  for (let i = 0;; i++) {
    try {
      return await read();
    } catch (err) {
      if (i >= 20) throw err;
      if (i === 5 && process.env.CASTY_DEMO_DEBUG) {
        emit({ event: "debug", error: String(err), diagnose: bank.diagnose?.() });
      }
      await sleep(250);
    }
  }
}

/**
 * Reads every account and compares it with the record, under the audit lock; a failure (the
 * lock not granted in time, a read that keeps failing) is a failed audit.
 */
async function audit(label: string): Promise<Record<string, unknown>> {
  const began = Date.now();
  paused = true;
  try {
    await quiesce();
    const quiet = Date.now();
    const token = await bank.audit.acquire({ timeout: 15_000 });
    const locked = Date.now();
    try {
      const mismatches: string[] = [];
      let total = 0;
      const views = await Promise.all(ids.map((id) => retrying(() => bank.view(id))));
      views.forEach((v, i) => {
        const id = ids[i];
        total += v.balance;
        if (v.balance !== expected.get(id) || v.applied !== appliedOps.get(id)) {
          mismatches.push(
            `${id}: balance ${v.balance} (expected ${expected.get(id)}), ` +
              `${v.applied} operations (expected ${appliedOps.get(id)})`,
          );
        }
      });
      const counter = await retrying(() => bank.transfers.get());
      const expectedTotal = INITIAL * ids.length + stats.depositSum;
      const counterOk = counter >= stats.counterAcked &&
        counter <= stats.counterAcked + stats.counterFailed &&
        stats.counterAcked + stats.counterFailed === stats.transfers;
      return {
        label,
        token,
        accounts: ids.length,
        total,
        expectedTotal,
        mismatches,
        counter,
        counterAcked: stats.counterAcked,
        counterFailed: stats.counterFailed,
        transfers: stats.transfers,
        unresolved: stats.unresolved,
        ok: mismatches.length === 0 && total === expectedTotal && counterOk &&
          stats.unresolved === 0,
        ms: Date.now() - began,
        phases: { quiesce: quiet - began, lock: locked - quiet, read: Date.now() - locked },
      };
    } finally {
      await bank.audit.release().catch(() => false);
    }
  } catch (err) {
    return {
      label,
      ok: false,
      error: err instanceof Error ? err.message : String(err),
      ms: Date.now() - began,
    };
  } finally {
    paused = false;
  }
}

async function waitForCluster(): Promise<ClusterView> {
  for (;;) {
    const c = await bank.cluster();
    if (c.up.length >= 3) return c;
    await sleep(50);
  }
}

async function observeFailover(lostShards: readonly number[]): Promise<void> {
  const seen = new Set<string>();
  const once = (step: string, text: string, extra?: Record<string, unknown>) => {
    if (seen.has(step)) return;
    seen.add(step);
    failoverStep(step, text, extra);
  };
  while (Date.now() - killedAt! < GIVE_UP && !stopping) {
    const c = await bank.cluster().catch(() => undefined);
    if (c !== undefined) {
      if (c.unreachable.includes(victim!)) once("unreachable", "marked unreachable");
      if (c.down.includes(victim!)) once("downed", "downed by the leader");
      if (!c.all.includes(victim!)) {
        once("unreachable", "marked unreachable");
        once("removed", "removed from the cluster");
      }
      const moved = lostShards.filter((s) => c.primaries.has(s) && c.primaries.get(s) !== victim);
      if (lostShards.length > 0 && moved.length === lostShards.length) {
        const to: Record<string, number> = {};
        for (const s of moved) to[c.primaries.get(s)!] = (to[c.primaries.get(s)!] ?? 0) + 1;
        once("reallocated", `its ${lostShards.length} shards reallocated`, { to });
      }
      if (seen.has("removed") && (seen.has("reallocated") || lostShards.length === 0)) break;
    }
    await sleep(50);
  }
}

// Opening the accounts.
const view = await waitForCluster();
emit({ event: "cluster", up: view.up });
await Promise.all(ids.map(async (id) => {
  const r = await settle(id, `open-${id}`, INITIAL);
  if (!r?.ok) throw new Error(`Cannot open account ${id}`);
}));
stats.acked = 0;
latencies.length = 0;
windowLat = [];
const allocated = await bank.cluster();
emit({
  event: "opened",
  accounts: ids.length,
  initial: INITIAL,
  primaries: Object.fromEntries(
    allocated.up.map((
      p,
    ) => [
      p,
      ids.filter((id) => allocated.primaries.get(entityShard(id, NUM_SHARDS)) === p).length,
    ]),
  ),
  ms: Date.now() - start,
});

// The load, the progress, the audits and the kill.
const loadStart = Date.now();
let lastAcked = 0;
let lastTick = loadStart;
const progress = setInterval(() => {
  const now = Date.now();
  const rate = ((stats.acked - lastAcked) * 1000) / Math.max(1, now - lastTick);
  emit({
    event: "progress",
    t: now - loadStart,
    rate: Math.round(rate),
    acked: stats.acked,
    p99: percentile(windowLat, 99),
    retries: stats.retries,
    inflight: running.size,
    byNode: windowNodes,
  });
  windowNodes = {};
  lastAcked = stats.acked;
  lastTick = now;
  windowLat = [];
}, 500);
const workers = Array.from({ length: PLAN.workers }, () => worker());
const input = createInterface({ input: process.stdin });
// The demo died without cleaning up (its pipe closed): stop too.
input.on("close", () => process.exit(1));
const told = (key: "killed" | "joined") =>
  new Promise<number>((resolve) => {
    input.on("line", (line) => {
      const msg = JSON.parse(line) as Record<string, number>;
      if (msg[key] !== undefined) resolve(msg[key]);
    });
  });
const killed = told("killed").then((port) => {
  killedAt = Date.now();
  return port;
});
const joined = told("joined");
const primariesOf = (c: ClusterView): Record<number, number> =>
  Object.fromEntries(
    c.up.map((p) => [
      p,
      ids.filter((id) => c.primaries.get(entityShard(id, NUM_SHARDS)) === p).length,
    ]),
  );

/** Follows a new node: up, then the shards that rebalancing moves to it. */
async function observeJoin(port: number, since: number): Promise<void> {
  let up = false;
  let first = false;
  let last = -1;
  let stableSince = Date.now();
  while (!stopping) {
    const c = await bank.cluster().catch(() => undefined);
    if (c !== undefined) {
      const say = (step: string, text: string, extra: Record<string, unknown> = {}) =>
        emit({ event: "join-step", step, text, ms: Date.now() - since, ...extra });
      if (!up && c.up.includes(port)) {
        up = true;
        say("up", "up in the cluster");
      }
      const shards = [...c.primaries.values()].filter((p) => p === port).length;
      if (!first && shards > 0) {
        first = true;
        say("first", "rebalancing moved its first shards to it");
      }
      if (shards !== last) {
        last = shards;
        stableSince = Date.now();
      } else if (first && Date.now() - stableSince > 3000) {
        say("balanced", `rebalanced: primary of ${shards} shards`, { primaries: primariesOf(c) });
        return;
      }
    }
    await sleep(100);
  }
}

const audits: Record<string, unknown>[] = [];
const script = [
  ...PLAN.auditAt.map((at, i) => ({ at, what: `audit ${i + 1}` })),
  { at: PLAN.killAt, what: "kill" },
  ...(PLAN.joinAt === undefined ? [] : [{ at: PLAN.joinAt, what: "join" }]),
].sort((a, b) => a.at - b.at);
let joining: Promise<void> = Promise.resolve();
let failover: Promise<void> = Promise.resolve();
for (const step of script) {
  await sleep(Math.max(0, loadStart + step.at - Date.now()));
  if (step.what === "kill") {
    // The bank node that is the primary of the most accounts, but not the leader: the leader's
    // coordinator grants every node's lease to host shards, so losing it pauses every shard
    // until another leader takes over (after detection); kill the leader with --kill-leader.
    const c = await bank.cluster();
    const killLeader = args.includes("--kill-leader");
    const candidates = c.up.filter((p) => killLeader ? p === c.leader : p !== c.leader);
    const counts = (candidates.length > 0 ? candidates : c.up).map((p) => ({
      p,
      n: ids.filter((id) => c.primaries.get(entityShard(id, NUM_SHARDS)) === p).length,
    }));
    counts.sort((a, b) => b.n - a.n);
    const port = counts[0].p;
    const hosted = ids.filter((id) => c.primaries.get(entityShard(id, NUM_SHARDS)) === port);
    emit({
      event: "kill",
      port,
      accounts: hosted.length,
      leader: port === c.leader,
      primaries: primariesOf(c),
    });
    await killed;
    victim = port;
    orphans = new Set(hosted);
    failover = observeFailover([...c.primaries].filter(([, p]) => p === port).map(([s]) => s));
  } else if (step.what === "join") {
    emit({ event: "join" });
    const port = await joined;
    joining = observeJoin(port, Date.now());
  } else {
    const a = await audit(step.what);
    audits.push(a);
    emit({ event: "audit", ...a });
  }
}
await sleep(Math.max(0, loadStart + PLAN.load - Date.now()));
await failover;
// The load goes on for a while once every account of the lost node is served again.
while (orphans.size > 0 && Date.now() - killedAt! < GIVE_UP) await sleep(50);
if (lastServed > 0) await sleep(Math.max(0, lastServed + 1000 - Date.now()));
await Promise.race([joining, sleep(Math.max(0, loadStart + PLAN.load + 10_000 - Date.now()))]);
stopping = true;
await Promise.all(workers);
await quiesce();
clearInterval(progress);
const loadMs = Date.now() - loadStart;
const final = await audit("final");
const tokens = [...audits, final].map((a) => a.token as number).filter((t) => t !== undefined);
const tokensGrow = tokens.every((t, i) => i === 0 || t > tokens[i - 1]);
const ok = final.ok === true && tokensGrow && audits.every((a) => a.ok === true) &&
  (victim === undefined || orphans.size === 0);
emit({
  event: "summary",
  ok,
  kind: bank.kind,
  acked: stats.acked,
  deposits: stats.deposits,
  transfers: stats.transfers,
  rejected: stats.rejected,
  retries: stats.retries,
  unresolved: stats.unresolved,
  rate: Math.round((stats.acked * 1000) / loadMs),
  p50: percentile(latencies, 50),
  p99: percentile(latencies, 99),
  loadMs,
  firstServedMs: firstServed === undefined ? undefined : firstServed - killedAt!,
  orphansLeft: orphans.size,
  tokens,
  final,
});
await bank.close().catch(() => {});
process.exit(0);
