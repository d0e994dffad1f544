// The .ts files under a directory, recursively (shared by the check scripts).
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

/** Every `.ts` file under `dir`, depth first. */
export function tsFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...tsFiles(path));
    else if (name.endsWith(".ts")) out.push(path);
  }
  return out;
}
