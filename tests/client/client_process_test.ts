// The cluster client against real node processes (tests/client/_client_node.ts), the client in
// this process: zero-hop routing, failover of the contact, the breaker on a killed owner.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  type ActorRef,
  AskTimeoutError,
  ClusterClient,
  type ClusterClientOptions,
  ClusterUnavailableError,
  entityShard,
  type Logger,
  ShardEnvelope,
} from "../../mod.ts";
import { runScript, type ScriptProcess } from "../_helpers/process.ts";
import { waitUntil } from "../_helpers/child_process.ts";

const LONG = { timeout: 60_000 };
const script = new URL("./_client_node.ts", import.meta.url).pathname;

type Reply = { balance: number; node: number };
type AccountMsg =
  | { type: "deposit"; amount: number; replyTo?: ActorRef<Reply> }
  | { type: "getBalance"; replyTo: ActorRef<Reply> };

interface CNode {
  readonly proc: ScriptProcess;
  readonly port: number;
  request(cmd: Record<string, unknown>, timeout?: number): Promise<Record<string, unknown>>;
}

let tags = 0;

async function startNode(seeds: number[], extra: string[] = [], port = 0): Promise<CNode> {
  const args = [String(port), ...seeds.flatMap((s) => ["--seed", `127.0.0.1:${s}`]), ...extra];
  const proc = runScript(script, args, {}, { stdin: "pipe" });
  const ready = JSON.parse(await proc.waitForLine((l) => l.includes('"ready"'), 30_000));
  return {
    proc,
    port: ready.port,
    async request(cmd, timeout = 10_000) {
      const tag = `t${++tags}`;
      proc.child.stdin!.write(JSON.stringify({ ...cmd, tag }) + "\n");
      return JSON.parse(await proc.waitForLine((l) => l.includes(`"tag":"${tag}"`), timeout));
    },
  };
}

async function threeNodes(extra: string[] = []): Promise<CNode[]> {
  const a = await startNode([], extra);
  const nodes = [a, ...await Promise.all([startNode([a.port], extra), startNode([a.port], extra)])];
  const want = JSON.stringify(nodes.map((n) => n.port).sort((x, y) => x - y));
  await Promise.all(nodes.map((n) =>
    n.proc.waitForLine(
      (l) => l.includes('"view"') && JSON.stringify(JSON.parse(l).up) === want,
      30_000,
    )
  ));
  return nodes;
}

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const keep = (m: string) => void lines.push(m);
  return { lines, debug: () => {}, info: () => {}, warn: keep, error: keep };
}

/** A client of the "bank" nodes through `port`, with short failover settings. */
function connectVia(
  port: number,
  options: Partial<ClusterClientOptions> = {},
): Promise<ClusterClient> {
  return ClusterClient.connect({
    contactPoints: [`127.0.0.1:${port}`],
    systemName: "bank",
    connectTimeout: 20_000,
    logLevel: "error",
    topologyRefresh: 300,
    topologyTimeout: 1500,
    breaker: { failures: 2, probeTimeout: 400, resetAfter: 500 },
    bufferTimeout: 12_000,
    ...options,
  });
}

const ids = Array.from({ length: 40 }, (_, i) => `acct-${i}`);

