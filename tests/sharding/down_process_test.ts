// A live node downed by an operator (`node.down(address)`) while everything the others send it
// is slow: it learns of its downing only when the news arrives, and keeps its shards (and its
// singleton instance) until then. The leader must not move them before the last lease it granted
// that node has run out, and the next singleton owner must wait that out too: otherwise an
// entity (or the singleton) runs on two nodes at once. Real processes behind loopback proxies
// that delay one direction only; the victim still answers the leader at full speed.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { connect, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { freePort, NodeProxy, PartitionTable } from "../_helpers/partition_proxy.ts";
import { runScript, type ScriptProcess } from "../_helpers/process.ts";

const LONG = { timeout: 60_000 };
/** How late everything the other nodes send reaches the victim (ms). */
const DELAY = 500;
/** Downing's `stableAfter` (ms): a lease lasts half of it, well over DELAY. */
const STABLE_AFTER = 3000;
const bankScript = new URL("../_helpers/sharded_bank_node.ts", import.meta.url).pathname;
const singletonScript = new URL("../_helpers/singleton_node.ts", import.meta.url).pathname;

type Event = Record<string, unknown> & { event: string };

interface Node {
  readonly proc: ScriptProcess;
  /** The advertised port (its proxy's). */
  readonly port: number;
  send(cmd: Record<string, unknown>): void;
  events(event?: string): Event[];
}

const parse = (l: string): Event | undefined => {
  try {
    return JSON.parse(l) as Event;
  } catch {
    return undefined;
  }
};

/**
 * Starts `script` for each proxy with `args(proxy, seeds)`: the node advertises the proxy's port
 * and binds behind it; the first one is the seed of the others.
 */
async function startNodes(
  script: string,
  proxies: { port: number; bindPort: number }[],
  args: (p: { port: number; bindPort: number }, seeds: string[]) => string[],
): Promise<Node[]> {
  const nodes: Node[] = [];
  for (const p of proxies) {
    const seeds = p === proxies[0] ? [] : ["--seed", `127.0.0.1:${proxies[0].port}`];
    const proc = runScript(script, args(p, seeds), {}, { stdin: "pipe" });
    const node: Node = {
      proc,
      port: p.port,
      send: (cmd) => {
        if (proc.child.stdin!.writable) proc.child.stdin!.write(JSON.stringify(cmd) + "\n");
      },
      events: (event) =>
        proc.lines.map(parse).filter((e): e is Event =>
          e !== undefined && (event === undefined || e.event === event)
        ),
    };
    nodes.push(node);
    await proc.waitForLine((l) => parse(l)?.event === "ready", 30_000);
  }
  return nodes;
}

/** Polls (after running `step`, if given) until `predicate` holds, at most `timeout` ms. */
async function until(
  predicate: () => boolean,
  timeout: number,
  what: string | (() => string),
  step?: () => Promise<void> | void,
): Promise<void> {
  const end = Date.now() + timeout;
  for (;;) {
    await step?.();
    if (predicate()) return;
    if (Date.now() > end) {
      const text = typeof what === "string" ? what : what();
      throw new Error(`Timed out after ${timeout} ms waiting for ${text}`);
    }
    await new Promise((r) => setTimeout(r, step ? 200 : 20));
  }
}

/** The last view a node printed. */
const lastView = (n: Node) =>
  n.events("view").at(-1) as
    | { up: number[]; unreachable: number[]; leader: number | null }
    | undefined;

/**
 * Waits until every node sees all of them up, none unreachable, the same leader, and (with
 * `accounts`) every node a host of "accounts" in its table: a shard allocated before a node's
 * region is known there goes to the others, and moves only later.
 */
async function converged(nodes: Node[], timeout: number, accounts = false): Promise<number> {
  const ports = JSON.stringify(nodes.map((n) => n.port).sort((a, b) => a - b));
  const ok = () =>
    nodes.every((n) => {
      const v = lastView(n);
      const hosts = n.events("hosts").at(-1) as { ports: number[] } | undefined;
      return v !== undefined && JSON.stringify(v.up) === ports && v.unreachable.length === 0 &&
        v.leader === lastView(nodes[0])!.leader &&
        (!accounts || JSON.stringify(hosts?.ports) === ports);
    });
  await until(
    ok,
    timeout,
    `three members up with one leader${accounts ? ", hosting accounts" : ""}`,
  );
  return lastView(nodes[0])!.leader!;
}

