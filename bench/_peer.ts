// A bench peer process: started with the current runtime (plus BENCH_PEER_ARGS, e.g.
// "--cpu-prof --cpu-prof-dir=…", for profiling), it prints JSON event lines and stops when its
// stdin closes. Shared by remote_bench.ts and remote_actor_bench.ts.
import { spawn } from "node:child_process";
import process from "node:process";

export interface PeerEvent {
  readonly event: string;
  readonly port?: number;
  readonly count?: number;
  /** CPU time of the peer process so far (user + system, µs), where it reports it. */
  readonly cpu?: number;
}

export class Peer {
  #child;
  #lines: string[] = [];
  #waiters: (() => void)[] = [];
  readonly #timeout: number;

  /**
   * @param script The peer script.
   * @param args Its arguments.
   * @param timeout How long `waitFor` waits for an event, in ms.
   * @param stopGrace How long `stop` waits for a clean exit before SIGKILL, in ms.
   */
  constructor(script: string, args: string[], timeout = 300_000, readonly stopGrace = 10_000) {
    this.#timeout = timeout;
    const extra = (process.env.BENCH_PEER_ARGS ?? "").split(" ").filter(Boolean);
    const pre = (globalThis as { Deno?: unknown }).Deno
      ? ["run", "-A", ...extra, script]
      : [...extra, script];
    this.#child = spawn(process.execPath, [...pre, ...args], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    let buffer = "";
    this.#child.stdout!.setEncoding("utf8");
    this.#child.stdout!.on("data", (text: string) => {
      buffer += text;
      let nl;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        this.#lines.push(buffer.slice(0, nl));
        buffer = buffer.slice(nl + 1);
        for (const w of this.#waiters.splice(0)) w();
      }
    });
  }

  async waitFor(pred: (e: PeerEvent) => boolean): Promise<PeerEvent & { port: number }> {
    const deadline = Date.now() + this.#timeout;
    while (true) {
      for (const line of this.#lines) {
        if (line.startsWith("{")) {
          const e = JSON.parse(line);
          if (pred(e)) return e;
        }
      }
      if (Date.now() > deadline) throw new Error("bench peer timed out");
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }

  async stop(): Promise<void> {
    const exited = new Promise((resolve) => this.#child.on("exit", resolve));
    this.#child.stdin!.end();
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), this.stopGrace);
    await exited;
    clearTimeout(timer);
  }
}
