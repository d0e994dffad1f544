// A node whose event loop stalls for 12 s (a long GC pause, synchronous work) while it hosts
// shards. The others down it and take its shards over; when it runs again, its socket buffers
// hold the leader's states and the deposits routed to it before the stall was noticed. Its lease
// counts from its own last ack that reached the leader, so it must handle none of them: an entity
// alive on two nodes is exactly what leases are for.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type ScriptProcess, startSeededScript } from "../_helpers/process.ts";
import { waitUpAndHosting } from "../_helpers/print_views.ts";

const script = new URL("../_helpers/sharded_bank_node.ts", import.meta.url).pathname;

interface Bank {
  readonly proc: ScriptProcess;
  readonly port: number;
  send(cmd: Record<string, unknown>): void;
}

async function start(seeds: number[]): Promise<Bank> {
  const { proc, port } = await startSeededScript(script, seeds, [
    "--stable-after",
    "2000",
    "--trace",
  ]);
  return { proc, port, send: (cmd) => proc.child.stdin!.write(JSON.stringify(cmd) + "\n") };
}

/** The events named `event` that `n` printed from its line `from` on. */
const events = (n: Bank, event: string, from = 0) =>
  n.proc.lines.slice(from).map((l) => JSON.parse(l)).filter((e) => e.event === event);

/** Waits (bounded) until `n` prints, from its line `from` on, an `event` that `ok` accepts. */
async function until(
  n: Bank,
  from: number,
  event: string,
  ok: (e: Record<string, unknown>) => boolean,
  timeout: number,
): Promise<boolean> {
  for (const end = Date.now() + timeout; Date.now() < end;) {
    if (events(n, event, from).some(ok)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

describe("sharding: a node whose event loop stalls, and its lease", () => {
  it("handles nothing for its old shards once it runs again; the survivors own them", {
    timeout: 90_000,
  }, async () => {
    const a = await start([]);
    const nodes = [a, ...await Promise.all([start([a.port]), start([a.port])])];
    try {
      // Three members up in every view, each a host of accounts in every table.
      await waitUpAndHosting(nodes.map((n) => n.proc), nodes.map((n) => n.port));
      // 40 accounts through node a; the trace says which node handles each. A probe deposit
      // goes to every account until some are handled off node a (a shard allocated before the
      // others' regions were known starts on a, and moves later): each account's owner is the
      // node that handled its latest deposit.
      const ids = Array.from({ length: 40 }, (_, k) => `acc-${k}`);
      const owners = new Map<string, Bank>();
      let victim: Bank | undefined;
      for (let round = 0, end = Date.now() + 30_000; !victim && Date.now() < end; round++) {
        for (const id of ids) a.send({ op: "deposit", id, amount: 1, dep: `${id}-p${round}` });
        const probed = (n: Bank) =>
          events(n, "handled").filter((e) => e.dep === `${e.id}-p${round}`);
        for (const end = Date.now() + 20_000; Date.now() < end;) {
          if (nodes.flatMap(probed).length >= ids.length) break;
          await new Promise((r) => setTimeout(r, 50));
        }
        for (const n of nodes) for (const e of probed(n)) owners.set(e.id as string, n);
        assert.equal(owners.size, ids.length, `every deposit of round ${round} handled`);
        victim = nodes.slice(1).find((n) => ids.some((id) => owners.get(id) === n));
        if (!victim) await new Promise((r) => setTimeout(r, 500));
      }
      assert.ok(victim, "some accounts moved off node a");
      const survivors = nodes.filter((n) => n !== victim);
      const theirs = ids.filter((id) => owners.get(id) === victim);
      assert.ok(theirs.length > 0, "the victim hosts some accounts");
      const seen = new Map(survivors.map((n) => [n, n.proc.lines.length]));

      victim.send({ op: "freeze", ms: 12_000 });
      assert.ok(await until(victim, 0, "frozen", () => true, 10_000), "the victim froze");
      // Deposits routed to the stalled node before anyone notices: they wait in its socket.
      for (const id of theirs) a.send({ op: "deposit", id, amount: 1, dep: `${id}-1` });
      // The survivors down it (unreachable after ~2-3 s, then stableAfter 2 s) and take over.
      for (const n of survivors) {
        const gone = await until(
          n,
          seen.get(n)!,
          "view",
          (e) => !(e.up as number[]).includes(victim.port),
          30_000,
        );
        assert.ok(gone, `node ${n.port} still counts the stalled node as up`);
      }
      for (const id of theirs) a.send({ op: "deposit", id, amount: 1, dep: `${id}-2` });
      const takenOver = (id: string) =>
        survivors.some((n) => events(n, "handled").some((e) => e.dep === `${id}-2`));
      for (const end = Date.now() + 20_000; !theirs.every(takenOver) && Date.now() < end;) {
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(theirs.every(takenOver), "the survivors own the stalled node's accounts");

      // It runs again: it reads the stale states and deposits, learns it was downed and stops.
      assert.ok(await until(victim, 0, "thawed", () => true, 20_000), "the victim ran again");
      const thawed = victim.proc.lines.findIndex((l) => l.includes('"thawed"'));
      await until(victim, thawed, "ShutdownSelf", () => true, 15_000);
      const late = events(victim, "handled", thawed);
      assert.deepEqual(late, [], "the stalled node handled deposits it no longer owned");
    } finally {
      await Promise.all(nodes.map((n) => n.proc.kill("SIGKILL")));
    }
  });
});
