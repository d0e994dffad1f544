// The cluster client against nodes in this process (real TCP on 127.0.0.1) and, for the lock,
// a client in another process killed with SIGKILL.
import { afterEach, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  type ActorRef,
  AskTimeoutError,
  Behaviors,
  ClusterClient,
  ClusteredActorSystem,
  ClusterUnavailableError,
  DeadLetter,
  InMemoryJournal,
  ServiceKey,
  ShardEnvelope,
} from "../../mod.ts";
import { runScript } from "../_helpers/process.ts";
import { waitUntil } from "../_helpers/child_process.ts";
import { tlsFixtures } from "../_helpers/tls_fixtures.ts";

const LONG = { timeout: 60_000 };
const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f().catch(() => {});
});

type Msg = { type: "add"; n: number } | { type: "get"; replyTo: ActorRef<number> };
const counter = (_id: string) => {
  let total = 0;
  return Behaviors.receive<Msg>((_c, m) => {
    if (m.type === "add") total += m.n;
    else m.replyTo.tell(total);
    return Behaviors.same();
  });
};

async function node(
  options: Partial<Parameters<typeof ClusteredActorSystem.start>[0]> = {},
): Promise<ClusteredActorSystem> {
  const n = await ClusteredActorSystem.start(
    {
      name: "bank",
      host: "127.0.0.1",
      port: 0,
      logLevel: "error",
      ...options,
    } as Parameters<typeof ClusteredActorSystem.start>[0],
  );
  cleanup.push(() => n.shutdown());
  return n;
}

async function client(
  options: Partial<Parameters<typeof ClusterClient.connect>[0]> & { contactPoints: string[] },
): Promise<ClusterClient> {
  const c = await ClusterClient.connect({
    systemName: "bank",
    connectTimeout: 10_000,
    logLevel: "error",
    ...options,
  });
  cleanup.push(() => c.close());
  return c;
}

const at = (n: ClusteredActorSystem) => `127.0.0.1:${n.selfAddress.port}`;

