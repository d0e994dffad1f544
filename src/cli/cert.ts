/**
 * `casty cert`: makes the ECDSA P-256 certificates for a cluster's mutual TLS, and shows what a
 * certificate file holds.
 *
 * ```sh
 * casty cert create-ca --out certs
 * casty cert create-node --out certs --name node1 --host node1.internal --ip 10.0.0.1
 * casty cert create-client --out certs --name ops
 * casty cert info certs/node1_cert.pem
 * ```
 *
 * Keys are generated with WebCrypto and written as PKCS#8 `PRIVATE KEY` PEM (mode 0600); the
 * certificates are X.509 v3 built by `_x509.ts` (no dependency).
 *
 * @module
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { CastyError } from "../config/errors.ts";
import {
  buildCertificate,
  type CertificateInfo,
  type CertificateKind,
  fromPem,
  ipBytes,
  keyIdentifier,
  nameWithCommonName,
  parseCertificate,
  privateKeyType,
  type SubjectAltName,
  toPem,
} from "./_x509.ts";

/**
 * A `casty cert` command failed: a file is missing, unreadable, not what it should be, or
 * would be overwritten without `--force`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CertError } from "./cert.ts";
 * const e = new CertError("CERT_EXISTS", "Cannot write ca_key.pem: it exists (pass --force)");
 * assert.equal(e.code, "CERT_EXISTS");
 * ```
 */
export class CertError extends CastyError {
  /**
   * Creates a CertError.
   *
   * @param code Stable code: `CERT_EXISTS`, `CERT_FILE` (missing or unreadable), `CERT_BAD`
   *   (not a certificate or key of the expected kind).
   * @param message What went wrong, naming the file.
   * @param options Optional cause.
   */
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = "CertError";
  }
}

const DAY = 86_400_000;
/** Back-dating of notBefore so a peer whose clock is a little behind accepts a fresh cert. */
const SKEW = 5 * 60_000;
const ECDSA = { name: "ECDSA", namedCurve: "P-256" } as const;

interface CertFlags {
  readonly values: Map<string, string[]>;
  readonly force: boolean;
  readonly positional: string[];
}

function parse(args: string[], allowed: readonly string[], positional = false): CertFlags {
  const values = new Map<string, string[]>();
  const rest: string[] = [];
  let force = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith("--")) {
      if (!positional) throw new TypeError(`unexpected argument "${a}"`);
      rest.push(a);
      continue;
    }
    const [name, inline] = a.slice(2).split("=", 2);
    if (name === "force" && allowed.includes("force") && inline === undefined) {
      force = true;
      continue;
    }
    if (!allowed.includes(name)) throw new TypeError(`unknown option "--${name}"`);
    const value = inline ?? args[++i];
    if (value === undefined) throw new TypeError(`option "--${name}" needs a value`);
    values.set(name, [...(values.get(name) ?? []), value]);
  }
  return { values, force, positional: rest };
}

function last(flags: CertFlags, name: string): string | undefined {
  return flags.values.get(name)?.at(-1);
}

function days(flags: CertFlags, fallback: number): number {
  const given = last(flags, "days");
  if (given === undefined) return fallback;
  const n = Number(given);
  if (!/^\d+$/.test(given) || !Number.isSafeInteger(n)) {
    throw new TypeError(`--days must be a whole number of days (0 or more), got "${given}"`);
  }
  return n;
}

function fileName(flags: CertFlags, fallback: string): string {
  const name = last(flags, "name") ?? fallback;
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) {
    throw new TypeError(
      `--name must be 1 to 64 letters, digits, ".", "_" or "-" (it names the files), got "${name}"`,
    );
  }
  return name;
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    const reason = (e as { code?: string }).code === "ENOENT"
      ? "no such file"
      : e instanceof Error
      ? e.message
      : String(e);
    throw new CertError("CERT_FILE", `Cannot read ${what} ${path}: ${reason}`, { cause: e });
  }
}

/** Refuses before writing anything if a file exists and `--force` is absent. */
function checkWritable(paths: readonly string[], force: boolean): void {
  if (force) return;
  const taken = paths.filter((p) => existsSync(p));
  if (taken.length > 0) {
    throw new CertError(
      "CERT_EXISTS",
      `Cannot write ${taken.join(", ")}: already exists (pass --force to overwrite)`,
    );
  }
}

function outDir(flags: CertFlags): string {
  const dir = resolve(last(flags, "out") ?? ".");
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  else if (!statSync(dir).isDirectory()) {
    throw new CertError("CERT_FILE", `Cannot write into ${dir}: not a directory`);
  }
  return dir;
}

