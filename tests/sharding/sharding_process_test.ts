import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runScript, type ScriptProcess } from "../_helpers/process.ts";
import { waitUpAndHosting } from "../_helpers/print_views.ts";

const LONG = { timeout: 90_000 };
const script = new URL("../_helpers/sharded_bank_node.ts", import.meta.url).pathname;

interface BankNode {
  readonly proc: ScriptProcess;
  readonly port: number;
  send(cmd: Record<string, unknown>): void;
  balance(id: string, timeout?: number): Promise<{ balance: number; node: number }>;
}

let tags = 0;

async function startBank(seeds: number[], extra: string[] = []): Promise<BankNode> {
  const args = ["0", ...seeds.flatMap((s) => ["--seed", `127.0.0.1:${s}`]), ...extra];
  const proc = runScript(script, args, {}, { stdin: "pipe" });
  const ready = JSON.parse(await proc.waitForLine((l) => l.includes('"ready"'), 30_000));
  const send = (cmd: Record<string, unknown>) =>
    proc.child.stdin!.write(JSON.stringify(cmd) + "\n");
  return {
    proc,
    port: ready.port,
    send,
    // Asks until an answer comes (an entity may be between nodes), within `timeout` ms.
    async balance(id, timeout = 20_000) {
      const deadline = Date.now() + timeout;
      for (;;) {
        const tag = `t${++tags}`;
        send({ op: "balance", id, tag });
        const line = JSON.parse(
          await proc.waitForLine((l) => l.includes(`"tag":"${tag}"`), 5000),
        );
        if (line.event === "balance") return { balance: line.balance, node: line.node };
        if (Date.now() > deadline) throw new Error(`no balance for ${id}: ${line.message}`);
      }
    },
  };
}

async function waitUp(nodes: BankNode[], ports: number[]): Promise<void> {
  // Up in every view, and a host of "accounts" in every node's table (a shard allocated before
  // a node's region is known goes to the others, and only moves later, a few at a time).
  await waitUpAndHosting(nodes.map((n) => n.proc), ports);
}

async function stop(nodes: BankNode[]): Promise<void> {
  await Promise.all(nodes.map((n) => n.proc.kill("SIGKILL")));
}

/** Three bank nodes up, event-sourced on one SQLite journal file; stopped and removed after. */
async function withDurableBank(test: (nodes: BankNode[]) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "casty-sharding-"));
  const opts = ["--journal", join(dir, "journal.db"), "--stable-after", "1500"];
  const a = await startBank([], opts);
  const nodes = [a, ...await Promise.all([startBank([a.port], opts), startBank([a.port], opts)])];
  try {
    await waitUp(nodes, nodes.map((n) => n.port));
    await test(nodes);
  } finally {
    await stop(nodes);
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("sharding across real processes", () => {
  it(
    "runs the seed's two-node bank example: alice's balance is 150 from either node",
    LONG,
    async () => {
      const node1 = await startBank([]);
      const node2 = await startBank([node1.port]);
      const nodes = [node1, node2];
      try {
        await waitUp(nodes, [node1.port, node2.port]);
        node1.send({ op: "deposit", id: "alice", amount: 100 });
        node1.send({ op: "deposit", id: "bob", amount: 200 });
        assert.equal((await node1.balance("bob")).balance, 200);
        node2.send({ op: "deposit", id: "alice", amount: 50 });
        // Deposits from two nodes are not ordered with each other: wait for both.
        const deadline = Date.now() + 10_000;
        let alice = await node1.balance("alice");
        while (alice.balance !== 150 && Date.now() < deadline) alice = await node1.balance("alice");
        assert.equal(alice.balance, 150);
        assert.equal((await node2.balance("alice")).balance, 150);
      } finally {
        await stop(nodes);
      }
    },
  );

  it(
    "after kill -9 of a node, its event-sourced entities answer on the survivors with their state",
    LONG,
    () =>
      withDurableBank(async ([a, b, c]) => {
        const ids = Array.from({ length: 12 }, (_, i) => `acct-${i}`);
        for (const id of ids) {
          a.send({ op: "deposit", id, amount: 10 });
          b.send({ op: "deposit", id, amount: 5 });
        }
        const where = new Map<string, number>();
        for (const id of ids) {
          let r = await a.balance(id);
          const deadline = Date.now() + 20_000;
          while (r.balance !== 15 && Date.now() < deadline) r = await a.balance(id);
          assert.equal(r.balance, 15, `${id}: both deposits counted`);
          where.set(id, r.node);
        }
        // Kill the node that hosts the most entities, other than the first one (the leader).
        const victim = [b, c].sort((x, y) =>
          ids.filter((id) => where.get(id) === y.port).length -
          ids.filter((id) => where.get(id) === x.port).length
        )[0];
        const moved = ids.filter((id) => where.get(id) === victim.port);
        assert.ok(moved.length > 0, "the victim hosts entities");
        const killedAt = Date.now();
        await victim.proc.kill("SIGKILL");
        const survivor = victim === b ? c : b;
        const first = await survivor.balance(moved[0], 30_000);
        const ms = Date.now() - killedAt;
        console.log(`kill -9 → first answer from a moved entity: ${ms} ms (stableAfter 1500)`);
        assert.equal(first.balance, 15);
        assert.notEqual(first.node, victim.port);
        for (const id of moved) {
          const r = await a.balance(id);
          assert.equal(r.balance, 15, `${id} kept its state`);
          assert.notEqual(r.node, victim.port);
        }
      }),
  );

  it(
    "a node that leaves (SIGTERM) hands its event-sourced entities over with no lost deposit",
    LONG,
    () =>
      withDurableBank(async ([a, b, c]) => {
        const ids = Array.from({ length: 12 }, (_, i) => `acct-${i}`);
        for (const id of ids) a.send({ op: "deposit", id, amount: 1 });
        const where = new Map<string, number>();
        for (const id of ids) {
          let r = await a.balance(id);
          const deadline = Date.now() + 20_000;
          while (r.balance !== 1 && Date.now() < deadline) r = await a.balance(id);
          assert.equal(r.balance, 1, `${id}: the first deposit counted`);
          where.set(id, r.node);
        }
        const leaver = [b, c].find((n) => ids.some((id) => where.get(id) === n.port))!;
        const t0 = Date.now();
        let leftMs = 0;
        const exited = leaver.proc.kill("SIGTERM").then(() => (leftMs = Date.now() - t0));
        // Deposits keep flowing from node a while the leaver hands its shards over.
        let rounds = 1;
        while (rounds < 40) {
          for (const id of ids) a.send({ op: "deposit", id, amount: 1 });
          rounds++;
          await new Promise((r) => setTimeout(r, 50));
        }
        await exited;
        // It left gracefully (Deno reports the exit after a SIGTERM listener as the signal).
        assert.ok(leaver.proc.lines.includes('{"event":"left"}'), leaver.proc.stderr());
        console.log(`SIGTERM → hand-off, leave and exit: ${leftMs} ms`);
        for (const id of ids) {
          let r = await a.balance(id);
          const deadline = Date.now() + 10_000;
          while (r.balance !== rounds && Date.now() < deadline) r = await a.balance(id);
          assert.equal(r.balance, rounds, `${id}: every deposit counted once`);
          assert.notEqual(r.node, leaver.port);
        }
      }),
  );
});
