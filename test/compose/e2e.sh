#!/usr/bin/env bash
# End-to-end test of the compose federation (docker-compose.yml): five
# members, one container each. It
#
#   1. brings the federation up and waits until every container is healthy;
#   2. waits for the registry: all five agree on one leader;
#   3. imports a few generated cases into every member (accordctl in the
#      member's container, as its analyst) and waits until each member holds
#      every other member's shared records (the federation index);
#   4. stops the registry leader's container and checks that the other four
#      elect a new leader and that writes still succeed: a strategy entry
#      through a surviving member, and more cases imported into another;
#   5. starts the stopped container again and checks that it catches up: its
#      registry applied index reaches the others', it has the strategy entry
#      in its own copy, and its federation index holds the other members'
#      records, those imported while it was down included;
#   6. cuts the (new) leader's container off the federation network (docker
#      network disconnect, a real partition): the other four elect a leader
#      and take a registry write and an import; reconnected, it catches up
#      in the registry and in its federation index;
#   7. tears everything down, volumes included (also on failure or Ctrl-C).
#
# Usage: test/compose/e2e.sh   (make test-compose builds what it needs first:
# bin/accordctl, the image accord-node:dev, the certificates)
#
# Environment:
#   E2E_PROJECT   compose project name (default accord-e2e), so that the test
#                 leaves a federation of `make compose-up` alone
#   E2E_STOP      how the leader is stopped: stop (SIGTERM, graceful; the
#                 default) or kill (SIGKILL, as a crash)
#   E2E_TIMEOUT   seconds each wait may take (default 120)
#   COMPOSE       the compose command (default: docker compose if it works,
#                 else docker-compose)
#   E2E_KEEP=1    leave the federation running at the end (for debugging;
#                 docker-compose -p accord-e2e down -v removes it)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
PROJECT=${E2E_PROJECT:-accord-e2e}
STOP_MODE=${E2E_STOP:-stop}
TIMEOUT=${E2E_TIMEOUT:-120}
ACCORDCTL=$ROOT/bin/accordctl
IMAGE=accord-node:dev
CFG=/etc/accord/accord.yaml # each member's configuration inside its container
SERVICES=(ua-1 pl-1 de-1 lt-1 nl-1)
FEDERATION=accord.compose
SEED_CASES=30   # cases imported into every member at first
MORE_CASES=50   # cases in the second import during the outage (the first 30 are the same)
if [ -n "${COMPOSE:-}" ]; then read -r -a COMPOSE <<<"$COMPOSE"      # e.g. COMPOSE="docker compose"
elif docker compose version >/dev/null 2>&1; then COMPOSE=(docker compose)
else COMPOSE=(docker-compose); fi
COMPOSE+=(-p "$PROJECT" -f "$ROOT/docker-compose.yml")

bold=; green=; red=; dim=; reset=
if [ -t 1 ]; then bold=$'\e[1m'; green=$'\e[32m'; red=$'\e[31m'; dim=$'\e[2m'; reset=$'\e[0m'; fi
start=$(date +%s)
elapsed() { echo $(( $(date +%s) - start )); }
step() { printf '%s[%4ds] ==> %s%s\n' "$bold" "$(elapsed)" "$*" "$reset"; }
info() { printf '         %s\n' "$*"; }
CHECKS=()
ok() { CHECKS+=("$*"); printf '         %sok%s  %s\n' "$green" "$reset" "$*"; }
FAILED=
fail() { FAILED="$*"; printf '         %sFAIL%s %s\n' "$red" "$reset" "$*" >&2; exit 1; }

# ---- teardown and summary, also on failure and Ctrl-C ----