function write(path: string, pem: string, secret: boolean): void {
  const mode = secret ? 0o600 : 0o644;
  writeFileSync(path, pem, { mode });
  chmodSync(path, mode); // writeFileSync keeps the mode of a file it overwrites
}

interface NewKey {
  readonly privateKey: CryptoKey;
  readonly publicKeyInfo: Uint8Array;
  readonly pkcs8: Uint8Array;
}

async function newKey(): Promise<NewKey> {
  const pair = await crypto.subtle.generateKey(ECDSA, true, ["sign", "verify"]);
  return {
    privateKey: pair.privateKey,
    publicKeyInfo: new Uint8Array(await crypto.subtle.exportKey("spki", pair.publicKey)),
    pkcs8: new Uint8Array(await crypto.subtle.exportKey("pkcs8", pair.privateKey)),
  };
}

function until(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** Runs `create-ca`. */
async function createCa(args: string[], out: (l: string) => void): Promise<number> {
  const flags = parse(args, ["out", "name", "days", "force"]);
  const commonName = last(flags, "name") ?? "casty-ca";
  if (commonName.length === 0 || commonName.length > 64) {
    throw new TypeError(`--name must be 1 to 64 characters, got "${commonName}"`);
  }
  const validity = days(flags, 3650);
  const dir = outDir(flags);
  const certPath = join(dir, "ca_cert.pem");
  const keyPath = join(dir, "ca_key.pem");
  checkWritable([certPath, keyPath], flags.force);
  const key = await newKey();
  const now = Date.now();
  const notAfter = new Date(now + validity * DAY);
  const der = await buildCertificate({
    kind: "ca",
    commonName,
    publicKeyInfo: key.publicKeyInfo,
    altNames: [],
    notBefore: new Date(now - SKEW),
    notAfter,
    issuerName: nameWithCommonName(commonName),
    issuerKeyId: await keyIdentifier(key.publicKeyInfo),
    issuerKey: key.privateKey,
  });
  write(keyPath, toPem("PRIVATE KEY", key.pkcs8), true);
  write(certPath, toPem("CERTIFICATE", der), false);
  out(`created CA "${commonName}" (ECDSA P-256), valid until ${until(notAfter)}`);
  out(`  certificate: ${certPath}`);
  out(`  private key: ${keyPath} (mode 0600: it signs every node; keep it off the nodes)`);
  return 0;
}

interface Issuer {
  readonly info: CertificateInfo;
  readonly key: CryptoKey;
  readonly keyId: Uint8Array;
}

async function loadIssuer(flags: CertFlags, dir: string): Promise<Issuer> {
  const certPath = resolve(last(flags, "ca-cert") ?? join(dir, "ca_cert.pem"));
  const keyPath = resolve(last(flags, "ca-key") ?? join(dir, "ca_key.pem"));
  const certBlock = fromPemSafe(readText(certPath, "CA certificate"), certPath)
    .find((b) => b.label === "CERTIFICATE");
  if (certBlock === undefined) {
    throw new CertError("CERT_BAD", `${certPath} holds no PEM CERTIFICATE`);
  }
  const info = await parseSafe(certBlock.der, certPath);
  if (!info.isCa) {
    throw new CertError("CERT_BAD", `${certPath} is not a CA certificate (${info.subject})`);
  }
  if (info.notAfter.getTime() < Date.now()) {
    throw new CertError(
      "CERT_BAD",
      `The CA certificate ${certPath} expired on ${until(info.notAfter)}`,
    );
  }
  const keyBlocks = fromPemSafe(readText(keyPath, "CA private key"), keyPath);
  const keyBlock = keyBlocks.find((b) => b.label === "PRIVATE KEY");
  if (keyBlock === undefined) {
    const other = keyBlocks[0]?.label;
    throw new CertError(
      "CERT_BAD",
      `${keyPath} holds no PKCS#8 "PRIVATE KEY"${other ? ` (found "${other}")` : ""}; ` +
        `convert it with: openssl pkcs8 -topk8 -nocrypt -in OLD -out NEW`,
    );
  }
  let key: CryptoKey;
  try {
    key = await crypto.subtle.importKey(
      "pkcs8",
      keyBlock.der as Uint8Array<ArrayBuffer>,
      ECDSA,
      false,
      ["sign"],
    );
  } catch (e) {
    throw new CertError("CERT_BAD", `${keyPath} is not an ECDSA P-256 private key`, { cause: e });
  }
  // The key must belong to the certificate, or every certificate it signs is useless.
  const probe = new Uint8Array(32);
  const signature = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, key, probe);
  let matches = false;
  try {
    const publicKey = await crypto.subtle.importKey(
      "spki",
      info.publicKeyInfo as Uint8Array<ArrayBuffer>,
      ECDSA,
      false,
      ["verify"],
    );
    matches = await crypto.subtle.verify(
      { name: "ECDSA", hash: "SHA-256" },
      publicKey,
      signature,
      probe,
    );
  } catch { /* a CA certificate with another key type cannot match */ }
  if (!matches) {
    throw new CertError(
      "CERT_BAD",
      `The CA key ${keyPath} does not belong to the CA certificate ${certPath}`,
    );
  }
  return { info, key, keyId: info.subjectKeyId ?? await keyIdentifier(info.publicKeyInfo) };
}

