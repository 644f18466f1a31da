#!/usr/bin/env bash
# Makes the compose federation's test certificates in deploy/compose/out/pki
# (git-ignored), which docker-compose.yml mounts read-only at /certs:
# a CA per member (UA, PL, DE, LT, NL), node certificates ua-1 ... nl-1 that
# carry their container host names as DNS names, an analyst's user
# certificate per member, the trust bundle and the CRLs.
#
# Idempotent: what is there and still good is reused (accordctl certs
# dev-federation). These are test keys; a real office issues its own
# (docs/security.md).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
ACCORDCTL=${ACCORDCTL:-$ROOT/bin/accordctl}
OUT=$ROOT/deploy/compose/out
[ -x "$ACCORDCTL" ] || { echo "certs.sh: $ACCORDCTL not found; run make build" >&2; exit 1; }
mkdir -p "$OUT"
# dev-federation names each node certificate after its node (DNS ua-1, the
# container host name); localhost and 127.0.0.1 let `accordd health` in the
# container and accordctl on the host (published ports) reach it too.
"$ACCORDCTL" certs dev-federation --federation accord.compose --members UA,PL,DE,LT,NL \
  --dns localhost --ip 127.0.0.1 --out "$OUT/pki"
