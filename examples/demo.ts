/**
 * casty demo: a small bank, told as a story. Accounts are actors with functional state, each
 * transfer is a short-lived child actor talking to accounts with `ctx.self` as the reply ref,
 * an auditor crashes on a suspicious transfer and is restarted by its supervisor, and the
 * outside world talks to all of it with `ask`.
 *
 * Run: `npm run demo`, `deno run -A examples/demo.ts` or `bun examples/demo.ts`
 *
 * @module
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import {
  type ActorRef,
  ActorRestarted,
  ActorSystem,
  type Behavior,
  Behaviors,
  ClusteredActorSystem,
  type Logger,
  MemberRemoved,
  OneForOneStrategy,
  SqliteJournal,
  type Terminated,
  UnreachableMember,
} from "../mod.ts";

// ---------------------------------------------------------------- accounts

type Outcome = { readonly type: "ok" } | { readonly type: "rejected"; readonly reason: string };

type AccountMsg =
  | { readonly type: "deposit"; readonly amount: number; readonly replyTo?: ActorRef<Outcome> }
  | { readonly type: "withdraw"; readonly amount: number; readonly replyTo: ActorRef<Outcome> }
  | { readonly type: "getBalance"; readonly replyTo: ActorRef<number> };

function account(owner: string, balance: number): Behavior<AccountMsg> {
  return Behaviors.receive((_ctx, msg) => {
    switch (msg.type) {
      case "deposit":
        msg.replyTo?.tell({ type: "ok" });
        return account(owner, balance + msg.amount);
      case "withdraw":
        if (msg.amount > balance) {
          msg.replyTo.tell({
            type: "rejected",
            reason: `insufficient funds (${owner} has $${balance})`,
          });
          return;
        }
        msg.replyTo.tell({ type: "ok" });
        return account(owner, balance - msg.amount);
      case "getBalance":
        msg.replyTo.tell(balance);
        return;
    }
  });
}

// ---------------------------------------------------------------- auditor

type AuditMsg =
  | { readonly type: "record"; readonly line: string; readonly amount: number }
  | { readonly type: "report"; readonly replyTo: ActorRef<readonly string[]> };

function auditor(log: readonly string[] = []): Behavior<AuditMsg> {
  return Behaviors.receive((_ctx, msg) => {
    if (msg.type === "report") {
      msg.replyTo.tell(log);
      return;
    }
    if (msg.amount >= 10_000) throw new Error(`suspicious amount $${msg.amount}`);
    return auditor([...log, msg.line]);
  });
}

// ---------------------------------------------------------------- bank

type TransferRequest = {
  readonly from: string;
  readonly to: string;
  readonly amount: number;
  readonly replyTo: ActorRef<string>;
};

type BankMsg =
  | { readonly type: "open"; readonly owner: string; readonly initial: number }
  | ({ readonly type: "transfer" } & TransferRequest)
  | { readonly type: "balance"; readonly owner: string; readonly replyTo: ActorRef<number> }
  | { readonly type: "auditReport"; readonly replyTo: ActorRef<readonly string[]> }
  | Terminated;

/** One transfer: withdraw, then deposit, then report and stop. A tiny saga as an actor. */
function transfer(
  req: TransferRequest,
  from: ActorRef<AccountMsg>,
  to: ActorRef<AccountMsg>,
  audit: ActorRef<AuditMsg>,
): Behavior<Outcome> {
  return Behaviors.setup((ctx) => {
    const line = `${req.from} -> ${req.to} $${req.amount}`;
    from.tell({ type: "withdraw", amount: req.amount, replyTo: ctx.self });
    return Behaviors.receive<Outcome>((ctx, withdrawn) => {
      if (withdrawn.type === "rejected") {
        req.replyTo.tell(`${line}: rejected, ${withdrawn.reason}`);
        return Behaviors.stopped();
      }
      to.tell({ type: "deposit", amount: req.amount, replyTo: ctx.self });
      return Behaviors.receive(() => {
        audit.tell({ type: "record", line, amount: req.amount });
        req.replyTo.tell(`${line}: done`);
        return Behaviors.stopped();
      });
    });
  });
}

