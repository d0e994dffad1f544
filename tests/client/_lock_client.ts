// A cluster client in its own process for the client tests (deno run -A / bun).
// Usage: _lock_client.ts <contact host:port> <lock name> <lease ms>
// Connects, acquires the lock through client.distributed(), prints
// {"event":"acquired","token":N,"port":clientPort} and holds it until killed (at most 60 s).
import process from "node:process";
import { ClusterClient } from "../../mod.ts";

const [contact, name, lease] = process.argv.slice(2);
const print = (o: Record<string, unknown>) => process.stdout.write(JSON.stringify(o) + "\n");
const client = await ClusterClient.connect({
  contactPoints: [contact],
  systemName: "bank",
  connectTimeout: 20_000,
  logLevel: "error",
});
try {
  const lock = client.distributed().lock(name, { lease: Number(lease) });
  const token = await lock.acquire({ timeout: 20_000 });
  print({ event: "acquired", token, port: client.selfAddress.port });
} catch (err) {
  print({ event: "error", message: String(err) });
}
setTimeout(() => process.exit(3), 60_000);
