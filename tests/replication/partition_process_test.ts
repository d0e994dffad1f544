import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PartitionProxy } from "../../src/testing/mod.ts";
import { type Node, startNode, waitUntil, waitUp } from "./_process_nodes.ts";

// Quick failure detection, stableAfter 1500 ms (leases of 750 ms), minAcks 1.
const FLAGS = ["--fast", "--stable-after", "1500", "--replicas", "1", "--min-acks", "1"];

describe("replication across a partition of real processes", () => {
  it(
    "5 nodes: the primary cut away from the majority is replaced, its late writes are never acknowledged, no acknowledged deposit is lost or doubled",
    { timeout: 90_000 },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), "casty-replication-partition-"));
      await using net = new PartitionProxy();
      const nodes: Node[] = [];
      try {
        const addrs = [];
        for (let i = 0; i < 5; i++) addrs.push(await net.add());
        const seed = addrs[0].port;
        nodes.push(
          ...await Promise.all(
            addrs.map((a, i) => startNode(dir, i === 0 ? [] : [seed], FLAGS, a)),
          ),
        );
        await waitUp(nodes);
        assert.ok(net.connections > 0, "the nodes talk through the proxies");

        const ids = Array.from({ length: 10 }, (_, k) => `acc-${k}`);
        // Every acknowledged deposit: account → deposit ids, and by which node / lane.
        const acked = new Map<string, string[]>(ids.map((id) => [id, []]));
        const primaryOf = new Map<string, number>();
        const servedAfterCut = new Map<string, number>(ids.map((id) => [id, 0]));
        let cut = false;
        let stop = false;
        let lateSent = 0;
        // One lane per account through node 0 (never cut off), one deposit in flight each.
        const lane = async (
          via: Node,
          id: string,
          prefix: string,
          onAck: (node: number) => void,
        ) => {
          for (let k = 0; !stop; k++) {
            const dep = `${prefix}${id}-${k}`;
            if (prefix !== "") lateSent++;
            const r = await via.call({ op: "deposit", id, dep });
            if (r?.event === "ack") {
              acked.get(id)!.push(dep);
              onAck(r.node as number);
            } else if (r === undefined) await new Promise((r) => setTimeout(r, 50));
          }
        };
        const lanes = ids.map((id) =>
          lane(nodes[0], id, "", (node) => {
            primaryOf.set(id, node);
            if (cut) servedAfterCut.set(id, servedAfterCut.get(id)! + 1);
          })
        );
        assert.ok(
          await waitUntil(() => [...acked.values()].every((l) => l.length >= 3), 20_000),
          "every account acknowledged deposits before the partition",
        );
        // The victim: the node other than 0 that is the primary of the most accounts.
        const count = (n: Node) => ids.filter((id) => primaryOf.get(id) === n.port).length;
        const victim = nodes.slice(1).reduce((best, n) => (count(n) > count(best) ? n : best));
        const moved = ids.filter((id) => primaryOf.get(id) === victim.port);
        assert.ok(moved.length > 0, "the victim is the primary of some accounts");
        const shutdown = victim.proc.waitForLine((l) => l.includes('"ShutdownSelf"'), 20_000)
          .then(() => true, () => false);

        net.partition(nodes.filter((n) => n !== victim).map((n) => n.port), victim.port);
        cut = true;
        const cutAt = Date.now();
        // The deposed primary's clients keep writing to it: none of these may be acknowledged.
        let lateAcked = 0;
        const late = moved.map((id) => lane(victim, id, "late-", () => lateAcked++));
        // The majority downs the victim, and promotes a replica of each of its accounts.
        const served = await waitUntil(
          () =>
            moved.every((id) => servedAfterCut.get(id)! >= 3 && primaryOf.get(id) !== victim.port),
          20_000,
        );
        const failover = Date.now() - cutAt;
        stop = true;
        await Promise.all([...lanes, ...late]);
        assert.ok(served, `moved accounts ${moved} served again by the majority`);
        assert.equal(lateAcked, 0, "no late write of the deposed primary acknowledged");
        assert.ok(lateSent > 0, "the deposed primary was sent writes");
        assert.equal(await shutdown, true, "the cut-off node learnt that it lost (ShutdownSelf)");

        for (const id of ids) {
          const r = await nodes[0].call({ op: "balance", id }, 10_000);
          assert.equal(r?.event, "balance", `balance of ${id}`);
          assert.notEqual(r!.node, victim.port);
          const deps = r!.deps as string[];
          assert.equal(new Set(deps).size, deps.length, `${id}: no deposit twice`);
          const missing = acked.get(id)!.filter((d) => !deps.includes(d));
          assert.deepEqual(missing, [], `${id}: every acknowledged deposit is in the balance`);
        }
        const total = [...acked.values()].reduce((n, l) => n + l.length, 0);
        console.log(
          `${total} deposits acknowledged; ${moved.length} accounts moved; cut → served by the majority: ${failover} ms; ${lateSent} writes sent to the cut-off node, 0 acknowledged`,
        );
      } finally {
        await Promise.all(nodes.map((n) => n.proc.kill("SIGKILL")));
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
