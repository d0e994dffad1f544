// A child process for tests/persistence/lazy_sqlite_test.ts: makes loading node:sqlite through
// process.getBuiltinModule fail, then imports @casty/casty (mod.ts) and runs a local actor.
// Prints "actor answered 42" when that works, then "journal: <error>" for what
// `new SqliteJournal` does under the same trap (it must need node:sqlite, and fail).
import process from "node:process";
import type { ActorRef } from "../../mod.ts"; // a type only: erased, loads nothing

const original = process.getBuiltinModule;
process.getBuiltinModule = ((id: string) => {
  if (id === "node:sqlite" || id === "sqlite") throw new Error("node:sqlite was loaded");
  return original.call(process, id);
}) as typeof process.getBuiltinModule;

const casty = await import("../../mod.ts");
{
  await using system = new casty.ActorSystem({ name: "local", logLevel: "error" });
  const echo = system.spawn(
    casty.Behaviors.receive<{ n: number; replyTo: ActorRef<number> }>((_ctx, msg) => {
      msg.replyTo.tell(msg.n * 2);
      return casty.Behaviors.same();
    }),
    "echo",
  );
  const answer = await system.ask(echo, (replyTo) => ({ n: 21, replyTo }));
  console.log(`actor answered ${answer}`);
}
try {
  new casty.SqliteJournal({ path: ":memory:" });
  console.log("journal: opened");
} catch (err) {
  console.log(`journal: ${(err as Error).message}`);
}
