// The dashboard in a real headless Chromium, driven over the DevTools protocol: 3 node
// processes, the page (opened once with ?token=, then on its session cookie) lists 3 members;
// one node is killed with SIGKILL and the same page, never reloaded, shows it unreachable, then
// gone (downed or removed). Skipped, with a message, only when chromium is not installed.
import { freePort } from "../../src/testing/partition_proxy.ts";
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { runScript, type ScriptProcess } from "../_helpers/process.ts";

const NODE = fileURLToPath(new URL("../_helpers/management_node.ts", import.meta.url));
const SECRET = "dashboard-secret";

function findChromium(): string | undefined {
  for (const name of [process.env.CHROMIUM, "chromium", "chromium-browser", "google-chrome"]) {
    if (!name) continue;
    const r = spawnSync(name, ["--version"], { encoding: "utf8" });
    if (r.status === 0) return name;
  }
  return undefined;
}

const chromium = findChromium();
if (chromium === undefined) {
  console.log(
    "dashboard_chromium_test: skipped, chromium is not installed (apt-get install -y chromium)",
  );
}

/** A headless Chromium with one page, driven over its DevTools WebSocket. */
class Browser {
  #socket!: WebSocket;
  #next = 1;
  #pending = new Map<number, (msg: { result?: unknown; error?: { message: string } }) => void>();
  #process!: ReturnType<typeof spawn>;
  #dir = mkdtempSync(join(tmpdir(), "casty-chromium-"));

