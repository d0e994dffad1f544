// Authenticated cluster ports: the shared-secret challenge-response, the TLS certificate-names
// check, refusals that reveal nothing, and the refusal to bind a public address unprotected.
// Real sockets on 127.0.0.1, raw peers that know the system name but not the secret.

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { TcpTransport, type TcpTransportOptions } from "../../src/remote/tcp_transport.ts";
import { InsecureBindError } from "../../src/remote/_auth.ts";
import {
  FRAME_HANDSHAKE,
  FRAME_HANDSHAKE_AUTH,
  FRAME_HANDSHAKE_CHALLENGE,
  FRAME_HANDSHAKE_REFUSE,
  FRAME_MESSAGE,
} from "../../src/remote/_framing.ts";
import { CollectingLogger } from "../_helpers/logger.ts";
import { startTransportNode, type TransportNode } from "../_helpers/transport_node.ts";
import { waitUntil } from "../_helpers/child_process.ts";
import { helloBody, json, RawPeer } from "../_helpers/raw_peer.ts";
import { tlsFixtures } from "../_helpers/tls_fixtures.ts";

const SECRET = "correct horse battery staple";
const SYSTEM = "vault-7f3a";

type Node = TransportNode;

function startNode(options: Partial<TcpTransportOptions> = {}): Promise<Node> {
  return startTransportNode(SYSTEM, options);
}

const payload = (n: number): Uint8Array => new Uint8Array([n]);