diagnose() {
  echo "---- docker-compose ps" >&2
  "${COMPOSE[@]}" ps >&2 2>&1 || true
  local s
  for s in "${SERVICES[@]}"; do
    echo "---- last log lines of $s" >&2
    "${COMPOSE[@]}" logs --no-color --tail 15 "$s" 2>&1 | cut -c1-400 >&2 || true
  done
}
finish() {
  local rc=$?
  trap - EXIT INT TERM
  rm -rf "$TMPD"
  if [ $rc -ne 0 ]; then
    [ -n "$FAILED" ] || FAILED="the script stopped (exit status $rc) at: ${BASH_COMMAND:-?}"
    diagnose
  fi
  if [ -n "${E2E_KEEP:-}" ]; then
    step "E2E_KEEP set: the federation keeps running (${COMPOSE[*]} down -v removes it)"
  else
    step "Tearing down (docker-compose down -v)"
    "${COMPOSE[@]}" down -v --remove-orphans >/dev/null 2>&1 || echo "    docker-compose down -v failed" >&2
  fi
  echo
  if [ $rc -eq 0 ]; then
    printf '%sPASS%s compose e2e: %d checks in %ds\n' "$green" "$reset" "${#CHECKS[@]}" "$(elapsed)"
    for c in "${CHECKS[@]}"; do printf '  ok  %s\n' "$c"; done
  else
    printf '%sFAIL%s compose e2e after %ds: %s\n' "$red" "$reset" "$(elapsed)" "$FAILED"
    for c in "${CHECKS[@]}"; do printf '  ok  %s\n' "$c"; done
  fi
  exit $rc
}
TMPD=$(mktemp -d)
trap finish EXIT
trap 'FAILED="interrupted"; exit 130' INT TERM

# ---- helpers ----

# wait_for DESC CMD...: runs CMD every second until it succeeds, at most
# TIMEOUT seconds; fails the test with DESC otherwise.
wait_for() {
  local desc=$1 t0 n=0; shift
  t0=$(date +%s)
  while ! "$@" >/dev/null 2>&1; do
    if [ $(( $(date +%s) - t0 )) -ge "$TIMEOUT" ]; then
      [ $n -gt 0 ] && echo
      fail "$desc: not within ${TIMEOUT}s"
    fi
    if [ $n -eq 0 ]; then printf '         %swaiting: %s%s ' "$dim" "$desc" "$reset"; fi
    n=$((n + 1)); printf '.'; sleep 1
  done
  [ $n -gt 0 ] && echo
  WAITED=$(( $(date +%s) - t0 ))
}

# The containers of the services, looked up once after `up` (a container is
# kept across stop and start); docker exec is much faster than compose exec.
declare -A CID=()
load_cids() { local s; for s in "${SERVICES[@]}"; do CID[$s]=$("${COMPOSE[@]}" ps -q "$s"); [ -n "${CID[$s]}" ] || fail "no container for $s"; done; }
cid() { [ -n "${CID[$1]:-}" ] || { echo "no container for $1" >&2; return 1; }; echo "${CID[$1]}"; }
# ctl SERVICE ARGS...: accordctl in the service's container, as its analyst.
ctl() { local s=$1; shift; docker exec -i "$(cid "$s")" /usr/local/bin/accordctl --config "$CFG" "$@"; }
member_of() { tr '[:lower:]' '[:upper:]' <<<"${1%-1}"; }   # ua-1 -> UA
node_id() { echo "spiffe://$FEDERATION/member/$(member_of "$1")/node/$1"; }
service_of() { echo "${1##*/}"; }                          # spiffe://.../node/ua-1 -> ua-1