  async start(): Promise<void> {
    this.#process = spawn(chromium!, [
      "--headless=new",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--no-first-run",
      "--no-default-browser-check",
      "--remote-debugging-port=0",
      `--user-data-dir=${this.#dir}`,
      "about:blank",
    ], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`chromium did not start:\n${err}`)), 20_000);
      this.#process.stderr!.setEncoding("utf8");
      this.#process.stderr!.on("data", (chunk: string) => {
        err += chunk;
        const m = /DevTools listening on ws:\/\/[^:]+:(\d+)\//.exec(err);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
    });
    const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json() as {
      type: string;
      webSocketDebuggerUrl: string;
    }[];
    const page = targets.find((t) => t.type === "page");
    assert.ok(page, "chromium has no page");
    this.#socket = new WebSocket(page.webSocketDebuggerUrl);
    await new Promise<void>((resolve, reject) => {
      this.#socket.onopen = () => resolve();
      this.#socket.onerror = () => reject(new Error("cannot open the DevTools WebSocket"));
    });
    this.#socket.onmessage = (e) => {
      const msg = JSON.parse(String(e.data));
      if (msg.id !== undefined) this.#pending.get(msg.id)?.(msg);
    };
  }

  call(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, (msg) => {
        this.#pending.delete(id);
        if (msg.error) reject(new Error(`${method}: ${msg.error.message}`));
        else resolve(msg.result);
      });
      this.#socket.send(JSON.stringify({ id, method, params }));
    });
  }

  /** Evaluates `expression` in the page and returns its JSON value. */
  async eval<T>(expression: string): Promise<T> {
    const r = await this.call("Runtime.evaluate", { expression, returnByValue: true }) as {
      result: { value: T };
      exceptionDetails?: { text: string };
    };
    if (r.exceptionDetails) throw new Error(`${expression}: ${r.exceptionDetails.text}`);
    return r.result.value;
  }

  /** Polls `expression` until it is truthy (bounded). */
  async until(expression: string, what: string, timeout = 20_000): Promise<void> {
    const deadline = Date.now() + timeout;
    while (Date.now() < deadline) {
      if (await this.eval<boolean>(expression)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    const html = await this.eval<string>("document.body.innerText");
    throw new Error(`Timed out waiting for ${what}; the page shows:\n${html}`);
  }

  async close(): Promise<void> {
    try {
      this.#socket?.close();
    } catch {
      // closed
    }
    if (this.#process.exitCode === null && this.#process.signalCode === null) {
      const exited = new Promise((r) => this.#process.once("exit", r));
      this.#process.kill("SIGKILL");
      await exited;
    }
    // Chromium's helper processes may still be writing into the profile for a while after the
    // main process exits: retry for up to 10 s, then leave the temporary folder (removing it is
    // housekeeping, not what this file tests) and say so.
    for (const end = Date.now() + 10_000;;) {
      try {
        rmSync(this.#dir, { recursive: true, force: true });
        return;
      } catch (err) {
        if (Date.now() > end) {
          console.warn(`could not remove Chromium's profile ${this.#dir}: ${err}`);
          return;
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }
}

/** Ports free right now (see freePort: below the ephemeral range, never the same twice). */
async function freePorts(n: number): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < n; i++) ports.push(await freePort());
  return ports;
}

/** The rows of the members table: node, status, reachable. */
const ROWS = `[...document.querySelectorAll("#members tr")].map((r) => ({
  node: r.dataset.node, status: r.dataset.status, reachable: r.dataset.reachable }))`;

(chromium ? describe : describe.skip)("the dashboard in headless Chromium", () => {
  const nodes: ScriptProcess[] = [];
  const browser = new Browser();
  let httpPort = 0;
  let victim = "";

  before(async () => {
    const common = ["--secret", SECRET, "--stable-after", "3000"];
    // All three start at once: the others retry joining the first until it is up.
    const ports = await freePorts(3);
    const seed = `127.0.0.1:${ports[0]}`;
    const started = browser.start();
    for (let i = 0; i < 3; i++) {
      const http = i === 0 ? [] : ["--no-http"];
      const args = ["ops", "--port", String(ports[i]), "--seed", seed, ...http, ...common];
      nodes.push(runScript(NODE, args, {}, { stdin: "pipe" }));
    }
    const ready = JSON.parse(await nodes[0].waitForLine((l) => l.includes('"ready"'), 30_000));
    httpPort = ready.http;
    victim = `127.0.0.1:${ports[2]}`;
    await Promise.all(nodes.map((n) => n.waitForLine((l) => l.includes('"up":3'), 30_000)));
    await started;
  });

  after(async () => {
    await browser.close();
    await Promise.all(nodes.map((n) => n.kill()));
  });

  it("lists 3 members, then shows a killed node unreachable, then gone, without a reload", {
    timeout: 60_000,
  }, async () => {
    await browser.call("Page.enable");
    await browser.call("Page.navigate", { url: `http://127.0.0.1:${httpPort}/?token=${SECRET}` });
    await browser.until(
      `(() => { const r = ${ROWS}; return r.length === 3 && r.every((x) => x.status === "Up"); })()`,
      "3 members up",
    );
    // The token left the address bar (a session cookie carries on), and the page is live.
    assert.equal(await browser.eval<string>("location.href"), `http://127.0.0.1:${httpPort}/`);
    assert.equal(await browser.eval<string>("document.cookie"), "", "the cookie is HttpOnly");
    assert.match(
      await browser.eval<string>("document.getElementById('leader').textContent"),
      /^127\.0\.0\.1:\d+$/,
    );
    await browser.until("Number(document.body.dataset.updates) >= 2", "a second pushed update");
    // A mark on this very document: it must survive to the end (no reload, no navigation).
    await browser.eval("window.__same_page = true");
    await nodes[2].kill("SIGKILL");
    await browser.until(
      `${ROWS}.some((r) => r.node === ${JSON.stringify(victim)} && r.reachable === "false")`,
      "the killed node shown unreachable",
    );
    assert.match(
      await browser.eval<string>("document.getElementById('unreachable').textContent"),
      new RegExp(victim.replace(/\./g, "\\.")),
    );
    await browser.until(
      `!${ROWS}.some((r) => r.node === ${
        JSON.stringify(victim)
      } && !["Down", "Removed"].includes(r.status))`,
      "the killed node gone (downed or removed)",
      30_000,
    );
    assert.equal(await browser.eval<boolean>("window.__same_page === true"), true);
    const rows = await browser.eval<{ node: string; status: string }[]>(ROWS);
    assert.equal(rows.filter((r) => r.status === "Up").length, 2);
  });
});
