/**
 * The actor layer's internals that the layers above it build on: the actor cell that
 * remoting delivers to, and the timer heap the simulated clock and network reuse.
 *
 * Not an entry of the package (deno.json does not export it) and not part of the public API:
 * other folders import these names from here, never from the `_private.ts` files themselves
 * (`scripts/check_layers.mjs` enforces it), so the actor folder can reorganise its private
 * files without touching its neighbours.
 *
 * @module
 */
export {
  ActorCell,
  type CellClass,
  localCell,
  stopWhenDrained,
  terminationOf,
  WATCHABLE,
  type Watchable,
  watchChildren,
} from "./_actor_cell.ts";
export { type Timed, TimerHeap } from "./_timer_heap.ts";
