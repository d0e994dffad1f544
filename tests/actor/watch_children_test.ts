// `watchChildren(ctx)` (internal, used by sharding): every child that stops is reported to the
// parent as `Terminated(child)` without a watch per child; children stopped by the parent's own
// stop are not reported.
import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  type ActorContext,
  type ActorRef,
  ActorSystem,
  Behaviors,
  DeadLetter,
  Terminated,
} from "../../mod.ts";
import { watchChildren } from "../../src/actor/internal.ts";
import { waitFor } from "../_helpers/probe.ts";

type ParentMsg = { type: "spawn"; name: string } | { type: "stop"; name: string } | Terminated;

function parent(terminated: string[], refs: Map<string, ActorRef<never>>) {
  return Behaviors.setup<ParentMsg>((ctx) => {
    watchChildren(ctx as ActorContext<unknown>);
    return Behaviors.receive<ParentMsg>((ctx, msg) => {
      if (msg instanceof Terminated) {
        assert.equal(msg.ref, refs.get(msg.ref.path.split("/").pop()!));
        terminated.push(msg.ref.path);
      } else if (msg.type === "spawn") {
        refs.set(
          msg.name,
          ctx.spawn(
            Behaviors.receive<string>((_c, m) => m === "die" ? Behaviors.stopped() : undefined),
            msg.name,
          ) as ActorRef<never>,
        );
      } else {
        ctx.stop(refs.get(msg.name)!);
      }
    });
  });
}

describe("watchChildren", () => {
  it("reports every child that stops, however it stops, once", async () => {
    await using system = new ActorSystem({ name: "wc" });
    const terminated: string[] = [];
    const refs = new Map<string, ActorRef<never>>();
    const p = system.spawn(parent(terminated, refs), "p");
    for (const name of ["a", "b", "c"]) p.tell({ type: "spawn", name });
    await waitFor(() => refs.size === 3);
    p.tell({ type: "stop", name: "a" });
    (refs.get("b") as unknown as ActorRef<string>).tell("die");
    await waitFor(() => terminated.length === 2, { what: "two Terminated" });
    assert.deepEqual([...terminated].sort(), ["/p/a", "/p/b"]);
    // A name is free again once its Terminated arrived: spawning it again works.
    p.tell({ type: "spawn", name: "a" });
    await waitFor(() => refs.get("a")?.path === "/p/a" && terminated.length === 2);
    (refs.get("a") as unknown as ActorRef<string>).tell("die");
    await waitFor(() => terminated.length === 3, { what: "the second a's Terminated" });
    assert.deepEqual(terminated.slice(2), ["/p/a"]);
  });

  it("does not report children that stop because the parent stops (no dead letters either)", async () => {
    await using system = new ActorSystem({ name: "wc2" });
    const terminated: string[] = [];
    const refs = new Map<string, ActorRef<never>>();
    const dead: DeadLetter[] = [];
    system.eventStream.subscribe(DeadLetter, (d) => dead.push(d));
    let inner: ActorRef<ParentMsg> | undefined;
    let innerStopped = false;
    const p = system.spawn(
      Behaviors.setup<ParentMsg>((ctx) => {
        inner = ctx.spawn(parent(terminated, refs), "inner");
        ctx.watch(inner);
        return Behaviors.receive<ParentMsg>((ctx, msg) => {
          if (msg instanceof Terminated) innerStopped = true;
          else if (msg.type === "stop") ctx.stop(inner as ActorRef<never>);
        });
      }),
      "outer",
    );
    await waitFor(() => inner !== undefined, { what: "inner" });
    for (const name of ["x", "y"]) inner!.tell({ type: "spawn", name });
    await waitFor(() => refs.size === 2);
    p.tell({ type: "stop", name: "inner" });
    await waitFor(() => innerStopped, { what: "inner stopped" });
    assert.deepEqual(terminated, []);
    assert.deepEqual(dead.filter((d) => d.message instanceof Terminated), []);
  });
});
