#!/usr/bin/env bash
# The Accord demo: three member nodes (UA, PL, DE) on loopback, each with its
# own CA, that authenticate each other over mutual TLS; then two refusals an
# operator should recognise. Everything lives in ./demo (make demo-clean
# removes it); a second run reuses the certificates and configuration.
#
#   scripts/demo.sh          run the demo (Ctrl-C stops the nodes)
#   scripts/demo.sh stop     stop nodes left running
#
# Environment: DEMO_PORT (first federation gRPC port, default 7401; the
# local APIs are 100 above, Raft 200 above, PL's office console 300 above,
# metrics 2000 above), DEMO_KEEP=1 keeps the nodes running after the
# summary when not on a terminal, DEMO_STOP=1 stops them after the summary
# even on a terminal.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$ROOT/bin}
DEMO=${DEMO_DIR:-$ROOT/demo}
FED=accord.demo
MEMBERS=(UA PL DE LT NL)
PORT=${DEMO_PORT:-7401}
MPORT=$((PORT + 2000))
ACCORDCTL=$BIN/accordctl
ACCORDD=$BIN/accordd

bold=; dim=; green=; red=; reset=
if [ -t 1 ]; then bold=$'\e[1m'; dim=$'\e[2m'; green=$'\e[32m'; red=$'\e[31m'; reset=$'\e[0m'; fi
step() { printf '%s==>%s %s\n' "$bold" "$reset" "$*"; }
lc() { tr '[:upper:]' '[:lower:]' <<<"$1"; }
# pad TEXT WIDTH: left-align by characters, not bytes (µs is two bytes).
pad() { local s=$1 n=$2; printf '%s%*s' "$s" $((n - ${#s})) ''; }

port_of() { local i; for i in "${!MEMBERS[@]}"; do [ "${MEMBERS[$i]}" = "$1" ] && echo $((PORT + i)); done; }
mport_of() { local i; for i in "${!MEMBERS[@]}"; do [ "${MEMBERS[$i]}" = "$1" ] && echo $((MPORT + i)); done; }
lport_of() { echo $(( $(port_of "$1") + 100 )); }
rport_of() { echo $(( $(port_of "$1") + 200 )); }
cport_of() { echo $(( $(port_of "$1") + 300 )); }
pid_of() { [ -f "$DEMO/run/$1.pid" ] && cat "$DEMO/run/$1.pid" || true; }
alive() { local p; p=$(pid_of "$1"); [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

stop_nodes() {
  local m p
  if [ -f "$DEMO/run/console.pid" ]; then
    kill -TERM "$(cat "$DEMO/run/console.pid")" 2>/dev/null || true
    rm -f "$DEMO/run/console.pid"
  fi
  for m in "${MEMBERS[@]}"; do
    if alive "$m"; then
      p=$(pid_of "$m")
      kill -TERM "$p" 2>/dev/null || true
      for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null || true
      echo "stopped $m (pid $p)"
    fi
    rm -f "$DEMO/run/$m.pid"
  done
}

if [ "${1:-}" = "stop" ]; then stop_nodes; exit 0; fi

[ -x "$ACCORDCTL" ] && [ -x "$ACCORDD" ] || { echo "build first: make build" >&2; exit 1; }
mkdir -p "$DEMO/run" "$DEMO/logs"

step "Certificates: one sovereign CA per member, a trust bundle, CRLs ($DEMO/pki)"
"$ACCORDCTL" certs dev-federation --federation "$FED" --members "$(IFS=,; echo "${MEMBERS[*]}")" --out "$DEMO/pki" | sed 's/^/    /'

step "Configuration: one file per member ($DEMO/<MEMBER>.yaml)"
for m in "${MEMBERS[@]}"; do
  l=$(lc "$m")
  cfg="$DEMO/$m.yaml"
  {
    echo "# Accord node $l-1 of member $m (made by scripts/demo.sh; see docs/configuration.md)"
    echo "listen: 127.0.0.1:$(port_of "$m")"
    echo "metrics_listen: 127.0.0.1:$(mport_of "$m")"
    echo "data_dir: data/$m"
    echo "local_api:"
    echo "  listen: 127.0.0.1:$(lport_of "$m")"
    echo "  admins: [$l-admin]"
    if [ "$m" = PL ]; then
      echo "console:   # PL's office console: browsers sign in with a PL user certificate (docs/console.md)"
      echo "  listen: 127.0.0.1:$(cport_of "$m")"
    fi
    echo "client:   # the identity accordctl uses for the local API: $m's analyst"
    echo "  cert_file: pki/$m/users/$l-analyst/user.crt"
    echo "  key_file: pki/$m/users/$l-analyst/user.key"
    echo "log: {level: info, format: text}"
    echo "tls:"
    echo "  cert_file: pki/$m/nodes/$l-1/node.crt"
    echo "  key_file: pki/$m/nodes/$l-1/node.key"
    echo "  bundle_file: pki/trust-bundle.json"
    echo "  crl_dir: pki/crl"
    echo "  reload_interval: 2s"
    echo "registry:   # every member's node is a founding registry server (docs/registry.md)"
    echo "  server: true"
    echo "  raft_listen: 127.0.0.1:$(rport_of "$m")"
    echo "  bootstrap: true"
    echo "  servers:"
    for o in "${MEMBERS[@]}"; do
      echo "    - {node: spiffe://$FED/member/$o/node/$(lc "$o")-1, raft_address: 127.0.0.1:$(rport_of "$o"), address: 127.0.0.1:$(port_of "$o")}"
    done
    echo "peers:"
    for o in "${MEMBERS[@]}"; do
      [ "$o" = "$m" ] || echo "  - {member: $o, address: 127.0.0.1:$(port_of "$o")}"
    done
  } >"$cfg"
  echo "    wrote $m.yaml"
done

step "Starting ${#MEMBERS[@]} accordd processes on loopback"
trap 'echo; step "Stopping"; stop_nodes; exit 130' INT TERM
for m in "${MEMBERS[@]}"; do
  if alive "$m"; then echo "    $m already running (pid $(pid_of "$m")), reused"; continue; fi
  ports=("$(port_of "$m")" "$(lport_of "$m")" "$(mport_of "$m")" "$(rport_of "$m")")
  [ "$m" = PL ] && ports+=("$(cport_of "$m")")
  for p in "${ports[@]}"; do
    if listening "$p"; then
      echo "${red}port $p is in use by another program; set DEMO_PORT to another base port${reset}" >&2
      stop_nodes; exit 1
    fi
  done
  "$ACCORDD" --config "$DEMO/$m.yaml" >>"$DEMO/logs/$m.log" 2>&1 &
  echo $! >"$DEMO/run/$m.pid"
  echo "    $m: pid $!, federation 127.0.0.1:$(port_of "$m"), local API 127.0.0.1:$(lport_of "$m"), metrics :$(mport_of "$m"), log demo/logs/$m.log"
done

step "Waiting until every node is serving"
for m in "${MEMBERS[@]}"; do
  ok=
  for _ in $(seq 1 100); do
    if "$ACCORDD" health --config "$DEMO/$m.yaml" --timeout 1s >/dev/null 2>&1; then ok=1; break; fi
    alive "$m" || break
    sleep 0.2
  done
  if [ -z "$ok" ]; then
    echo "${red}$m did not come up; its log:${reset}" >&2; tail -n 20 "$DEMO/logs/$m.log" >&2; stop_nodes; exit 1
  fi
  printf '    %s %sSERVING%s\n' "$m" "$green" "$reset"
done

step "Who trusts whom: each node checks every other (accordctl peers check)"
printf '    %-8s' "from\\to"; for to in "${MEMBERS[@]}"; do pad "$to" 20; done; echo
failed=0
for from in "${MEMBERS[@]}"; do
  printf '    %-8s' "$from"
  for to in "${MEMBERS[@]}"; do
    if [ "$from" = "$to" ]; then pad "-" 20; continue; fi
    out=$("$ACCORDCTL" --config "$DEMO/$from.yaml" peers check --expect-member "$to" --rounds 3 "127.0.0.1:$(port_of "$to")" 2>&1) && rc=0 || rc=$?
    if [ $rc -eq 0 ]; then
      rtt=$(sed -n 's/.*round trip \([^ ]*\).*/\1/p' <<<"$out" | head -n1)
      printf '%s%s%s' "$green" "$(pad "OK (rtt $rtt)" 20)" "$reset"
    else
      failed=1; printf '%s%s%s' "$red" "$(pad FAIL 20)" "$reset"
    fi
  done
  echo
done

step "One check in full: UA -> PL"
"$ACCORDCTL" --config "$DEMO/UA.yaml" peers check --expect-member PL "127.0.0.1:$(port_of PL)" | sed 's/^/    /' || failed=1

step "Refusals an operator should recognise"
# A member outside the federation: its own CA, not in the trust bundle.
if [ ! -f "$DEMO/outsider/XX.yaml" ]; then
  mkdir -p "$DEMO/outsider"
  "$ACCORDCTL" certs ca create --federation "$FED" --member XX --dir "$DEMO/outsider/ca" >/dev/null
  "$ACCORDCTL" certs issue --ca "$DEMO/outsider/ca" --node xx-1 --ip 127.0.0.1 --out "$DEMO/outsider/xx-1" >/dev/null
  printf 'tls:\n  cert_file: xx-1/node.crt\n  key_file: xx-1/node.key\n  bundle_file: ../pki/trust-bundle.json\n' >"$DEMO/outsider/XX.yaml"
fi
echo "    ${dim}a node of member XX, whose CA is in no one's trust bundle, calls UA:${reset}"
"$ACCORDCTL" --config "$DEMO/outsider/XX.yaml" peers check "127.0.0.1:$(port_of UA)" 2>&1 | sed 's/^/    /' || true

# A revoked node certificate of UA: revoked by UA's CA, CRL published; the
# nodes pick the CRL up within their reload interval (2 s here).
if [ ! -f "$DEMO/revoked/UA-2.yaml" ]; then
  mkdir -p "$DEMO/revoked"
  "$ACCORDCTL" certs issue --ca "$DEMO/pki/UA/ca" --node ua-2 --ip 127.0.0.1 --out "$DEMO/revoked/ua-2" >/dev/null
  "$ACCORDCTL" certs revoke --ca "$DEMO/pki/UA/ca" --cert "$DEMO/revoked/ua-2/node.crt" --reason keyCompromise >/dev/null
  "$ACCORDCTL" certs crl --ca "$DEMO/pki/UA/ca" --out "$DEMO/pki/crl/UA.crl" >/dev/null
  printf 'tls:\n  cert_file: ua-2/node.crt\n  key_file: ua-2/node.key\n  bundle_file: ../pki/trust-bundle.json\n  crl_dir: ../pki/crl\n' >"$DEMO/revoked/UA-2.yaml"
  for m in "${MEMBERS[@]}"; do kill -HUP "$(pid_of "$m")" 2>/dev/null || true; done # reload now rather than in 2 s
fi
echo "    ${dim}UA's node ua-2, whose certificate UA revoked (CRL published), calls PL:${reset}"
for _ in $(seq 1 50); do
  out=$("$ACCORDCTL" --config "$DEMO/revoked/UA-2.yaml" peers check "127.0.0.1:$(port_of PL)" 2>&1) && sleep 0.1 || break
done
sed 's/^/    /' <<<"$out"

step "The shared registry: a Raft group of the ${#MEMBERS[@]} member nodes (docs/registry.md)"
ok=
for _ in $(seq 1 100); do
  if "$ACCORDCTL" --config "$DEMO/UA.yaml" registry status -o json 2>/dev/null | grep -q '"leader_id": *"spiffe'; then ok=1; break; fi
  sleep 0.2
done
if [ -z "$ok" ]; then
  echo "${red}the registry elected no leader; see demo/logs/*.log${reset}" >&2; failed=1
else
  "$ACCORDCTL" --config "$DEMO/PL.yaml" registry status 2>&1 | sed 's/^/    /' || failed=1
  echo "    ${dim}UA's analyst opens a joint investigation team and invites PL; PL accepts; UA links a case:${reset}"
  # A demo run again in the same folder finds the team it made before (the
  # team's text is sealed afresh each time, so the same request id would be
  # refused as another command).
  jit=$("$ACCORDCTL" --config "$DEMO/UA.yaml" jit list -o json 2>/dev/null | grep -B1 '"display_name": *"Kharkiv region shelling 2022"' \
        | grep -o '"name": *"jits/[^"]*"' | head -n 1 | sed 's/.*"jits\/\([^"]*\)"$/\1/' || true)
  if [ -z "$jit" ]; then
    jit=$("$ACCORDCTL" --config "$DEMO/UA.yaml" jit create --name "Kharkiv region shelling 2022" --legal-basis "EU JIT model agreement" \
          --invite PL --request-id demo-jit-1 -o json 2>/dev/null | grep -o '"name": *"jits/[^"]*"' | head -n 1 | sed 's/.*"jits\/\([^"]*\)"$/\1/')
  fi
  if [ -n "$jit" ]; then
    "$ACCORDCTL" --config "$DEMO/PL.yaml" jit accept "$jit" --request-id demo-jit-accept >/dev/null 2>&1 || true
    "$ACCORDCTL" --config "$DEMO/UA.yaml" jit link "$jit" UA-2022-000001 --request-id demo-jit-link >/dev/null 2>&1 || true
    "$ACCORDCTL" --config "$DEMO/PL.yaml" jit show "$jit" 2>&1 | sed 's/^/      /' || failed=1
  else
    echo "${red}could not create the team${reset}" >&2; failed=1
  fi
fi

step "The offices' registers: each member's analyst imports its own cases"
# A generated federation (the generator the benchmarks use): many incidents
# are investigated by two or three members, each writing them its own way
# (language, transliteration, time zone, precision, unit names).
if [ ! -f "$DEMO/dataset/truth.jsonl" ]; then
  if "$ACCORDCTL" cases generate --help 2>/dev/null | grep -q -- '--federation'; then
    "$ACCORDCTL" cases generate --federation "$(IFS=,; echo "${MEMBERS[*]}")" --incidents "${DEMO_INCIDENTS:-2500}" --seed 1 --out "$DEMO/dataset" >/dev/null 2>&1 || failed=1
  else
    mkdir -p "$DEMO/dataset"
    for m in "${MEMBERS[@]}"; do
      "$ACCORDCTL" cases generate --member "$m" --cases 1000 --seed 1 --out "$DEMO/dataset/cases-$m.jsonl" 2>/dev/null || failed=1
    done
    : >"$DEMO/dataset/truth.jsonl"
  fi
fi
for m in "${MEMBERS[@]}"; do
  f="$DEMO/dataset/cases-$m.jsonl"
  [ -f "$f" ] || continue
  printf '    %s: %s\n' "$m" "$("$ACCORDCTL" --config "$DEMO/$m.yaml" cases import "$f" 2>/dev/null | tail -n 1)" || failed=1
done
UA=(--config "$DEMO/UA.yaml")
first=$(head -n 1 "$DEMO/dataset/cases-UA.jsonl" | grep -o '"case_id": *"[^"]*"' | head -n 1 | sed 's/.*"\([^"]*\)"$/\1/')
echo "    ${dim}UA: cases list --status trial --page-size 3:${reset}"
"$ACCORDCTL" "${UA[@]}" cases list --status trial --page-size 3 2>/dev/null | grep -v '^next page' | sed 's/^/      /' || failed=1
mkdir -p "$DEMO/vault"
[ -f "$DEMO/vault/drone-footage.bin" ] || head -c 3000000 /dev/urandom >"$DEMO/vault/drone-footage.bin"
if ! "$ACCORDCTL" "${UA[@]}" evidence verify "$DEMO/vault/drone-footage.bin" >/dev/null 2>&1; then
  echo "    ${dim}UA: evidence add --case $first demo/vault/drone-footage.bin:${reset}"
  "$ACCORDCTL" "${UA[@]}" evidence add --case "$first" --media-type video/mp4 "$DEMO/vault/drone-footage.bin" 2>/dev/null | sed 's/^/      /' || failed=1
fi
echo "    ${dim}UA: evidence verify demo/vault/drone-footage.bin, custody verify:${reset}"
"$ACCORDCTL" "${UA[@]}" evidence verify "$DEMO/vault/drone-footage.bin" 2>/dev/null | sed -n '1s/^/      /p' || failed=1
"$ACCORDCTL" "${UA[@]}" custody verify 2>/dev/null | sed 's/^/      /' || failed=1

step "The exchange: every member's shareable cases reach the others, signed, without names (docs/exchange.md)"
printf '    waiting until every member has synced with every other'
synced=
for _ in $(seq 1 300); do
  all=1
  for m in "${MEMBERS[@]}"; do
    js=$("$ACCORDCTL" --config "$DEMO/$m.yaml" federation status -o json 2>/dev/null | tr -d ' \n') || { all=; break; }
    n=$(grep -o '"connected":true' <<<"$js" | wc -l)
    if [ "$n" -ne $((${#MEMBERS[@]} - 1)) ] || grep -q '"lag_records":"[1-9]' <<<"$js" || grep -q '"feed_pending":"[1-9]' <<<"$js"; then all=; break; fi
  done
  if [ -n "$all" ]; then synced=1; break; fi
  printf '.'; sleep 0.5
done
echo
if [ -z "$synced" ]; then
  echo "${red}the members did not all catch up; see demo/logs/*.log${reset}" >&2; failed=1
fi
echo "    ${dim}accordctl --config demo/PL.yaml federation status:${reset}"
"$ACCORDCTL" --config "$DEMO/PL.yaml" federation status 2>&1 | sed 's/^/      /' || failed=1
echo "    ${dim}accordctl --config demo/PL.yaml federation cases --member UA --page-size 3:${reset}"
"$ACCORDCTL" --config "$DEMO/PL.yaml" federation cases --member UA --page-size 3 2>&1 | grep -v '^next page' | sed 's/^/      /' || failed=1
echo "    ${dim}accordctl --config demo/UA.yaml audit show --peer PL --limit 3 (UA's hash-chained audit log):${reset}"
"$ACCORDCTL" --config "$DEMO/UA.yaml" audit show --peer PL --limit 3 2>&1 | sed 's/^/      /' || failed=1

step "Matches: the same incident investigated by several members (docs/matching.md)"
printf '    waiting until the members have proposed what they found'
prev=-1; stable=0
for _ in $(seq 1 120); do
  n=$(for m in "${MEMBERS[@]}"; do "$ACCORDCTL" --config "$DEMO/$m.yaml" matches list -o json 2>/dev/null | grep -o '"name": *"matchDecisions/match-[0-9]*"' || true; done | sort -u | wc -l)
  if [ "$n" -eq "$prev" ] && [ "$n" -gt 0 ]; then stable=$((stable + 1)); else stable=0; fi
  prev=$n
  [ $stable -ge 4 ] && break
  printf '.'; sleep 0.5
done
echo
truth=0
if [ -s "$DEMO/dataset/truth.jsonl" ]; then
  truth=$(grep -c -v '"a": *"\([A-Z]*\)-[^"]*", *"b": *"\1-' "$DEMO/dataset/truth.jsonl" || true)
fi
echo "    $prev match decisions proposed across members (the generator made $truth cross-member pairs of cases of one incident); per member involved:"
for m in "${MEMBERS[@]}"; do
  printf '      %s: %s\n' "$m" "$("$ACCORDCTL" --config "$DEMO/$m.yaml" matches list -o json 2>/dev/null | grep -o '"name": *"matchDecisions/match-[0-9]*"' | wc -l)"
done
for id in $("$ACCORDCTL" --config "$DEMO/PL.yaml" matches list -o json 2>/dev/null | grep -o '"name": *"matchDecisions/match-[0-9]*"' | head -n 2 | sed 's/.*"matchDecisions\/\(match-[0-9]*\)"/\1/'); do
  echo "    ${dim}accordctl --config demo/PL.yaml matches show $id:${reset}"
  "$ACCORDCTL" --config "$DEMO/PL.yaml" matches show "$id" 2>&1 | sed 's/^/      /'
done
ua_id=$("$ACCORDCTL" --config "$DEMO/UA.yaml" matches queue --page-size 1 -o json 2>/dev/null | grep -o '"name": *"matchDecisions/match-[0-9]*"' | head -n 1 | sed 's/.*"matchDecisions\/\(match-[0-9]*\)"/\1/')
if [ -n "$ua_id" ]; then
  echo "    ${dim}accordctl --config demo/UA.yaml matches compare $ua_id (both offices' cases side by side):${reset}"
  "$ACCORDCTL" --config "$DEMO/UA.yaml" matches compare "$ua_id" 2>&1 | sed 's/^/      /' || failed=1
  echo "    ${dim}accordctl --config demo/UA.yaml matches answer-rule --answer yes --min-score 0.99 --shared-evidence 1 (a dry run: nothing is answered):${reset}"
  rule_out=$("$ACCORDCTL" --config "$DEMO/UA.yaml" matches answer-rule --answer yes --min-score 0.99 --shared-evidence 1 2>&1) || failed=1
  printf '%s\n' "$rule_out" | sed -n '1,6s/^/      /p'
  echo "      ..."
  printf '%s\n' "$rule_out" | tail -n 3 | sed 's/^/      /'
fi
[ "$prev" -gt 0 ] || { echo "${red}no matches were found${reset}" >&2; failed=1; }
echo "    ${dim}accordctl --config demo/UA.yaml clusters list --min-cases 3 --limit 5 (pair decisions joined into incidents; docs/matching.md \"Incident clusters\"):${reset}"
"$ACCORDCTL" --config "$DEMO/UA.yaml" clusters list --min-cases 3 --limit 5 2>&1 | sed 's/^/      /' || failed=1
cl=$("$ACCORDCTL" --config "$DEMO/UA.yaml" clusters list --min-cases 3 --limit 1 -o json 2>/dev/null | grep -o '"name": *"clusters/cluster-[0-9]*"' | head -n 1 | sed 's/.*"clusters\/\(cluster-[0-9]*\)"/\1/')
if [ -n "$cl" ]; then
  echo "    ${dim}accordctl --config demo/UA.yaml clusters show $cl:${reset}"
  "$ACCORDCTL" --config "$DEMO/UA.yaml" clusters show "$cl" 2>&1 | sed 's/^/      /' || failed=1
fi

step "The register of interviewed persons: has another member already heard this witness? (docs/person-encodings.md)"
# A victim of one of UA's shared cases, as UA's file writes it; PL's analyst
# asks. The name never leaves PL's node: UA's node evaluates it blinded,
# counted and audited, and learns only that PL's analyst asked.
person=$(grep '"sensitivity":"federation"' "$DEMO/dataset/cases-UA.jsonl" | grep -o '"role":"victim","name":"[^"]*","birth_year":[0-9]*' | head -n 1 || true)
pname=$(sed 's/.*"name":"\([^"]*\)".*/\1/' <<<"$person")
pyear=$(sed 's/.*"birth_year":\([0-9]*\).*/\1/' <<<"$person")
if [ -n "$person" ]; then
  echo "    ${dim}echo \"<the name of one of UA's victims>\" | accordctl --config demo/PL.yaml persons lookup --birth-year $pyear:${reset}"
  "$ACCORDCTL" --config "$DEMO/PL.yaml" persons lookup --birth-year "$pyear" <<<"$pname" 2>&1 | sed 's/^/      /' || failed=1
  echo "    ${dim}accordctl --config demo/UA.yaml audit show --kind evaluated --peer PL (UA learns that PL's analyst asked, not whom nor what answered):${reset}"
  "$ACCORDCTL" --config "$DEMO/UA.yaml" audit show --kind evaluated --peer PL 2>&1 | grep -E 'SEQ|lookup' | tail -n 2 | sed 's/^/      /' || failed=1
fi

step "Summary"
for m in "${MEMBERS[@]}"; do
  h=$("$ACCORDD" health --config "$DEMO/$m.yaml" --timeout 1s >/dev/null 2>&1 && echo "${green}SERVING${reset}" || echo "${red}DOWN${reset}")
  held=0
  for n in $("$ACCORDCTL" --config "$DEMO/$m.yaml" federation status -o json 2>/dev/null | grep -o '"records_held": *"[0-9]*"' | grep -o '[0-9][0-9]*'); do
    held=$((held + n))
  done
  printf '    %s  %s  holds %s records of the other members\n' "$m" "$h" "$held"
done
leader=$("$ACCORDCTL" --config "$DEMO/UA.yaml" registry status -o json 2>/dev/null | grep -o '"leader_id": *"[^"]*"' | head -n 1 | sed 's/.*"\([^"]*\)"$/\1/')
echo "    registry leader: ${leader:-none}"
echo "    match decisions: $prev"

step "PL's office console (accordd's console.listen): a browser signs in with a PL user certificate"
if [ ! -f "$DEMO/pki/PL/users/pl-browser/user.p12" ]; then
  (umask 077; "$ACCORDCTL" certs issue --ca "$DEMO/pki/PL/ca" --user pl-browser --pkcs12 --out "$DEMO/pki/PL/users/pl-browser" >"$DEMO/pki/PL/users/pl-browser.txt")
fi
echo "    to import into a browser: demo/pki/PL/users/pl-browser/user.p12 (its password: demo/pki/PL/users/pl-browser.txt), then open https://127.0.0.1:$(cport_of PL)/"
if command -v curl >/dev/null 2>&1; then
  u="$DEMO/pki/PL/users/pl-browser"
  if curl -sf --cacert "$u/ca.crt" --cert "$u/user.crt" --key "$u/user.key" "https://127.0.0.1:$(cport_of PL)/queue" | grep -q 'pl-browser'; then
    echo "    ${green}served to pl-browser by its certificate${reset} (curl --cert demo/pki/PL/users/pl-browser/user.crt …)"
  else
    echo "    ${red}the office console did not serve pl-browser${reset}"; failed=1
  fi
  ua="$DEMO/pki/UA/users/ua-analyst"
  if curl -s --cacert "$u/ca.crt" --cert "$ua/user.crt" --key "$ua/user.key" "https://127.0.0.1:$(cport_of PL)/queue" >/dev/null 2>&1; then
    echo "    ${red}UA's analyst was served by PL's console${reset}"; failed=1
  else
    echo "    ${green}refused${reset} to UA's analyst (another member's user) in the TLS handshake"
  fi
fi

echo
if [ $failed -ne 0 ]; then echo "${red}Something did not work as it should; see above and demo/logs/.${reset}"; fi
step "Explore (in another terminal while the nodes run)"
cat <<EOF
    $BIN/accordctl --config demo/UA.yaml status
    $BIN/accordctl --config demo/PL.yaml matches list
    $BIN/accordctl --config demo/PL.yaml matches confirm MATCH-ID
    $BIN/accordctl --config demo/UA.yaml matches queue
    $BIN/accordctl --config demo/UA.yaml matches compare MATCH-ID
    $BIN/accordctl --config demo/UA.yaml matches answer-rule --answer yes --min-score 0.99 --shared-evidence 1
    $BIN/accordctl --config demo/UA.yaml console
    $BIN/accordctl --config demo/UA.yaml clusters list --awaiting
    $BIN/accordctl --config demo/UA.yaml clusters confirm CLUSTER-ID --reason "..."
    $BIN/accordctl --config demo/UA.yaml cases list --place Kharkiv
    $BIN/accordctl --config demo/UA.yaml cases get $first
    $BIN/accordctl --config demo/UA.yaml custody show ${first}-E001
    $BIN/accordctl --config demo/UA.yaml cases export --out /tmp/ua.jsonl
    $BIN/accordctl --config demo/UA.yaml peers check --all
    $BIN/accordctl --config demo/DE.yaml registry status
    $BIN/accordctl --config demo/DE.yaml federation cases --place Kharkiv --from 2022-03-01 --to 2022-03-31
    $BIN/accordctl --config demo/DE.yaml federation status
    $BIN/accordctl --config demo/UA.yaml audit verify
    $BIN/accordctl --config demo/PL.yaml jit list
    $BIN/accordctl --config demo/UA.yaml strategy add --kind priority --title "Command responsibility" --jit ${jit:-JIT-ID}
    $BIN/accordctl --config demo/PL.yaml peers check --all -o json
    $BIN/accordctl certs inspect demo/pki/UA/nodes/ua-1/node.crt
    $BIN/accordctl certs bundle inspect demo/pki/trust-bundle.json
    $BIN/accordd health --config demo/DE.yaml
    curl -s http://127.0.0.1:$(mport_of UA)/metrics | grep ^accord_
    tail -f demo/logs/UA.log
EOF

if { [ -t 0 ] && [ -z "${DEMO_STOP:-}" ]; } || [ -n "${DEMO_KEEP:-}" ]; then
  # UA's analyst's web console, on loopback, with the analyst's certificate.
  # Its URL carries the one-time sign-in token: the file is the user's only.
  (umask 077; : >"$DEMO/run/console.out")
  "$ACCORDCTL" --config "$DEMO/UA.yaml" console --no-browser >"$DEMO/run/console.out" 2>"$DEMO/logs/console.log" &
  echo $! >"$DEMO/run/console.pid"
  for _ in $(seq 1 100); do grep -q '^Console: ' "$DEMO/run/console.out" 2>/dev/null && break; sleep 0.1; done
  step "The analysts' console (UA's analyst; the link works once: docs/console.md)"
  grep '^Console: ' "$DEMO/run/console.out" || echo "    the console did not start: see demo/logs/console.log"
  if [ -t 0 ] && [ -z "${DEMO_KEEP:-}" ]; then
    step "The nodes keep running. Press Ctrl-C to stop them."
    while :; do
      for m in "${MEMBERS[@]}"; do alive "$m" || { echo "$m stopped unexpectedly; see demo/logs/$m.log"; stop_nodes; exit 1; }; done
      sleep 1
    done
  fi
  step "The nodes keep running; stop them with: scripts/demo.sh stop (or make demo-clean)"
  exit $failed
fi
step "Stopping the nodes (not on a terminal; DEMO_KEEP=1 keeps them)"
stop_nodes
exit $failed
