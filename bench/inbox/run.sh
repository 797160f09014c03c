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
source "$ROOT/scripts/common.sh"
N=${BENCH_INBOX_N:-100000}
MATCHING=${BENCH_INBOX_MATCHING:-20}
ITER=${BENCH_INBOX_ITERATIONS:-300}
BI=$B/bench/inbox/bench_inbox
db=cohort_bench_inbox_$$
tmp=$(mktemp -d)
pid=
pgq() { bash "$ROOT/scripts/pg.sh" psql -qtAX -v ON_ERROR_STOP=1 -d postgres -c "$1"; }
cleanup() {
  set +e
  [ -n "$pid" ] && { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; }
  pgq "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
  rm -rf "$tmp"
}
trap cleanup EXIT
install -m 0600 "$ROOT/var/master.key" "$tmp/master.key"
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
get() { sed -n "s/^$1=//p" "$2" | head -1; }

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
load=$(cut -d' ' -f1-3 /proc/loadavg)
pgq "CREATE DATABASE $db"
URL="host=$COH_PG_RUN port=$COH_PG_PORT dbname=$db user=$COH_PG_USER"
p=$(port)
BASE=http://127.0.0.1:$p
# cohortd migrates the fresh database; the shipped floors (k >= 5) hold.
env COHORT_DATABASE_URL="$URL" COHORT_MASTER_KEY_FILE="$tmp/master.key" COHORT_LISTEN="127.0.0.1:$p" \
  COHORT_METRICS_LISTEN= COHORT_PUBLIC_URL="$BASE" COHORT_CHAIN_RPC_URL= COHORT_RELEASE_WORKERS=0 \
  "$B/cohortd" 2>"$tmp/cohortd.log" &
pid=$!
for _ in $(seq 100); do curl -fs "$BASE/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fs "$BASE/healthz" >/dev/null || { cat "$tmp/cohortd.log" >&2; exit 1; }
t0=$(date +%s.%N)
"$BI" seed "$URL" "$N" "$MATCHING" >"$tmp/seed"
seed_s=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')
"$BI" measure "$URL" "$BASE" "$(get ADDRESS "$tmp/seed")" "$(get TOKEN "$tmp/seed")" "$ITER" >"$tmp/m" || {
  cat "$tmp/m" >&2; tail -5 "$tmp/cohortd.log" >&2; exit 1; }
m=$tmp/m
pgver=$(pgq "SHOW server_version")

echo "Machine: $(nproc) cores, $cpu; PostgreSQL $pgver. Client, cohortd and PostgreSQL share"
echo "the cores. Load average when the run started: $load (anything above ~0.5 is another workload)."
echo
echo "\`bench/inbox/run.sh\`: $(printf "%'d" "$N") open requests of one researcher that the contributor does"
echo "not match (half reward 1 below their min_reward of 1000, half for another country), all newer"
echo "than the $MATCHING requests they match; seeded by one INSERT ... SELECT and ANALYZE in ${seed_s} s"
echo "(set-up, not measured). $ITER calls each after 10 warm-up calls, one at a time."
echo
echo "| $(nproc) cores, $cpu | p50 ms | p99 ms | max ms | matches on the first page |"
echo "|---|---:|---:|---:|---:|"
echo "| inbox before issue 17: 1,000 newest open requests, then the C rules (baseline) | $(get old_p50_ms "$m") | $(get old_p99_ms "$m") | $(get old_max_ms "$m") | $(get old_matches "$m") of $MATCHING |"
echo "| \`coh_svc_inbox\`, first page (limit 50): SQL matching, then the C rules | $(get svc_p50_ms "$m") | $(get svc_p99_ms "$m") | $(get svc_max_ms "$m") | $(get svc_matches "$m") of $MATCHING |"
echo "| **GET /v1/me/inbox through cohortd** | **$(get http_p50_ms "$m")** | **$(get http_p99_ms "$m")** | $(get http_max_ms "$m") | $(get http_matches "$m") of $MATCHING |"
echo
echo "Target: p99 under 50 ms for GET /v1/me/inbox with $(printf "%'d" "$N") open requests."
