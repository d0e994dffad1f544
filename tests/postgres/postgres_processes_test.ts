// Real processes sharing one real PostgreSQL database: event-sourced accounts survive the
// SIGKILL of the process that hosted them, and a server restart makes commands fail clearly
// and then work again. Every account deposits seq + 1 each time, so a correct log always has
// balance = seq * (seq + 1) / 2.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type HelperEvent, HelperProcess, waitUntil } from "../_helpers/child_process.ts";
import { type PostgresServer, startPostgres } from "../_helpers/postgres_server.ts";

const script = join(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "_helpers",
  "pg_account_node.ts",
);
let server: PostgresServer;
const nodes: HelperProcess[] = [];

before(async () => {
  server = await startPostgres();
});

after(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  await server?.destroy();
});

async function startNode(schema: string): Promise<HelperProcess> {
  const node = HelperProcess.start(script, [server.url, schema]);
  nodes.push(node);
  await node.waitFor((e) => e.event === "ready", 20_000);
  return node;
}

function send(node: HelperProcess, line: string): void {
  node.child.stdin!.write(line + "\n");
}

const acks = (node: HelperProcess, id: string): HelperEvent[] =>
  node.events.filter((e) => e.event === "ack" && e.id === id);

const triangle = (n: number): number => (n * (n + 1)) / 2;

async function stateOn(node: HelperProcess, id: string): Promise<{ seq: number; balance: number }> {
  const states = () => node.events.filter((e) => e.event === "state" && e.id === id);
  const seen = states().length;
  send(node, `get ${id}`);
  await waitUntil(() => states().length > seen, 15_000, `the state of ${id}`);
  const e = states()[seen];
  return { seq: e.seq as number, balance: e.balance as number };
}

describe("PostgresJournal shared by real processes", () => {
  it("keeps every acknowledged deposit when the hosting process is killed with SIGKILL", async () => {
    const schema = "bank_kill";
    const [a, b, c] = await Promise.all([startNode(schema), startNode(schema), startNode(schema)]);
    send(a, "drive acc-0");
    send(a, "drive acc-1");
    send(b, "drive acc-2");
    send(c, "drive acc-3");
    for (const [node, id] of [[a, "acc-0"], [a, "acc-1"], [b, "acc-2"], [c, "acc-3"]] as const) {
      await node.waitFor(
        (e) => e.event === "ack" && e.id === id && (e.seq as number) >= 40,
        30_000,
      );
    }
    a.kill("SIGKILL");
    assert.equal(await a.exited, null);
    // The deposit in flight at the kill may or may not have committed; none acked may be lost.
    for (const [id, survivor] of [["acc-0", b], ["acc-1", c]] as const) {
      const acked = Math.max(...acks(a, id).map((e) => e.seq as number));
      const state = await stateOn(survivor, id);
      assert.ok(
        state.seq === acked || state.seq === acked + 1,
        `${id}: acked ${acked}, found ${state.seq}`,
      );
      assert.equal(state.balance, triangle(state.seq), `${id}: balance of a gapless log`);
      // The survivor carries on writing the account where the killed process left it.
      send(survivor, `drive ${id}`);
      await survivor.waitFor(
        (e) => e.event === "ack" && e.id === id && (e.seq as number) >= state.seq + 10,
        20_000,
      );
    }
    for (const [node, id] of [[b, "acc-2"], [c, "acc-3"], [b, "acc-0"], [c, "acc-1"]] as const) {
      const mine = acks(node, id);
      const last = mine[mine.length - 1];
      assert.equal(last.balance, triangle(last.seq as number), `${id} on a survivor`);
      assert.equal(node.events.filter((e) => e.event === "fail").length, 0, node.stderr.join(""));
    }
  });

  it("fails commands clearly while the server is down and works again after it restarts", async () => {
    const schema = "bank_restart";
    const [b, c] = await Promise.all([startNode(schema), startNode(schema)]);
    send(b, "drive acc-b");
    send(c, "drive acc-c");
    for (const [node, id] of [[b, "acc-b"], [c, "acc-c"]] as const) {
      await node.waitFor(
        (e) => e.event === "ack" && e.id === id && (e.seq as number) >= 20,
        30_000,
      );
    }
    await server.stop("fast");
    const ackedWhileUp = new Map<string, number>();
    for (const [node, id] of [[b, "acc-b"], [c, "acc-c"]] as const) {
      const fail = await node.waitFor((e) => e.event === "fail" && e.id === id, 15_000);
      assert.match(
        String(fail.error),
        new RegExp(`^Cannot (persist events for|load snapshot for|load events for) "${id}"`),
      );
      ackedWhileUp.set(id, Math.max(...acks(node, id).map((e) => e.seq as number)));
    }
    // While the server is down no deposit is acknowledged.
    const countsWhileDown = [acks(b, "acc-b").length, acks(c, "acc-c").length];
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual([acks(b, "acc-b").length, acks(c, "acc-c").length], countsWhileDown);
    await server.start();
    for (const [node, id] of [[b, "acc-b"], [c, "acc-c"]] as const) {
      const before = ackedWhileUp.get(id)!;
      const e = await node.waitFor(
        (e) => e.event === "ack" && e.id === id && (e.seq as number) >= before + 10,
        30_000,
      );
      assert.equal(e.balance, triangle(e.seq as number), `${id} after the restart`);
    }
  });
});
