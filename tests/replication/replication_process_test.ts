import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Node, startNode, waitUp } from "./_process_nodes.ts";
import { SqliteJournal } from "../../mod.ts";

describe("replication across real processes", () => {
  it(
    "SIGKILL of the primary of some shards mid-stream: every acknowledged deposit is in the final balances",
    {
      timeout: 90_000,
    },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "casty-replication-"));
      const nodes: Node[] = [];
      try {
        const a = await startNode(dir, []);
        nodes.push(a, ...await Promise.all([startNode(dir, [a.port]), startNode(dir, [a.port])]));
        await waitUp(nodes);
        const ids = Array.from({ length: 6 }, (_, k) => `acc-${k}`);
        const acked = new Map<string, string[]>(ids.map((id) => [id, []]));
        const primaryOf = new Map<string, number>();
        let stop = false;
        let sent = 0;
        // One lane per account, writing through node a (never killed): each deposit waits for its
        // answer, so at most one is in flight per account.
        const lane = async (id: string) => {
          for (let k = 0; !stop; k++) {
            const dep = `${id}-${k}`;
            sent++;
            const r = await a.call({ op: "deposit", id, dep });
            if (r?.event === "ack") {
              acked.get(id)!.push(dep);
              if (!primaryOf.has(id)) primaryOf.set(id, r.node as number);
            }
          }
        };
        const lanes = ids.map(lane);
        const deadline = (ms: number) => Date.now() + ms;
        let until = deadline(20_000);
        while ([...acked.values()].some((l) => l.length < 3) && Date.now() < until) {
          await new Promise((r) => setTimeout(r, 20));
        }
        // The victim: the node other than a that is primary of the most accounts.
        const [b, c] = nodes.slice(1);
        const count = (n: Node) => ids.filter((id) => primaryOf.get(id) === n.port).length;
        const victim = count(b) >= count(c) ? b : c;
        const moved = ids.filter((id) => primaryOf.get(id) === victim.port);
        assert.ok(moved.length > 0, "the victim is the primary of some accounts");
        const before = new Map(moved.map((id) => [id, acked.get(id)!.length]));
        await victim.proc.kill("SIGKILL");
        const killedAt = Date.now();
        // The stream goes on until every moved account acknowledged deposits again.
        until = deadline(40_000);
        while (
          moved.some((id) => acked.get(id)!.length < before.get(id)! + 3) && Date.now() < until
        ) {
          await new Promise((r) => setTimeout(r, 20));
        }
        const recovered = Date.now() - killedAt;
        stop = true;
        await Promise.all(lanes);
        for (const id of moved) {
          assert.ok(
            acked.get(id)!.length >= before.get(id)! + 3,
            `${id} served again after the kill`,
          );
        }
        const survivors = nodes.filter((n) => n !== victim);
        for (const id of ids) {
          // A read may time out (3 s) while the survivors settle on a heavily loaded machine;
          // reads are idempotent, so it is asked again, a bounded number of times.
          let r = await survivors[1].call({ op: "balance", id }, 10_000);
          for (let k = 0; k < 4 && r?.event === "error"; k++) {
            console.log(`balance of ${id}: ${r.message}; asking again`);
            r = await survivors[1].call({ op: "balance", id }, 10_000);
          }
          assert.equal(r?.event, "balance", `balance of ${id}: ${JSON.stringify(r)}`);
          const deps = r!.deps as string[];
          assert.notEqual(r!.node, victim.port);
          assert.equal(new Set(deps).size, deps.length, `${id}: no deposit twice`);
          const missing = acked.get(id)!.filter((d) => !deps.includes(d));
          assert.deepEqual(missing, [], `${id}: every acknowledged deposit survives`);
        }
        const total = [...acked.values()].reduce((n, l) => n + l.length, 0);
        console.log(
          `${total} of ${sent} deposits acknowledged; kill -9 → moved accounts served again: ${recovered} ms`,
        );
      } finally {
        await Promise.all(nodes.map((n) => n.proc.kill("SIGKILL")));
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
  it(
    "idle accounts: SIGKILL of a node, then of another once the logs were refilled with no message, loses no acknowledged deposit",
    { timeout: 90_000 },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "casty-replication-idle-"));
      const nodes: Node[] = [];
      const readers = new Map<Node, SqliteJournal>();
      try {
        const a = await startNode(dir, [], ["--fast"]);
        nodes.push(
          a,
          ...await Promise.all([1, 2, 3].map(() => startNode(dir, [a.port], ["--fast"]))),
        );
        await waitUp(nodes);
        const ids = Array.from({ length: 12 }, (_, k) => `idle-${k}`);
        const acked = new Map<string, string[]>(ids.map((id) => [id, []]));
        const primaryOf = new Map<string, number>();
        await Promise.all(ids.map(async (id) => {
          for (const dep of [`${id}-a`, `${id}-b`]) {
            for (let k = 0; k < 5; k++) {
              const r = await a.call({ op: "deposit", id, dep });
              if (r?.event === "ack") {
                acked.get(id)!.push(dep);
                primaryOf.set(id, r.node as number);
                break;
              }
            }
          }
        }));
        for (const id of ids) assert.ok(acked.get(id)!.length > 0, `${id}: a deposit acknowledged`);
        // Nothing touches the accounts from here on. The first loss: the node other than a that
        // is primary of the most of them.
        const others = nodes.slice(1);
        const count = (n: Node) => ids.filter((id) => primaryOf.get(id) === n.port).length;
        const victim = others.reduce((x, y) => (count(y) > count(x) ? y : x));
        assert.ok(count(victim) > 0, "the victim is the primary of some accounts");
        await victim.proc.kill("SIGKILL");
        const killedAt = Date.now();
        const survivors = nodes.filter((n) => n !== victim);
        for (const n of survivors) readers.set(n, new SqliteJournal({ path: n.journalPath }));
        // The survivors' journal files, read here: each account back on two of them.
        const thin = async (): Promise<string[]> => {
          const out: string[] = [];
          for (const id of ids) {
            let holders = 0;
            for (const j of readers.values()) {
              const deps = (await j.load(id)).map((e) => e.event as string);
              if (acked.get(id)!.every((d) => deps.includes(d))) holders++;
            }
            if (holders < 2) out.push(id);
          }
          return out;
        };
        let left = await thin();
        while (left.length > 0 && Date.now() - killedAt < 40_000) {
          await new Promise((r) => setTimeout(r, 200));
          left = await thin();
        }
        assert.deepEqual(left, [], "every idle account's log is on two survivors again");
        const refilled = Date.now() - killedAt;
        // The second loss: another node than a.
        const second = survivors.find((n) => n !== a)!;
        await second.proc.kill("SIGKILL");
        for (const id of ids) {
          let r = await a.call({ op: "balance", id }, 10_000);
          for (let k = 0; k < 6 && r?.event !== "balance"; k++) {
            r = await a.call({ op: "balance", id }, 10_000);
          }
          assert.equal(r?.event, "balance", `balance of ${id}: ${JSON.stringify(r)}`);
          const deps = r!.deps as string[];
          assert.deepEqual(
            deps,
            acked.get(id),
            `${id}: every acknowledged deposit, once, in order`,
          );
        }
        console.log(`kill -9 → every idle account on two survivors again: ${refilled} ms`);
      } finally {
        for (const j of readers.values()) await j.close();
        await Promise.all(nodes.map((n) => n.proc.kill("SIGKILL")));
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
