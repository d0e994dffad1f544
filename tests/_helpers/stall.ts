// Measures event-loop stalls: how late a 50 ms interval timer fires, at the most. A test on a
// machine loaded far beyond its cores uses it to tell a starved process from a real failure.

/** A running stall monitor. */
export interface StallMonitor {
  /** The longest stall seen so far, in ms. */
  max(): number;
  /** Stops the timer. */
  stop(): void;
}

/** Starts measuring the event loop's longest stall, with a timer every `period` ms. */
export function stallMonitor(period = 50): StallMonitor {
  let max = 0;
  let at = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    max = Math.max(max, now - at - period);
    at = now;
  }, period);
  return { max: () => max, stop: () => clearInterval(timer) };
}