# JSON is read with grep and sed (no jq needed): compact it first.
compact() { tr -d ' \n\t'; }
field() { grep -o "\"$1\":\"[^\"]*\"" | head -n 1 | cut -d'"' -f4; }   # first "KEY":"VALUE"
reg() { ctl "$1" registry status -o json --timeout 10s | compact; }
fed() { ctl "$1" federation status -o json --timeout 10s | compact; }
# reg_all/fed_all SERVICES...: the status of each, asked in parallel (while a
# registry server is down, registry status waits some seconds for it), into
# REG_JS[service] / FED_JS[service]; fail when one did not answer.
declare -A REG_JS=() FED_JS=()
reg_all() {
  local s; REG_JS=()
  for s in "$@"; do { reg "$s" >"$TMPD/reg.$s" 2>/dev/null || : >"$TMPD/reg.$s"; } & done
  wait
  for s in "$@"; do REG_JS[$s]=$(<"$TMPD/reg.$s"); [ -n "${REG_JS[$s]}" ] || return 1; done
}
fed_all() {
  local s; FED_JS=()
  for s in "$@"; do { fed "$s" >"$TMPD/fed.$s" 2>/dev/null || : >"$TMPD/fed.$s"; } & done
  wait
  for s in "$@"; do FED_JS[$s]=$(<"$TMPD/fed.$s"); [ -n "${FED_JS[$s]}" ] || return 1; done
}
# held JSON MEMBER: records_held of MEMBER in a compact federation status.
held() { sed 's/},{/}\n{/g' <<<"$1" | grep "\"member\":\"$2\"" | field records_held; }

healthy() { [ "$(docker inspect -f '{{.State.Health.Status}}' "$(cid "$1")")" = healthy ]; }
all_healthy() { local s; for s in "$@"; do healthy "$s" || return 1; done; }

# leader_agreed SERVICES...: every one names the same leader, one of them
# (sets LEADER).
leader_agreed() {
  local s l first=
  reg_all "$@" || return 1
  for s in "$@"; do
    l=$(field leader_id <<<"${REG_JS[$s]}")
    [ -n "$l" ] || return 1
    [ -z "$first" ] || [ "$l" = "$first" ] || return 1
    first=$l
  done
  local in=
  for s in "$@"; do [ "$(node_id "$s")" = "$first" ] && in=1; done
  [ -n "$in" ] || return 1
  LEADER=$(service_of "$first")
}

# peer JSON MEMBER: MEMBER's entry in a compact federation status.
peer() { sed 's/},{/}\n{/g' <<<"$1" | grep "\"member\":\"$2\""; }

# all_synced SERVICES...: each of SERVICES is connected to the others' nodes,
# lags behind none of them, has nothing pending in its feed, and holds as
# many records of each member as the other services hold.
all_synced() {
  local s o p m h first
  fed_all "$@" || return 1
  local -A js=()
  for s in "$@"; do js[$s]=${FED_JS[$s]}; done
  for s in "$@"; do
    grep -q '"feed_pending":"0"' <<<"${js[$s]}" || return 1
    for o in "$@"; do
      [ "$o" = "$s" ] && continue
      p=$(peer "${js[$s]}" "$(member_of "$o")")
      grep -q '"connected":true' <<<"$p" && grep -q '"lag_records":"0"' <<<"$p" || return 1
    done
  done
  for o in "$@"; do
    m=$(member_of "$o"); first=
    for s in "$@"; do
      [ "$s" = "$o" ] && continue
      h=$(held "${js[$s]}" "$m"); [ -n "$h" ] || return 1
      [ -z "$first" ] || [ "$h" = "$first" ] || return 1
      first=$h
    done
  done
}

# records_of SERVICE MEMBER: what SERVICE holds of MEMBER's records.
records_of() { held "$(fed "$1")" "$2"; }
applied() { reg "$1" | field applied_index; }
max_applied() { local s a m=0; reg_all "$@" || return 1; for s in "$@"; do a=$(field applied_index <<<"${REG_JS[$s]}"); [ "${a:-0}" -gt $m ] && m=$a; done; echo $m; }

# import SERVICE N: generated cases of the service's member (the first N of
# seed 1: a larger N keeps the first ones and adds more).
# Prints the import's summary; its progress and errors go to $TMPD/import.err.
import_cases() {
  "$ACCORDCTL" cases generate --member "$(member_of "$1")" --cases "$2" --seed 1 2>"$TMPD/import.err" |
    ctl "$1" cases import - 2>>"$TMPD/import.err" | tail -n 1
}

