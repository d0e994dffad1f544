// Per-message cost of the remote tell path's serialization, against what the raw baseline of
// bench/remote_actor_bench.ts pays, measured in the same run (supports the profile in
// bench/RESULTS.md, "Remote actors (two processes)").
//
//   deno run -A bench/remote_serialize_micro.ts
//   bun bench/remote_serialize_micro.ts

import process from "node:process";
import { TaggedJsonSerializer } from "../src/serialization/serialization.ts";

const N = 1_000_000;
const serializer = new TaggedJsonSerializer();
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const fatalDecoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const shared = new Uint8Array(64 * 1024);
const message = (seq: number) => ({
  type: "deposit",
  seq,
  account: "acc-123456",
  amount: 42,
  note: "coffee, table 7, no milk",
});
// A message the serializer has to tag (a Date and a -0 two levels down), to show the walk.
const nested = (seq: number) => ({
  type: "batch",
  seq,
  items: [{ id: 1, tags: ["a", "b"], ok: true }, { id: 2, at: new Date(seq), delta: -0 }],
  meta: { from: "acc-1", to: "acc-2" },
});
let sink = 0;

function time(label: string, fn: (i: number) => void): number {
  for (let i = 0; i < N / 10; i++) fn(i); // warm-up
  const t0 = performance.now();
  for (let i = 0; i < N; i++) fn(i);
  const ns = (performance.now() - t0) * 1e6 / N;
  console.log(`| ${label} | ${ns.toFixed(0)} ns |`);
  return ns;
}

const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
console.log(`runtime: ${g.Deno ? "deno " + g.Deno.version.deno : "bun " + g.Bun?.version}`);
console.log("| per message (1M, fresh ~100-byte object) | ns/op |");
console.log("| --- | ---: |");
time("baseline: JSON.stringify + encodeInto a shared buffer", (i) => {
  sink += encoder.encodeInto(JSON.stringify(message(i)), shared).written!;
});
time("JSON.stringify + TextEncoder.encode (fresh Uint8Array)", (i) => {
  sink += encoder.encode(JSON.stringify(message(i))).length;
});
time("TaggedJsonSerializer.serialize", (i) => {
  sink += serializer.serialize(message(i)).length;
});
time("TaggedJsonSerializer.serialize, nested message with a Date", (i) => {
  sink += serializer.serialize(nested(i)).length;
});
const bytes = serializer.serialize(message(123456));
time("baseline: TextDecoder.decode + JSON.parse", () => {
  sink += JSON.parse(decoder.decode(bytes)).amount;
});
time("fatal TextDecoder.decode + JSON.parse", () => {
  sink += JSON.parse(fatalDecoder.decode(bytes)).amount;
});
time("TaggedJsonSerializer.deserialize", () => {
  sink += (serializer.deserialize(bytes) as { amount: number }).amount;
});
const nestedBytes = serializer.serialize(nested(123456));
time("TaggedJsonSerializer.deserialize, nested message with a Date", () => {
  sink += (serializer.deserialize(nestedBytes) as { seq: number }).seq;
});
if (sink < 0) process.stdout.write(String(sink));