async function proxiesFor(table: PartitionTable, n: number) {
  const out: { proxy: NodeProxy; port: number; bindPort: number }[] = [];
  for (let i = 0; i < n; i++) {
    const bindPort = await freePort();
    const proxy = await NodeProxy.start(bindPort, table);
    out.push({ proxy, port: proxy.port, bindPort });
  }
  return out;
}

describe("the test proxy's one-way delay", () => {
  it("delays what one node sends the other, in order, and nothing the other way", async () => {
    // A "node" behind a proxy that echoes every byte back, and a "dialer" claiming port 4001.
    const table = new PartitionTable();
    const sockets: Socket[] = [];
    const node = createServer((s) => {
      sockets.push(s);
      s.on("data", (d) => s.write(d));
      s.on("error", () => {});
    });
    await new Promise<void>((r) => node.listen(0, "127.0.0.1", r));
    const proxy = await NodeProxy.start((node.address() as { port: number }).port, table);
    const dialer = connect(proxy.port, "127.0.0.1");
    try {
      await new Promise((r) => dialer.once("connect", r));
      const hello = Buffer.from(JSON.stringify({ port: 4001 }));
      const head = Buffer.alloc(5);
      head.writeUInt32BE(hello.length + 1, 0);
      const seen: { at: number; text: string }[] = [];
      dialer.on("data", (d: Buffer) => seen.push({ at: Date.now(), text: d.toString("latin1") }));
      dialer.write(Buffer.concat([head, hello]));
      const echoed = (text: string) => seen.map((x) => x.text).join("").includes(text);
      await until(() => echoed(hello.toString("latin1")), 5000, "the handshake's echo");
      // The dialer's bytes to the node are late; the node's own writes to the dialer are not.
      table.delay(4001, proxy.port, 300);
      const sent = Date.now();
      for (const c of ["a1", "b2", "c3"]) dialer.write(c);
      await until(() => echoed("a1b2c3"), 5000, "the delayed bytes' echo");
      const arrived = seen.find((x) => x.text.includes("a"))!.at - sent;
      assert.ok(arrived >= 280, `the dialer's bytes reached the node after ${arrived} ms`);
      const pushedAt = Date.now();
      sockets[0].write("z9");
      await until(() => echoed("z9"), 5000, "the node's bytes");
      assert.ok(Date.now() - pushedAt < 150, "the node's bytes to the dialer were not delayed");
      // The other direction: what the node sends on a connection the dialer opened.
      table.delay(4001, proxy.port, 0);
      table.delay(proxy.port, 4001, 300);
      const again = Date.now();
      sockets[0].write("y8");
      await until(() => echoed("y8"), 5000, "the node's delayed bytes");
      assert.ok(Date.now() - again >= 280, "the node's bytes to the dialer were delayed");
    } finally {
      dialer.destroy();
      await proxy.close();
      for (const s of sockets) s.destroy();
      await new Promise((r) => node.close(r));
    }
  });
});

