import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { Behaviors, ClusteredActorSystem, entityShard, ShardEnvelope } from "../../mod.ts";
import { main } from "../../src/cli/main.ts";

describe("casty status", () => {
  it(
    "prints the shards per node of every sharded type as a table",
    { timeout: 30_000 },
    async () => {
      await using node = await ClusteredActorSystem.start({
        name: "bank",
        host: "127.0.0.1",
        port: 0,
        logLevel: "error",
        downing: { stableAfter: 1000 },
      });
      const accounts = node.spawn(
        Behaviors.sharded(
          (_id: string) =>
            Behaviors.receive<{ replyTo: { tell(n: number): void } }>(
              (_ctx, msg) => msg.replyTo.tell(1),
            ),
          { numShards: 10 },
        ),
        "accounts",
      );
      for (const id of ["a", "b", "c"]) {
        const n = await node.ask<ShardEnvelope<{ replyTo: { tell(n: number): void } }>, number>(
          accounts,
          (replyTo) => new ShardEnvelope(id, { replyTo }),
          { timeout: 10_000 },
        );
        assert.equal(n, 1);
      }
      const shards = new Set(["a", "b", "c"].map((id) => entityShard(id, 10))).size;
      const lines: string[] = [];
      const contact = `127.0.0.1:${node.selfAddress.port}`;
      const code = await main(["status", "--contact", contact, "--name", "bank"], {
        out: (l) => lines.push(l),
      });
      assert.equal(code, 0);
      const header = lines.findIndex((l) => l.startsWith("shards per node"));
      assert.ok(header >= 0, lines.join("\n"));
      assert.match(lines[header + 1], /node\s+accounts shards\s+accounts entities$/);
      // This node hosts every shard and the three entities.
      assert.match(
        lines[header + 2],
        new RegExp(`${contact.replaceAll(".", "\\.")}\\s+${shards}\\s+3$`),
      );
    },
  );
});
