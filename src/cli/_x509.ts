/**
 * Just enough DER and X.509 for `casty cert`: build ECDSA P-256 certificates signed through
 * WebCrypto, and read any certificate back for `casty cert info`. Written here rather than
 * taken from an X.509 library so the package keeps zero runtime dependencies and `deno publish`
 * and `bunx casty` need nothing extra.
 *
 * @module
 */

// ---------------------------------------------------------------------------------------------
// DER encoding

function concat(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function tlv(tag: number, content: Uint8Array): Uint8Array {
  const n = content.length;
  let header: number[];
  if (n < 0x80) header = [tag, n];
  else if (n < 0x100) header = [tag, 0x81, n];
  else if (n < 0x10000) header = [tag, 0x82, n >> 8, n & 0xff];
  else header = [tag, 0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return concat([Uint8Array.from(header), content]);
}

const text = new TextEncoder();
const seq = (...parts: Uint8Array[]): Uint8Array => tlv(0x30, concat(parts));
const octets = (bytes: Uint8Array): Uint8Array => tlv(0x04, bytes);
const bits = (bytes: Uint8Array, unused = 0): Uint8Array =>
  tlv(0x03, concat([Uint8Array.of(unused), bytes]));
const explicit = (n: number, content: Uint8Array): Uint8Array => tlv(0xa0 + n, content);
const TRUE = Uint8Array.of(0x01, 0x01, 0xff);

/** A DER INTEGER from unsigned big-endian bytes (minimal, made positive). */
function integer(bytes: Uint8Array): Uint8Array {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const body = bytes.subarray(i);
  return tlv(0x02, body[0] & 0x80 ? concat([Uint8Array.of(0), body]) : body);
}

function oid(dotted: string): Uint8Array {
  const arcs = dotted.split(".").map(Number);
  const out: number[] = [];
  const push = (value: number) => {
    const chunk = [value & 0x7f];
    while ((value = Math.floor(value / 128)) > 0) chunk.unshift((value & 0x7f) | 0x80);
    out.push(...chunk);
  };
  push(arcs[0] * 40 + arcs[1]);
  for (const arc of arcs.slice(2)) push(arc);
  return tlv(0x06, Uint8Array.from(out));
}

function time(date: Date): Uint8Array {
  const iso = date.toISOString(); // 2026-11-30T13:57:25.123Z
  const digits = iso.slice(0, 19).replace(/[-T:]/g, "") + "Z"; // 20261130135725Z
  const year = date.getUTCFullYear();
  return year >= 1950 && year < 2050
    ? tlv(0x17, text.encode(digits.slice(2)))
    : tlv(0x18, text.encode(digits));
}

// ---------------------------------------------------------------------------------------------
// DER decoding

interface Node {
  readonly tag: number;
  /** The content bytes. */
  readonly body: Uint8Array;
  /** The whole element, header included. */
  readonly raw: Uint8Array;
}

class DerError extends Error {}

function read(bytes: Uint8Array, at = 0): Node {
  if (at + 2 > bytes.length) throw new DerError("truncated DER");
  const tag = bytes[at];
  let length = bytes[at + 1];
  let start = at + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 3 || start + count > bytes.length) {
      throw new DerError("bad DER length");
    }
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + bytes[start + i];
    start += count;
  }
  if (start + length > bytes.length) throw new DerError("truncated DER");
  return {
    tag,
    body: bytes.subarray(start, start + length),
    raw: bytes.subarray(at, start + length),
  };
}

function children(node: Node): Node[] {
  const out: Node[] = [];
  for (let at = 0; at < node.body.length;) {
    const child = read(node.body, at);
    out.push(child);
    at = child.body.byteOffset - node.body.byteOffset + child.body.length;
  }
  return out;
}

function expect(node: Node | undefined, tag: number, what: string): Node {
  if (node === undefined || node.tag !== tag) throw new DerError(`expected ${what}`);
  return node;
}

function decodeOid(body: Uint8Array): string {
  const arcs: number[] = [];
  let value = 0;
  for (const b of body) {
    value = value * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      if (arcs.length === 0) {
        const first = value < 80 ? Math.floor(value / 40) : 2;
        arcs.push(first, value - first * 40);
      } else arcs.push(value);
      value = 0;
    }
  }
  return arcs.join(".");
}

