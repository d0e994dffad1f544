// `casty cert` end to end: the CLI (in-process and through the real bin) makes a CA, node and
// client certificates; the files have safe modes; `cert info` reads them back; a TLS cluster of
// real sockets forms from them, and `casty status` and a ClusterClient connect with the client
// certificate; the acceptor refuses a certificate naming another host, one from another CA, and
// an expired one.
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { spawnSync } from "node:child_process";
import { createServer } from "node:net";
import process from "node:process";
import { main } from "../../src/cli/main.ts";
import { ClusterClient, ClusteredActorSystem, type TlsOptions } from "../../mod.ts";
import { CollectingLogger } from "../_helpers/logger.ts";
import { waitUntil } from "../_helpers/child_process.ts";
import { type CommandResult, runCommand } from "../_helpers/command.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const LONG = { timeout: 60_000 };

let base = "";
let dir = ""; // made by the CLI: it must create it 0700
let rogueDir = "";
let viaBin: CommandResult | undefined;

async function casty(...args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out, err };
}

async function ok(...args: string[]): Promise<string[]> {
  const r = await casty(...args);
  assert.equal(r.code, 0, `casty ${args.join(" ")}: ${r.err.join("\n")}`);
  return r.out;
}

function tls(name: string, caDir = dir): TlsOptions {
  return {
    cert: join(caDir, `${name}_cert.pem`),
    key: join(caDir, `${name}_key.pem`),
    ca: join(dir, "ca_cert.pem"),
  };
}

function mode(path: string): number {
  return statSync(path).mode & 0o777;
}

function startNode(
  tlsOptions: TlsOptions,
  logger: CollectingLogger,
  seed?: ClusteredActorSystem,
): Promise<ClusteredActorSystem> {
  return ClusteredActorSystem.start({
    name: "certs",
    host: "127.0.0.1",
    port: 0,
    tls: tlsOptions,
    seedNodes: seed ? [`127.0.0.1:${seed.selfAddress.port}`] : [],
    logger,
  });
}

/** The SHA-256 of the first PEM block of a file, as `AB:CD:…`. */
async function fingerprint(path: string): Promise<string> {
  const b64 = readFileSync(path, "utf8").split("-----")[2].replace(/\s+/g, "");
  const der = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", der));
  return [...digest].map((b) => b.toString(16).padStart(2, "0").toUpperCase()).join(":");
}

/**
 * Starts a node with `bad` seeded at a good node and waits until the good node logs `refusal`
 * and the intruder has been turned away twice; then neither side lists the other as a member.
 */
async function assertRefused(bad: TlsOptions, refusal: RegExp): Promise<void> {
  const goodLog = new CollectingLogger();
  const badLog = new CollectingLogger();
  const good = await startNode(tls("node1"), goodLog);
  try {
    const intruder = await startNode(bad, badLog, good);
    const failed = /^Cannot connect to 127\.0\.0\.1:\d+ \(attempt|refused our handshake/;
    try {
      await waitUntil(
        () =>
          goodLog.entries.some((e) => refusal.test(e.message)) &&
          badLog.entries.filter((e) => failed.test(e.message)).length >= 2,
        20_000,
        () =>
          `${refusal} in the good node's log and ${failed} in the other's; they have:\n` +
          goodLog.entries.map((e) => `${e.level} ${e.message}`).join("\n") + "\nthe other:\n" +
          badLog.entries.map((e) => `${e.level} ${e.message}`).join("\n"),
      );
      assert.deepEqual(good.members.map((m) => m.address.port), [good.selfAddress.port]);
      assert.ok(!intruder.members.some((m) => m.address.port === good.selfAddress.port));
    } finally {
      await intruder.shutdown();
    }
  } finally {
    await good.shutdown();
  }
}

/** Whether this machine can listen on [::1]. */
function ipv6Loopback(): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(0, "::1", () => server.close(() => resolve(true)));
  });
}

