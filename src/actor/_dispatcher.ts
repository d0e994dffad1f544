// Runs actor cells that have work. Cells are drained in batches (`throughput` steps each)
// inside one microtask; after `budget` steps the dispatcher yields to the event loop with a
// macrotask so timers and I/O are never starved by busy actors.
import type { ActorCell } from "./_actor_cell.ts";

// setImmediate (present on Deno, Bun and Node) runs after pending I/O, without the minimum delay
// that nested setTimeout(0) calls get.
const immediate = (globalThis as unknown as { setImmediate: (fn: () => void) => unknown })
  .setImmediate;
const yieldToEventLoop = (fn: () => void): void => void immediate(fn);

export class Dispatcher {
  #queue: ActorCell<unknown>[] = [];
  #pending = false;
  readonly #throughput: number;
  readonly #budget: number;
  /** Steps run so far (messages, system messages and starts): read by `ActorSystem.stats()`. */
  steps = 0;

  constructor(throughput = 1024, budget = 65_536) {
    this.#throughput = throughput;
    this.#budget = budget;
  }

  schedule(cell: ActorCell<unknown>): void {
    this.#queue.push(cell);
    if (!this.#pending) {
      this.#pending = true;
      queueMicrotask(this.#run);
    }
  }

  #run = (): void => {
    const q = this.#queue;
    let budget = this.#budget;
    let i = 0;
    while (i < q.length) {
      const cell = q[i++];
      try {
        const n = cell.run(this.#throughput);
        this.steps += n;
        budget -= n + 1;
      } catch (err) {
        // Cells catch user failures themselves; this keeps one framework fault from stalling
        // every other actor.
        budget--;
        cell.core.log.error(`${cell.path}: internal error while running the actor`, err);
      }
      if (budget <= 0 && i < q.length) {
        q.splice(0, i);
        yieldToEventLoop(this.#run);
        return;
      }
    }
    q.length = 0;
    this.#pending = false;
  };
}
