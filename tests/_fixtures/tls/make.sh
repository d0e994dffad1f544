#!/usr/bin/env sh
# Regenerates the test certificates in this folder (ECDSA P-256, valid for 100 years).
# Run from this folder: sh make.sh. The outputs are committed; tests never run openssl.
set -eu
DAYS=36500

ca() { # name subject
  openssl ecparam -name prime256v1 -genkey -noout -out "$1.key.tmp"
  openssl pkcs8 -topk8 -nocrypt -in "$1.key.tmp" -out "$1_key.pem"
  rm "$1.key.tmp"
  openssl req -x509 -new -key "$1_key.pem" -sha256 -days "$DAYS" -subj "$2" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -addext "subjectKeyIdentifier=hash" \
    -out "$1_cert.pem"
}

leaf() { # name subject ca
  openssl ecparam -name prime256v1 -genkey -noout -out "$1.key.tmp"
  openssl pkcs8 -topk8 -nocrypt -in "$1.key.tmp" -out "$1_key.pem"
  rm "$1.key.tmp"
  openssl req -new -key "$1_key.pem" -subj "$2" -out "$1.csr"
  cat > "$1.ext" <<EXT
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth,clientAuth
subjectAltName=IP:127.0.0.1,DNS:localhost
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EXT
  openssl x509 -req -in "$1.csr" -CA "$3_cert.pem" -CAkey "$3_key.pem" -CAcreateserial \
    -days "$DAYS" -sha256 -extfile "$1.ext" -out "$1_cert.pem"
  rm "$1.csr" "$1.ext"
}

ca ca "/CN=casty-test-ca"
leaf node1 "/CN=casty-node-1" ca
leaf node2 "/CN=casty-node-2" ca
ca rogue_ca "/CN=casty-rogue-ca"
leaf rogue "/CN=casty-rogue-node" rogue_ca
rm -f ./*.srl
