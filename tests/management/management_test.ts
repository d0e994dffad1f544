// The management HTTP server on real sockets: the JSON endpoints, the Prometheus text, the
// server-sent events after a membership change, the authentication (secret as a bearer token or
// a dashboard cookie; HTTPS with a required client certificate), clear 404/405 answers, and the
// `[cluster.http]` config.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import * as https from "node:https";
import {
  type ActorRef,
  type Behavior,
  Behaviors,
  ClusteredActorSystem,
  type ClusteredActorSystemOptions,
  ConfigError,
  parseConfig,
  ShardEnvelope,
} from "../../mod.ts";
import { ManagementHttpError, managementPort } from "../../src/management/mod.ts";
import { memoryLogger } from "../_helpers/probe.ts";
import { tlsFixtures } from "../_helpers/tls_fixtures.ts";

const LONG = { timeout: 60_000 };

function start(options: Partial<ClusteredActorSystemOptions> = {}): Promise<ClusteredActorSystem> {
  return ClusteredActorSystem.start({
    name: "ops",
    host: "127.0.0.1",
    port: 0,
    logger: memoryLogger(),
    ...options,
  });
}

function base(node: ClusteredActorSystem): string {
  const port = managementPort(`127.0.0.1:${node.selfAddress.port}`);
  assert.ok(port !== undefined, "the node serves no management HTTP");
  return `http://127.0.0.1:${port}`;
}

async function until(predicate: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Parses Prometheus text: every sample line, checking that each family has HELP and TYPE. */
function parseMetrics(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  const typed = new Set<string>();
  const helped = new Set<string>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const meta = /^# (HELP|TYPE) (\w+) (.+)$/.exec(line);
    if (meta) {
      (meta[1] === "HELP" ? helped : typed).add(meta[2]);
      if (meta[1] === "TYPE") assert.ok(["gauge", "counter"].includes(meta[3]), line);
      continue;
    }
    const m = /^(\w+)(\{[^}]*\})? (-?\d+(?:\.\d+)?)$/.exec(line);
    assert.ok(m, `not a sample line: ${JSON.stringify(line)}`);
    assert.ok(typed.has(m[1]) && helped.has(m[1]), `no HELP/TYPE before ${m[1]}`);
    samples.set(m[1] + (m[2] ?? ""), Number(m[3]));
  }
  return samples;
}

/** Reads server-sent `snapshot` events until `predicate` holds for one. */
async function nextSnapshot(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  predicate: (s: SnapshotEvent) => boolean,
): Promise<SnapshotEvent> {
  const decoder = new TextDecoder();
  let buffer = "";
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the event stream ended");
    buffer += decoder.decode(value, { stream: true });
    let end: number;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = /^event: snapshot\ndata: (.*)$/m.exec(event);
      if (data === null) continue;
      const s = JSON.parse(data[1]) as SnapshotEvent;
      if (predicate(s)) return s;
    }
  }
  throw new Error("no matching snapshot within 20 s");
}

interface SnapshotEvent {
  members: { members: { node: string; status: string }[]; leader: string | null };
  nodes: Record<string, { messagesPerSecond: number }>;
}

type CounterMsg = { type: "inc"; replyTo: ActorRef<number> };
const counter = (n = 0): Behavior<CounterMsg> =>
  Behaviors.receive<CounterMsg>((_ctx, msg) => {
    msg.replyTo.tell(n + 1);
    return counter(n + 1);
  });

