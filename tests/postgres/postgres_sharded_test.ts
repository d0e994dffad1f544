// Sharded event-sourced accounts (Behaviors.sharded of Behaviors.eventSourced) on real node
// processes sharing one real PostgreSQL database. The test process is the client: it sends
// deposits one at a time per account, each with its own id, and records every acknowledged
// one. After a kill -9 of a node that owns shards, or a restart of the server, every account's
// log holds each acknowledged deposit exactly once (and no deposit twice).
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { type HelperEvent, HelperProcess, waitUntil } from "../_helpers/child_process.ts";
import { waitUpAndHosting } from "../_helpers/print_views.ts";
import { type PostgresServer, startPostgres } from "../_helpers/postgres_server.ts";

const LONG = { timeout: 60_000 };
const script = new URL("../_helpers/sharded_bank_node.ts", import.meta.url).pathname;
let server: PostgresServer;
const started: HelperProcess[] = [];

before(async () => {
  server = await startPostgres();
});

after(async () => {
  await Promise.all(started.map((n) => n.stop()));
  await server?.destroy();
});

interface BankNode {
  readonly proc: HelperProcess;
  readonly port: number;
}

let tags = 0;

function send(node: BankNode, cmd: Record<string, unknown>): void {
  node.proc.child.stdin!.write(JSON.stringify(cmd) + "\n");
}

async function startBank(schema: string, seeds: number[]): Promise<BankNode> {
  const args = [
    "0",
    ...seeds.flatMap((s) => ["--seed", `127.0.0.1:${s}`]),
    "--postgres",
    server.url,
    schema,
    "--stable-after",
    "1500",
  ];
  const proc = HelperProcess.start(script, args);
  started.push(proc);
  const ready = await proc.waitFor((e) => e.event === "ready", 30_000);
  return { proc, port: ready.port as number };
}

/** `n` nodes sharing `schema`, up in every node's view and hosting accounts in its table. */
async function startCluster(schema: string, n: number): Promise<BankNode[]> {
  const first = await startBank(schema, []);
  const rest = await Promise.all(
    Array.from({ length: n - 1 }, () => startBank(schema, [first.port])),
  );
  const nodes = [first, ...rest];
  await waitUpAndHosting(nodes.map((x) => x.proc), nodes.map((x) => x.port));
  return nodes;
}

/** Sends a command with a fresh tag through `node`; resolves with its answer (ack/balance/error). */
async function request(node: BankNode, cmd: Record<string, unknown>): Promise<HelperEvent> {
  const tag = `t${++tags}`;
  send(node, { ...cmd, tag });
  return await node.proc.waitFor((e) => e.tag === tag, 10_000);
}

/**
 * The client: drives deposits of 1 into each account through `via`, one outstanding deposit per
 * account, each with a unique id, and records which were acknowledged (and by which node).
 */
class Client {
  readonly acked = new Map<string, { dep: string; node: number; at: number }[]>();
  readonly failed = new Map<string, string[]>();
  #running = true;
  readonly #loops: Promise<void>[];

  constructor(readonly via: BankNode, readonly ids: string[]) {
    for (const id of ids) {
      this.acked.set(id, []);
      this.failed.set(id, []);
    }
    this.#loops = ids.map((id) => this.#drive(id));
  }

  async #drive(id: string): Promise<void> {
    for (let n = 1; this.#running; n++) {
      const dep = `${id}#${n}`;
      const answer = await request(this.via, { op: "deposit", id, amount: 1, dep });
      if (answer.event === "ack") {
        this.acked.get(id)!.push({ dep, node: answer.node as number, at: Date.now() });
      } else {
        this.failed.get(id)!.push(String(answer.message));
        await new Promise((resolve) => setTimeout(resolve, 100)); // the retry pace when failing
      }
    }
  }

  ackCount(): number {
    return [...this.acked.values()].reduce((sum, list) => sum + list.length, 0);
  }

  /** Stops sending and waits for the answers of the deposits still outstanding. */
  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops);
  }
}

/** Reads an account through `node` until it answers (it may be between nodes). */
async function balance(node: BankNode, id: string): Promise<HelperEvent> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const answer = await request(node, { op: "balance", id });
    if (answer.event === "balance") return answer;
    if (Date.now() > deadline) throw new Error(`no balance for ${id}: ${answer.message}`);
  }
}