describe("TcpTransport with a shared secret", () => {
  it("connects nodes that share the secret", async () => {
    const a = await startNode({ secret: SECRET });
    const b = await startNode({ secret: SECRET });
    try {
      b.transport.send(a.transport.selfAddress, { recipient: "/x", payload: payload(1) });
      a.transport.send(b.transport.selfAddress, { recipient: "/y", payload: payload(2) });
      await waitUntil(() => a.inbound.length === 1 && b.inbound.length === 1, 5000, "both ways");
      assert.equal(a.inbound[0].from.incarnation, b.transport.incarnation);
      assert.deepEqual([...b.inbound[0].envelope.payload], [2]);
    } finally {
      await a.transport.shutdown();
      await b.transport.shutdown();
    }
  });

  it("refuses a raw socket that knows the system name but not the secret, revealing nothing", async () => {
    const a = await startNode({ secret: SECRET });
    for (const proof of ["00".repeat(32), undefined]) {
      const raw = await RawPeer.connect(a.transport.selfAddress.port);
      try {
        raw.sendJson(FRAME_HANDSHAKE, helloBody(SYSTEM, "127.0.0.1", 40001));
        const challenge = await raw.next();
        assert.equal(challenge.type, FRAME_HANDSHAKE_CHALLENGE);
        assert.match(String(json(challenge).proof), /^[0-9a-f]{64}$/);
        raw.sendJson(FRAME_HANDSHAKE_AUTH, proof === undefined ? {} : { proof });
        const refusal = await raw.next();
        assert.equal(refusal.type, FRAME_HANDSHAKE_REFUSE);
        assert.deepEqual(json(refusal), { reason: "refused" });
        // A message sent right behind the failed proof is never delivered.
        raw.conn.write(new Uint8Array([0, 0, 0, 3, FRAME_MESSAGE, 0, 0]));
        await raw.waitClosed();
        // Nothing it was sent names the cluster: not the system name, not the check that failed.
        assert.ok(!raw.text().includes(SYSTEM), "the system name leaked");
        assert.ok(!/secret|proof|system/i.test(new TextDecoder().decode(refusal.payload)));
      } finally {
        raw.destroy();
      }
    }
    try {
      assert.equal(a.log.find("error", /proof of the cluster secret is wrong/).length, 1);
      assert.equal(a.log.find("error", /sent no proof of the cluster secret/).length, 1);
      assert.equal(a.inbound.length, 0);
      assert.equal(a.connected.length, 0);
      // An address claimed by an unauthenticated hello leaves no entry behind.
      assert.equal(a.transport.peerCount, 0);
      await waitUntil(() => a.transport.connectionCount === 0, 5000, "raw connections closed");
    } finally {
      await a.transport.shutdown();
    }
  });

  it("refuses a node with a wrong secret, with a clear error on both sides", async () => {
    const a = await startNode({ secret: SECRET });
    const b = await startNode({ secret: "another secret entirely" });
    try {
      b.transport.send(a.transport.selfAddress, { recipient: "/x", payload: payload(1) });
      await waitUntil(() => b.undeliverable.length === 1, 5000, "refused envelope");
      assert.equal(b.undeliverable[0].reason, "refused");
      assert.equal(
        b.log.find("error", /Cannot connect to .*: handshake refused: .*secret is wrong/).length,
        1,
      );
      await waitUntil(
        () => a.log.find("error", /refused our credentials .*cluster's secret/).length === 1,
        5000,
        "acceptor logs the refusal",
      );
      assert.equal(a.inbound.length, 0);
      assert.equal(a.connected.length + b.connected.length, 0);
    } finally {
      await a.transport.shutdown();
      await b.transport.shutdown();
    }
  });

  it("refuses a node without a secret, and one with another system name", async () => {
    const a = await startNode({ secret: SECRET });
    const none = await startNode();
    const other = await startNode({ secret: SECRET, systemName: "elsewhere" });
    try {
      none.transport.send(a.transport.selfAddress, { recipient: "/x", payload: payload(1) });
      other.transport.send(a.transport.selfAddress, { recipient: "/x", payload: payload(2) });
      await waitUntil(
        () => none.undeliverable.length === 1 && other.undeliverable.length === 1,
        5000,
        "both refused",
      );
      assert.equal(none.undeliverable[0].reason, "refused");
      assert.ok(none.log.find("error", /refused our handshake: handshake refused/).length >= 1);
      assert.ok(other.log.find("error", /handshake refused/).length >= 1);
      await waitUntil(
        () =>
          a.log.find("error", /sent no proof/).length === 1 &&
          a.log.find("error", /system name "elsewhere" does not match/).length === 1,
        5000,
        "acceptor logs both reasons",
      );
      assert.equal(a.inbound.length, 0);
    } finally {
      await a.transport.shutdown();
      await none.transport.shutdown();
      await other.transport.shutdown();
    }
  });

  it("does not let a hello claiming another node's address take over its link", async () => {
    const a = await startNode({ secret: SECRET });
    const b = await startNode({ secret: SECRET });
    try {
      a.transport.send(b.transport.selfAddress, { recipient: "/x", payload: payload(1) });
      await waitUntil(() => b.inbound.length === 1, 5000, "first message");
      const { host, port } = b.transport.selfAddress;
      const raw = await RawPeer.connect(a.transport.selfAddress.port);
      try {
        raw.sendJson(FRAME_HANDSHAKE, helloBody(SYSTEM, host, port, b.transport.incarnation));
        assert.equal((await raw.next()).type, FRAME_HANDSHAKE_CHALLENGE);
        raw.sendJson(FRAME_HANDSHAKE_AUTH, { proof: "11".repeat(32) });
        assert.equal((await raw.next()).type, FRAME_HANDSHAKE_REFUSE);
        await raw.waitClosed();
      } finally {
        raw.destroy();
      }
      a.transport.send(b.transport.selfAddress, { recipient: "/x", payload: payload(2) });
      await waitUntil(() => b.inbound.length === 2, 5000, "second message on the same link");
      assert.equal(a.disconnected.length, 0);
      assert.equal(b.disconnected.length, 0);
      assert.equal(a.connected.length, 1);
      assert.ok(a.log.find("error", new RegExp(`claiming 127.0.0.1:${port}: .*wrong`)).length);
    } finally {
      await a.transport.shutdown();
      await b.transport.shutdown();
    }
  });

  it("refuses a non-loopback bind with neither TLS nor a secret, naming both options", async () => {
    const options = { systemName: SYSTEM, host: "127.0.0.1", bindHost: "0.0.0.0", port: 0 };
    await assert.rejects(
      TcpTransport.start({ ...options, logger: new CollectingLogger() }),
      (error: unknown) =>
        error instanceof InsecureBindError && /`tls`/.test(error.message) &&
        /`secret`/.test(error.message) && /insecure/.test(error.message),
    );
    const log = new CollectingLogger();
    const insecure = await TcpTransport.start({ ...options, insecure: true, logger: log });
    await insecure.shutdown();
    assert.equal(log.find("warn", /INSECURE: .*unauthenticated/).length, 1);
    const secured = await TcpTransport.start({ ...options, secret: SECRET, logger: log });
    await secured.shutdown();
    await assert.rejects(
      TcpTransport.start({ ...options, secret: "", logger: log }),
      /secret must be a non-empty string/,
    );
  });
});

/** A certificate from the test CA that names only `other.example`, made with openssl. */
function foreignCertificate(): { cert: string; key: string } | undefined {
  const dir = mkdtempSync(join(tmpdir(), "casty-tls-"));
  const fixtures = fileURLToPath(new URL("../_fixtures/tls/", import.meta.url));
  try {
    const run = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
    run("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "k.tmp");
    run("pkcs8", "-topk8", "-nocrypt", "-in", "k.tmp", "-out", "key.pem");
    run("req", "-new", "-key", "key.pem", "-subj", "/CN=casty-foreign", "-out", "c.csr");
    writeFileSync(
      join(dir, "ext"),
      "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n" +
        "extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=DNS:other.example\n",
    );
    run(
      "x509",
      "-req",
      "-in",
      "c.csr",
      "-CA",
      join(fixtures, "ca_cert.pem"),
      "-CAkey",
      join(fixtures, "ca_key.pem"),
      "-CAcreateserial",
      "-CAserial",
      join(dir, "ca.srl"),
      "-days",
      "1",
      "-sha256",
      "-extfile",
      "ext",
      "-out",
      "cert.pem",
    );
    return {
      cert: readFileSync(join(dir, "cert.pem"), "utf8"),
      key: readFileSync(join(dir, "key.pem"), "utf8"),
    };
  } catch {
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("TcpTransport with TLS", () => {
  it("refuses a peer whose certificate names another host than the one it claims", async (t) => {
    const foreign = foreignCertificate();
    if (foreign === undefined) {
      t.skip("openssl is not available");
      return;
    }
    const a = await startNode({ tls: { ...tlsFixtures.node1, ca: tlsFixtures.ca } });
    const c = await startNode({ tls: { ...foreign, ca: tlsFixtures.ca } });
    const good = await startNode({ tls: { ...tlsFixtures.node2, ca: tlsFixtures.ca } });
    try {
      c.transport.send(a.transport.selfAddress, { recipient: "/x", payload: payload(1) });
      await waitUntil(() => c.undeliverable.length === 1, 5000, "refused envelope");
      assert.equal(c.undeliverable[0].reason, "refused");
      assert.ok(c.log.find("error", /refused our handshake: handshake refused/).length >= 1);
      await waitUntil(
        () =>
          a.log.find("error", /certificate does not name the host "127.0.0.1".*other\.example/)
            .length === 1,
        5000,
        "acceptor logs the certificate mismatch",
      );
      assert.equal(a.inbound.length, 0);
      good.transport.send(a.transport.selfAddress, { recipient: "/x", payload: payload(2) });
      await waitUntil(() => a.inbound.length === 1, 5000, "a matching certificate is accepted");
    } finally {
      await a.transport.shutdown();
      await c.transport.shutdown();
      await good.transport.shutdown();
    }
  });
});