function fromPemSafe(pem: string, path: string): ReturnType<typeof fromPem> {
  try {
    return fromPem(pem);
  } catch (e) {
    throw new CertError("CERT_BAD", `${path}: ${e instanceof Error ? e.message : e}`, { cause: e });
  }
}

async function parseSafe(der: Uint8Array, path: string): Promise<CertificateInfo> {
  try {
    return await parseCertificate(der);
  } catch (e) {
    throw new CertError(
      "CERT_BAD",
      `${path} is not a valid X.509 certificate (${e instanceof Error ? e.message : e})`,
      { cause: e },
    );
  }
}

function altNames(flags: CertFlags): SubjectAltName[] {
  const hosts = flags.values.get("host") ?? [];
  const ips = flags.values.get("ip") ?? [];
  const names: SubjectAltName[] = [];
  for (const host of hosts) {
    if (ipBytes(host) !== undefined) {
      throw new TypeError(`--host takes DNS names; pass the address "${host}" with --ip`);
    }
    if (
      !/^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\.?$/.test(host)
    ) {
      throw new TypeError(`--host "${host}" is not a DNS name`);
    }
    names.push({ type: "dns", value: host.toLowerCase() });
  }
  for (const ip of ips) {
    if (ipBytes(ip) === undefined) {
      throw new TypeError(`--ip "${ip}" is not an IPv4 or IPv6 address`);
    }
    names.push({ type: "ip", value: ip.replace(/^\[|\]$/g, "") });
  }
  if (names.length === 0) {
    names.push({ type: "dns", value: "localhost" }, { type: "ip", value: "127.0.0.1" });
  }
  return names;
}

/** Runs `create-node` and `create-client`. */
async function createLeaf(
  kind: CertificateKind,
  args: string[],
  out: (l: string) => void,
): Promise<number> {
  const flags = parse(args, ["out", "name", "host", "ip", "days", "ca-cert", "ca-key", "force"]);
  const name = fileName(flags, kind);
  const names = altNames(flags);
  const validity = days(flags, 365);
  const dir = outDir(flags);
  const certPath = join(dir, `${name}_cert.pem`);
  const keyPath = join(dir, `${name}_key.pem`);
  checkWritable([certPath, keyPath], flags.force);
  const issuer = await loadIssuer(flags, dir);
  const now = Date.now();
  let notAfter = new Date(now + validity * DAY);
  let capped = false;
  if (notAfter > issuer.info.notAfter) [notAfter, capped] = [issuer.info.notAfter, true];
  const key = await newKey();
  const der = await buildCertificate({
    kind,
    commonName: name,
    publicKeyInfo: key.publicKeyInfo,
    altNames: names,
    notBefore: new Date(now - SKEW),
    notAfter,
    issuerName: issuer.info.subjectDer,
    issuerKeyId: issuer.keyId,
    issuerKey: issuer.key,
  });
  write(keyPath, toPem("PRIVATE KEY", key.pkcs8), true);
  write(certPath, toPem("CERTIFICATE", der), false);
  const shown = names.map((n) => `${n.type === "dns" ? "DNS" : "IP"}:${n.value}`).join(", ");
  out(
    `created ${kind} certificate "${name}" for ${shown}, ` +
      `signed by "${issuer.info.subject}", valid until ${until(notAfter)}` +
      (capped ? " (capped at the CA's own expiry)" : ""),
  );
  out(`  certificate: ${certPath}`);
  out(`  private key: ${keyPath} (mode 0600)`);
  if (kind === "node") {
    out(`in casty.toml:`);
    out(`  [cluster.tls]`);
    out(`  certfile = "${certPath}"`);
    out(`  keyfile = "${keyPath}"`);
    out(`  cafile = "${resolve(last(flags, "ca-cert") ?? join(dir, "ca_cert.pem"))}"`);
  }
  return 0;
}