# ---- 0. prerequisites ----

step "Prerequisites"
docker info >/dev/null 2>&1 || fail "no Docker engine (docker info failed)"
command -v "${COMPOSE[0]}" >/dev/null || fail "${COMPOSE[0]} not found"
[ -x "$ACCORDCTL" ] || fail "$ACCORDCTL missing: run make build (or make test-compose)"
docker image inspect "$IMAGE" >/dev/null 2>&1 || fail "image $IMAGE missing: run make image (or make test-compose)"
case $STOP_MODE in stop|kill) ;; *) fail "E2E_STOP=$STOP_MODE: must be stop or kill" ;; esac
bash "$ROOT/deploy/compose/certs.sh" | tail -n 1 | sed 's/^/         /'
"${COMPOSE[@]}" config -q || fail "docker-compose.yml does not validate"
ok "docker-compose.yml validates; image $IMAGE, certificates in deploy/compose/out/pki"

# ---- 1. up ----

step "Bringing up the federation (project $PROJECT)"
"${COMPOSE[@]}" down -v --remove-orphans >/dev/null 2>&1 || true  # what an interrupted run left
t0=$(date +%s)
"${COMPOSE[@]}" up -d >>"$TMPD/compose.log" 2>&1 || { cat "$TMPD/compose.log" >&2; fail "docker-compose up -d failed"; }
load_cids
wait_for "every container healthy (accordd health)" all_healthy "${SERVICES[@]}"
ok "5 containers up and healthy $(( $(date +%s) - t0 ))s after docker-compose up"

# ---- 2. registry ----

step "Registry: one leader for all five"
wait_for "all five agree on a registry leader" leader_agreed "${SERVICES[@]}"
voters=$(reg "${SERVICES[0]}" | grep -o '"suffrage":"Voter"' | wc -l)
[ "$voters" -eq 5 ] || fail "registry has $voters voters, want 5"
ok "registry leader $LEADER, 5 voters, after ${WAITED}s"

# The published local API from the host (127.0.0.1 only), with UA's analyst.
addr=$("${COMPOSE[@]}" port ua-1 7500)
case $addr in 127.0.0.1:*) ;; *) fail "ua-1's local API is published on '$addr', want 127.0.0.1:PORT" ;; esac
pki=$ROOT/deploy/compose/out/pki
"$ACCORDCTL" --client-cert "$pki/UA/users/ua-analyst/user.crt" --client-key "$pki/UA/users/ua-analyst/user.key" \
  --tls-bundle "$pki/trust-bundle.json" --server "$addr" registry status -o json | compact | grep -q '"bootstrapped":true' ||
  fail "accordctl on the host could not read the registry through $addr"
ok "ua-1's local API answers accordctl on the host at $addr"

# ---- 3. cases and sync ----

step "Cases: $SEED_CASES generated cases into every member, then sync"
for s in "${SERVICES[@]}"; do
  out=$(import_cases "$s" $SEED_CASES) || fail "import into $s failed: $(tail -n 3 "$TMPD/import.err")"
  info "$(member_of "$s"): $out"
done
wait_for "every member holds every other member's shared records" all_synced "${SERVICES[@]}"
line=
for s in "${SERVICES[@]}"; do
  m=$(member_of "$s"); o=${SERVICES[0]}; [ "$o" = "$s" ] && o=${SERVICES[1]}
  n=$(records_of "$o" "$m"); [ "${n:-0}" -gt 0 ] || fail "no shared records of $m reached $o"
  line+="$m $n  "
done
ok "federation index in sync after ${WAITED}s (shared records per member: $line)"

# ---- 4. the leader stops ----