/** Every acknowledged deposit is in the account's log exactly once, and no deposit twice. */
async function assertExactlyOnce(node: BankNode, client: Client): Promise<void> {
  for (const id of client.ids) {
    const state = await balance(node, id);
    const deps = state.deps as string[];
    assert.equal(new Set(deps).size, deps.length, `${id}: no deposit twice in ${deps}`);
    assert.equal(state.balance, deps.length, `${id}: the balance is the sum of its deposits`);
    const logged = new Set(deps);
    for (const { dep } of client.acked.get(id)!) {
      assert.ok(logged.has(dep), `${id}: acknowledged deposit ${dep} is in the log`);
    }
  }
}

describe("sharded event-sourced accounts on PostgreSQL across real processes", () => {
  it(
    "after kill -9 of a node that owns shards, its accounts answer on the survivors with every acknowledged deposit exactly once",
    LONG,
    async () => {
      const [a, b, c] = await startCluster("bank_sharded_kill", 3);
      const ids = Array.from({ length: 12 }, (_, i) => `acc-${i}`);
      const client = new Client(a, ids);
      try {
        await waitUntil(
          () => ids.every((id) => client.acked.get(id)!.length >= 3),
          20_000,
          "three acknowledged deposits per account",
        );
        const owner = (id: string) => client.acked.get(id)!.at(-1)!.node;
        // The victim: the node other than the first (the leader) that owns the most accounts.
        const count = (n: BankNode) => ids.filter((id) => owner(id) === n.port).length;
        const victim = count(b) >= count(c) ? b : c;
        const moved = ids.filter((id) => owner(id) === victim.port);
        assert.ok(moved.length > 0, "the victim owns accounts");
        const killedAt = Date.now();
        victim.proc.kill("SIGKILL");
        assert.equal(await victim.proc.exited, null);
        // Its accounts take deposits again on a survivor.
        await waitUntil(
          () =>
            moved.every((id) =>
              client.acked.get(id)!.some((x) => x.at > killedAt && x.node !== victim.port)
            ),
          30_000,
          () => `every moved account acknowledged on a survivor (${moved})`,
        );
        console.log(
          `kill -9 → every moved account acknowledged again: ${Date.now() - killedAt} ms ` +
            `(${moved.length} accounts, stableAfter 1500)`,
        );
        await client.stop();
        assert.ok(client.ackCount() > ids.length * 3);
        await assertExactlyOnce(a, client);
        const survivor = victim === b ? c : b;
        for (const id of moved) {
          const state = await balance(survivor, id);
          assert.notEqual(state.node, victim.port, `${id} lives on a survivor`);
        }
      } finally {
        await client.stop();
      }
    },
  );

  it(
    "fails deposits clearly while the server is down and takes them again after it restarts",
    LONG,
    async () => {
      const schema = "bank_sharded_restart";
      const [a, b] = await startCluster(schema, 2);
      const ids = Array.from({ length: 6 }, (_, i) => `acc-${i}`);
      const client = new Client(a, ids);
      try {
        await waitUntil(
          () => ids.every((id) => client.acked.get(id)!.length >= 3),
          20_000,
          "three acknowledged deposits per account",
        );
        const journalErrors = () =>
          [a, b].flatMap((n) => n.proc.events.filter((e) => e.event === "journal-error"));
        const errorsBefore = journalErrors().length;
        await server.stop("fast");
        // The journal says what went wrong, naming the entity and the schema.
        await waitUntil(() => journalErrors().length > errorsBefore, 15_000, "a journal error");
        const journalError = journalErrors()[errorsBefore];
        assert.match(
          String(journalError.message),
          new RegExp(
            `^Cannot (persist events for "account-acc-\\d+" in|` +
              `load (snapshot|events) for "account-acc-\\d+" from) PostgreSQL schema "${schema}": `,
          ),
        );
        // The client sees its deposits fail, and none is acknowledged while the server is down.
        const failedBefore = [...client.failed.values()].flat().length;
        await waitUntil(
          () => [...client.failed.values()].flat().length > failedBefore,
          15_000,
          "a failed deposit",
        );
        const acksWhileDown = client.ackCount();
        await new Promise((resolve) => setTimeout(resolve, 500));
        assert.equal(client.ackCount(), acksWhileDown, "no deposit acknowledged while down");
        const restartedAt = Date.now();
        await server.start();
        await waitUntil(
          () => ids.every((id) => client.acked.get(id)!.some((x) => x.at > restartedAt)),
          30_000,
          "every account acknowledged again after the restart",
        );
        console.log(
          `server restart → every account acknowledged again: ${Date.now() - restartedAt} ms`,
        );
        await client.stop();
        await assertExactlyOnce(a, client);
      } finally {
        await client.stop();
      }
    },
  );
});
