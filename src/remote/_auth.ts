// Authentication of cluster connections: the shared-secret challenge-response (HMAC-SHA256
// over fresh nonces from both ends and the identities both ends claim, through WebCrypto),
// the TLS certificate-names check, and the refusal to bind a public address unprotected.

import { CastyError } from "../actor/errors.ts";

/** Bytes of randomness in a handshake nonce. */
const NONCE_BYTES = 32;
const textEncoder = new TextEncoder();

/**
 * A cluster port would be reachable from other machines with neither TLS nor a shared
 * secret to authenticate peers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { InsecureBindError } from "./_auth.ts";
 * const err = new InsecureBindError("0.0.0.0");
 * assert.equal(err.code, "INSECURE_BIND");
 * assert.match(err.message, /secret/);
 * assert.match(err.message, /tls/);
 * ```
 */
export class InsecureBindError extends CastyError {
  /** The non-loopback host that was to be bound. */
  readonly host: string;
  /**
   * Creates an InsecureBindError.
   *
   * @param host The host that was to be bound.
   */
  constructor(host: string) {
    super(
      "INSECURE_BIND",
      `Cannot bind cluster port on "${host}": it is not a loopback address and neither \`tls\` ` +
        `nor \`secret\` (\`[cluster] secret\`, CASTY_CLUSTER_SECRET) is set; set one of them, ` +
        `or \`insecure: true\` to accept unauthenticated peers`,
    );
    this.name = "InsecureBindError";
    this.host = host;
  }
}

/**
 * Whether `host` can only be reached from this machine (127.0.0.0/8, ::1, localhost).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isLoopbackHost } from "./_auth.ts";
 * assert.ok(isLoopbackHost("127.0.0.2") && isLoopbackHost("::1") && isLoopbackHost("localhost"));
 * assert.ok(!isLoopbackHost("0.0.0.0") && !isLoopbackHost("10.0.0.1") && !isLoopbackHost("::"));
 * ```
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, "");
  if (h === "localhost" || h === "::1" || h === "0:0:0:0:0:0:0:1") return true;
  if (h.startsWith("::ffff:")) return isLoopbackHost(h.slice(7));
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/**
 * A fresh random nonce, as hex.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { newNonce } from "./_auth.ts";
 * assert.match(newNonce(), /^[0-9a-f]{64}$/);
 * assert.notEqual(newNonce(), newNonce());
 * ```
 */
export function newNonce(): string {
  return toHex(crypto.getRandomValues(new Uint8Array(NONCE_BYTES)));
}

/**
 * The HMAC-SHA256 key of a shared secret.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { secretKey } from "./_auth.ts";
 * const key = await secretKey("s3cret-s3cret");
 * assert.equal(key.algorithm.name, "HMAC");
 * ```
 */
export function secretKey(secret: string): Promise<CryptoKey> {
  return crypto.subtle.importKey(
    "raw",
    textEncoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
}

/** What both ends of a handshake agree on; a proof covers all of it. */
export interface HandshakeTranscript {
  /** The system name of the side computing or checking the proof. */
  readonly system: string;
  /** The dialer's nonce. */
  readonly dialerNonce: string;
  /** The acceptor's nonce. */
  readonly acceptorNonce: string;
  /** The dialer's claimed `host:port#incarnation`. */
  readonly dialer: string;
  /** The acceptor's claimed `host:port#incarnation`. */
  readonly acceptor: string;
}

/**
 * One side's proof that it holds the secret: HMAC-SHA256 over the role, the system name, both
 * nonces and both claimed identities, as hex. The role keeps a proof from being replayed by the
 * other side.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { handshakeProof, secretKey } from "./_auth.ts";
 * const key = await secretKey("s3cret-s3cret");
 * const t = { system: "s", dialerNonce: "a", acceptorNonce: "b", dialer: "d", acceptor: "c" };
 * const dialer = await handshakeProof(key, "dialer", t);
 * assert.equal(dialer, await handshakeProof(key, "dialer", t));
 * assert.notEqual(dialer, await handshakeProof(key, "acceptor", t));
 * ```
 */
export async function handshakeProof(
  key: CryptoKey,
  role: "dialer" | "acceptor",
  t: HandshakeTranscript,
): Promise<string> {
  const text = JSON.stringify([
    "casty-handshake-v2",
    role,
    t.system,
    t.dialerNonce,
    t.acceptorNonce,
    t.dialer,
    t.acceptor,
  ]);
  const mac = await crypto.subtle.sign("HMAC", key, textEncoder.encode(text));
  return toHex(new Uint8Array(mac));
}

/**
 * Compares two strings in time that depends only on their lengths (proofs have a fixed,
 * public length).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { constantTimeEqual } from "./_auth.ts";
 * assert.ok(constantTimeEqual("abc", "abc") && !constantTimeEqual("abc", "abd"));
 * ```
 */
export function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/**
 * Whether a certificate's names (SAN DNS and IP entries) include `host`, case-insensitively;
 * a DNS name `*.example.com` covers one label. IPv6 addresses compare by value: Bun reports an
 * IP SAN `::1` as `0:0:0:0:0:0:0:1`, Deno as `::1`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { certificateNames } from "./_auth.ts";
 * assert.ok(certificateNames(["127.0.0.1", "localhost"], "LOCALHOST"));
 * assert.ok(certificateNames(["*.nodes.local"], "a.nodes.local"));
 * assert.ok(!certificateNames(["other.example"], "127.0.0.1"));
 * assert.ok(certificateNames(["0:0:0:0:0:0:0:1"], "[::1]"));
 * assert.ok(certificateNames(["FD00:0:0:0:0:0:0:A"], "fd00::a"));
 * assert.ok(!certificateNames(["0:0:0:0:0:0:0:1"], "::2"));
 * ```
 */
export function certificateNames(names: readonly string[], host: string): boolean {
  const h = fullIpv6(host.toLowerCase().replace(/^\[|\]$/g, ""));
  for (const raw of names) {
    const name = fullIpv6(raw.toLowerCase());
    if (name === h) return true;
    if (name.startsWith("*.")) {
      const dot = h.indexOf(".");
      if (dot > 0 && h.slice(dot + 1) === name.slice(2)) return true;
    }
  }
  return false;
}

/** An IPv6 address as its 8 groups without leading zeros (`0:0:0:0:0:0:0:1`); other text as is. */
function fullIpv6(text: string): string {
  if (!text.includes(":")) return text;
  const halves = text.split("::");
  if (halves.length > 2) return text;
  const groups = (half: string): string[] => (half === "" ? [] : half.split(":"));
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return text;
  const all = [...head, ...new Array<string>(missing).fill("0"), ...tail];
  if (!all.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return text;
  return all.map((g) => parseInt(g, 16).toString(16)).join(":");
}

function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += (b < 16 ? "0" : "") + b.toString(16);
  return out;
}
