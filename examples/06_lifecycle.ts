/**
 * Lifecycle hooks: `preStart` before the first message, `preRestart` on the failing
 * incarnation, `postRestart` before the new incarnation's first message, and `postStop` after
 * the last message (children stop first). Hooks may be async.
 *
 * Run: `deno run -A examples/06_lifecycle.ts` or `bun examples/06_lifecycle.ts`
 *
 * @module
 */
import {
  type ActorRef,
  ActorSystem,
  type Behavior,
  Behaviors,
  type Logger,
  OneForOneStrategy,
} from "../mod.ts";

type ConnMsg =
  | { readonly type: "query"; readonly sql: string; readonly replyTo: ActorRef<string> }
  | { readonly type: "fail" };

let connections = 0;

function connection(): Behavior<ConnMsg> {
  return Behaviors.setup(() => {
    const id = ++connections; // a "resource" acquired per incarnation
    return Behaviors.withLifecycle(
      Behaviors.receive<ConnMsg>((_ctx, msg) => {
        if (msg.type === "fail") throw new Error("connection reset");
        msg.replyTo.tell(`conn#${id} ran: ${msg.sql}`);
      }),
      {
        preStart: (ctx) => ctx.log.info(`preStart: opened conn#${id}`),
        preRestart: (ctx, error) =>
          ctx.log.info(`preRestart: closing conn#${id} after "${(error as Error).message}"`),
        postRestart: (ctx) => ctx.log.info(`postRestart: opened conn#${id}`),
        postStop: async (ctx) => {
          await Promise.resolve(); // e.g. flushing a buffer
          ctx.log.info(`postStop: closed conn#${id}`);
        },
      },
    );
  });
}

// `ctx.log` lines are prefixed with the actor path; print info lines to stdout, drop the rest.
const logger: Logger = {
  debug() {},
  info: (message) => console.log(message),
  warn() {},
  error() {},
};

await using system = new ActorSystem({ name: "lifecycle", logger });
const conn = system.spawn(
  Behaviors.supervise(connection(), new OneForOneStrategy({ maxRestarts: 3 })),
  "db",
);
const query = (sql: string) =>
  system.ask(conn, (replyTo) => ({ type: "query", sql, replyTo }), { timeout: 1000 });

console.log(await query("SELECT 1"));
conn.tell({ type: "fail" });
console.log(await query("SELECT 2"));
// Shutdown (also run by `await using` at the end, idempotently) stops every actor: postStop runs.
await system.shutdown();
console.log("System shut down");
// /db: preStart: opened conn#1
// conn#1 ran: SELECT 1
// /db: preRestart: closing conn#1 after "connection reset"
// /db: postRestart: opened conn#2
// conn#2 ran: SELECT 2
// /db: postStop: closed conn#2
// System shut down
