// Per-message cost of decoding what a node receives for a client's (or a member's) sharded
// tell: a `ShardEnvelope` around a small plain message, against the floor (UTF-8 decode +
// JSON.parse) measured in the same run. Alternating rounds, medians. With the path of another
// tree's serialization.ts as argument, its deserializer runs alternating with this one.
//
//   deno run -A bench/serde_decode_micro.ts [/other/tree/src/serialization/serialization.ts]
//   bun bench/serde_decode_micro.ts [...]

import process from "node:process";
import {
  decodeKeyed,
  keyedParts,
  serializedText,
  TaggedJsonSerializer,
} from "../src/serialization/serialization.ts";
import { readKeyed, TextEnvelope } from "../src/remote/_envelope_codec.ts";
import { ShardEnvelope } from "../src/sharding/shard_envelope.ts";

const N = 300_000;
const ROUNDS = 7;
const serializer = new TaggedJsonSerializer().register(ShardEnvelope, "casty.ShardEnvelope");
const otherPath = process.argv[2];
const Other = otherPath === undefined
  ? undefined
  : (await import(otherPath)).TaggedJsonSerializer as typeof TaggedJsonSerializer;
const other = Other && new Other().register(ShardEnvelope, "casty.ShardEnvelope");
const decoder = new TextDecoder();
class Deposit {
  constructor(readonly amount: number, readonly note: string) {}
}
serializer.register(Deposit, "bench.Deposit");
other?.register(Deposit, "bench.Deposit");
const shapes: Record<string, unknown> = {
  "ShardEnvelope(plain message)": new ShardEnvelope("entity-1234", { type: "deposit", amount: 42 }),
  "ShardEnvelope(class message)": new ShardEnvelope("entity-1234", new Deposit(42, "coffee")),
  "plain message": { type: "deposit", seq: 1, account: "acc-123456", amount: 42 },
};
let sink = 0;

function time(fn: () => void): number {
  const t0 = performance.now();
  for (let i = 0; i < N; i++) fn();
  return (performance.now() - t0) * 1e6 / N;
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1];

const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
console.log(`runtime: ${g.Deno ? "deno " + g.Deno.version.deno : "bun " + g.Bun?.version}`);
console.log(
  "| payload | bytes | floor: decode + JSON.parse | deserialize | / floor |" +
    (other ? " other tree | / floor |" : ""),
);
console.log("| --- | ---: | ---: | ---: | ---: |" + (other ? " ---: | ---: |" : ""));
for (const [label, value] of Object.entries(shapes)) {
  const bytes = serializer.serialize(value).slice();
  const floor: number[] = [];
  const full: number[] = [];
  const base: number[] = [];
  time(() => sink += JSON.parse(decoder.decode(bytes)) ? 1 : 0);
  time(() => sink += serializer.deserialize(bytes) ? 1 : 0);
  for (let r = 0; r < ROUNDS; r++) {
    floor.push(time(() => sink += JSON.parse(decoder.decode(bytes)) ? 1 : 0));
    full.push(time(() => sink += serializer.deserialize(bytes) ? 1 : 0));
    if (other) base.push(time(() => sink += other.deserialize(bytes) ? 1 : 0));
  }
  const f = median(floor);
  const d = median(full);
  console.log(
    `| ${label} | ${bytes.length} | ${f.toFixed(0)} ns | ${d.toFixed(0)} ns | ${
      (d / f).toFixed(2)
    }x |` + (other ? ` ${median(base).toFixed(0)} ns | ${(median(base) / f).toFixed(2)}x |` : ""),
  );
}

// The keyed wire form of a ShardEnvelope (what remoting sends with the default serializer):
// decode = read the id + decode the message; encode = the id + the message's JSON text; each
// against the full tagged form in the same rounds.
const SHAPE = { name: "casty.ShardEnvelope", key: "entityId", value: "message" };
console.log("");
console.log(
  "| payload | full bytes | keyed bytes | full decode | keyed decode | full encode | keyed encode |",
);
console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const [label, value] of Object.entries(shapes)) {
  if (!(value instanceof ShardEnvelope)) continue;
  const bytes = serializer.serialize(value).slice();
  const parts = keyedParts(serializer, value, SHAPE)!;
  const keyedBytes = new TextEnvelope("/r", parts.text, "user", parts.key).payload;
  const keyed = () => {
    const p = readKeyed(keyedBytes) as { key: string; value: Uint8Array };
    return decodeKeyed(serializer, SHAPE, p.key, p.value);
  };
  const runs: number[][] = [[], [], [], []];
  const fns = [
    () => sink += serializer.deserialize(bytes) ? 1 : 0,
    () => sink += keyed() ? 1 : 0,
    () => sink += serializedText(serializer, value)!.length,
    () => sink += keyedParts(serializer, value, SHAPE)!.text.length,
  ];
  for (const fn of fns) time(fn);
  for (let r = 0; r < ROUNDS; r++) fns.forEach((fn, i) => runs[i].push(time(fn)));
  const [fd, kd, fe, ke] = runs.map(median);
  console.log(
    `| ${label} | ${bytes.length} | ${keyedBytes.length} | ${fd.toFixed(0)} ns | ${
      kd.toFixed(0)
    } ns (${(kd / fd * 100 - 100).toFixed(0)} %) | ${fe.toFixed(0)} ns | ${ke.toFixed(0)} ns (${
      (ke / fe * 100 - 100).toFixed(0)
    } %) |`,
  );
}
if (sink < 0) process.stdout.write(String(sink));