function decodeTime(node: Node): Date {
  const s = new TextDecoder().decode(node.body);
  const m = node.tag === 0x17
    ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?Z$/.exec(s)
    : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?Z$/.exec(s);
  if (m === null) throw new DerError(`unsupported time "${s}"`);
  let year = Number(m[1]);
  if (node.tag === 0x17) year += year < 50 ? 2000 : 1900;
  return new Date(
    Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6] ?? 0)),
  );
}

// ---------------------------------------------------------------------------------------------
// Names, addresses, keys

const OID = {
  ecPublicKey: "1.2.840.10045.2.1",
  p256: "1.2.840.10045.3.1.7",
  ecdsaSha256: "1.2.840.10045.4.3.2",
  commonName: "2.5.4.3",
  subjectKeyId: "2.5.29.14",
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  basicConstraints: "2.5.29.19",
  authorityKeyId: "2.5.29.35",
  extKeyUsage: "2.5.29.37",
  serverAuth: "1.3.6.1.5.5.7.3.1",
  clientAuth: "1.3.6.1.5.5.7.3.2",
} as const;

const NAME_KEYS: Record<string, string> = {
  "2.5.4.3": "CN",
  "2.5.4.6": "C",
  "2.5.4.7": "L",
  "2.5.4.8": "ST",
  "2.5.4.10": "O",
  "2.5.4.11": "OU",
  "1.2.840.113549.1.9.1": "emailAddress",
};

const ALGORITHMS: Record<string, string> = {
  "1.2.840.10045.4.3.2": "ecdsa-with-SHA256",
  "1.2.840.10045.4.3.3": "ecdsa-with-SHA384",
  "1.2.840.10045.4.3.4": "ecdsa-with-SHA512",
  "1.2.840.113549.1.1.11": "sha256WithRSAEncryption",
  "1.2.840.113549.1.1.12": "sha384WithRSAEncryption",
  "1.2.840.113549.1.1.13": "sha512WithRSAEncryption",
  "1.2.840.113549.1.1.5": "sha1WithRSAEncryption",
  "1.3.101.112": "Ed25519",
};

const CURVES: Record<string, string> = {
  "1.2.840.10045.3.1.7": "P-256",
  "1.3.132.0.34": "P-384",
  "1.3.132.0.35": "P-521",
};

const KEY_USAGES = [
  "digitalSignature",
  "nonRepudiation",
  "keyEncipherment",
  "dataEncipherment",
  "keyAgreement",
  "keyCertSign",
  "cRLSign",
  "encipherOnly",
  "decipherOnly",
];

const EXT_KEY_USAGES: Record<string, string> = {
  [OID.serverAuth]: "serverAuth",
  [OID.clientAuth]: "clientAuth",
  "1.3.6.1.5.5.7.3.3": "codeSigning",
  "1.3.6.1.5.5.7.3.4": "emailProtection",
};

/**
 * A DER Name with one common name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { nameWithCommonName } from "./_x509.ts";
 * assert.deepEqual([...nameWithCommonName("a")], [48, 12, 49, 10, 48, 8, 6, 3, 85, 4, 3, 12, 1, 97]);
 * ```
 */
export function nameWithCommonName(cn: string): Uint8Array {
  return seq(tlv(0x31, seq(oid(OID.commonName), tlv(0x0c, text.encode(cn)))));
}

function formatName(name: Node): string {
  const parts: string[] = [];
  for (const rdn of children(name)) {
    for (const attribute of children(rdn)) {
      const [type, value] = children(attribute);
      const id = decodeOid(expect(type, 0x06, "an attribute type").body);
      const shown = new TextDecoder().decode(value.body);
      parts.push(`${NAME_KEYS[id] ?? id}=${shown}`);
    }
  }
  return parts.join(", ");
}

/**
 * The 4 or 16 bytes of an IPv4 or IPv6 address, or `undefined` when `address` is neither.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ipBytes } from "./_x509.ts";
 * assert.deepEqual([...ipBytes("10.0.0.1")!], [10, 0, 0, 1]);
 * assert.deepEqual([...ipBytes("[::1]")!], [...new Array(15).fill(0), 1]);
 * assert.equal(ipBytes("10.0.0.256"), undefined);
 * assert.equal(ipBytes("node1.local"), undefined);
 * ```
 */
