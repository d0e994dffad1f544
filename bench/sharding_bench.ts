// Sharding benchmarks: the routing hot path against bare baselines, and sharded tell to local
// entities against plain local tell in the same run.
//
//   deno bench -A bench/sharding_bench.ts
import { type ActorRef, Behaviors, entityShard, ShardEnvelope } from "../mod.ts";
import { md5 } from "../src/sharding/_md5.ts";
import { tellFixture } from "./_bench_node.ts";

const IDS = Array.from({ length: 1000 }, (_, i) => `user-${i}`);
const encoder = new TextEncoder();
let sink = 0;

// ------------------------------------------------------------------ shard id of an entity

Deno.bench({
  name: "baseline: string hash (FNV-1a) of 1000 ids",
  group: "shard id",
  baseline: true,
  fn() {
    for (const id of IDS) {
      let h = 0x811c9dc5;
      for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 16777619);
      sink += (h >>> 0) % 100;
    }
  },
});

Deno.bench({
  name: "entityShard of 1000 hot ids (cached)",
  group: "shard id",
  fn() {
    for (const id of IDS) sink += entityShard(id, 100);
  },
});

Deno.bench({
  name: "MD5 shard of 1000 ids (uncached)",
  group: "shard id",
  fn() {
    for (const id of IDS) {
      const d = md5(encoder.encode(id));
      sink += (((d[0] << 24) | (d[1] << 16) | (d[2] << 8) | d[3]) >>> 0) % 100;
    }
  },
});

// ------------------------------------------------------------------ region lookup, dispatch

const table = new Map<number, { node: string }>(
  Array.from({ length: 100 }, (_, s) => [s, { node: s % 3 === 0 ? "self" : "other" }]),
);
const types = new Map([["accounts", table]]);

Deno.bench({
  name: "baseline: Map lookup of 1000 shard numbers",
  group: "region lookup",
  baseline: true,
  fn() {
    for (let i = 0; i < 1000; i++) sink += table.get(i % 100)!.node.length;
  },
});

Deno.bench({
  name: "region lookup: entity id → shard → owner, 1000 ids",
  group: "region lookup",
  fn() {
    for (const id of IDS) sink += types.get("accounts")!.get(entityShard(id, 100))!.node.length;
  },
});

Deno.bench({
  name: "baseline: allocate 1000 { id, message } objects",
  group: "envelope",
  baseline: true,
  fn() {
    for (const id of IDS) sink += ({ id, message: 1 }).id.length;
  },
});

Deno.bench({
  name: "new ShardEnvelope × 1000",
  group: "envelope",
  fn() {
    for (const id of IDS) sink += new ShardEnvelope(id, 1).entityId.length;
  },
});

// ------------------------------------------------------------------ sharded vs plain tell

const TELLS = 200_000;
const { node, region, plain, envelopes, msg: MSG, run } = await tellFixture();

Deno.bench({
  name: `plain local tell: ${TELLS} messages over 1000 actors`,
  group: "tell",
  baseline: true,
  n: 10,
  warmup: 2,
  async fn() {
    await run(TELLS, (i) => plain[i % 1000].tell(MSG));
  },
});

Deno.bench({
  name: `sharded tell to local entities: ${TELLS} envelopes over 1000 entities`,
  group: "tell",
  n: 10,
  warmup: 2,
  async fn() {
    await run(TELLS, (i) => region.tell(envelopes[i % 1000]));
  },
});

// ------------------------------------------------------------------ entityAsk round trip

type Ping = { readonly replyTo: ActorRef<number> };
const pingers = node.spawn(
  Behaviors.sharded((_id: string) => Behaviors.receive<Ping>((_ctx, m) => m.replyTo.tell(1)), {
    numShards: 100,
  }),
  "pingers",
);
const plainPinger = node.spawn(Behaviors.receive<Ping>((_ctx, m) => m.replyTo.tell(1)), "pinger");
await node.entityAsk<Ping, number>(pingers, "p", (replyTo) => ({ replyTo }), { timeout: 10_000 });

Deno.bench({
  name: "plain ask to a local actor",
  group: "ask",
  baseline: true,
  async fn() {
    sink += await node.ask<Ping, number>(plainPinger, (replyTo) => ({ replyTo }));
  },
});

Deno.bench({
  name: "entityAsk to a local entity",
  group: "ask",
  async fn() {
    sink += await node.entityAsk<Ping, number>(pingers, "p", (replyTo) => ({ replyTo }));
  },
});

globalThis.addEventListener("unload", () => {
  void node.shutdown();
  if (sink === 42) console.log(sink);
});
