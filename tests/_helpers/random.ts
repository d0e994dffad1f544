// Seeded randomness so that randomized tests are reproducible (the PRNG is the one the
// simulation uses).

export { seededRandom } from "../../src/testing/mod.ts";

/** Random bytes of length `n`. */
export function randomBytes(random: () => number, n: number): Uint8Array {
  const bytes = new Uint8Array(n);
  for (let i = 0; i < n; i++) bytes[i] = Math.floor(random() * 256);
  return bytes;
}
