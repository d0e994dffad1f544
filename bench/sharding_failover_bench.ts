// kill -9 of a node → the first answer from one of its entities on a survivor, with DEFAULT
// settings (failure detector, downing `stableAfter` 4 s), on 3 real processes, and its parts:
// detection (a survivor sees the node unreachable), downing (the node leaves the survivors'
// view of members that are up) and reallocation + restart of the entity.
//
//   deno run -A bench/sharding_failover_bench.ts      # bun bench/sharding_failover_bench.ts
//   RUNS=3 STABLE_AFTER=1500 deno run -A bench/sharding_failover_bench.ts
import process from "node:process";
import { type ScriptProcess, startSeededScript } from "../tests/_helpers/process.ts";

const RUNS = Number(process.env.RUNS ?? 3);
const extra = process.env.STABLE_AFTER ? ["--stable-after", process.env.STABLE_AFTER] : [];
const script = new URL("../tests/_helpers/sharded_bank_node.ts", import.meta.url).pathname;

interface BankNode {
  readonly proc: ScriptProcess;
  readonly port: number;
  send(cmd: Record<string, unknown>): void;
}

async function start(seeds: number[]): Promise<BankNode> {
  const { proc, port } = await startSeededScript(script, seeds, extra);
  return { proc, port, send: (cmd) => proc.child.stdin!.write(JSON.stringify(cmd) + "\n") };
}

let tags = 0;
/** Where entity `id` answers from (its host's port), asked through `via`. */
async function whereIs(via: BankNode, id: string): Promise<number> {
  for (;;) {
    const tag = `w${++tags}`;
    via.send({ op: "balance", id, tag });
    const line = JSON.parse(await via.proc.waitForLine((l) => l.includes(`"tag":"${tag}"`), 5000));
    if (line.event === "balance") return line.node;
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const results: { unreachable: number; downed: number; answer: number }[] = [];
for (let run = 0; run < RUNS; run++) {
  const a = await start([]);
  const others = await Promise.all([start([a.port]), start([a.port])]);
  const nodes = [a, ...others];
  try {
    const want = JSON.stringify(nodes.map((n) => n.port).sort((x, y) => x - y));
    await Promise.all(
      nodes.map((n) =>
        n.proc.waitForLine(
          (l) => l.includes('"view"') && JSON.stringify(JSON.parse(l).up) === want,
          30_000,
        )
      ),
    );
    const ids = Array.from({ length: 30 }, (_, i) => `acct-${i}`);
    const where = new Map<string, number>();
    for (const id of ids) where.set(id, await whereIs(a, id));
    // The victim: the non-first node hosting most entities (the first one is the leader).
    const count = (n: BankNode) => ids.filter((id) => where.get(id) === n.port).length;
    const victim = count(others[0]) >= count(others[1]) ? others[0] : others[1];
    const moved = ids.filter((id) => where.get(id) === victim.port);
    const t0 = performance.now();
    await victim.proc.kill("SIGKILL");
    let unreachableAt = NaN;
    let downedAt = NaN;
    let answerAt = NaN;
    a.proc.onLine((l) => {
      const e = JSON.parse(l);
      const t = performance.now() - t0;
      if (e.event === "view") {
        if (Number.isNaN(unreachableAt) && e.unreachable?.includes(victim.port)) unreachableAt = t;
        if (Number.isNaN(downedAt) && !e.up.includes(victim.port)) downedAt = t;
      } else if (e.event === "balance" && e.id === moved[0] && e.node !== victim.port) {
        if (Number.isNaN(answerAt)) answerAt = t;
      }
    });
    // An ask every 50 ms (each times out after 2 s): the first answer is seen within 50 ms.
    while (Number.isNaN(answerAt) && performance.now() - t0 < 60_000) {
      a.send({ op: "balance", id: moved[0], tag: `k${++tags}` });
      await new Promise((r) => setTimeout(r, 50));
    }
    // The view is polled every 100 ms: give it a moment to show the node downed as well.
    for (const end = performance.now() + 3000; Number.isNaN(downedAt) && performance.now() < end;) {
      await new Promise((r) => setTimeout(r, 50));
    }
    results.push({ unreachable: unreachableAt, downed: downedAt, answer: answerAt });
    console.log(
      `run ${run + 1}: unreachable after ${unreachableAt.toFixed(0)} ms, downed (out of the up ` +
        `members) after ${downedAt.toFixed(0)} ms, first answer from the new owner after ${
          answerAt.toFixed(0)
        } ms`,
    );
  } finally {
    await Promise.all(nodes.map((n) => n.proc.kill("SIGKILL")));
  }
}
const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
const runtime = g.Deno ? `Deno ${g.Deno.version.deno}` : `Bun ${g.Bun?.version}`;
console.log(
  `${runtime}, ${extra.length ? `stableAfter ${process.env.STABLE_AFTER}` : "default settings"}, ` +
    `median of ${RUNS}: unreachable ${median(results.map((r) => r.unreachable)).toFixed(0)} ms, ` +
    `downed ${median(results.map((r) => r.downed)).toFixed(0)} ms, first answer ${
      median(results.map((r) => r.answer)).toFixed(0)
    } ms`,
);
