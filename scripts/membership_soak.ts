// The membership soak: every partition shape of tests/cluster/_partition_scenarios.ts under
// many seeds. `npm run soak`; CASTY_SOAK_SEEDS seeds per small shape (default 1000; large
// shapes get proportionally fewer, as in partition_shapes_test.ts), CASTY_SOAK_FROM
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
  // large shapes are slow: they get seeds in proportion to their share in `npm test`
  const count = Math.max(1, Math.ceil(seeds * (shape.testSeeds ?? 30) / 30));
  for (let seed = from; seed < from + count; seed++) {
    const failure = runShape(shape, seed);
    if (failure !== undefined) {
      bad++;
      console.log(`FAIL ${failure}`);
    }
  }
  failed += bad;
  console.log(
    `${shape.name}: ${count - bad}/${count} seeds passed (${
      Math.round((performance.now() - t0) / 1000)
    } s)`,
  );
}
process.exit(failed === 0 ? 0 : 1);
