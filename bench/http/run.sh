#!/usr/bin/env bash
# GET /healthz through cohortd vs. a minimal civetweb program (the ceiling), both driven by
# wrk on loopback for a bounded time with the same threads and connections. cohortd's access
# log goes to a file, as in production.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${COH_BUILD:-$ROOT/build}
source "$ROOT/scripts/common.sh"
DUR=${BENCH_HTTP_SECONDS:-8}
CONNS=${BENCH_HTTP_CONNS:-32}
tmp=$(mktemp -d); trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$tmp"' EXIT
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 100); do curl -fs "$1" >/dev/null && return 0; sleep 0.1; done; return 1; }
measure() { # url -> "req/s p50_ms p99_ms"
  wrk -t2 -c"$CONNS" -d"${DUR}s" --latency "$1" > "$tmp/wrk.txt"
  awk '/Requests\/sec/{r=$2} /^ +50%/{p50=$2} /^ +99%/{p99=$2} END{print r, p50, p99}' "$tmp/wrk.txt"
}
to_ms() { awk -v v="$1" 'BEGIN{ if (v ~ /us$/) printf "%.3f", v/1000; else if (v ~ /ms$/) printf "%.3f", v+0; else printf "%.3f", v*1000 }'; }

p1=$(port); "$B/bench/http/bench_civetweb_min" "$p1" "$CONNS" & wait_up "http://127.0.0.1:$p1/healthz"
read -r base_rps base_p50 base_p99 < <(measure "http://127.0.0.1:$p1/healthz")
kill %1; wait %1 2>/dev/null || true

# A database of its own, dropped afterwards: the bench never touches the run command's data.
(umask 077; od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > "$tmp/mk")
db=cohort_bench_http_$$
bash "$ROOT/scripts/pg.sh" psql -d postgres -qc "CREATE DATABASE $db"
trap 'kill $(jobs -p) 2>/dev/null; wait; bash "$ROOT/scripts/pg.sh" psql -d postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)"; rm -rf "$tmp"' EXIT
p2=$(port)
COHORT_DATABASE_URL="host=$COH_PG_RUN port=$COH_PG_PORT dbname=$db user=$COH_PG_USER" \
  COHORT_MASTER_KEY_FILE="$tmp/mk" COHORT_LISTEN="127.0.0.1:$p2" COHORT_METRICS_LISTEN= \
  COHORT_HTTP_THREADS="$CONNS" COHORT_CHAIN_RPC_URL= "$B/cohortd" 2> "$tmp/cohortd.log" &
wait_up "http://127.0.0.1:$p2/healthz" || { cat "$tmp/cohortd.log" >&2; exit 1; }
read -r coh_rps coh_p50 coh_p99 < <(measure "http://127.0.0.1:$p2/healthz")

echo "wrk -t2 -c$CONNS -d${DUR}s on loopback, GET /healthz"
echo
echo "| server | requests/s | p50 ms | p99 ms | vs ceiling |"
echo "|---|---:|---:|---:|---:|"
printf '| minimal civetweb (ceiling) | %s | %s | %s | 100%% |\n' "$base_rps" "$(to_ms "$base_p50")" "$(to_ms "$base_p99")"
printf '| cohortd (router, metrics, JSON access log) | %s | %s | %s | %s%% |\n' "$coh_rps" "$(to_ms "$coh_p50")" "$(to_ms "$coh_p99")" \
  "$(awk -v a="$coh_rps" -v b="$base_rps" 'BEGIN{printf "%.1f", 100*a/b}')"