function describeValidity(info: CertificateInfo, now: number): string {
  const range = `${until(info.notBefore)} .. ${until(info.notAfter)}`;
  if (now < info.notBefore.getTime()) return `${range} (NOT YET VALID)`;
  if (now > info.notAfter.getTime()) {
    return `${range} (EXPIRED ${Math.floor((now - info.notAfter.getTime()) / DAY)} days ago)`;
  }
  return `${range} (valid, ${Math.floor((info.notAfter.getTime() - now) / DAY)} days left)`;
}

/** Runs `info FILE...`. */
async function info(args: string[], out: (l: string) => void): Promise<number> {
  const flags = parse(args, [], true);
  if (flags.positional.length === 0) throw new TypeError("cert info needs a FILE");
  const now = Date.now();
  for (const path of flags.positional) {
    const blocks = fromPemSafe(readText(path, "file"), path);
    if (blocks.length === 0) {
      throw new CertError("CERT_BAD", `${path} holds no PEM block (expected a certificate or key)`);
    }
    out(`${path}:`);
    for (const block of blocks) {
      if (block.label === "CERTIFICATE") {
        const c = await parseSafe(block.der, path);
        const names = c.altNames.map((n) => `${n.type === "dns" ? "DNS" : "IP"}:${n.value}`);
        out(`  certificate`);
        out(`    subject:      ${c.subject}`);
        out(`    issuer:       ${c.issuer}${c.subject === c.issuer ? " (self-signed)" : ""}`);
        out(`    validity:     ${describeValidity(c, now)}`);
        out(`    names (SAN):  ${names.length ? names.join(", ") : "none"}`);
        out(`    key:          ${c.keyType}`);
        out(`    CA:           ${c.isCa ? "yes" : "no"}`);
        out(`    key usage:    ${c.keyUsage.join(", ") || "any"}`);
        out(`    ext. usage:   ${c.extKeyUsage.join(", ") || "any"}`);
        out(`    serial:       ${c.serial}`);
        out(`    signature:    ${c.signatureAlgorithm}`);
        out(`    SHA-256:      ${c.fingerprint}`);
      } else if (block.label === "PRIVATE KEY") {
        let type: string;
        try {
          type = privateKeyType(block.der);
        } catch (e) {
          throw new CertError("CERT_BAD", `${path}: the PRIVATE KEY block is not PKCS#8`, {
            cause: e,
          });
        }
        const mode = statSync(path).mode & 0o777;
        out(`  private key`);
        out(`    key:          ${type} (PKCS#8)`);
        out(
          `    file mode:    ${mode.toString(8).padStart(4, "0")}` +
            (mode & 0o077 ? " (WARNING: readable by others; chmod 600)" : ""),
        );
      } else {
        out(`  ${block.label} (not shown)`);
      }
    }
  }
  return 0;
}

/**
 * Runs `casty cert …` (`args` without `cert`) and returns the exit code: 0 on success, 1 when
 * a file is missing, bad or would be overwritten (the reason goes to `err`). Bad usage throws a
 * `TypeError` (exit code 2 in `main`).
 *
 * @param args The words after `casty cert`.
 * @param out Normal output, one line per call.
 * @param err Errors, one line per call.
 * @returns The exit code.
 * @throws {TypeError} On bad usage.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { mkdtempSync, rmSync } from "node:fs";
 * import { tmpdir } from "node:os";
 * import { join } from "node:path";
 * import { cert } from "./cert.ts";
 * const dir = mkdtempSync(join(tmpdir(), "casty-cert-"));
 * const lines: string[] = [];
 * try {
 *   assert.equal(await cert(["create-ca", "--out", dir], (l) => lines.push(l), () => {}), 0);
 *   assert.equal(await cert(["create-node", "--out", dir], (l) => lines.push(l), () => {}), 0);
 *   assert.equal(await cert(["info", join(dir, "node_cert.pem")], (l) => lines.push(l), () => {}), 0);
 *   assert.ok(lines.some((l) => l.includes("DNS:localhost, IP:127.0.0.1")));
 * } finally {
 *   rmSync(dir, { recursive: true });
 * }
 * ```
 */
export async function cert(
  args: string[],
  out: (line: string) => void,
  err: (line: string) => void,
): Promise<number> {
  const [sub, ...rest] = args;
  try {
    switch (sub) {
      case "create-ca":
        return await createCa(rest, out);
      case "create-node":
        return await createLeaf("node", rest, out);
      case "create-client":
        return await createLeaf("client", rest, out);
      case "info":
        return await info(rest, out);
      default:
        throw new TypeError(
          sub === undefined ? "cert needs a command" : `unknown cert command "${sub}"`,
        );
    }
  } catch (e) {
    if (!(e instanceof CertError)) throw e;
    err(`casty: ${e.message}`);
    return 1;
  }
}