describe("a live node downed by an operator behind a slow link, with real processes", () => {
  it(
    "sharding: its accounts are never handled on two nodes, no acknowledged deposit is lost",
    LONG,
    async () => {
      const table = new PartitionTable();
      const proxies = await proxiesFor(table, 3);
      const journal = join(tmpdir(), `downproc-${process.pid}-${Date.now()}.sqlite`);
      let nodes: Node[] = [];
      try {
        nodes = await startNodes(bankScript, proxies, (p, seeds) => [
          String(p.port),
          "--bind-port",
          String(p.bindPort),
          ...seeds,
          "--journal",
          journal,
          "--stable-after",
          String(STABLE_AFTER),
          "--trace",
        ]);
        const leaderPort = await converged(nodes, 30_000, true);
        const leader = nodes.find((n) => n.port === leaderPort)!;

        // Every deposit is asked (tagged); each tag ends in an ack or an error.
        let seq = 0;
        const sent = new Map<string, { id: string; dep: string; via: Node }>();
        const deposit = (via: Node, id: string) => {
          const dep = `d${seq++}`;
          sent.set(dep, { id, dep, via });
          via.send({ op: "deposit", id, amount: 1, dep, tag: dep });
        };
        const ids = Array.from({ length: 30 }, (_, k) => `acc-${k}`);
        const handled = () =>
          nodes.flatMap((n) => n.events("handled")).sort((a, b) =>
            (a.at as number) - (b.at as number)
          );
        // A first deposit whose ask failed (the cluster had just formed) is sent again, as a
        // new deposit: every one is accounted for below either way.
        let round = 0;
        await until(
          () => ids.every((id) => handled().some((e) => e.id === id)),
          20_000,
          () => {
            const errors = nodes.flatMap((n) => n.events("error")).map((e) => e.message);
            return `every account's first deposit (errors: ${errors.slice(0, 3).join("; ")})`;
          },
          () => {
            if (round++ % 15 !== 0) return; // every 3 s
            const missing = ids.filter((id) => !handled().some((e) => e.id === id));
            missing.forEach((id, k) => deposit(nodes[k % 3], id));
          },
        );
        if (round > 16) console.log(`first deposits needed ${Math.ceil(round / 15)} rounds`);
        const owner = new Map(handled().map((e) => [e.id as string, e.node as number]));
        const count = (p: number) => ids.filter((id) => owner.get(id) === p).length;
        const victim = nodes.filter((n) =>
          n !== leader
        ).sort((a, b) => count(b.port) - count(a.port))[0];
        const survivors = nodes.filter((n) => n !== victim);
        const theirs = ids.filter((id) => owner.get(id) === victim.port).slice(0, 8);
        assert.ok(theirs.length > 0, "the victim hosts accounts");

        // Traffic to the victim's accounts through every node, the victim's own region included.
        let k = 0;
        let traffic = true;
        const pump = (async () => {
          while (traffic) {
            const via = nodes[k % 3];
            // A node that shut down answers nothing any more.
            if (via.events("ShutdownSelf").length === 0) deposit(via, theirs[k % theirs.length]);
            k++;
            await new Promise((r) => setTimeout(r, 15));
          }
        })();
        try {
          // Everything the others send the victim arrives DELAY ms late; what it sends is on time.
          for (const s of survivors) table.delay(s.port, victim.port, DELAY);
          const slowFrom = victim.proc.lines.length;
          await new Promise((r) => setTimeout(r, 1500)); // leases now renewed DELAY ms late
          assert.ok(
            nodes.every((n) => lastView(n)!.unreachable.length === 0),
            "nobody finds the slow victim unreachable",
          );
          assert.ok(
            victim.proc.lines.slice(slowFrom).some((l) => parse(l)?.event === "handled"),
            "the victim handles deposits behind the slow link",
          );
          leader.send({ op: "down", port: victim.port });
          await until(
            () => victim.events("ShutdownSelf").length > 0,
            10_000,
            "the victim's downing",
          );
          // The victim's accounts move to the survivors and answer there.
          const downedAt = leader.events("downing")[0].at as number;
          const survivorHandled = () =>
            survivors.flatMap((n) => n.events("handled")).filter((e) =>
              theirs.includes(e.id as string) && (e.at as number) >= downedAt
            );
          await until(
            () => theirs.every((id) => survivorHandled().some((e) => e.id === id)),
            15_000,
            "the survivors to handle every account of the victim",
          );
        } finally {
          traffic = false;
          await pump;
        }
        // Every deposit asked through a survivor ends in an ack or an error (the asks time out
        // after 2 s); the victim's own pending asks end with it.
        const answered = () =>
          new Set(
            nodes.flatMap((n) => [...n.events("ack"), ...n.events("error")]).map((e) =>
              e.tag as string
            ),
          );
        const unanswered = () =>
          [...sent.values()].filter((d) => d.via !== victim && !answered().has(d.dep));
        await until(
          () => unanswered().length === 0,
          10_000,
          () => `every deposit's answer (missing ${unanswered().map((d) => d.dep).join(",")})`,
        );

        const downedAt = leader.events("downing")[0].at as number;
        const shutdown = victim.events("ShutdownSelf")[0];
        // Downed, or removed already (the leader tells a removed member directly).
        assert.ok(
          shutdown.reason === "downed" || shutdown.reason === "removed",
          `the victim shut itself down (${shutdown.reason})`,
        );
        const learned = (shutdown.at as number) - downedAt;
        assert.ok(
          learned >= DELAY * 0.9,
          `the victim learned of its downing ${learned} ms after it, not behind the slow link`,
        );

        // No account is handled by the victim after a survivor handled it since the downing.
        const byAccount = new Map<string, Event[]>();
        for (const e of handled()) {
          byAccount.set(e.id as string, [...byAccount.get(e.id as string) ?? [], e]);
        }
        const overlaps: string[] = [];
        let firstMove = Infinity;
        let victimLast = -Infinity;
        for (const id of theirs) {
          const es = byAccount.get(id) ?? [];
          const taken = es.filter((e) => e.node !== victim.port && (e.at as number) >= downedAt)
            .map((e) => e.at as number);
          const first = Math.min(...taken);
          // Measured on the accounts the victim still served when it was downed (some may have
          // been on their way to another node already: a rebalancing hand-off).
          const served = es.filter((e) => e.node === victim.port).at(-1);
          if (served !== undefined && (served.at as number) >= downedAt - 400) {
            firstMove = Math.min(firstMove, first);
            for (const e of es) {
              if (e.node === victim.port) victimLast = Math.max(victimLast, e.at as number);
            }
          }
          const late = es.filter((e) => e.node === victim.port && (e.at as number) >= first);
          if (late.length > 0) {
            overlaps.push(
              `${id}: survivor from +${first - downedAt} ms, victim at ` +
                late.map((e) => `+${(e.at as number) - downedAt}`).join(","),
            );
          }
        }
        const journalErrors = nodes.flatMap((n) => n.events("journal-error"));

        // Every acknowledged deposit is in the final balance exactly once.
        const acked = nodes.flatMap((n) => n.events("ack"));
        const finals = new Map<string, Event>();
        const via = survivors[0];
        for (const id of theirs) via.send({ op: "balance", id, tag: `b-${id}` });
        await until(
          () => theirs.every((id) => via.events("balance").some((e) => e.tag === `b-${id}`)),
          10_000,
          "the final balances",
        );
        for (const e of via.events("balance")) finals.set(e.id as string, e);
        const problems: string[] = [];
        const handledBy = new Map(handled().map((e) => [e.dep as string, e]));
        for (const id of theirs) {
          const f = finals.get(id)!;
          const deps = f.deps as string[];
          if (f.balance !== deps.length) {
            problems.push(
              `${id}: balance ${f.balance} ≠ ${deps.length}`,
            );
          }
          const twice = deps.filter((d, i) => deps.indexOf(d) !== i);
          if (twice.length > 0) problems.push(`${id}: applied twice ${twice.join(",")}`);
          for (const a of acked.filter((a) => a.id === id)) {
            if (!deps.includes(a.dep as string)) problems.push(`${id}: acknowledged ${a.dep} lost`);
          }
          // The same in the journal's order, free of clock readings: once a survivor wrote a
          // deposit after the downing, the log holds none written by the victim.
          const took = deps.findIndex((d) => {
            const h = handledBy.get(d);
            return h !== undefined && h.node !== victim.port && (h.at as number) >= downedAt;
          });
          const after = took < 0
            ? []
            : deps.slice(took).filter((d) => handledBy.get(d)?.node === victim.port);
          if (after.length > 0) problems.push(`${id}: the victim wrote ${after} after a survivor`);
        }
        console.log(
          `downed behind a ${DELAY} ms link: the victim learned of it after ${learned} ms, ` +
            `handled its last deposit at ${victimLast - downedAt} ms; ` +
            `its accounts first handled on a survivor after ${firstMove - downedAt} ms ` +
            `(${acked.length} of ${sent.size} deposits acknowledged)`,
        );
        assert.ok(
          victimLast >= downedAt,
          "the victim still handled deposits after it was downed (it had not learned it yet)",
        );
        assert.deepEqual(overlaps, [], "accounts handled on two nodes at once");
        assert.deepEqual(journalErrors.map((e) => e.message), [], "journal conflicts");
        assert.deepEqual(problems, []);
      } finally {
        await Promise.all(nodes.map((n) => n.proc.kill("SIGKILL")));
        await Promise.all(proxies.map((p) => p.proxy.close()));
        for (const suffix of ["", "-wal", "-shm"]) rmSync(journal + suffix, { force: true });
      }
    },
  );
});