wait_for "a registry leader" leader_agreed "${SERVICES[@]}"
OLD=$LEADER
SURVIVORS=(); for s in "${SERVICES[@]}"; do [ "$s" = "$OLD" ] || SURVIVORS+=("$s"); done
step "Stopping the registry leader's container $OLD (docker-compose $STOP_MODE)"
t0=$(date +%s)
if [ "$STOP_MODE" = kill ]; then "${COMPOSE[@]}" kill -s SIGKILL "$OLD" >>"$TMPD/compose.log" 2>&1
else "${COMPOSE[@]}" stop -t 20 "$OLD" >>"$TMPD/compose.log" 2>&1; fi
[ "$(docker inspect -f '{{.State.Running}}' "$(cid "$OLD")")" = false ] || fail "$OLD is still running"
ok "$OLD stopped in $(( $(date +%s) - t0 ))s"
t0=$(date +%s)
wait_for "the other four agree on a new leader" leader_agreed "${SURVIVORS[@]}"
NEW=$LEADER
[ "$NEW" != "$OLD" ] || fail "the leader is still $OLD"
ok "the other four agree on a new registry leader, $NEW, $(( $(date +%s) - t0 ))s after $OLD stopped"

# A write through a survivor that is not the leader (it goes to the leader).
W=; for s in "${SURVIVORS[@]}"; do [ "$s" = "$NEW" ] || { W=$s; break; }; done
rid="e2e-$(date +%s)-$$"
title="Compose e2e: written while $OLD was down"
add_entry() { ENTRY=$(ctl "$W" strategy add --kind priority --title "$title" --request-id "$rid" -o json --timeout 10s | compact | field name); [ -n "$ENTRY" ]; }
wait_for "strategy add through $W (retried with one request id)" add_entry
ok "strategy add through $W succeeded: entry $ENTRY"
want=$(max_applied "${SURVIVORS[@]}")
[ -n "$want" ] || fail "the survivors did not report their registry applied index"
ok "registry applied index of the survivors: $want"

# Cases imported while the old leader is down, into another survivor.
C=${SURVIVORS[0]}; [ "$C" = "$W" ] && C=${SURVIVORS[1]}
cm=$(member_of "$C")
before=$(records_of "$W" "$cm")
out=$(import_cases "$C" $MORE_CASES) || fail "import into $C failed: $(tail -n 3 "$TMPD/import.err")"
info "$cm: $out"
wait_for "the survivors hold $cm's new records" all_synced "${SURVIVORS[@]}"
after=$(records_of "$W" "$cm")
[ "${after:-0}" -gt "${before:-0}" ] || fail "$W holds $after records of $cm after the import, before $before: nothing new to catch up"
ok "$cm's shared records at the survivors: $before -> $after"

# ---- 5. the old leader comes back ----

step "Starting $OLD again"
t0=$(date +%s)
"${COMPOSE[@]}" start "$OLD" >>"$TMPD/compose.log" 2>&1 || fail "docker-compose start $OLD failed: $(tail -n 3 "$TMPD/compose.log")"
wait_for "$OLD healthy" all_healthy "$OLD"
ok "$OLD healthy $(( $(date +%s) - t0 ))s after start"

# Caught up: OLD has applied what the survivors had applied after the write,
# knows the leader, and the leader counts it reachable and a voter again.
caught_up_registry() {
  local js a l
  js=$(reg "$OLD") || return 1
  a=$(field applied_index <<<"$js")
  l=$(field leader_id <<<"$js")
  [ "${a:-0}" -ge "$want" ] && [ -n "$l" ] || return 1
  sed 's/},{/}\n{/g' <<<"$(reg "$(service_of "$l")")" | grep "\"id\":\"$(node_id "$OLD")\"" |
    grep '"suffrage":"Voter"' | grep -q '"reachable":true'
}
wait_for "$OLD's applied index reaches $want" caught_up_registry
ok "$OLD's registry caught up: applied index $(applied "$OLD") >= $want, leader $(service_of "$(reg "$OLD" | field leader_id)") counts it a reachable voter"
ctl "$OLD" strategy list --stale -o json | compact | grep -q "\"name\":\"$ENTRY\"" ||
  fail "$OLD's own copy of the registry lacks strategy entry $ENTRY"
