// Summarizes a V8 .cpuprofile (deno run --cpu-prof) as self time per function, top N.
//
//   deno run -A bench/_cpuprofile_summary.ts <file.cpuprofile> [top=25]

import process from "node:process";
import { readFileSync } from "node:fs";

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

const args = process.argv.slice(2);
const file = args[0];
const top = Number(args[1] ?? 25);
const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map<number, number>();
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i];
  self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
}
const byFn = new Map<string, number>();
let total = 0;
for (const [id, us] of self) {
  const f = byId.get(id)!.callFrame;
  const where = f.url ? `${f.url.replace(/^.*\/(src|bench)\//, "$1/")}:${f.lineNumber + 1}` : "";
  const key = `${f.functionName || "(anonymous)"} ${where}`.trim();
  byFn.set(key, (byFn.get(key) ?? 0) + us);
  total += us;
}
const idle = byFn.get("(idle)") ?? 0;
console.log(
  `${file}: ${(total / 1000).toFixed(0)} ms sampled, ${(idle / 1000).toFixed(0)} ms idle, ${
    ((total - idle) / 1000).toFixed(0)
  } ms busy`,
);
console.log("| self ms | % of busy | function |");
console.log("| ---: | ---: | --- |");
for (const [key, us] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  if (key === "(idle)") continue;
  console.log(
    `| ${(us / 1000).toFixed(1)} | ${(us / (total - idle) * 100).toFixed(1)}% | ${key} |`,
  );
}