describe("ClusterClient", () => {
  it("rejects bad options with clear errors", async () => {
    await assert.rejects(
      ClusterClient.connect({ contactPoints: [], systemName: "bank" }),
      /contactPoints must list at least one node/,
    );
    await assert.rejects(
      ClusterClient.connect({ contactPoints: ["127.0.0.1:1"], systemName: "" }),
      /systemName must be a non-empty string/,
    );
    await assert.rejects(
      ClusterClient.connect({ contactPoints: ["127.0.0.1:1"], systemName: "b", bufferSize: -1 }),
      /bufferSize must be a positive number/,
    );
  });

  it("fails with CLUSTER_UNAVAILABLE when no contact answers in time", async () => {
    const t0 = Date.now();
    const err = await ClusterClient.connect({
      contactPoints: ["127.0.0.1:1"],
      systemName: "bank",
      connectTimeout: 800,
      logLevel: "silent",
    }).catch((e) => e);
    assert.ok(err instanceof ClusterUnavailableError, String(err));
    assert.equal(err.code, "CLUSTER_UNAVAILABLE");
    assert.match(
      err.message,
      /Cannot connect to cluster "bank" via 127\.0\.0\.1:1: no topology within 800 ms/,
    );
    assert.ok(Date.now() - t0 < 5000);
  });

  it(
    "tells, asks, spawns reply actors, looks up services and hosts actors the cluster calls",
    LONG,
    async () => {
      const n1 = await node();
      const n2 = await node({ seedNodes: [n1.selfAddress] });
      await n1.waitFor(2, { timeout: 10_000 });
      for (const n of [n1, n2]) n.spawn(Behaviors.sharded(counter, { numShards: 10 }), "counters");
      const echo = new ServiceKey<{ text: string; replyTo: ActorRef<string> }>("echo");
      n2.spawn(
        Behaviors.discoverable(
          Behaviors.receive<{ text: string; replyTo: ActorRef<string> }>((_c, m) => {
            m.replyTo.tell(`echo: ${m.text}`);
            return Behaviors.same();
          }),
          echo,
        ),
        "echo",
      );
      const c = await client({ contactPoints: [at(n1)] });
      const counters = c.entityRef<Msg>("counters", { numShards: 10 });
      assert.equal(c.regionRef<Msg>("counters", undefined, { numShards: 10 }), counters);
      assert.throws(() => c.entityRef("counters", { numShards: 11 }), /with 11 shards/);
      assert.throws(() => counters.tell({ type: "add", n: 1 } as never), /send a ShardEnvelope/);
      for (let i = 0; i < 20; i++) {
        counters.tell(
          new ShardEnvelope(`c${i % 4}`, { type: "add", n: 1 }),
        );
      }
      for (let i = 0; i < 4; i++) {
        assert.equal(
          await c.entityAsk<Msg, number>(
            counters,
            `c${i}`,
            (replyTo) => ({ type: "get", replyTo }),
          ),
          5,
        );
      }
      // The receptionist registry arrives with the topology.
      await waitUntil(() => c.lookup(echo).refs.length === 1, 10_000, "the echo service");
      assert.equal(
        await c.ask(
          c.lookup(echo).refs[0],
          (replyTo: ActorRef<string>) => ({ text: "hi", replyTo }),
        ),
        "echo: hi",
      );
      // An actor spawned on the client is reachable from the cluster (a ref inside a message).
      const seen: number[] = [];
      const inbox = c.spawn(
        Behaviors.receive<number>((_c, n) => {
          seen.push(n);
          return Behaviors.same();
        }),
        "inbox",
      );
      for (let i = 0; i < 3; i++) {
        counters.tell(
          new ShardEnvelope(`c${i}`, { type: "get", replyTo: inbox }),
        );
      }
      await waitUntil(() => seen.length === 3, 10_000, "three replies to the client's actor");
      assert.deepEqual(seen.sort(), [5, 5, 5]);
      const state = c.getClusterState();
      assert.equal(state.members.length, 2);
      assert.ok(state.leader !== undefined && state.contact?.port === n1.selfAddress.port);
      assert.ok(Object.keys(state.allocations.counters ?? {}).length >= 1);
      assert.ok(!n1.members.some((m) => m.address.port === c.selfAddress.port), "never a member");
    },
  );

  it(
    "a burst beyond the outbound queue: every tell arrives or is a DeadLetter, send() loses none, the breaker stays closed",
    LONG,
    async () => {
      const n1 = await node();
      // Counts outside the entities, so an entity restart could not hide a message.
      let arrived = 0;
      n1.spawn(
        Behaviors.sharded((_id: string) =>
          Behaviors.receive<Msg>((_c, m) => {
            if (m.type === "add") arrived += m.n;
            else m.replyTo.tell(arrived);
            return Behaviors.same();
          }), { numShards: 10 }),
        "counters",
      );
      const warnings: string[] = [];
      const c = await client({
        contactPoints: [at(n1)],
        transport: { outboundQueueLimit: 500 },
        breaker: { failures: 3 },
        logger: {
          debug: () => {},
          info: () => {},
          warn: (m: string) => warnings.push(m),
          error: (m: string) => warnings.push(m),
        },
      });
      const counters = c.entityRef<Msg>("counters", { numShards: 10 });
      const get = () =>
        c.entityAsk<Msg, number>(counters, "k0", (replyTo) => ({ type: "get", replyTo }));
      await get(); // the owner is known: the tells below take the hot path
      await waitUntil(
        () => Object.keys(c.getClusterState().allocations.counters ?? {}).length >= 1,
        10_000,
        "the allocation",
      );
      let dead = 0;
      c.system.eventStream.subscribe(DeadLetter, (d) => {
        if (d.message instanceof ShardEnvelope) dead++;
      });
      // One synchronous burst of 5000 tells against a queue of 500: most overflow.
      const burst = 5000;
      for (let i = 0; i < burst; i++) {
        counters.tell(new ShardEnvelope(`k${i % 20}`, { type: "add", n: 1 }));
      }
      assert.deepEqual(c.getClusterState().breakers, {}, "an overflow is not a node failure");
      await waitUntil(
        () => arrived + dead === burst,
        20_000,
        () => `${arrived} arrived + ${dead} dead of ${burst}`,
      );
      assert.ok(dead > 0, "the burst overflowed the queue");
      assert.deepEqual(c.getClusterState().breakers, {});
      assert.deepEqual(warnings.filter((w) => /circuit breaker/.test(w)), []);
      // The same burst with send(): it waits for room, nothing is lost.
      const before = arrived;
      const deadBefore = dead;
      for (let i = 0; i < burst; i++) {
        await counters.send(new ShardEnvelope(`k${i % 20}`, { type: "add", n: 1 }));
      }
      await waitUntil(() => arrived - before === burst, 20_000, "every send delivered");
      assert.equal(dead, deadBefore);
      assert.equal(await get(), arrived);
    },
  );

  it(
    "addressMap applies to refs inside messages from the nodes (a node reached through a tunnel)",
    LONG,
    async () => {
      const n1 = await node();
      const n2 = await node({ seedNodes: [n1.selfAddress] });
      await n1.waitFor(2, { timeout: 10_000 });
      const got: string[] = [];
      const sink = n2.spawn(
        Behaviors.receive<string>((_c, m) => {
          got.push(m);
          return Behaviors.same();
        }),
        "sink",
      );
      // n1 hands out a ref to n2's actor inside its reply.
      const onN1 = n1.remoting.refFor<string>(sink.address);
      n1.spawn(
        Behaviors.receive<{ replyTo: ActorRef<{ target: ActorRef<string> }> }>((_c, m) => {
          m.replyTo.tell({ target: onN1 });
          return Behaviors.same();
        }),
        "pointer",
      );
      // The client reaches n2 only through a tunnel (a real TCP relay that counts connections).
      const { createServer, connect } = await import("node:net");
      let tunneled = 0;
      const relay = createServer((inbound) => {
        tunneled++;
        const out = connect(n2.selfAddress.port, "127.0.0.1");
        inbound.pipe(out).pipe(inbound);
        const end = () => {
          inbound.destroy();
          out.destroy();
        };
        inbound.on("error", end).on("close", end);
        out.on("error", end).on("close", end);
      });
      await new Promise<void>((r) => relay.listen(0, "127.0.0.1", r));
      const relayPort = (relay.address() as { port: number }).port;
      cleanup.push(() => new Promise((r) => relay.close(r)));
      const c = await client({
        contactPoints: [at(n1)],
        addressMap: (a) =>
          a.port === n2.selfAddress.port ? { host: "127.0.0.1", port: relayPort } : a,
      });
      const { target } = await c.ask(
        c.refFor<{ replyTo: ActorRef<{ target: ActorRef<string> }> }>(
          `casty://bank@${at(n1)}/pointer`,
        ),
        (replyTo: ActorRef<{ target: ActorRef<string> }>) => ({ replyTo }),
      );
      target.tell("through the tunnel");
      await waitUntil(() => got.length === 1, 10_000, "the message at n2");
      assert.deepEqual(got, ["through the tunnel"]);
      assert.ok(tunneled >= 1, "the client dialed n2 through the mapped address");
    },
  );

  it(
    "a lost slow-path message does not leave its shard unallocated: the next one goes through another node",
    LONG,
    async () => {
      const n1 = await node();
      const n2 = await node({ seedNodes: [n1.selfAddress] });
      await n1.waitFor(2, { timeout: 10_000 });
      // Only n2 hosts the type: what goes through the contact n1 is lost there.
      n2.spawn(Behaviors.sharded(counter, { numShards: 10 }), "counters");
      const c = await client({ contactPoints: [at(n1)], topologyRefresh: 200 });
      await waitUntil(() => c.getClusterState().members.length === 2, 10_000, "two members");
      const counters = c.entityRef<Msg>("counters", { numShards: 10 });
      const get = (timeout: number) =>
        c.entityAsk<Msg, number>(counters, "x", (replyTo) => ({ type: "get", replyTo }), {
          timeout,
        });
      await assert.rejects(get(1000), AskTimeoutError, "the first one went through n1");
      assert.equal(await get(8000), 0);
      assert.ok(c.getClusterState().allocations.counters !== undefined);
    },
  );

  it(
    "a request that cannot reach its node waits in a bounded buffer, then fails clearly",
    LONG,
    async () => {
      const n1 = await node();
      n1.spawn(Behaviors.sharded(counter, { numShards: 10 }), "counters");
      const c = await client({
        contactPoints: [at(n1)],
        bufferSize: 2,
        bufferTimeout: 600,
        topologyTimeout: 10_000,
      });
      const counters = c.entityRef<Msg>("counters", { numShards: 10 });
      await c.entityAsk<Msg, number>(counters, "x", (replyTo) => ({ type: "get", replyTo }));
      await waitUntil(
        () => Object.keys(c.getClusterState().allocations.counters ?? {}).length === 1,
        10_000,
        "the client to learn the allocation",
      );
      const dead: DeadLetter[] = [];
      c.system.eventStream.subscribe(DeadLetter, (d) => dead.push(d));
      // The only node stops: its breaker opens on the lost connection and failed probes.
      await n1.shutdown();
      await waitUntil(
        () => Object.values(c.getClusterState().breakers).includes("open"),
        10_000,
        "the breaker to open",
      );
      const asks = ["x", "x", "x"].map((id) =>
        c.entityAsk<Msg, number>(counters, id, (replyTo) => ({ type: "get", replyTo }), {
          timeout: 5000,
        })
          .then(() => "ok", (e) => e)
      );
      const [a, b, full] = await Promise.all(asks);
      assert.ok(
        full instanceof ClusterUnavailableError &&
          /client buffer is full \(2 requests\)/.test(full.message),
        String(full),
      );
      for (const e of [a, b]) {
        assert.ok(e instanceof ClusterUnavailableError, String(e));
        assert.match(
          e.message,
          /Cannot route to shard \d+ of "counters": its node 127\.0\.0\.1:\d+ is unavailable after 600 ms/,
        );
      }
      assert.equal(
        dead.filter((d) => d.reason === "undeliverable" && String(d.detail).includes("counters"))
          .length,
        3,
      );
      assert.equal(c.getClusterState().buffered, 0);
    },
  );

  it(
    "an open breaker half-opens with one probe and closes once the node answers: waiting requests go through",
    LONG,
    async () => {
      const n1 = await node();
      n1.spawn(Behaviors.sharded(counter, { numShards: 10 }), "counters");
      const port = n1.selfAddress.port;
      const c = await client({
        contactPoints: [at(n1)],
        breaker: { failures: 2, resetAfter: 300, probeTimeout: 300 },
        topologyTimeout: 1000,
        bufferTimeout: 20_000,
      });
      const counters = c.entityRef<Msg>("counters", { numShards: 10 });
      counters.tell(new ShardEnvelope("k", { type: "add", n: 7 }));
      assert.equal(
        await c.entityAsk<Msg, number>(counters, "k", (replyTo) => ({ type: "get", replyTo })),
        7,
      );
      await n1.shutdown();
      await waitUntil(
        () => c.getClusterState().breakers[`127.0.0.1:${port}`] === "open",
        10_000,
        "the breaker to open",
      );
      const waiting = c.entityAsk<Msg, number>(
        counters,
        "k",
        (replyTo) => ({ type: "get", replyTo }),
        { timeout: 20_000 },
      );
      await waitUntil(() => c.getClusterState().buffered === 1, 5000, "the request to wait");
      // The node comes back (a new incarnation on the same port, its counters start at 0).
      const back = await node({ port });
      back.spawn(Behaviors.sharded(counter, { numShards: 10 }), "counters");
      assert.equal(await waiting, 0);
      assert.deepEqual(c.getClusterState().breakers, {});
      assert.equal(c.getClusterState().members[0].id, back.memberId);
    },
  );

  it(
    "refuses a client with the wrong secret, and one whose certificate the nodes do not trust",
    LONG,
    async () => {
      const n1 = await node({ secret: "s3cret" });
      const wrong = await ClusterClient.connect({
        contactPoints: [at(n1)],
        systemName: "bank",
        secret: "guess",
        connectTimeout: 8000,
        logLevel: "silent",
      }).catch((e) => e);
      assert.ok(wrong instanceof ClusterUnavailableError, String(wrong));
      assert.match(wrong.message, /Cannot connect to cluster "bank": .*handshake refused/);
      const ok = await client({ contactPoints: [at(n1)], secret: "s3cret" });
      assert.equal(ok.getClusterState().members.length, 1);

      const ca = tlsFixtures.ca;
      const n2 = await node({ tls: { ...tlsFixtures.node1, ca } });
      const rogue = await ClusterClient.connect({
        contactPoints: [at(n2)],
        systemName: "bank",
        tls: { ...tlsFixtures.rogue, ca },
        connectTimeout: 3000,
        logLevel: "silent",
      }).catch((e) => e);
      assert.ok(rogue instanceof ClusterUnavailableError, String(rogue));
      const trusted = await client({ contactPoints: [at(n2)], tls: { ...tlsFixtures.node2, ca } });
      assert.equal(trusted.getClusterState().members.length, 1);
    },
  );

  it(
    "distributed() is the node facade: counters and maps from a client and a node agree",
    LONG,
    async () => {
      const n1 = await node();
      const c = await client({ contactPoints: [at(n1)] });
      const d = c.distributed();
      const hits = d.counter("hits");
      assert.equal(await hits.increment(5), 5);
      assert.equal(await n1.distributed().counter("hits").increment(), 6);
      assert.equal(await hits.get(), 6);
      const users = d.map<string, string>("users");
      assert.equal(await users.put("alice", "Alice"), undefined);
      assert.equal(await n1.distributed().map<string, string>("users").get("alice"), "Alice");
      // Barriers have their own sharded type: a client and a node meet at one.
      await Promise.all([
        d.barrier("meet").arrive(2, { timeout: 10_000 }),
        n1.distributed().barrier("meet").arrive(2, { timeout: 10_000 }),
      ]);
    },
  );

  it(
    "close() gives back the locks and permits the client holds at once, not after their lease",
    LONG,
    async () => {
      const n1 = await node();
      // A journal on the node: the lock's entity grants at once (no amnesic first lease).
      const other = n1.distributed({ journal: new InMemoryJournal() });
      const lease = 10_000;
      const holder = await client({ contactPoints: [at(n1)] });
      const lock = holder.distributed().lock("deploy", { lease });
      const sem = holder.distributed().semaphore("slots", 2, { lease });
      const token = await lock.acquire({ timeout: 10_000 });
      await sem.acquire({ timeout: 10_000 });
      await sem.acquire({ timeout: 10_000 });
      assert.equal(await other.lock("deploy", { lease }).tryAcquire(), undefined, "held");
      assert.equal(await other.semaphore("slots", 2, { lease }).tryAcquire(), undefined, "full");
      await holder.close();
      const t0 = Date.now();
      const next = await other.lock("deploy", { lease }).acquire({ timeout: 8000 });
      const slot = await other.semaphore("slots", 2, { lease }).acquire({ timeout: 8000 });
      const ms = Date.now() - t0;
      assert.ok(next > token, `token ${next} after ${token}`);
      assert.equal(typeof slot, "number");
      assert.ok(ms < lease / 2, `granted ${ms} ms after close(), the lease is ${lease} ms`);
    },
  );

  it(
    "a lock held by a client process killed with SIGKILL is granted again after its lease",
    LONG,
    async () => {
      const n1 = await node({ heartbeat: { interval: 200 } });
      const lease = 1500;
      // The lock's entity starts (and waits one lease before its first grant) before the holder comes.
      const c = await client({ contactPoints: [at(n1)] });
      const lock = c.distributed().lock("job", { lease });
      assert.equal(typeof (await lock.acquire({ timeout: 10_000 })), "number");
      assert.equal(await lock.release(), true);
      const holder = runScript(
        new URL("./_lock_client.ts", import.meta.url).pathname,
        [at(n1), "job", String(lease)],
      );
      cleanup.push(() => holder.kill("SIGKILL"));
      const held = JSON.parse(await holder.waitForLine((l) => l.includes('"event"'), 30_000));
      assert.equal(held.event, "acquired", JSON.stringify(held));
      assert.equal(await lock.tryAcquire(), undefined, "held by the other process");
      const killedAt = Date.now();
      await holder.kill("SIGKILL");
      const token = await lock.acquire({ timeout: 10_000 });
      const ms = Date.now() - killedAt;
      assert.ok(token > held.token, `token ${token} after ${held.token}`);
      assert.ok(ms < 3 * lease, `granted ${ms} ms after the kill`);
      await lock.release();
    },
  );
});