function bank(): Behavior<BankMsg> {
  return Behaviors.setup((ctx) => {
    const accounts = new Map<string, ActorRef<AccountMsg>>();
    const audit = ctx.spawn(
      Behaviors.supervise(auditor(), new OneForOneStrategy({ maxRestarts: 3, within: 60_000 })),
      "auditor",
    );
    let transfers = 0;
    return Behaviors.receive((ctx, msg) => {
      switch (msg.type) {
        case "open":
          accounts.set(msg.owner, ctx.spawn(account(msg.owner, msg.initial), msg.owner));
          return;
        case "transfer": {
          const from = accounts.get(msg.from);
          const to = accounts.get(msg.to);
          if (!from || !to) {
            msg.replyTo.tell(`no account for ${from ? msg.to : msg.from}`);
            return;
          }
          const child = ctx.spawn(transfer(msg, from, to, audit), `transfer-${++transfers}`);
          ctx.watch(child);
          return;
        }
        case "balance": {
          const ref = accounts.get(msg.owner);
          if (ref) ref.tell({ type: "getBalance", replyTo: msg.replyTo });
          return;
        }
        case "auditReport":
          audit.tell({ type: "report", replyTo: msg.replyTo });
          return;
        case "terminated":
          // Transfer actors stop themselves when done; nothing to clean up but the watch.
          return;
      }
    });
  });
}

// ---------------------------------------------------------------- the story

const runtime = "Deno" in globalThis
  ? `Deno ${(globalThis as unknown as { Deno: { version: { deno: string } } }).Deno.version.deno}`
  : "Bun" in globalThis
  ? `Bun ${(globalThis as unknown as { Bun: { version: string } }).Bun.version}`
  : `Node ${process.version}`;

// Framework warnings (the restart) are told by the story itself; keep only errors.
const logger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error: (message) => console.error(`[casty] ${message}`),
};

await using system = new ActorSystem({ name: "demo", logger });
system.eventStream.subscribe(ActorRestarted, (e) => {
  console.log(`   ! ${e.ref.path} crashed (${(e.error as Error).message}) and was restarted`);
});

console.log(`casty demo: a bank of actors on ${runtime}`);
const theBank = system.spawn(bank(), "bank");
const ask = <R>(factory: (replyTo: ActorRef<R>) => BankMsg) =>
  system.ask<BankMsg, R>(theBank, factory, { timeout: 2000 });
const balances = async (...owners: string[]) => {
  const amounts = await Promise.all(
    owners.map((owner) => ask<number>((replyTo) => ({ type: "balance", owner, replyTo }))),
  );
  return owners.map((o, i) => `${o} $${amounts[i]}`).join(", ");
};
const move = (from: string, to: string, amount: number) =>
  ask<string>((replyTo) => ({ type: "transfer", from, to, amount, replyTo }));

console.log("\n1. Opening accounts: each account is an actor with its balance in a closure");
theBank.tell({ type: "open", owner: "alice", initial: 100 });
theBank.tell({ type: "open", owner: "bob", initial: 50 });
theBank.tell({ type: "open", owner: "carol", initial: 20_000 });
console.log(`   ${await balances("alice", "bob", "carol")}`);
console.log(`   bob lives at ${system.lookup("/bank/bob")?.address}`);

console.log("\n2. Transfers: each one is a short-lived child actor (a tiny saga)");
console.log(`   ${await move("alice", "bob", 30)}`);
console.log(`   ${await move("bob", "alice", 500)}`);
console.log(`   ${await move("bob", "alice", 80)}`);
console.log(`   ${await balances("alice", "bob")}`);

console.log("\n3. Let it crash: the auditor fails on a suspicious transfer");
const before = await ask<readonly string[]>((replyTo) => ({ type: "auditReport", replyTo }));
console.log(`   audit log: ${before.join("; ")}`);
console.log(`   ${await move("carol", "alice", 15_000)}`);
// Wait for the auditor's answer, which comes after the restart: mailboxes are FIFO.
const report = await ask<readonly string[]>((replyTo) => ({ type: "auditReport", replyTo }));
console.log(`   audit log after the restart: ${report.length} entries (its state was reset)`);
console.log(`   ${await move("alice", "carol", 5)}`);
const after = await ask<readonly string[]>((replyTo) => ({ type: "auditReport", replyTo }));
console.log(`   audit log now: ${after.join("; ")}`);
console.log("   (an event-sourced actor keeps its state across restarts: see part 5)");

console.log("\n4. Final balances, by ask from outside the actor system");
console.log(`   ${await balances("alice", "bob", "carol")}`);

// ---------------------------------------------------------------- event sourcing on SQLite

type SavingsCmd =
  | { type: "deposit"; amount: number; replyTo: ActorRef<number> }
  | { type: "balance"; replyTo: ActorRef<number> };

