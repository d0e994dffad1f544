// The node process helpers' view lines, for tests that wait for a membership or a leader.
import type { ClusteredActorSystem } from "../../mod.ts";
import { coordinatorOf } from "../../src/sharding/shard_coordinator.ts";

/**
 * Prints {"event":"view","up":[ports],"unreachable":[ports],"leader":P} with `print` whenever it
 * changes (polled every 100 ms, on an unref'd timer).
 */
export function printViews(
  node: ClusteredActorSystem,
  print: (o: Record<string, unknown>) => void,
): void {
  let last = "";
  setInterval(() => {
    const up = node.members.filter((m) => m.status === "up").map((m) => m.address.port).sort();
    const unreachable = node.view.unreachable.map((a) => a.port).sort();
    const leader = node.leader?.port ?? null;
    const view = JSON.stringify([up, unreachable, leader]);
    if (view !== last) print({ event: "view", up, unreachable, leader });
    last = view;
  }, 100).unref?.();
}

/**
 * Prints {"event":"hosts","ports":[ports]} with `print` whenever the nodes that host sharded
 * type `type` in the allocation table this node knows change (polled every 100 ms, unref'd).
 * A shard allocated before a node's region is known there goes to the others, and moves only
 * later, a few at a time: tests that need entities spread over the nodes wait for all of them.
 */
export function printHosts(
  node: ClusteredActorSystem,
  type: string,
  print: (o: Record<string, unknown>) => void,
): void {
  let last = "";
  setInterval(() => {
    const ids = coordinatorOf(node)?.table.hosts?.get(type) ?? [];
    const ports = ids.map((id) => node.members.find((m) => m.id === id)?.address.port ?? 0)
      .sort((a, b) => a - b);
    if (JSON.stringify(ports) !== last) print({ event: "hosts", ports });
    last = JSON.stringify(ports);
  }, 100).unref?.();
}

/**
 * Waits until every process printed a view with exactly `ports` up, then a `hosts` line with
 * exactly `ports` (see {@linkcode printHosts}): members up, and each a host of the sharded type
 * in every table, so that new shards spread over all of them.
 */
export async function waitUpAndHosting(
  procs: readonly {
    waitForLine(p: (line: string) => boolean, timeout?: number): Promise<string>;
  }[],
  ports: readonly number[],
  timeout = 30_000,
): Promise<void> {
  const want = JSON.stringify([...ports].sort((a, b) => a - b));
  for (const event of ['"view"', '"hosts"']) {
    await Promise.all(procs.map((p) =>
      p.waitForLine((l) => {
        if (!l.includes(event)) return false;
        const e = JSON.parse(l);
        return JSON.stringify(e.up ?? e.ports) === want;
      }, timeout)
    ));
  }
}