describe("management HTTP", () => {
  it("is off unless configured", async () => {
    await using node = await start();
    assert.equal(managementPort(`127.0.0.1:${node.selfAddress.port}`), undefined);
  });

  it("serves members and shards as JSON, like Akka Management", LONG, async () => {
    await using a = await start({ http: { port: 0 } });
    await using b = await start({ seedNodes: [`127.0.0.1:${a.selfAddress.port}`] });
    await a.waitFor(2, { timeout: 20_000 });
    await b.waitFor(2, { timeout: 20_000 });
    const ra = a.spawn(Behaviors.sharded((_id: string) => counter(), { numShards: 8 }), "counters");
    b.spawn(Behaviors.sharded((_id: string) => counter(), { numShards: 8 }), "counters");
    for (let i = 0; i < 6; i++) {
      await a.ask<ShardEnvelope<CounterMsg>, number>(
        ra as unknown as ActorRef<ShardEnvelope<CounterMsg>>,
        (replyTo) => new ShardEnvelope(`c${i}`, { type: "inc", replyTo }),
        { timeout: 10_000 },
      );
    }
    const url = base(a);
    const members = await (await fetch(`${url}/cluster/members`)).json();
    assert.equal(members.selfNode, `127.0.0.1:${a.selfAddress.port}`);
    assert.equal(members.members.length, 2);
    for (const m of members.members) {
      assert.equal(m.status, "Up");
      assert.equal(m.reachable, true);
      assert.match(m.nodeUid, /^[0-9a-z]{12}-[0-9a-z]{8}$/);
      assert.ok(Math.abs(Date.parse(m.upSince) - Date.now()) < 120_000);
    }
    assert.ok([a, b].some((n) => members.leader === `127.0.0.1:${n.selfAddress.port}`));
    assert.deepEqual(members.unreachable, []);

    const shards = await (await fetch(`${url}/cluster/shards`)).json();
    const regions = shards.types.counters.regions as {
      node: string;
      numShards: number;
      numEntities: number;
      shards: { shardId: string }[];
    }[];
    assert.equal(regions.reduce((s, r) => s + r.numEntities, 0), 6);
    for (const r of regions) assert.equal(r.shards.length, r.numShards);
    assert.ok(shards.allocationEpoch > 0);
    const one = await (await fetch(`${url}/cluster/shards/counters`)).json();
    assert.equal(one.type, "counters");
    assert.deepEqual(one.regions, regions);
  });

  it("answers unknown paths with 404 and other methods with 405, both explained", async () => {
    await using node = await start({ http: { port: 0 } });
    const url = base(node);
    const missing = await fetch(`${url}/nope`);
    assert.equal(missing.status, 404);
    assert.match((await missing.json()).error, /^No such endpoint: GET \/nope$/);
    const noType = await fetch(`${url}/cluster/shards/ghosts`);
    assert.equal(noType.status, 404);
    assert.match((await noType.json()).error, /"ghosts"/);
    const post = await fetch(`${url}/cluster/members`, { method: "POST", body: "x" });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get("allow"), "GET, HEAD");
    assert.match((await post.json()).error, /^Method POST is not allowed on \/cluster\/members/);
  });

  it("exposes Prometheus metrics that move with the load", LONG, async () => {
    await using node = await start({ http: { port: 0 } });
    const url = base(node);
    const read = async () => {
      const r = await fetch(`${url}/metrics`);
      assert.equal(r.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
      return parseMetrics(await r.text());
    };
    const before = await read();
    assert.equal(before.get('casty_cluster_members{status="up"}'), 1);
    assert.equal(before.get("casty_cluster_is_leader"), 1);
    assert.equal(before.get("casty_cluster_unreachable_members"), 0);
    assert.ok(before.get("casty_actors")! > 0);
    // Load: messages to a live actor, and messages to a stopped one (dead letters).
    const sink = node.spawn(Behaviors.ignore<number>(), "sink");
    for (let i = 0; i < 500; i++) sink.tell(i);
    const gone = node.spawn(Behaviors.stopped<number>(), "gone");
    await until(() => node.lookup("/gone") === undefined, "the stopped actor to go");
    for (let i = 0; i < 7; i++) gone.tell(i);
    await until(async () => {
      const now = await read();
      return now.get("casty_messages_processed_total")! >=
          before.get("casty_messages_processed_total")! + 500 &&
        now.get("casty_dead_letters_total")! >= 7 &&
        now.get("casty_messages_per_second")! > 0;
    }, "the counters and the rate to move");
  });

  it("reports journal writes and mailbox depths", LONG, async () => {
    const stats = {
      transactions: 3,
      persistCalls: 4,
      eventsWritten: 5,
      conflicts: 0,
      snapshotsWritten: 1,
    };
    await using node = await start({ http: { port: 0, journals: { main: { stats } } } });
    // An actor busy with its first message until the gate opens keeps the rest in its mailbox.
    const gate = Promise.withResolvers<void>();
    const stuck = node.spawn(
      Behaviors.receive<number>(() => gate.promise.then(() => Behaviors.same<number>())),
      "stuck",
    );
    for (let i = 0; i < 5; i++) stuck.tell(i);
    try {
      const url = base(node);
      await until(async () => {
        const m = parseMetrics(await (await fetch(`${url}/metrics`)).text());
        return m.get('casty_mailbox_depth{actor="/stuck"}') === 4 &&
          m.get("casty_mailbox_depth_max")! >= 4 &&
          m.get('casty_journal_events_written_total{journal="main"}') === 5 &&
          m.get('casty_journal_persist_calls_total{journal="main"}') === 4;
      }, "mailbox depth 4 and the journal counters");
    } finally {
      gate.resolve();
    }
  });

  it("pushes a fresh snapshot over server-sent events when a member joins", LONG, async () => {
    await using a = await start({ http: { port: 0 } });
    const response = await fetch(`${base(a)}/events`);
    assert.equal(response.headers.get("content-type"), "text/event-stream; charset=utf-8");
    const reader = response.body!.getReader();
    try {
      const first = await nextSnapshot(reader, () => true);
      assert.equal(first.members.members.length, 1);
      await using b = await start({ seedNodes: [`127.0.0.1:${a.selfAddress.port}`] });
      const joined = await nextSnapshot(
        reader,
        (s) => s.members.members.length === 2 && s.members.members.every((m) => m.status === "Up"),
      );
      assert.ok(joined.members.members.some((m) => m.node === `127.0.0.1:${b.selfAddress.port}`));
      // The peer's load arrives too, asked from its /_cluster/_management actor.
      await nextSnapshot(reader, (s) => Object.keys(s.nodes).length === 2);
    } finally {
      await reader.cancel();
    }
  });

  it(
    "requires the node's secret: bearer token for the API, a cookie for the dashboard",
    LONG,
    async () => {
      await using node = await start({ http: { port: 0 }, secret: "s3cret" });
      const url = base(node);
      for (const path of ["/cluster/members", "/metrics", "/events", "/"]) {
        const r = await fetch(`${url}${path}`);
        assert.equal(r.status, 401, path);
        assert.equal(r.headers.get("www-authenticate"), 'Bearer realm="casty"');
        assert.match((await r.json()).error, /^Unauthorized: /);
      }
      const wrong = await fetch(`${url}/cluster/members`, {
        headers: { authorization: "Bearer nope" },
      });
      assert.equal(wrong.status, 401);
      await wrong.body?.cancel();
      const ok = await fetch(`${url}/cluster/members`, {
        headers: { authorization: "Bearer s3cret" },
      });
      assert.equal(ok.status, 200);
      assert.equal((await ok.json()).members.length, 1);

      const badToken = await fetch(`${url}/?token=nope`, { redirect: "manual" });
      assert.equal(badToken.status, 401);
      await badToken.body?.cancel();
      const login = await fetch(`${url}/?token=s3cret`, { redirect: "manual" });
      assert.equal(login.status, 303);
      assert.equal(login.headers.get("location"), "/");
      const cookie = login.headers.get("set-cookie")!;
      assert.match(cookie, /HttpOnly/);
      assert.match(cookie, /SameSite=Strict/);
      assert.ok(!cookie.includes("s3cret"), "the cookie must not carry the secret itself");
      const session = cookie.split(";")[0];
      const page = await fetch(`${url}/`, { headers: { cookie: session } });
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<title>casty · ops<\/title>/);
      const events = await fetch(`${url}/events`, { headers: { cookie: session } });
      assert.equal(events.status, 200);
      await events.body!.cancel();
    },
  );

  it(
    "serves HTTPS with the node's certificate and requires a client certificate",
    LONG,
    async () => {
      const tls = { cert: tlsFixtures.node1.cert, key: tlsFixtures.node1.key, ca: tlsFixtures.ca };
      await using node = await start({ http: { port: 0 }, tls });
      const port = managementPort(`127.0.0.1:${node.selfAddress.port}`)!;
      const get = (client: { cert?: string; key?: string }) =>
        new Promise<{ status: number; body: string }>((resolve, reject) => {
          const req = https.request({
            host: "127.0.0.1",
            port,
            path: "/cluster/members",
            ca: tlsFixtures.ca,
            ...client,
          }, (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (c: string) => (body += c));
            res.on("end", () => resolve({ status: res.statusCode!, body }));
          });
          req.on("error", reject);
          req.end();
        });
      const ok = await get({ cert: tlsFixtures.node2.cert, key: tlsFixtures.node2.key });
      assert.equal(ok.status, 200);
      assert.equal(JSON.parse(ok.body).members.length, 1);
      await assert.rejects(get({}), "a client without a certificate is refused");
      await assert.rejects(
        get({ cert: tlsFixtures.rogue.cert, key: tlsFixtures.rogue.key }),
        "a certificate from another CA is refused",
      );
    },
  );

  it("refuses to serve a public address with neither secret nor TLS", async () => {
    await assert.rejects(
      start({ http: { port: 0, host: "0.0.0.0" }, secret: undefined }),
      (e: unknown) => {
        assert.ok(e instanceof ManagementHttpError);
        assert.equal(e.code, "INSECURE_HTTP");
        assert.match(e.message, /^Cannot serve management HTTP on "0\.0\.0\.0"/);
        return true;
      },
    );
  });
});

describe("[cluster.http]", () => {
  it("is read from the config, and a node started from it serves", async () => {
    const config = await parseConfig(
      '[system]\nname = "ops"\n[cluster]\nport = 0\n[cluster.http]\nport = 0\n',
    );
    assert.deepEqual(config.cluster.http, { port: 0 });
    await using node = await ClusteredActorSystem.fromConfig(config, { logger: memoryLogger() });
    const r = await fetch(`${base(node)}/cluster/members`);
    assert.equal((await r.json()).members.length, 1);
  });

  it("names a bad key, a bad port and a missing port", async () => {
    await assert.rejects(
      parseConfig('[cluster.http]\nport = 8558\nbind = "x"\n'),
      (e: unknown) => e instanceof ConfigError && /cluster\.http\.bind/.test(e.message),
    );
    await assert.rejects(
      parseConfig("[cluster.http]\nport = 70000\n"),
      (e: unknown) => e instanceof ConfigError && /cluster\.http\.port/.test(e.message),
    );
    await assert.rejects(
      parseConfig('[cluster.http]\nhost = "127.0.0.1"\n'),
      (e: unknown) => e instanceof ConfigError && /cluster\.http\.port.*required/.test(e.message),
    );
  });
});