const savings = (journal: SqliteJournal) =>
  Behaviors.eventSourced<SavingsCmd, { amount: number }, number>({
    entityId: "savings-alice",
    journal,
    initialState: 0,
    onEvent: (balance, e) => balance + e.amount,
    onCommand: (_ctx, balance, cmd) => {
      if (cmd.type === "balance") return void cmd.replyTo.tell(balance);
      return Behaviors.persisted([{ amount: cmd.amount }], {
        reply: (b: number) => cmd.replyTo.tell(b),
      });
    },
  });

console.log("\n5. Event sourcing on SQLite: the state survives a restart");
const dir = mkdtempSync(join(tmpdir(), "casty-demo-"));
{
  const journal = new SqliteJournal({ path: join(dir, "bank.db") });
  const first = new ActorSystem({ name: "demo", logger });
  const acc = first.spawn(savings(journal), "savings");
  for (const amount of [100, 250, 50]) {
    await first.ask<SavingsCmd, number>(acc, (replyTo) => ({ type: "deposit", amount, replyTo }));
  }
  console.log(
    `   3 deposits persisted; balance $${await first.ask<SavingsCmd, number>(
      acc,
      (replyTo) => ({ type: "balance", replyTo }),
    )}`,
  );
  await first.shutdown();
  await journal.close();
  console.log("   the system and the journal are closed (as if the process had died)");
}
{
  const journal = new SqliteJournal({ path: join(dir, "bank.db") });
  const second = new ActorSystem({ name: "demo", logger });
  const acc = second.spawn(savings(journal), "savings");
  const recovered = await second.ask<SavingsCmd, number>(
    acc,
    (replyTo) => ({ type: "balance", replyTo }),
  );
  console.log(`   a new system replays the journal: balance $${recovered}`);
  await second.shutdown();
  await journal.close();
}
rmSync(dir, { recursive: true, force: true });

// ---------------------------------------------------------------- a cluster on loopback

console.log("\n6. A cluster on loopback: three processes, one killed with SIGKILL");
await using node = await ClusteredActorSystem.start({
  name: "demo",
  host: "127.0.0.1",
  port: 0,
  downing: { stableAfter: 1500 },
  logLevel: "error",
});
const nodeScript = fileURLToPath(new URL("./_demo_node.ts", import.meta.url));
const startChild = (owner: string) => {
  const args = "Deno" in globalThis
    ? ["run", "-A", nodeScript, String(node.selfAddress.port), owner]
    : [nodeScript, String(node.selfAddress.port), owner];
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
  const port = new Promise<number>((resolve) => {
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (t: string) => {
      const m = /ready (\d+)/.exec(t);
      if (m) resolve(Number(m[1]));
    });
  });
  return { child, port };
};
const b = startChild("bob");
const c = startChild("carol");
const [bPort, cPort] = await Promise.all([b.port, c.port]);
await node.waitFor(3, { timeout: 20_000 });
console.log(`   3 members up; leader is the lowest address: ${node.leader?.host}`);
const carolAccount = node.lookup<SavingsCmd>(`casty://demo@127.0.0.1:${cPort}/account`)!;
const bobAccount = node.lookup<SavingsCmd>(`casty://demo@127.0.0.1:${bPort}/account`)!;
await node.ask<SavingsCmd, number>(
  carolAccount,
  (replyTo) => ({ type: "deposit", amount: 70, replyTo }),
);
console.log(
  `   remote ask: carol's account on another process now holds $${await node.ask<
    SavingsCmd,
    number
  >(
    carolAccount,
    (replyTo) => ({ type: "balance", replyTo }),
  )}`,
);
const unreachable = new Promise<number>((resolve) =>
  node.eventStream.subscribe(UnreachableMember, (e) => {
    if (e.member.address.port === cPort) resolve(Date.now());
  })
);
const removed = new Promise<number>((resolve) =>
  node.eventStream.subscribe(MemberRemoved, (e) => {
    if (e.member.address.port === cPort) resolve(Date.now());
  })
);
const killedAt = Date.now();
c.child.kill("SIGKILL");
console.log("   carol's process was killed with SIGKILL");
const seconds = (t: number) => ((t - killedAt) / 1000).toFixed(1);
const detected = await unreachable;
console.log(`   the failure detector marked it unreachable after ${seconds(detected)} s`);
const gone = await removed;
console.log(`   the leader downed and removed it after ${seconds(gone)} s`);
console.log(
  `   bob's account still answers: $${await node.ask<SavingsCmd, number>(
    bobAccount,
    (replyTo) => ({ type: "deposit", amount: 5, replyTo }),
  )}`,
);
const members = (await node.getClusterState()).members.filter((m) => m.status === "up").length;
console.log(`   ${members} members up`);
b.child.kill("SIGKILL");
