import { describe, it } from "node:test";
import assert from "node:assert/strict";
import {
  type ActorRef,
  Behaviors,
  ClusteredActorSystem,
  Deregister,
  MemberDowned,
  MemberRemoved,
  ServiceKey,
  UnreachableMember,
} from "../../mod.ts";
import { runScript, type ScriptProcess } from "../_helpers/process.ts";

const LONG = { timeout: 90_000 };
const script = new URL("../_helpers/singleton_node.ts", import.meta.url).pathname;

type Ping = { replyTo: ActorRef<number> };
type Event = { event: string; port?: number; ports?: number[] };

interface Proc {
  proc: ScriptProcess;
  port: number;
  events(): Event[];
}

const parse = (l: string): Event | undefined => {
  try {
    return JSON.parse(l) as Event;
  } catch {
    return undefined;
  }
};

async function startProc(seed: number): Promise<Proc> {
  const proc = runScript(script, [
    "cluster",
    "--seed",
    `127.0.0.1:${seed}`,
    "--stable-after",
    "2000",
  ]);
  const ready = parse(await proc.waitForLine((l) => parse(l)?.event === "ready", 20_000))!;
  return {
    proc,
    port: ready.port!,
    events: () => proc.lines.map(parse).filter((e): e is Event => e !== undefined),
  };
}

async function until(predicate: () => boolean | Promise<boolean>, timeout: number, what: string) {
  const end = Date.now() + timeout;
  while (!(await predicate())) {
    if (Date.now() > end) throw new Error(`Timed out after ${timeout} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Starts this process's node (no role: it never hosts the singleton) and 3 worker processes. */
async function cluster(): Promise<{ node: ClusteredActorSystem; procs: Proc[] }> {
  const node = await ClusteredActorSystem.start({
    name: "cluster",
    host: "127.0.0.1",
    port: 0,
    downing: { stableAfter: 2000 },
    logLevel: "error",
  });
  const procs: Proc[] = [];
  try {
    for (let i = 0; i < 3; i++) procs.push(await startProc(node.selfAddress.port));
    await node.waitFor(4, { timeout: 20_000 });
  } catch (err) {
    await Promise.all(procs.map((p) => p.proc.kill("SIGKILL")));
    await node.shutdown();
    throw err;
  }
  return { node, procs };
}

async function stop(node: ClusteredActorSystem, procs: Proc[]) {
  await Promise.all(procs.map((p) => p.proc.kill("SIGKILL")));
  await node.shutdown();
}

describe("singleton and receptionist across real processes", () => {
  it("the singleton moves to a survivor after kill -9 of its node", LONG, async () => {
    const { node, procs } = await cluster();
    try {
      const single = node.spawn(
        Behaviors.singleton(Behaviors.ignore<Ping>(), { role: "worker" }),
        "single",
      );
      const ask = (timeout = 1000) => node.ask(single, (replyTo) => ({ replyTo }), { timeout });
      let owner = 0;
      await until(
        async () => {
          owner = await ask().catch(() => 0);
          return owner !== 0;
        },
        20_000,
        "the singleton to answer",
      );
      const started = procs.flatMap((p) =>
        p.events().filter((e) => e.event === "singletonStarted")
      );
      assert.deepEqual(started.map((e) => e.port), [owner]);
      const victim = procs.find((p) => p.port === owner)!;
      const timeline: string[] = [];
      for (const cls of [UnreachableMember, MemberDowned, MemberRemoved]) {
        node.eventStream.subscribe(
          cls,
          (e: { type: string; member: { address: { port: number } } }) => {
            if (e.member.address.port === owner) {
              timeline.push(`${e.type} +${Date.now() - killedAt} ms`);
            }
          },
        );
      }
      const killedAt = Date.now();
      await victim.proc.kill("SIGKILL");
      // An ask every 250 ms (each may wait in a buffer until the new instance runs; those sent
      // before the survivors notice the crash go to the dead node and are lost with it).
      const asks: Promise<number>[] = [];
      let next = 0;
      await until(
        () => {
          if (asks.length === 0 || Date.now() - killedAt > asks.length * 250) {
            asks.push(ask(20_000).then((port) => (next ||= port), () => 0));
          }
          return next !== 0;
        },
        30_000,
        "the singleton to answer again",
      );
      const ms = Date.now() - killedAt;
      console.log(
        `singleton failover: kill -9 → first answer from the new instance ${ms} ms ` +
          `(stableAfter 2000; seen here: ${timeline.join(", ")})`,
      );
      assert.notEqual(next, owner);
      // Exactly one survivor started it, and the first one never stopped (it was killed).
      const survivors = procs.filter((p) => p !== victim);
      const startedAfter = () =>
        survivors.flatMap((p) =>
          p.events().filter((e) => e.event === "singletonStarted").map((e) => e.port)
        );
      await until(() => startedAfter().length > 0, 5000, "the start to be printed");
      await new Promise((r) => setTimeout(r, 500)); // a second start would show up by now
      assert.deepEqual(startedAfter(), [next]);
    } finally {
      await stop(node, procs);
    }
  });

  it("a deregistration is seen on every node", LONG, async () => {
    const { node, procs } = await cluster();
    try {
      const Svc = new ServiceKey<Ping>("svc");
      const all = procs.map((p) => p.port).sort((a, b) => a - b);
      const lists = (p: Proc, ports: number[]) =>
        p.events().some((e) =>
          e.event === "listing" && JSON.stringify(e.ports) === JSON.stringify(ports)
        );
      await until(() => procs.every((p) => lists(p, all)), 20_000, "every node to list 3");
      const listing = await node.lookup(Svc);
      assert.deepEqual(listing.instances.map((i) => i.node.port).sort((a, b) => a - b), all);
      // Deregister the second process's service from this node: its own node applies it and
      // every node hears of it.
      const target = listing.instances.find((i) => i.node.port === procs[1].port)!;
      node.receptionist.tell(new Deregister(Svc, target.ref));
      const rest = all.filter((p) => p !== procs[1].port);
      await until(() => procs.every((p) => lists(p, rest)), 20_000, "every node to list 2");
      await until(async () => (await node.lookup(Svc)).instances.length === 2, 5000, "lookup");
    } finally {
      await stop(node, procs);
    }
  });
});
