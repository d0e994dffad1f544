import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { type NodeProcess, startNode, stopAll, waitForViews } from "../_helpers/cluster_harness.ts";

const LONG = { timeout: 90_000 };
const DAY = 86_400_000;

const sameUp = (ports: number[]) => (v: { up?: number[]; leader?: number | null }) =>
  JSON.stringify(v.up) === JSON.stringify([...ports].sort((a, b) => a - b)) &&
  v.leader === Math.min(...ports);

const ready = (n: NodeProcess) =>
  n.events().find((e) => e.event === "ready") as unknown as { id: string; now: number };

describe("membership identity across real processes", () => {
  it(
    "lets a node restarted with its clock a day behind rejoin (ids are not ordered by time)",
    LONG,
    async () => {
      const first = await startNode(0, { stableAfter: 2000 });
      const nodes: NodeProcess[] = [first];
      try {
        nodes.push(
          ...await Promise.all(
            [0, 0].map(() => startNode(0, { seeds: [first.port], stableAfter: 2000 })),
          ),
        );
        const ports = nodes.map((n) => n.port);
        await waitForViews(nodes, sameUp(ports), 20_000, "3 members up");
        const victim = nodes[2];
        const oldId = ready(victim).id;
        await victim.kill("SIGKILL");
        const again = await startNode(victim.port, {
          seeds: [first.port],
          stableAfter: 2000,
          env: { CASTY_TEST_CLOCK_OFFSET_MS: String(-DAY) },
        });
        nodes[2] = again;
        // the restarted node's clock really is a day behind, and its id sorts before the old one
        assert.ok(Math.abs(ready(again).now - (Date.now() - DAY)) < 60_000);
        assert.ok(ready(again).id < oldId, `${ready(again).id} sorts before ${oldId}`);
        await waitForViews(nodes, sameUp(ports), 30_000, "the restarted node up again");
      } finally {
        await stopAll(nodes);
      }
    },
  );
});
