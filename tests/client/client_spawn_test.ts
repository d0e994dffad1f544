// client.spawn(behavior, name, { node }) against real node processes (tests/client/_client_node.ts,
// which imports ./_spawnables.ts), the client in this process: remote deployment by key and
// arguments on a chosen node and on "any" node, asks to the spawned actors, every error case.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  ActorNameTakenError,
  Behaviors,
  ClusterClient,
  ClusterUnavailableError,
  entityShard,
  RemoteSpawnError,
  SerializationError,
  spawnable,
} from "../../mod.ts";
import { runScript, type ScriptProcess } from "../_helpers/process.ts";
import { waitUntil } from "../_helpers/child_process.ts";
import { picky, tally, type TallyMsg, type TallyReply } from "./_spawnables.ts";

const LONG = { timeout: 60_000 };
const script = new URL("./_client_node.ts", import.meta.url).pathname;

/** Registered in this process only: the nodes do not know this key. */
const clientOnly = spawnable("test-client-only", () => Behaviors.ignore<string>());

async function startNode(seeds: number[]): Promise<{ proc: ScriptProcess; port: number }> {
  const args = ["0", ...seeds.flatMap((s) => ["--seed", `127.0.0.1:${s}`])];
  const proc = runScript(script, args, {}, { stdin: "pipe" });
  const ready = JSON.parse(await proc.waitForLine((l) => l.includes('"ready"'), 30_000));
  return { proc, port: ready.port };
}

describe("ClusterClient.spawn() on a node", () => {
  let nodes: { proc: ScriptProcess; port: number }[] = [];
  let client: ClusterClient;

  before(async () => {
    const a = await startNode([]);
    nodes = [a, await startNode([a.port])];
    client = await ClusterClient.connect({
      contactPoints: [`127.0.0.1:${a.port}`],
      systemName: "bank",
      connectTimeout: 20_000,
      logLevel: "error",
    });
    await waitUntil(
      () => client.getClusterState().members.filter((m) => m.status === "up").length === 2,
      20_000,
      "the client to see both nodes up",
    );
  }, LONG);

  after(async () => {
    await client?.close();
    await Promise.all(nodes.map((n) => n.proc.kill("SIGKILL")));
  });

  const get = (ref: Parameters<ClusterClient["ask"]>[0]) =>
    client.ask<TallyMsg, TallyReply>(
      ref as never,
      (replyTo) => ({ type: "get", replyTo }),
      { timeout: 5000 },
    );

  it("spawns on the chosen node, and no message told right after it is lost", LONG, async () => {
    for (const node of nodes) {
      const name = `tally-on-${node.port}`;
      const ref = await client.spawn(tally(10, `L${node.port}`), name, {
        node: `127.0.0.1:${node.port}`,
      });
      assert.equal(ref.address, `casty://bank@127.0.0.1:${node.port}/${name}`);
      // Tells at once after the spawn resolved: the actor exists, none may be dropped.
      for (let i = 1; i <= 100; i++) ref.tell({ type: "add", n: i });
      const r = await get(ref);
      assert.deepEqual(r, {
        total: 10 + 5050,
        label: `L${node.port}`,
        at: `casty://bank@127.0.0.1:${node.port}/${name}`,
      });
    }
  });

  it(
    'spawns on "any" node by the documented rule, spreading names over the members',
    LONG,
    async () => {
      const sorted = nodes.map((n) => n.port).sort((x, y) =>
        `127.0.0.1:${x}` < `127.0.0.1:${y}` ? -1 : 1
      );
      const placed = new Set<number>();
      for (let i = 0; i < 8; i++) {
        const name = `anywhere-${i}`;
        const ref = await client.spawn(tally(i, name), name, { node: "any" });
        const expected = sorted[entityShard(name, sorted.length)];
        assert.equal(ref.address, `casty://bank@127.0.0.1:${expected}/${name}`);
        const r = await get(ref);
        assert.equal(r.total, i);
        assert.equal(r.at, `casty://bank@127.0.0.1:${expected}/${name}`);
        placed.add(expected);
      }
      assert.equal(placed.size, 2, "8 names land on both nodes");
    },
  );

  it(
    "refuses a taken name with ActorNameTakenError, and the first actor keeps running",
    LONG,
    async () => {
      const node = `127.0.0.1:${nodes[0].port}`;
      const ref = await client.spawn(tally(1, "first"), "taken", { node });
      await assert.rejects(
        client.spawn(tally(2, "second"), "taken", { node }),
        (err) => err instanceof ActorNameTakenError && err.path === "/taken",
      );
      // "any" picks the same node for the same name while the membership is stable: taken too.
      const again = await client.spawn(tally(3, "x"), "taken-any", { node: "any" });
      await assert.rejects(
        client.spawn(tally(4, "y"), "taken-any", { node: "any" }),
        ActorNameTakenError,
      );
      assert.equal((await get(ref)).label, "first");
      assert.equal((await get(again)).total, 3);
    },
  );

  it(
    "fails clearly for an unknown key, a throwing factory, a non-member, a plain behavior, a bad argument",
    LONG,
    async () => {
      const node = `127.0.0.1:${nodes[1].port}`;
      await assert.rejects(
        client.spawn(clientOnly(), "nobody-knows", { node }),
        (err) =>
          err instanceof RemoteSpawnError && err.code === "UNKNOWN_KEY" &&
          err.message.includes('"test-client-only"') && err.message.includes(node),
      );
      await assert.rejects(
        client.spawn(picky("bad"), "picky", { node }),
        (err) =>
          err instanceof RemoteSpawnError && err.code === "FACTORY_FAILED" &&
          err.message.includes('picky refuses "bad"'),
      );
      await assert.rejects(
        client.spawn(tally(0, "x"), "lost", { node: "127.0.0.1:1" }),
        (err) =>
          err instanceof RemoteSpawnError && err.code === "NOT_A_MEMBER" &&
          err.message ===
            'Cannot spawn "lost" on 127.0.0.1:1: it is not an up member of cluster "bank"',
      );
      await assert.rejects(
        client.spawn(Behaviors.ignore<string>(), "plain", { node }),
        (err) => err instanceof RemoteSpawnError && err.code === "NOT_SPAWNABLE",
      );
      await assert.rejects(
        client.spawn(tally(0, (() => "no") as unknown as string), "fn-arg", { node }),
        (err) => err instanceof SerializationError && err.message.includes("test-client-tally"),
      );
      await assert.rejects(
        client.spawn(tally(0, "x"), "roleless", { node: "any", role: "no-such-role" }),
        ClusterUnavailableError,
      );
      await assert.rejects(
        client.spawn(tally(0, "x"), "nowhere", {} as { node: string }),
        TypeError,
      );
      // None of them spawned anything, and the node still spawns: the names are free.
      const ok = await client.spawn(picky("good"), "picky", { node });
      assert.equal(ok.path, "/picky");
      const fine = await client.spawn(tally(7, "ok"), "fn-arg", { node });
      assert.equal((await get(fine)).total, 7);
    },
  );

  it("still spawns a plain behavior on the client without options", () => {
    const ref = client.spawn(Behaviors.ignore<string>(), "local-one");
    assert.equal(ref.path, "/local-one");
    assert.equal(client.system.lookup("/local-one")?.path, "/local-one");
  });
});
