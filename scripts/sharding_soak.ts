// The sharding soak: seeded schedules of joins, leaves, kills, partitions and slow links under traffic
// (tests/sharding/_schedules.ts), and of journal writes around a lost lease
// (tests/sharding/_write_schedules.ts). `npm run soak:sharding`; CASTY_SOAK_SEEDS seeds (default
// 1000) from CASTY_SOAK_FROM (default 1). Prints each failing seed with its schedule and exits
// 1 if any failed.
import process from "node:process";
import { runSchedule } from "../tests/sharding/_schedules.ts";
import { runWriteSchedule } from "../tests/sharding/_write_schedules.ts";

const seeds = Number(process.env.CASTY_SOAK_SEEDS ?? 1000);
const from = Number(process.env.CASTY_SOAK_FROM ?? 1);
const t0 = performance.now();
let failed = 0;
for (let seed = from; seed < from + seeds; seed++) {
  const failures = [await runSchedule(seed), await runWriteSchedule(seed)].filter((f) => f);
  for (const failure of failures) console.log(`FAIL ${failure}`);
  if (failures.length > 0) failed++;
}
console.log(
  `sharding schedules: ${seeds - failed}/${seeds} seeds passed (both kinds) (${
    Math.round((performance.now() - t0) / 1000)
  } s)`,
);
process.exit(failed === 0 ? 0 : 1);