describe("casty cert", () => {
  before(async () => {
    base = mkdtempSync(join(tmpdir(), "casty-cert-"));
    dir = join(base, "certs");
    rogueDir = join(base, "rogue");
    await ok("cert", "create-ca", "--out", dir, "--name", "Test CA");
    await ok("cert", "create-node", "--out", dir, "--name", "node1");
    await ok("cert", "create-client", "--out", dir, "--name", "ops");
    await ok("cert", "create-node", "--out", dir, "--name", "elsewhere", "--host", "other.example");
    await ok("cert", "create-node", "--out", dir, "--name", "expired", "--days", "0");
    await ok("cert", "create-ca", "--out", rogueDir);
    await ok("cert", "create-node", "--out", rogueDir, "--name", "rogue");
    // Under Bun the bin imports the CLI itself (bunx casty); under Node it runs deno (npx casty).
    const runtime = process.versions.bun === undefined ? "node" : process.execPath;
    viaBin = await runCommand(runtime, [
      "bin/casty.mjs",
      "cert",
      "create-node",
      "--out",
      dir,
      "--name",
      "node2",
      "--host",
      "localhost",
      "--ip",
      "127.0.0.1",
      "--ip",
      "::1",
    ], { cwd: ROOT, timeout: 60_000 });
  });

  after(() => {
    if (base) rmSync(base, { recursive: true, force: true });
  });

  it("runs through the real bin", () => {
    const r = viaBin!;
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stdout,
      /created node certificate "node2" for DNS:localhost, IP:127\.0\.0\.1, IP:::1, signed by "CN=Test CA"/,
    );
    assert.match(r.stdout, /\[cluster\.tls\]\n {2}certfile = ".*node2_cert\.pem"/);
  });

  it("writes private keys 0600 and certificates 0644 into a new 0700 folder", () => {
    assert.equal(mode(dir), 0o700);
    for (const name of ["ca", "node1", "ops", "elsewhere"]) {
      assert.equal(mode(join(dir, `${name}_key.pem`)), 0o600, `${name}_key.pem`);
      assert.equal(mode(join(dir, `${name}_cert.pem`)), 0o644, `${name}_cert.pem`);
      assert.match(
        readFileSync(join(dir, `${name}_key.pem`), "utf8"),
        /^-----BEGIN PRIVATE KEY-----\n/,
      );
    }
  });

  it("shows subject, issuer, validity, names, key type and the SHA-256 fingerprint", async () => {
    const node = join(dir, "node1_cert.pem");
    const out = (await ok("cert", "info", node, join(dir, "node1_key.pem"))).join("\n");
    assert.match(out, /subject: +CN=node1\n/);
    assert.match(out, /issuer: +CN=Test CA\n/);
    assert.match(out, /validity: +\S+ \.\. \S+ \(valid, 36[45] days left\)/);
    assert.match(out, /names \(SAN\): +DNS:localhost, IP:127\.0\.0\.1\n/);
    assert.match(out, /key: +ECDSA P-256\n/);
    assert.match(out, /CA: +no\n/);
    assert.match(out, /ext\. usage: +serverAuth, clientAuth\n/);
    assert.ok(out.includes(`SHA-256:      ${await fingerprint(node)}`), out);
    assert.match(out, /private key\n +key: +ECDSA P-256 \(PKCS#8\)\n +file mode: +0600$/);

    const ca = (await ok("cert", "info", join(dir, "ca_cert.pem"))).join("\n");
    assert.match(ca, /issuer: +CN=Test CA \(self-signed\)/);
    assert.match(ca, /validity: .*\(valid, 36(49|50) days left\)/);
    assert.match(ca, /CA: +yes\n +key usage: +keyCertSign, cRLSign/);

    const client = (await ok("cert", "info", join(dir, "ops_cert.pem"))).join("\n");
    assert.match(client, /ext\. usage: +clientAuth\n/);
    const elsewhere = (await ok("cert", "info", join(dir, "elsewhere_cert.pem"))).join("\n");
    assert.match(elsewhere, /names \(SAN\): +DNS:other\.example\n/);
    const expired = (await ok("cert", "info", join(dir, "expired_cert.pem"))).join("\n");
    assert.match(expired, /\((EXPIRED 0 days ago|valid, 0 days left)\)/);
  });

  it("reads certificates made by OpenSSL (the committed test fixtures)", async () => {
    const path = fileURLToPath(new URL("../_fixtures/tls/node1_cert.pem", import.meta.url));
    const out = (await ok("cert", "info", path)).join("\n");
    assert.match(out, /subject: +CN=casty-node-1\n +issuer: +CN=casty-test-ca\n/);
    assert.match(out, /names \(SAN\): +IP:127\.0\.0\.1, DNS:localhost\n/);
    assert.ok(out.includes(`SHA-256:      ${await fingerprint(path)}`), out);
  });

  it("makes what OpenSSL verifies for TLS servers and clients", (t) => {
    const verify = (purpose: string, file: string, ca = join(dir, "ca_cert.pem")) =>
      spawnSync("openssl", ["verify", "-CAfile", ca, "-purpose", purpose, file], {
        encoding: "utf8",
      });
    const probe = verify("sslserver", join(dir, "node1_cert.pem"));
    if (probe.error !== undefined) {
      t.skip("openssl is not available");
      return;
    }
    assert.equal(probe.status, 0, probe.stderr + probe.stdout);
    assert.equal(verify("sslclient", join(dir, "node1_cert.pem")).status, 0);
    assert.equal(verify("sslclient", join(dir, "ops_cert.pem")).status, 0);
    assert.notEqual(verify("sslserver", join(dir, "ops_cert.pem")).status, 0); // client only
    assert.notEqual(verify("sslserver", join(rogueDir, "rogue_cert.pem")).status, 0);
  });

  it("caps a certificate's validity at its CA's", async () => {
    const short = join(base, "short");
    await ok("cert", "create-ca", "--out", short, "--days", "10");
    const out = await ok("cert", "create-client", "--out", short);
    assert.match(out[0], /valid until \S+ \(capped at the CA's own expiry\)$/);
    const ca = (await ok("cert", "info", join(short, "ca_cert.pem"))).join("\n");
    const leaf = (await ok("cert", "info", join(short, "client_cert.pem"))).join("\n");
    const end = (text: string) => /\.\. (\S+) \(/.exec(text)![1];
    assert.equal(end(leaf), end(ca));
  });

  it("refuses to overwrite without --force, and overwrites with it", async () => {
    const path = join(dir, "ops_cert.pem");
    const before = readFileSync(path, "utf8");
    const r = await casty("cert", "create-client", "--out", dir, "--name", "ops");
    assert.equal(r.code, 1);
    assert.match(
      r.err[0],
      /^casty: Cannot write .*ops_cert\.pem, .*ops_key\.pem: already exists \(pass --force to overwrite\)$/,
    );
    assert.equal(readFileSync(path, "utf8"), before);
    writeFileSync(join(dir, "ops_key.pem"), "x", { mode: 0o644 });
    await ok("cert", "create-client", "--out", dir, "--name", "ops", "--force");
    assert.notEqual(readFileSync(path, "utf8"), before);
    assert.equal(mode(join(dir, "ops_key.pem")), 0o600);
  });

  it("fails with exit code 1 and a clear message on missing or bad files", async () => {
    const missing = await casty("cert", "info", join(base, "nope.pem"));
    assert.equal(missing.code, 1);
    assert.match(missing.err[0], /^casty: Cannot read file .*nope\.pem: no such file$/);

    const junk = join(base, "junk.pem");
    writeFileSync(junk, "hello\n");
    const notPem = await casty("cert", "info", junk);
    assert.equal(notPem.code, 1);
    assert.match(notPem.err[0], /junk\.pem holds no PEM block/);

    writeFileSync(junk, "-----BEGIN CERTIFICATE-----\nAAECAw==\n-----END CERTIFICATE-----\n");
    const broken = await casty("cert", "info", junk);
    assert.equal(broken.code, 1);
    assert.match(broken.err[0], /junk\.pem is not a valid X\.509 certificate/);

    const noCa = await casty("cert", "create-node", "--out", join(base, "empty"));
    assert.equal(noCa.code, 1);
    assert.match(noCa.err[0], /^casty: Cannot read CA certificate .*ca_cert\.pem: no such file$/);

    const wrongKey = await casty(
      "cert",
      "create-node",
      "--out",
      join(base, "mixed"),
      "--ca-cert",
      join(dir, "ca_cert.pem"),
      "--ca-key",
      join(rogueDir, "ca_key.pem"),
    );
    assert.equal(wrongKey.code, 1);
    assert.match(
      wrongKey.err[0],
      /The CA key .*rogue.*ca_key\.pem does not belong to the CA certificate/,
    );

    const leafAsCa = await casty(
      "cert",
      "create-node",
      "--out",
      join(base, "mixed"),
      "--ca-cert",
      join(dir, "node1_cert.pem"),
      "--ca-key",
      join(dir, "node1_key.pem"),
    );
    assert.equal(leafAsCa.code, 1);
    assert.match(leafAsCa.err[0], /node1_cert\.pem is not a CA certificate \(CN=node1\)/);
    assert.throws(() => statSync(join(base, "mixed", "node_key.pem")), /ENOENT/);
  });

  it("exits 2 with the usage on bad arguments", async () => {
    for (
      const [args, message] of [
        [["cert"], /cert needs a command/],
        [["cert", "sign"], /unknown cert command "sign"/],
        [["cert", "create-node", "--ip", "10.0.0.300"], /--ip "10\.0\.0\.300" is not an IPv4/],
        [["cert", "create-node", "--host", "10.0.0.1"], /pass the address "10\.0\.0\.1" with --ip/],
        [["cert", "create-ca", "--days", "-1"], /--days must be a whole number/],
        [["cert", "create-node", "--name", "../x"], /--name must be/],
        [["cert", "info"], /cert info needs a FILE/],
      ] as const
    ) {
      const r = await casty(...args);
      assert.equal(r.code, 2, args.join(" "));
      assert.match(r.err[0], message);
      assert.match(r.err.join("\n"), /casty cert create-node/);
    }
  });

  it(
    "makes certificates a 2-node TLS cluster forms with, and casty status and a ClusterClient connect with",
    LONG,
    async () => {
      const logA = new CollectingLogger();
      const a = await startNode(tls("node1"), logA);
      try {
        const b = await startNode(tls("node2"), new CollectingLogger(), a);
        try {
          await a.waitFor(2, { timeout: 30_000 });
          await b.waitFor(2, { timeout: 30_000 });
          assert.deepEqual(
            a.members.map((m) => m.address.port).sort(),
            [a.selfAddress.port, b.selfAddress.port].sort(),
          );

          const config = join(base, "client.toml");
          writeFileSync(
            config,
            `[system]\nname = "certs"\n[cluster.tls]\ncertfile = "certs/ops_cert.pem"\n` +
              `keyfile = "certs/ops_key.pem"\ncafile = "certs/ca_cert.pem"\n`,
          );
          const status = await casty(
            "status",
            "--contact",
            `127.0.0.1:${a.selfAddress.port}`,
            "--config",
            config,
            "--timeout",
            "10000",
          );
          assert.equal(status.code, 0, status.err.join("\n"));
          assert.match(status.out[0], /^cluster "certs" seen from .*: 2 members, 2 up$/);

          // A ClusterClient with the client certificate connects over mutual TLS.
          const client = await ClusterClient.connect({
            contactPoints: [`127.0.0.1:${a.selfAddress.port}`],
            systemName: "certs",
            tls: tls("ops"),
            connectTimeout: 20_000,
          });
          try {
            const deadline = Date.now() + 20_000;
            while (client.getClusterState().members.length < 2 && Date.now() < deadline) {
              await new Promise((r) => setTimeout(r, 50));
            }
            assert.equal(client.getClusterState().members.length, 2);
          } finally {
            await client.close();
          }
        } finally {
          await b.shutdown();
        }
      } finally {
        await a.shutdown();
      }
    },
  );

  it("makes IPv6 certificates (--ip ::1) a cluster on [::1] forms with", LONG, async (t) => {
    if (!(await ipv6Loopback())) {
      t.skip("no IPv6 loopback here");
      return;
    }
    await ok("cert", "create-node", "--out", dir, "--name", "v6a", "--ip", "::1");
    await ok("cert", "create-node", "--out", dir, "--name", "v6b", "--ip", "::1");
    const start = (name: string, seed?: number) =>
      ClusteredActorSystem.start({
        name: "certs",
        host: "::1",
        port: 0,
        tls: tls(name),
        seedNodes: seed === undefined ? [] : [`[::1]:${seed}`],
        logger: new CollectingLogger(),
      });
    const a = await start("v6a");
    try {
      const b = await start("v6b", a.selfAddress.port);
      try {
        await a.waitFor(2, { timeout: 30_000 });
        await b.waitFor(2, { timeout: 30_000 });
      } finally {
        await b.shutdown();
      }
    } finally {
      await a.shutdown();
    }
  });

  it("gets a node whose certificate names another host refused", LONG, async () => {
    await assertRefused(
      tls("elsewhere"),
      /certificate does not name the host "127\.0\.0\.1" it claims \(names: other\.example\)/,
    );
  });

  it("gets a node whose certificate comes from another CA refused", LONG, async () => {
    // The TLS layer refuses it before any casty frame (Deno reports only "socket hang up").
    await assertRefused(tls("rogue", rogueDir), /^Rejected connection: /);
  });

  it("gets a node whose certificate has expired refused", LONG, async () => {
    const text = (await ok("cert", "info", join(dir, "expired_cert.pem"))).join("\n");
    const notAfter = Date.parse(/\.\. (\S+) \(/.exec(text)![1]);
    await waitUntil(() => Date.now() > notAfter + 1000, 5000, "the certificate to expire");
    await assertRefused(tls("expired"), /^Rejected connection: /);
  });
});