ok "$OLD's own copy (--stale) has strategy entry $ENTRY written while it was down"

wait_for "$OLD's federation index catches up" all_synced "${SERVICES[@]}"
got=$(records_of "$OLD" "$cm")
[ "$got" = "$after" ] || fail "$OLD holds $got records of $cm, the others $after"
ok "$OLD's federation index caught up after ${WAITED}s: $got records of $cm (imported while it was down), every member in step"

# ---- 6. the leader is cut off the federation network, then reconnected ----

wait_for "a registry leader" leader_agreed "${SERVICES[@]}"
CUT=$LEADER
REST=(); for s in "${SERVICES[@]}"; do [ "$s" = "$CUT" ] || REST+=("$s"); done
NET=$(docker inspect -f '{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}' "$(cid "$CUT")")
[ -n "$NET" ] || fail "cannot tell $CUT's network"
step "Partition: disconnecting the registry leader $CUT from $NET (docker network disconnect)"
t0=$(date +%s)
docker network disconnect "$NET" "$(cid "$CUT")" >>"$TMPD/compose.log" 2>&1 || fail "docker network disconnect $CUT failed"
wait_for "the other four agree on a new leader" leader_agreed "${REST[@]}"
[ "$LEADER" != "$CUT" ] || fail "the leader is still $CUT, cut off"
ok "$CUT cut off the network; the other four agree on $LEADER after $(( $(date +%s) - t0 ))s"
W=; for s in "${REST[@]}"; do [ "$s" = "$LEADER" ] || { W=$s; break; }; done
rid="e2e-cut-$(date +%s)-$$"
title="Compose e2e: written while $CUT was cut off"
wait_for "strategy add through $W while $CUT is cut off" add_entry
ok "strategy add through $W succeeded while $CUT was cut off: entry $ENTRY"
want=$(max_applied "${REST[@]}")
[ -n "$want" ] || fail "the connected nodes did not report their registry applied index"
wm=$(member_of "$W")
before=$(records_of "$LEADER" "$wm")
out=$(import_cases "$W" $((2 * MORE_CASES))) || fail "import into $W failed: $(tail -n 3 "$TMPD/import.err")"
info "$wm: $out"
wait_for "the connected nodes hold $wm's new records" all_synced "${REST[@]}"
after=$(records_of "$LEADER" "$wm")
[ "${after:-0}" -gt "${before:-0}" ] || fail "$LEADER holds $after records of $wm after the import, before $before"
ok "$wm's shared records at the connected nodes while $CUT is cut off: $before -> $after"
step "Healing: reconnecting $CUT (docker network connect, alias $CUT)"
t0=$(date +%s)
docker network connect --alias "$CUT" "$NET" "$(cid "$CUT")" >>"$TMPD/compose.log" 2>&1 || fail "docker network connect $CUT failed"
OLD=$CUT
wait_for "$CUT's applied index reaches $want" caught_up_registry
ok "$CUT back in the group $(( $(date +%s) - t0 ))s after reconnecting: applied index $(applied "$CUT") >= $want"
ctl "$CUT" strategy list --stale -o json | compact | grep -q "\"name\":\"$ENTRY\"" ||
  fail "$CUT's own copy of the registry lacks strategy entry $ENTRY"
ok "$CUT's own copy (--stale) has strategy entry $ENTRY written while it was cut off"
wait_for "$CUT's federation index catches up" all_synced "${SERVICES[@]}"
got=$(records_of "$CUT" "$wm")
[ "$got" = "$after" ] || fail "$CUT holds $got records of $wm, the others $after"
ok "$CUT's federation index caught up after ${WAITED}s: $got records of $wm (imported while it was cut off), every member in step"

step "Final state"
wait_for "all five healthy and agreed on a leader" eval 'all_healthy "${SERVICES[@]}" && leader_agreed "${SERVICES[@]}"'
ok "5 containers healthy, registry leader $LEADER"
