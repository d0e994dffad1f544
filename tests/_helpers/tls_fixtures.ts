// Loads the committed test certificates from tests/_fixtures/tls/.

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const dir = fileURLToPath(new URL("../_fixtures/tls/", import.meta.url));
const read = (name: string): string => readFileSync(dir + name, "utf8");

/** CA-signed node certificates, and a certificate from an unrelated CA. */
export const tlsFixtures = {
  ca: read("ca_cert.pem"),
  node1: { cert: read("node1_cert.pem"), key: read("node1_key.pem") },
  node2: { cert: read("node2_cert.pem"), key: read("node2_key.pem") },
  rogueCa: read("rogue_ca_cert.pem"),
  rogue: { cert: read("rogue_cert.pem"), key: read("rogue_key.pem") },
};
