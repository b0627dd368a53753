#!/usr/bin/env bash
# A self-signed certificate for STAGING or a private test host (browsers warn; never for production,
# use Let's Encrypt there, see docs/OPERATIONS.md). Writes <out_dir>/leadinc.crt and leadinc.key.
#   deploy/make_selfsigned_cert.sh <server_name> [out_dir=/etc/leadinc/tls] [days=365]
# <server_name> may be a DNS name or an IP address; it goes into the subjectAltName (browsers and
# Python ignore the CN). A client can trust exactly this certificate by using leadinc.crt as its CA.
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "usage: $0 <server_name> [out_dir] [days]" >&2
  exit 2
fi
NAME="$1"
OUT="${2:-/etc/leadinc/tls}"
DAYS="${3:-365}"
if [[ "$NAME" =~ ^[0-9.]+$ || "$NAME" == *:* ]]; then
  SAN="IP:$NAME"
else
  SAN="DNS:$NAME"
fi
command -v openssl >/dev/null || { echo "error: openssl is not installed (apt-get install openssl)" >&2; exit 1; }
mkdir -p "$OUT"
umask 077
openssl req -x509 -newkey rsa:2048 -sha256 -nodes -days "$DAYS" \
  -keyout "$OUT/leadinc.key" -out "$OUT/leadinc.crt" \
  -subj "/CN=$NAME" \
  -addext "subjectAltName=$SAN" \
  -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
  -addext "keyUsage=critical,digitalSignature,keyCertSign" \
  -addext "extendedKeyUsage=serverAuth" 2>/dev/null
chmod 644 "$OUT/leadinc.crt"
chmod 600 "$OUT/leadinc.key"
echo "$OUT/leadinc.crt"
echo "$OUT/leadinc.key"
