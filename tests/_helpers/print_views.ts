// The node process helpers' view lines, for tests that wait for a membership or a leader.
import type { ClusteredActorSystem } from "../../mod.ts";

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
