#!/usr/bin/env bash
# End-to-end figures of one node with the real binaries: generate N cases
# (default 1,000,000) with the project's generator, import them through
# `accordctl cases import` into a running accordd, and read the daemon's
# memory (VmRSS, VmHWM from /proc) after the import and after a restart and
# some queries. Everything lives in a temporary folder that is removed at the
# end (KEEP=1 keeps it).
#
#   scripts/bench-node.sh [N]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=$ROOT/bin
N=${1:-1000000}
PORT=${BENCH_PORT:-17801}
dir=$(mktemp -d /tmp/accord-bench.XXXXXX)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  [ -n "${KEEP:-}" ] && echo "kept $dir" || rm -rf "$dir"
}
trap cleanup EXIT
mem() { grep -E '^(VmRSS|VmHWM)' "/proc/$1/status" | awk '{printf "%s %.0f MiB  ", $1, $2/1024}'; echo; }

"$BIN/accordctl" certs dev-federation --federation accord.bench --members UA --out "$dir/pki" >/dev/null
cat >"$dir/UA.yaml" <<CFG
listen: 127.0.0.1:$PORT
metrics_listen: ""
data_dir: data
local_api: {listen: 127.0.0.1:$((PORT + 1))}
log: {level: warn, format: text}
client: {cert_file: pki/UA/users/ua-analyst/user.crt, key_file: pki/UA/users/ua-analyst/user.key}
tls: {cert_file: pki/UA/nodes/ua-1/node.crt, key_file: pki/UA/nodes/ua-1/node.key, bundle_file: pki/trust-bundle.json, crl_dir: pki/crl}
CFG

start() {
  "$BIN/accordd" --config "$dir/UA.yaml" 2>>"$dir/accordd.log" &
  pid=$!
  for _ in $(seq 1 200); do "$BIN/accordd" health --config "$dir/UA.yaml" --timeout 1s >/dev/null 2>&1 && return; sleep 0.1; done
  echo "accordd did not start:"; cat "$dir/accordd.log"; exit 1
}

echo "generating $N cases..."
"$BIN/accordctl" cases generate --member UA --cases "$N" --out "$dir/ua.jsonl"
echo "file: $(du -h "$dir/ua.jsonl" | cut -f1)"
start
echo "accordd started: $(mem $pid)"
t0=$(date +%s.%N)
"$BIN/accordctl" --config "$dir/UA.yaml" cases import "$dir/ua.jsonl" 2>&1 | tail -n 4
t1=$(date +%s.%N)
secs=$(echo "$t1 - $t0" | bc)
echo "import through accordctl: $N cases in ${secs}s = $(echo "$N / $secs" | bc) cases/s"
echo "after the import:  $(mem $pid)"
echo "store: $(du -h "$dir/data/store.db" | cut -f1)"
kill "$pid"; wait "$pid" 2>/dev/null || true
start
echo "after a restart:   $(mem $pid)"
sha=$(head -n 1 "$dir/ua.jsonl" | grep -o '"sha256": *"[0-9a-f]*"' | head -n 1 | grep -o '[0-9a-f]\{64\}')
"$BIN/accordctl" --config "$dir/UA.yaml" evidence find "$sha" >/dev/null
"$BIN/accordctl" --config "$dir/UA.yaml" cases list --place Kharkiv --page-size 100 >/dev/null
"$BIN/accordctl" --config "$dir/UA.yaml" cases list --status trial --page-size 1000 >/dev/null
"$BIN/accordctl" --config "$dir/UA.yaml" cases list --title hospital --page-size 100 >/dev/null
echo "after queries:     $(mem $pid)"
"$BIN/accordctl" --config "$dir/UA.yaml" custody verify | tail -n 2
echo "after custody verify of every chain: $(mem $pid)"