export function ipBytes(address: string): Uint8Array | undefined {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(address);
  if (v4) {
    const parts = v4.slice(1).map(Number);
    return parts.every((p) => p <= 255) ? Uint8Array.from(parts) : undefined;
  }
  const host = address.replace(/^\[|\]$/g, "");
  if (!host.includes(":") || !/^[0-9a-fA-F:.]+$/.test(host)) return undefined;
  const halves = host.split("::");
  if (halves.length > 2) return undefined;
  const groups = (half: string): number[] | undefined => {
    if (half === "") return [];
    const out: number[] = [];
    const pieces = half.split(":");
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i];
      if (i === pieces.length - 1 && piece.includes(".")) {
        const tail = ipBytes(piece);
        if (tail === undefined || tail.length !== 4) return undefined;
        out.push((tail[0] << 8) | tail[1], (tail[2] << 8) | tail[3]);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(piece)) out.push(parseInt(piece, 16));
      else return undefined;
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (head === undefined || tail === undefined) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const all = [...head, ...new Array(missing).fill(0), ...tail];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return [...bytes].join(".");
  if (bytes.length !== 16) return `(${bytes.length}-byte address)`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i] << 8) | bytes[i + 1]);
  // RFC 5952: compress the longest run (of at least two) of zero groups.
  let best = -1, bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [best, bestLength] = [i, j - i];
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(":");
  return `${hex.slice(0, best).join(":")}::${hex.slice(best + bestLength).join(":")}`;
}

function hex(bytes: Uint8Array, separator = ""): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0").toUpperCase()).join(separator);
}

/** The key type of a SubjectPublicKeyInfo or PKCS#8 AlgorithmIdentifier plus key. */
function keyType(algorithm: Node, key: Uint8Array | undefined): string {
  const [id, parameters] = children(algorithm);
  const alg = decodeOid(expect(id, 0x06, "an algorithm").body);
  if (alg === OID.ecPublicKey) {
    const curve = parameters?.tag === 0x06 ? decodeOid(parameters.body) : "?";
    return `ECDSA ${CURVES[curve] ?? curve}`;
  }
  if (alg === "1.2.840.113549.1.1.1") {
    if (key === undefined) return "RSA";
    try {
      const modulus = children(read(key.subarray(1)))[0].body;
      let first = 0;
      while (first < modulus.length && modulus[first] === 0) first++;
      return `RSA ${(modulus.length - first) * 8} bits`;
    } catch {
      return "RSA";
    }
  }
  if (alg === "1.3.101.112") return "Ed25519";
  if (alg === "1.3.101.113") return "Ed448";
  return alg;
}

// ---------------------------------------------------------------------------------------------
// PEM

/** A PEM block: its label (`CERTIFICATE`, `PRIVATE KEY`, …) and its DER bytes. */
export interface PemBlock {
  /** The label between `BEGIN` and the dashes. */
  readonly label: string;
  /** The decoded bytes. */
  readonly der: Uint8Array;
}

/**
 * The PEM text of `der` under `label`, lines of 64 characters.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fromPem, toPem } from "./_x509.ts";
 * const pem = toPem("CERTIFICATE", Uint8Array.of(1, 2, 3));
 * assert.equal(pem, "-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n");
 * assert.deepEqual([...fromPem(pem)[0].der], [1, 2, 3]);
 * ```
 */
