// The membership soak: every partition shape of tests/cluster/_partition_scenarios.ts under
// many seeds. `npm run soak`; CASTY_SOAK_SEEDS seeds per shape (default 1000), CASTY_SOAK_FROM
// the first seed (default 1). Prints each failing seed with the fault list that reproduces it
// and exits 1 if any failed.
import process from "node:process";
import { runShape, SHAPES } from "../tests/cluster/_partition_scenarios.ts";

const seeds = Number(process.env.CASTY_SOAK_SEEDS ?? 1000);
const from = Number(process.env.CASTY_SOAK_FROM ?? 1);
let failed = 0;
for (const shape of SHAPES) {
  const t0 = performance.now();
  let bad = 0;
  for (let seed = from; seed < from + seeds; seed++) {
    const failure = runShape(shape, seed);
    if (failure !== undefined) {
      bad++;
      console.log(`FAIL ${failure}`);
    }
  }
  failed += bad;
  console.log(
    `${shape.name}: ${seeds - bad}/${seeds} seeds passed (${
      Math.round((performance.now() - t0) / 1000)
    } s)`,
  );
}
process.exit(failed === 0 ? 0 : 1);