describe("ClusterClient against real node processes", () => {
  it(
    "routes every message straight to its shard's owner and never joins the cluster",
    LONG,
    async () => {
      const nodes = await threeNodes();
      await using client = await ClusterClient.connect({
        contactPoints: [`127.0.0.1:${nodes[0].port}`],
        systemName: "bank",
        connectTimeout: 20_000,
        logLevel: "error",
      });
      try {
        const accounts = client.entityRef<AccountMsg>("accounts", { numShards: 30 });
        const round = (make: (replyTo: ActorRef<Reply>) => AccountMsg) =>
          Promise.all(ids.map((id) =>
            client.ask<ShardEnvelope<AccountMsg>, Reply>(
              accounts,
              (replyTo) => new ShardEnvelope(id, make(replyTo)),
              { timeout: 10_000 },
            )
          ));
        // Reads first: shards get allocated (an unknown shard's first message may be forwarded).
        // A node whose region the leader learned of late gets its share by rebalancing, and an
        // entity that moves starts again at 0 here (in memory): deposits wait until the table is
        // balanced and has not changed for 1.5 s.
        await round((replyTo) => ({ type: "getBalance", replyTo }));
        let table = "";
        let since = Date.now();
        await waitUntil(
          () => {
            const allocations = client.getClusterState().allocations.accounts ?? {};
            const now = JSON.stringify(allocations);
            if (now !== table) [table, since] = [now, Date.now()];
            const counts = nodes.map((n) =>
              Object.values(allocations).filter((a) => a.primary.port === n.port).length
            );
            return Object.keys(allocations).length >= 20 &&
              Math.max(...counts) - Math.min(...counts) <= 1 && Date.now() - since >= 1500;
          },
          30_000,
          () => `a balanced allocation table that holds still: ${table}`,
        );
        await round((replyTo) => ({ type: "deposit", amount: 1, replyTo }));
        const before = await Promise.all(nodes.map((n) => n.request({ op: "stats" })));
        const state = client.getClusterState();
        const owners = new Set<number>();
        for (const id of ids) {
          accounts.tell(new ShardEnvelope(id, { type: "deposit", amount: 2 }));
        }
        for (const id of ids) {
          const r = await client.entityAsk<AccountMsg, Reply>(
            accounts,
            id,
            (replyTo) => ({ type: "getBalance", replyTo }),
            { timeout: 10_000 },
          );
          assert.equal(r.balance, 3, id);
          const shard = entityShard(id, 30);
          const allocation = client.getClusterState().allocations.accounts[shard];
          assert.equal(r.node, allocation.primary.port, `${id} answered by its owner`);
          owners.add(r.node);
        }
        assert.ok(owners.size >= 2, `entities spread over ${owners.size} nodes`);
        const after = await Promise.all(nodes.map((n) => n.request({ op: "stats" })));
        for (let i = 0; i < nodes.length; i++) {
          assert.equal(
            after[i].forwards,
            before[i].forwards,
            `node ${
              nodes[i].port
            } received forwarded messages: the client did not go straight to the owner`,
          );
          assert.deepEqual(
            after[i].members,
            nodes.map((n) => n.port).sort((x, y) => x - y),
            "the client is not a member",
          );
        }
        assert.equal(state.members.length, 3);
        assert.ok(!state.members.some((m) => m.address.port === client.selfAddress.port));
      } finally {
        await client.close();
        await Promise.all(nodes.map((n) => n.proc.kill("SIGKILL")));
      }
    },
  );

  it(
    "the contact and owner killed with SIGKILL: the breaker opens, the client fails over, requests reach the new owners",
    LONG,
    async () => {
      const nodes = await threeNodes();
      // The contact, killed below, is not the leader: the test measures the client, not a
      // leader failover on the nodes (slower, and covered by the sharding tests).
      const leader = (await nodes[0].request({ op: "stats" })).leader;
      const a = nodes.find((n) => n.port !== leader)!;
      const survivors = nodes.filter((n) => n !== a).map((n) => n.port);
      const log = recordingLogger();
      const client = await connectVia(a.port, { logger: log });
      try {
        const accounts = client.entityRef<AccountMsg>("accounts", { numShards: 30 });
        await Promise.all(ids.map((id) =>
          client.entityAsk<AccountMsg, Reply>(
            accounts,
            id,
            (replyTo) => ({ type: "deposit", amount: 1, replyTo }),
            { timeout: 10_000 },
          )
        ));
        const ownedBy = (port: number) =>
          ids.filter((id) =>
            client.getClusterState().allocations.accounts?.[entityShardOf(id)]?.primary.port ===
              port
          );
        // The first allocations may all go to the other two nodes (the contact's region can be
        // announced after them); rebalancing then hands the contact its share, a few at a time.
        await waitUntil(
          () =>
            client.getClusterState().members.length === 3 &&
            ids.every((id) =>
              client.getClusterState().allocations.accounts?.[entityShardOf(id)] !== undefined
            ) && ownedBy(a.port).length > 0,
          20_000,
          "the client to learn every member and allocation, the contact owning some shards",
        );
        const onA = ownedBy(a.port);
        assert.ok(onA.length > 0, "the contact owns some shards");
        const killedAt = Date.now();
        await a.proc.kill("SIGKILL");
        // Requests for every entity, during and after the failover: each one succeeds or fails
        // with a clear error; those on the killed node never answer from it.
        const results = await Promise.allSettled(
          ids.map((id) =>
            client.entityAsk<AccountMsg, Reply>(
              accounts,
              id,
              (replyTo) => ({ type: "getBalance", replyTo }),
              { timeout: 4000 },
            )
          ),
        );
        const answered = results.filter((r) => r.status === "fulfilled").length;
        console.log(`while the node died: ${answered}/${ids.length} answered within 4 s`);
        for (const r of results) {
          if (r.status === "fulfilled") assert.notEqual(r.value.node, a.port);
          else {
            assert.ok(
              r.reason instanceof AskTimeoutError || r.reason instanceof ClusterUnavailableError,
              `unclear failure: ${r.reason}`,
            );
          }
        }
        assert.ok(
          log.lines.some((l) => l.includes(`circuit breaker for 127.0.0.1:${a.port} opened`)),
          `the breaker for the killed node opened: ${log.lines.join(" | ")}`,
        );
        // The client keeps working through another member: every entity answers again, from a
        // live node, once its shard is reallocated.
        await waitUntil(
          () => client.getClusterState().contact?.port !== a.port,
          10_000,
          "the client to fail over",
        );
        for (const id of onA) {
          const r = await client.entityAsk<AccountMsg, Reply>(
            accounts,
            id,
            (replyTo) => ({ type: "getBalance", replyTo }),
            { timeout: 8000 },
          );
          assert.ok(survivors.includes(r.node), `${id} answered by ${r.node}`);
        }
        console.log(
          `every entity of the killed node answered again after ${Date.now() - killedAt} ms`,
        );
        const state = client.getClusterState();
        assert.ok(!state.members.some((m) => m.address.port === a.port && m.status === "up"));
        assert.equal(state.buffered, 0);
      } finally {
        await client.close();
        await Promise.all(nodes.map((n) => n.proc.kill("SIGKILL")));
      }
    },
  );

  it(
    "distributed() keeps working after the node holding a counter and a lock is killed with SIGKILL",
    LONG,
    async () => {
      const nodes = await threeNodes();
      const leader = (await nodes[0].request({ op: "stats" })).leader;
      const contact = nodes.find((n) => n.port !== leader)!;
      const victim = nodes.find((n) => n.port !== leader && n !== contact)!;
      const client = await connectVia(contact.port);
      try {
        const d = client.distributed();
        const type = "casty-distributed-100";
        const owner = (kind: string, name: string) =>
          client.getClusterState().allocations[type]?.[entityShard(`_dd:${kind}:${name}`, 100)]
            ?.primary.port;
        // Structures until one counter and one lock live on the victim (not leader, not contact);
        // a first tryAcquire allocates the lock's shard (a lock without a journal grants nothing
        // for one lease after it starts).
        const names: string[] = [];
        const found = () =>
          names.some((n) => owner("counter", n) === victim.port) &&
          names.some((n) => owner("lock", n) === victim.port);
        for (let i = 0; i < 60 && !found(); i++) {
          const batch = [`s${i}a`, `s${i}b`, `s${i}c`, `s${i}d`];
          names.push(...batch);
          for (const name of batch) {
            assert.equal(await d.counter(name).increment(), 1);
            await d.lock(name, { lease: 1500 }).tryAcquire();
          }
          await waitUntil(
            () => names.every((n) => owner("counter", n) && owner("lock", n)),
            10_000,
            "the client to learn the structures' allocations",
          );
        }
        const counterName = names.find((n) => owner("counter", n) === victim.port);
        const lockName = names.find((n) => owner("lock", n) === victim.port);
        assert.ok(counterName && lockName, "the victim holds a counter and a lock");
        await victim.proc.kill("SIGKILL");
        const t0 = Date.now();
        // Each call succeeds again once the shard is reallocated (the counter is in memory on
        // the nodes, so it starts again from 0).
        const counter = d.counter(counterName);
        const { value, error } = await firstAnswer(() => counter.increment(), 20_000);
        assert.equal(typeof value, "number", `the counter answers after the failover: ${error}`);
        const lock = d.lock(lockName, { lease: 1500 });
        const token = await lock.acquire({ timeout: 20_000 });
        assert.equal(typeof token, "number");
        assert.equal(await lock.release(), true);
        assert.ok(owner("counter", counterName) !== victim.port);
        console.log(`distributed() answered again ${Date.now() - t0} ms after the kill`);
      } finally {
        await client.close();
        await Promise.all(nodes.map((n) => n.proc.kill("SIGKILL")));
      }
    },
  );

  it(
    "distributed() reaches members that joined after its first use (the first node then killed)",
    LONG,
    async () => {
      const a = await startNode([]);
      const client = await connectVia(a.port);
      const nodes = [a];
      try {
        const d = client.distributed();
        assert.equal(await d.counter("early").increment(), 1); // only A hosts the structures now
        // B and C join (two of three: they may down A once it dies).
        nodes.push(...await Promise.all([startNode([a.port]), startNode([a.port])]));
        // Every node sees all three up before A dies: a node still "joining" in B's view leaves
        // B alone against A (no majority to down A, no leader to let C in), and nothing moves.
        const want = JSON.stringify(nodes.map((n) => n.port).sort((x, y) => x - y));
        await Promise.all(nodes.map((n) =>
          n.proc.waitForLine(
            (l) => l.includes('"view"') && JSON.stringify(JSON.parse(l).up) === want,
            30_000,
          )
        ));
        await waitUntil(
          () => client.getClusterState().members.filter((m) => m.status === "up").length === 3,
          15_000,
          "the client to see B and C up",
        );
        await a.proc.kill("SIGKILL");
        const t0 = Date.now();
        const { value, error } = await firstAnswer(() => d.counter("early").increment(), 25_000);
        assert.equal(typeof value, "number", `the counter answers from B or C: ${error}`);
        console.log(`the structure answered from B or C ${Date.now() - t0} ms after the kill`);
      } finally {
        await client.close();
        await Promise.all(nodes.map((n) => n.proc.kill("SIGKILL")));
      }
    },
  );

  it(
    "shards moving to a joining node under a steady stream of tells: every tell is handled, at most one per move forwarded",
    LONG,
    async () => {
      const a = await startNode([]);
      const b = await startNode([a.port]);
      const nodes = [a, b];
      const client = await connectVia(a.port, { bufferTimeout: 20_000, bufferSize: 100_000 });
      try {
        const accounts = client.entityRef<AccountMsg>("accounts", { numShards: 30 });
        await waitUntil(
          () => client.getClusterState().members.filter((m) => m.status === "up").length === 2,
          15_000,
          "two members",
        );
        await Promise.all(ids.map((id) =>
          client.entityAsk<AccountMsg, Reply>(
            accounts,
            id,
            (replyTo) => ({ type: "deposit", amount: 1, replyTo }),
            { timeout: 10_000 },
          )
        ));
        const owner = (id: string) =>
          client.getClusterState().allocations.accounts?.[entityShardOf(id)]?.primary.port;
        await waitUntil(() => ids.every((id) => owner(id)), 10_000, "every allocation");
        const before = new Map(ids.map((id) => [entityShardOf(id), owner(id)]));
        const forwardsBefore = await Promise.all(nodes.map((n) => n.request({ op: "stats" })));
        // A steady stream of tells (one every 2 ms over the 40 entities) while C joins and the
        // coordinator moves shards to it.
        let sent = 0;
        let streaming = true;
        const stream = (async () => {
          while (streaming) {
            accounts.tell(
              new ShardEnvelope(ids[sent % ids.length], { type: "deposit", amount: 1 }),
            );
            sent++;
            await new Promise((r) => setTimeout(r, 2));
          }
        })();
        const c = await startNode([a.port]);
        nodes.push(c);
        await waitUntil(
          () => ids.some((id) => owner(id) === c.port),
          30_000,
          "a shard to move to C",
        );
        // Until the allocations have not changed for a while (the rebalancing ended).
        let epoch = client.getClusterState().allocationEpoch;
        let quietSince = Date.now();
        await waitUntil(
          () => {
            const now = client.getClusterState().allocationEpoch;
            if (now !== epoch) [epoch, quietSince] = [now, Date.now()];
            return Date.now() - quietSince > 1500;
          },
          30_000,
          "the moves to end",
        );
        streaming = false;
        await stream;
        const moved = [...before].filter(([shard, port]) =>
          client.getClusterState().allocations.accounts?.[shard]?.primary.port !== port
        ).length;
        assert.ok(moved >= 1);
        // Nothing lost: the nodes handled every deposit of the stream (counted by the processes:
        // an entity that moved starts again from 0 on its new node).
        const handled = async () => {
          const stats = await Promise.all(nodes.map((n) =>
            n.request({ op: "stats" })
          ));
          return stats.reduce(
            (sum, x, i) =>
              sum + (x.deposits as number) - ((forwardsBefore[i]?.deposits as number) ?? 0),
            0,
          );
        };
        let deposits = 0;
        const t0 = Date.now();
        while ((deposits = await handled()) < sent && Date.now() - t0 < 15_000) {
          await new Promise((r) => setTimeout(r, 50));
        }
        assert.equal(deposits, sent);
        const after = await Promise.all(nodes.map((n) => n.request({ op: "stats" })));
        const forwards = after.reduce(
          (sum, x, i) =>
            sum + (x.forwards as number) - ((forwardsBefore[i]?.forwards as number) ?? 0),
          0,
        );
        // Messages that reached a shard's old owner are forwarded (the slow path), not lost; and
        // at most one per move takes it: the client learns the hand-off and the new owner at
        // once (pushed by its contact), and holds a shard's messages during its hand-off.
        console.log(`${sent} tells while ${moved} shards moved: ${forwards} took the slow path`);
        assert.ok(
          forwards <= moved,
          `${forwards} forwarded messages while ${moved} shards moved: more than one per move`,
        );
      } finally {
        await client.close();
        await Promise.all(nodes.map((n) => n.proc.kill("SIGKILL")));
      }
    },
  );

  it("a client started before the cluster waits for it and connects", LONG, async () => {
    const port = await freePort();
    const connecting = ClusterClient.connect({
      contactPoints: [`127.0.0.1:${port}`],
      systemName: "bank",
      connectTimeout: 30_000,
      topologyTimeout: 500,
      logLevel: "error",
    });
    let settled = false;
    void connecting.then(() => settled = true, () => settled = true);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(settled, false, "connect waits while no node runs");
    const node = await startNode([], [], port);
    try {
      const client = await connecting;
      try {
        assert.equal(client.getClusterState().members[0]?.address.port, port);
        const accounts = client.entityRef<AccountMsg>("accounts", { numShards: 30 });
        const r = await client.entityAsk<AccountMsg, Reply>(
          accounts,
          "early",
          (replyTo) => ({ type: "deposit", amount: 5, replyTo }),
          { timeout: 10_000 },
        );
        assert.deepEqual(r, { balance: 5, node: port });
      } finally {
        await client.close();
      }
    } finally {
      await node.proc.kill("SIGKILL");
    }
  });
});

/** Calls `f` until it answers or `ms` pass: its answer, or the last error. */
async function firstAnswer<T>(
  f: () => Promise<T>,
  ms: number,
): Promise<{ value?: T; error?: unknown }> {
  const t0 = Date.now();
  let error: unknown;
  while (Date.now() - t0 < ms) {
    try {
      return { value: await f() };
    } catch (err) {
      error = err;
    }
  }
  return { error };
}

function entityShardOf(id: string): number {
  return entityShard(id, 30);
}

async function freePort(): Promise<number> {
  const { createServer } = await import("node:net");
  return await new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}
