// Runs actor cells that have work. Cells are drained in batches (`throughput` steps each)
// inside one microtask; after `budget` steps the dispatcher yields to the event loop with a
// macrotask so timers and I/O are never starved by busy actors.
import { setImmediate } from "node:timers";
import type { ActorCell } from "./_actor_cell.ts";

// setImmediate (Deno, Bun and Node have it) runs after pending I/O, without the minimum delay
// that nested setTimeout(0) calls get.
const yieldToEventLoop = (fn: () => void): void => void setImmediate(fn);

/** Cells per chunk of the run queue. */
const CHUNK = 4096;

export class Dispatcher {
  // The run queue, oldest first: `#head` from `#headAt` (being run), then the `#full` chunks
  // from `#fullAt`, then `#tail` (being filled). Small chunks, not one big array: a burst of a
  // million new actors costs no growth copies of a huge array and no front splices, and a
  // young cell is stored into a young chunk (no old-to-new remembered-set entry each).
  #head: ActorCell<unknown>[] = [];
  #headAt = 0;
  #full: ActorCell<unknown>[][] = [];
  #fullAt = 0;
  #tail: ActorCell<unknown>[] = [];
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
    const tail = this.#tail;
    tail.push(cell);
    if (tail.length === CHUNK) {
      this.#full.push(tail);
      this.#tail = [];
    }
    if (!this.#pending) {
      this.#pending = true;
      queueMicrotask(this.#run);
    }
  }

  /** The next chunk to run (the oldest), or undefined when the queue is empty. */
  #nextChunk(): ActorCell<unknown>[] | undefined {
    const full = this.#full;
    if (this.#fullAt < full.length) {
      const q = full[this.#fullAt];
      full[this.#fullAt++] = undefined as unknown as ActorCell<unknown>[];
      if (this.#fullAt === full.length) {
        full.length = 0;
        this.#fullAt = 0;
      }
      return q;
    }
    const tail = this.#tail;
    if (tail.length === 0) return undefined;
    this.#tail = [];
    return tail;
  }

  #run = (): void => {
    let budget = this.#budget;
    let q = this.#head;
    let i = this.#headAt;
    for (;;) {
      if (i === q.length) {
        const next = this.#nextChunk();
        if (next === undefined) break;
        q = next;
        i = 0;
      }
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
      if (
        budget <= 0 && (i < q.length || this.#fullAt < this.#full.length || this.#tail.length > 0)
      ) {
        this.#head = q;
        this.#headAt = i;
        yieldToEventLoop(this.#run);
        return;
      }
    }
    this.#head = [];
    this.#headAt = 0;
    this.#pending = false;
  };
}