export function toPem(label: string, der: Uint8Array): string {
  let binary = "";
  for (const b of der) binary += String.fromCharCode(b);
  const b64 = btoa(binary);
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/**
 * Every PEM block of `pem`, in order; an empty array when there is none.
 *
 * @throws {Error} When a block's body is not base64.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { fromPem } from "./_x509.ts";
 * const blocks = fromPem("-----BEGIN PRIVATE KEY-----\nAAE=\n-----END PRIVATE KEY-----\n");
 * assert.equal(blocks[0].label, "PRIVATE KEY");
 * assert.deepEqual(fromPem("no pem here"), []);
 * ```
 */
export function fromPem(pem: string): PemBlock[] {
  const out: PemBlock[] = [];
  const re = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
  for (const m of pem.matchAll(re)) {
    let binary: string;
    try {
      binary = atob(m[2].replace(/\s+/g, ""));
    } catch {
      throw new DerError(`the ${m[1]} block is not valid base64`);
    }
    out.push({ label: m[1], der: Uint8Array.from(binary, (c) => c.charCodeAt(0)) });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Certificates

/** A subject alternative name. */
export type SubjectAltName =
  | { readonly type: "dns"; readonly value: string }
  | { readonly type: "ip"; readonly value: string };

/** What {@linkcode parseCertificate} reads from a certificate. */
export interface CertificateInfo {
  /** The subject as `CN=…, O=…`. */
  readonly subject: string;
  /** The issuer as `CN=…`. */
  readonly issuer: string;
  /** The subject's DER Name (the issuer of what this certificate signs). */
  readonly subjectDer: Uint8Array;
  /** The serial number in hex. */
  readonly serial: string;
  /** The signature algorithm, such as `ecdsa-with-SHA256`. */
  readonly signatureAlgorithm: string;
  /** Start of validity. */
  readonly notBefore: Date;
  /** End of validity. */
  readonly notAfter: Date;
  /** The key type, such as `ECDSA P-256`. */
  readonly keyType: string;
  /** The SubjectPublicKeyInfo DER. */
  readonly publicKeyInfo: Uint8Array;
  /** The subject alternative names. */
  readonly altNames: readonly SubjectAltName[];
  /** Whether basicConstraints says CA. */
  readonly isCa: boolean;
  /** keyUsage bit names. */
  readonly keyUsage: readonly string[];
  /** extendedKeyUsage names (or OIDs). */
  readonly extKeyUsage: readonly string[];
  /** subjectKeyIdentifier, if present. */
  readonly subjectKeyId?: Uint8Array;
  /** Uppercase, colon-separated SHA-256 of the DER (as `openssl x509 -fingerprint -sha256`). */
  readonly fingerprint: string;
}

/**
 * Reads a DER certificate.
 *
 * @throws {Error} When `der` is not an X.509 certificate.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { readFileSync } from "node:fs";
 * import { fromPem, parseCertificate } from "./_x509.ts";
 * const pem = readFileSync(new URL("../../tests/_fixtures/tls/node1_cert.pem", import.meta.url), "utf8");
 * const info = await parseCertificate(fromPem(pem)[0].der);
 * assert.equal(info.subject, "CN=casty-node-1");
 * assert.deepEqual(info.altNames, [{ type: "ip", value: "127.0.0.1" }, { type: "dns", value: "localhost" }]);
 * ```
 */
export async function parseCertificate(der: Uint8Array): Promise<CertificateInfo> {
  const [tbs, sigAlg] = children(expect(read(der), 0x30, "a certificate"));
  let fields = children(expect(tbs, 0x30, "a TBSCertificate"));
  if (fields[0]?.tag === 0xa0) fields = fields.slice(1);
  const [serial, , issuer, validity, subject, spki, ...rest] = fields;
  const [notBefore, notAfter] = children(expect(validity, 0x30, "a validity"));
  const [algorithm, key] = children(expect(spki, 0x30, "a public key"));
  const info = {
    subject: formatName(expect(subject, 0x30, "a subject")),
    issuer: formatName(expect(issuer, 0x30, "an issuer")),
    subjectDer: subject.raw,
    serial: hex(expect(serial, 0x02, "a serial number").body),
    signatureAlgorithm: "",
    notBefore: decodeTime(notBefore),
    notAfter: decodeTime(notAfter),
    keyType: keyType(algorithm, key?.body),
    publicKeyInfo: spki.raw,
    altNames: [] as SubjectAltName[],
    isCa: false,
    keyUsage: [] as string[],
    extKeyUsage: [] as string[],
    subjectKeyId: undefined as Uint8Array | undefined,
    fingerprint: "",
  };
  const sigOid = decodeOid(
    expect(children(expect(sigAlg, 0x30, "an algorithm"))[0], 0x06, "")
      .body,
  );
  info.signatureAlgorithm = ALGORITHMS[sigOid] ?? sigOid;
  const extensions = rest.find((n) => n.tag === 0xa3);
  for (const extension of extensions ? children(children(extensions)[0]) : []) {
    const parts = children(extension);
    const id = decodeOid(parts[0].body);
    const value = read(parts[parts.length - 1].body);
    if (id === OID.subjectAltName) {
      for (const name of children(value)) {
        if (name.tag === 0x82) {
          info.altNames.push({ type: "dns", value: new TextDecoder().decode(name.body) });
        } else if (name.tag === 0x87) {
          info.altNames.push({ type: "ip", value: formatIp(name.body) });
        }
      }
    } else if (id === OID.basicConstraints) {
      const first = children(value)[0];
      info.isCa = first?.tag === 0x01 && first.body[0] !== 0;
    } else if (id === OID.keyUsage) {
      const flags = value.body.subarray(1);
      KEY_USAGES.forEach((usage, bit) => {
        if ((flags[bit >> 3] ?? 0) & (0x80 >> (bit & 7))) info.keyUsage.push(usage);
      });
    } else if (id === OID.extKeyUsage) {
      for (const u of children(value)) {
        const uid = decodeOid(u.body);
        info.extKeyUsage.push(EXT_KEY_USAGES[uid] ?? uid);
      }
    } else if (id === OID.subjectKeyId) info.subjectKeyId = value.body;
  }
  info.fingerprint = hex(
    new Uint8Array(await crypto.subtle.digest("SHA-256", der as Uint8Array<ArrayBuffer>)),
    ":",
  );
  return info;
}

/**
 * The key type of a PKCS#8 private key (`ECDSA P-256`, `RSA`, …).
 *
 * @throws {Error} When `der` is not PKCS#8.
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { privateKeyType } from "./_x509.ts";
 * const { privateKey } = await crypto.subtle.generateKey(
 *   { name: "ECDSA", namedCurve: "P-256" },
 *   true,
 *   ["sign", "verify"],
 * );
 * const der = new Uint8Array(await crypto.subtle.exportKey("pkcs8", privateKey));
 * assert.equal(privateKeyType(der), "ECDSA P-256");
 * ```
 */
export function privateKeyType(der: Uint8Array): string {
  const [version, algorithm] = children(expect(read(der), 0x30, "a PKCS#8 key"));
  expect(version, 0x02, "a PKCS#8 version");
  return keyType(expect(algorithm, 0x30, "an algorithm"), undefined);
}

/** The subject public key bits of a SubjectPublicKeyInfo (what a key identifier hashes). */
function publicKeyBits(spki: Uint8Array): Uint8Array {
  return expect(children(read(spki))[1], 0x03, "a public key").body.subarray(1);
}

/**
 * The SHA-1 key identifier of a SubjectPublicKeyInfo (RFC 5280 4.2.1.2, method 1).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { keyIdentifier } from "./_x509.ts";
 * const { publicKey } = await crypto.subtle.generateKey(
 *   { name: "ECDSA", namedCurve: "P-256" },
 *   true,
 *   ["sign", "verify"],
 * );
 * const spki = new Uint8Array(await crypto.subtle.exportKey("spki", publicKey));
 * assert.equal((await keyIdentifier(spki)).length, 20);
 * ```
 */
export async function keyIdentifier(spki: Uint8Array): Promise<Uint8Array> {
  const bytes = publicKeyBits(spki) as Uint8Array<ArrayBuffer>;
  return new Uint8Array(await crypto.subtle.digest("SHA-1", bytes));
}

/** What kind of certificate {@linkcode buildCertificate} makes. */
export type CertificateKind = "ca" | "node" | "client";

/** Input of {@linkcode buildCertificate}. */
export interface CertificateSpec {
  /** CA, node (server and client auth) or client (client auth only). */
  readonly kind: CertificateKind;
  /** The subject's common name. */
  readonly commonName: string;
  /** The subject's public key as SubjectPublicKeyInfo DER. */
  readonly publicKeyInfo: Uint8Array;
  /** Names the certificate is valid for. */
  readonly altNames: readonly SubjectAltName[];
  /** Start of validity. */
  readonly notBefore: Date;
  /** End of validity. */
  readonly notAfter: Date;
  /** The issuer's DER Name (the subject's own for a self-signed CA). */
  readonly issuerName: Uint8Array;
  /** The issuer's key identifier (the subject's own for a self-signed CA). */
  readonly issuerKeyId: Uint8Array;
  /** The issuer's ECDSA P-256 private key. */
  readonly issuerKey: CryptoKey;
}

function extension(id: string, critical: boolean, value: Uint8Array): Uint8Array {
  return seq(oid(id), ...(critical ? [TRUE] : []), octets(value));
}

/**
 * Signs and encodes an X.509 v3 certificate; returns its DER.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { buildCertificate, keyIdentifier, nameWithCommonName, parseCertificate } from "./_x509.ts";
 * const pair = await crypto.subtle.generateKey(
 *   { name: "ECDSA", namedCurve: "P-256" },
 *   true,
 *   ["sign", "verify"],
 * );
 * const spki = new Uint8Array(await crypto.subtle.exportKey("spki", pair.publicKey));
 * const der = await buildCertificate({
 *   kind: "ca",
 *   commonName: "ca",
 *   publicKeyInfo: spki,
 *   altNames: [],
 *   notBefore: new Date("2026-01-01T00:00:00Z"),
 *   notAfter: new Date("2060-01-01T00:00:00Z"),
 *   issuerName: nameWithCommonName("ca"),
 *   issuerKeyId: await keyIdentifier(spki),
 *   issuerKey: pair.privateKey,
 * });
 * const info = await parseCertificate(der);
 * assert.ok(info.isCa && info.issuer === "CN=ca");
 * assert.equal(info.notAfter.toISOString(), "2060-01-01T00:00:00.000Z");
 * ```
 */
export async function buildCertificate(spec: CertificateSpec): Promise<Uint8Array> {
  const serial = crypto.getRandomValues(new Uint8Array(16));
  serial[0] = (serial[0] & 0x7f) | 0x40; // positive, 16 bytes, never 0
  const algorithm = seq(oid(OID.ecdsaSha256));
  const subjectKeyId = await keyIdentifier(spec.publicKeyInfo);
  const extensions: Uint8Array[] = [];
  if (spec.kind === "ca") {
    extensions.push(extension(OID.basicConstraints, true, seq(TRUE)));
    // keyCertSign (bit 5) and cRLSign (bit 6): 0b0000_0110, one unused bit.
    extensions.push(extension(OID.keyUsage, true, bits(Uint8Array.of(0x06), 1)));
  } else {
    extensions.push(extension(OID.basicConstraints, true, seq()));
    // digitalSignature (bit 0): 0b1000_0000, seven unused bits.
    extensions.push(extension(OID.keyUsage, true, bits(Uint8Array.of(0x80), 7)));
    const usages = spec.kind === "node" ? [OID.serverAuth, OID.clientAuth] : [OID.clientAuth];
    extensions.push(extension(OID.extKeyUsage, false, seq(...usages.map(oid))));
  }
  if (spec.altNames.length > 0) {
    const names = spec.altNames.map((n) =>
      n.type === "dns" ? tlv(0x82, text.encode(n.value)) : tlv(0x87, ipBytes(n.value)!)
    );
    extensions.push(extension(OID.subjectAltName, false, seq(...names)));
  }
  extensions.push(extension(OID.subjectKeyId, false, octets(subjectKeyId)));
  extensions.push(extension(OID.authorityKeyId, false, seq(tlv(0x80, spec.issuerKeyId))));
  const tbs = seq(
    explicit(0, tlv(0x02, Uint8Array.of(2))),
    integer(serial),
    algorithm,
    spec.issuerName,
    seq(time(spec.notBefore), time(spec.notAfter)),
    nameWithCommonName(spec.commonName),
    spec.publicKeyInfo,
    explicit(3, seq(...extensions)),
  );
  const p1363 = new Uint8Array(
    await crypto.subtle.sign(
      { name: "ECDSA", hash: "SHA-256" },
      spec.issuerKey,
      tbs as Uint8Array<ArrayBuffer>,
    ),
  );
  const half = p1363.length / 2;
  const signature = seq(integer(p1363.subarray(0, half)), integer(p1363.subarray(half)));
  return seq(tbs, algorithm, bits(signature));
}