describe("a singleton's live owner downed by an operator behind a slow link, with real processes", () => {
  it("never runs two instances at once; the new one answers afterwards", LONG, async () => {
    const table = new PartitionTable();
    const proxies = await proxiesFor(table, 3);
    let nodes: Node[] = [];
    try {
      nodes = await startNodes(singletonScript, proxies, (p, seeds) => [
        "cluster",
        "--port",
        String(p.port),
        "--bind-port",
        String(p.bindPort),
        ...seeds,
        "--stable-after",
        String(STABLE_AFTER),
      ]);
      const leaderPort = await converged(nodes, 30_000);
      let tags = 0;
      /** Asks the singleton through `via`; resolves with the answering port, or 0. */
      const ask = async (via: Node): Promise<number> => {
        const tag = `q${tags++}`;
        via.send({ op: "ask", tag });
        const line = await via.proc.waitForLine((l) => parse(l)?.tag === tag, 5000).catch(
          () => undefined,
        );
        const e = line === undefined ? undefined : parse(line);
        return e?.event === "answer" ? e.port as number : 0;
      };
      let ownerPort = 0;
      await until(() => ownerPort !== 0, 20_000, "the singleton to answer", async () => {
        ownerPort = await ask(nodes[1]);
      });
      const victim = nodes.find((n) => n.port === ownerPort)!;
      const survivors = nodes.filter((n) => n !== victim);
      // The leader downs it, unless it is the leader: then another node does.
      const downer = survivors.find((n) => n.port === leaderPort) ?? survivors[0];
      const asker = survivors.find((n) => n !== downer)!;
      for (const s of survivors) table.delay(s.port, victim.port, DELAY);
      await new Promise((r) => setTimeout(r, 1500)); // leases now renewed DELAY ms late
      assert.ok(
        nodes.every((n) => lastView(n)!.unreachable.length === 0),
        "nobody finds the slow owner unreachable",
      );
      assert.equal(victim.events("singletonStopped").length, 0, "the slow owner keeps it");

      downer.send({ op: "down", port: victim.port });
      let next = 0;
      await until(
        () => next !== 0 && next !== ownerPort,
        20_000,
        "the singleton to answer from a survivor",
        async () => {
          next = await ask(asker);
        },
      );
      await until(
        () => victim.events("singletonStopped").length > 0,
        10_000,
        "the old instance's stop",
      );
      await until(() => victim.events("ShutdownSelf").length > 0, 10_000, "the owner's downing");

      const downedAt = downer.events("downing")[0].at as number;
      const learned = (victim.events("ShutdownSelf")[0].at as number) - downedAt;
      assert.ok(
        learned >= DELAY * 0.9,
        `the owner learned of its downing ${learned} ms after it, not behind the slow link`,
      );
      const stopped = victim.events("singletonStopped")[0].at as number;
      const starts = survivors.flatMap((n) => n.events("singletonStarted"));
      assert.deepEqual(starts.map((e) => e.port), [next], "one new instance, where it answered");
      const started = starts[0].at as number;
      console.log(
        `singleton owner downed behind a ${DELAY} ms link: it learned of it after ${learned} ms ` +
          `and stopped its instance at ${stopped - downedAt} ms; the new instance started at ` +
          `${started - downedAt} ms`,
      );
      assert.ok(stopped >= downedAt, "the old instance still ran when its node was downed");
      assert.ok(
        started > stopped,
        `two instances at once: the new one started ${stopped - started} ms before the old stopped`,
      );
    } finally {
      await Promise.all(nodes.map((n) => n.proc.kill("SIGKILL")));
      await Promise.all(proxies.map((p) => p.proxy.close()));
    }
  });
});
