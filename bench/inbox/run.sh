#!/usr/bin/env bash
# A contributor's inbox under an attacker's requests (issue 17), against a live cohortd on a
# fresh database of its own: N open requests (default 100,000) posted by one researcher, none of
# which the contributor matches (half with reward 1, below their min_reward; half for another
# country), all newer than the MATCHING requests they do match. Measured, p50/p99 over
# ITERATIONS calls each, in one run:
#  - baseline: the inbox before issue 17 (the 1,000 newest open requests, matched in C), its
#    statement and rules run by the driver on the same database;
#  - coh_svc_inbox's first page (matching in SQL before the limit, then the C rules);
#  - GET /v1/me/inbox through cohortd over one keep-alive connection.
# The requests, the contributor's profile and session are seeded by one INSERT ... SELECT
# (set-up, not measured), then ANALYZE. Everything is dropped at the end.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${COH_BUILD:-$ROOT/build}
# The cluster of scripts/pg.sh; from a git worktree, COH_SCRIPTS names the checkout that runs it.
SCRIPTS=${COH_SCRIPTS:-$ROOT/scripts}
source "$SCRIPTS/common.sh"
N=${BENCH_INBOX_N:-100000}
MATCHING=${BENCH_INBOX_MATCHING:-20}
ITER=${BENCH_INBOX_ITERATIONS:-300}
BI=$B/bench/inbox/bench_inbox
db=cohort_bench_inbox_$$
tmp=$(mktemp -d)
pid=
pgq() { bash "$SCRIPTS/pg.sh" psql -qtAX -v ON_ERROR_STOP=1 -d postgres -c "$1"; }
cleanup() {
  set +e
  [ -n "$pid" ] && { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }
  pgq "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
# A fresh database: any master key will do.
(umask 077; od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$tmp/master.key")
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
get() { sed -n "s/^$1=//p" "$2" | head -1; }

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
load=$(cut -d' ' -f1-3 /proc/loadavg)
# run MIX: a fresh database and cohortd (which migrates it; the shipped floors, k >= 5, hold),
# the seed, the measures into $tmp/MIX.
run() {
  pgq "CREATE DATABASE $db"
  URL="host=$COH_PG_RUN port=$COH_PG_PORT dbname=$db user=$COH_PG_USER"
  local p; p=$(port)
  BASE=http://127.0.0.1:$p
  env COHORT_DATABASE_URL="$URL" COHORT_MASTER_KEY_FILE="$tmp/master.key" COHORT_LISTEN="127.0.0.1:$p" \
    COHORT_METRICS_LISTEN= COHORT_PUBLIC_URL="$BASE" COHORT_CHAIN_RPC_URL= COHORT_RELEASE_WORKERS=0 \
    "$B/cohortd" 2>"$tmp/cohortd.log" &
  pid=$!
  for _ in $(seq 100); do curl -fs "$BASE/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  curl -fs "$BASE/healthz" >/dev/null || { cat "$tmp/cohortd.log" >&2; exit 1; }
  local t0; t0=$(date +%s.%N)
  "$BI" seed "$URL" "$N" "$MATCHING" "$1" >"$tmp/seed"
  seed_s=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
  "$BI" measure "$URL" "$BASE" "$(get ADDRESS "$tmp/seed")" "$(get TOKEN "$tmp/seed")" "$ITER" >"$tmp/$1" || {
    cat "$tmp/$1" >&2; tail -5 "$tmp/cohortd.log" >&2; exit 1; }
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=
  pgq "DROP DATABASE $db WITH (FORCE)"
}
run cheap
run mixed
pgver=$(pgq "SHOW server_version")

echo "Machine: $(nproc) cores, $cpu; PostgreSQL $pgver. Client, cohortd and PostgreSQL share"
echo "the cores. Load average when the run started: $load (anything above ~0.5 is another workload)."
echo
echo "\`bench/inbox/run.sh\`: $(printf "%'d" "$N") open requests of one researcher that the contributor does"
echo "not match, all newer than the $MATCHING requests they match: *cheap*, all with reward 1 (below"
echo "their min_reward of 1000: the attack of issue 17); *mixed*, half so and half at the full reward"
echo "for another country. Seeded by one INSERT ... SELECT and ANALYZE (${seed_s} s; set-up, not"
echo "measured), on a fresh database each. $ITER calls each after 10 warm-up calls, one at a time."
echo
echo "| $(nproc) cores, $cpu | cheap p50 ms | cheap p99 ms | mixed p50 ms | mixed p99 ms | matches on the first page |"
echo "|---|---:|---:|---:|---:|---:|"
for k in old svc http; do
  case $k in
    old) what="inbox before issue 17: 1,000 newest open requests, then the C rules (baseline)" ;;
    svc) what="\`coh_svc_inbox\`, first page (limit 50): SQL matching, then the C rules" ;;
    http) what="**GET /v1/me/inbox through cohortd**" ;;
  esac
  echo "| $what | $(get ${k}_p50_ms "$tmp/cheap") | $(get ${k}_p99_ms "$tmp/cheap") | $(get ${k}_p50_ms "$tmp/mixed") | $(get ${k}_p99_ms "$tmp/mixed") | $(get ${k}_matches "$tmp/cheap") / $(get ${k}_matches "$tmp/mixed") of $MATCHING |"
done
echo
echo "Target: p99 under 50 ms for GET /v1/me/inbox with $(printf "%'d" "$N") open requests."
