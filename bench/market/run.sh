#!/usr/bin/env bash
# The marketplace against a live cohortd on a fresh database of its own, fsync on:
#  (a) sealed contributions accepted per second over HTTP, many signed-in contributors at
#      once, beside baselines measured in the same run (raw crypto_box_seal_open, the same
#      client loop on GET /healthz);
#  (b) the end-to-end release of 100,000 contributions: POST /close until status=released
#      with every reward posted, and cohortd's peak RSS.
# Accounts, sessions, consents (really signed) and, for (b), the sealed contributions are
# seeded through COPY: that is set-up, not what is measured. Everything is dropped at the end.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${COH_BUILD:-$ROOT/build}
source "$ROOT/scripts/common.sh"
CLIENTS=${BENCH_MARKET_CLIENTS:-64}
REQUESTS=${BENCH_MARKET_REQUESTS:-200}
DUR=${BENCH_MARKET_SECONDS:-10}
N=${BENCH_MARKET_N:-100000}
HTTP_THREADS=${BENCH_MARKET_HTTP_THREADS:-$CLIENTS} # civetweb holds a thread per keep-alive connection
POOL=${BENCH_MARKET_DB_POOL:-16}
BM=$B/bench/market/bench_market
db=coh_bench_market_$$
tmp=$(mktemp -d)
pids=()
pgq() { bash "$ROOT/scripts/pg.sh" psql -qtAX -v ON_ERROR_STOP=1 -d postgres -c "$1"; }
cleanup() {
  set +e
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  for d in a b; do pgq "DROP DATABASE IF EXISTS ${db}_$d WITH (FORCE)" >/dev/null 2>&1 || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT
install -m 0600 "$ROOT/var/master.key" "$tmp/master.key"
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
dburl() { echo "host=$COH_PG_RUN port=$COH_PG_PORT dbname=${db}_$1 user=$COH_PG_USER"; }

# start DB: a fresh database and a cohortd on it; sets BASE, PID, URL, RESEARCHER (funded).
start() {
  pgq "CREATE DATABASE ${db}_$1"
  URL=$(dburl "$1")
  local p; p=$(port)
  BASE=http://127.0.0.1:$p
  env COHORT_DATABASE_URL="$URL" COHORT_MASTER_KEY_FILE="$tmp/master.key" COHORT_LISTEN="127.0.0.1:$p" COHORT_METRICS_LISTEN= \
    COHORT_PUBLIC_URL="$BASE" COHORT_RELEASE_POLL_MS=50 COHORT_HTTP_THREADS="$HTTP_THREADS" \
    COHORT_DB_POOL_SIZE="$POOL" "$B/cohortd" 2>"$tmp/cohortd.$1.log" &
  PID=$!
  pids+=("$PID")
  for _ in $(seq 100); do curl -fs "$BASE/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  curl -fs "$BASE/healthz" >/dev/null || { cat "$tmp/cohortd.$1.log" >&2; exit 1; }
  RESEARCHER=0x$(od -An -tx1 -N20 /dev/urandom | tr -d ' \n')
  COHORT_DATABASE_URL="$URL" COHORT_MASTER_KEY_FILE="$tmp/master.key" \
    "$B/src/cli/cohort" ledger deposit --address "$RESEARCHER" --amount 1000000000000000 >/dev/null
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; }
# get NAME FILE: the value of NAME=... in FILE
get() { sed -n "s/^$1=//p" "$2" | head -1; }
fmt() { printf '%.0f' "$1"; }

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
load=$(cut -d' ' -f1-3 /proc/loadavg)
fsync=$(pgq "SHOW fsync"); sync=$(pgq "SHOW synchronous_commit")

"$BM" open >"$tmp/open"
start a
"$BM" healthz "$BASE" "$CLIENTS" 3 >"$tmp/healthz"
"$BM" contrib "$URL" "$BASE" "$RESEARCHER" "$CLIENTS" "$REQUESTS" "$DUR" >"$tmp/contrib" || {
  cat "$tmp/contrib" >&2; tail -5 "$tmp/cohortd.a.log" >&2; exit 1; }
stop
start b
"$BM" release "$URL" "$BASE" "$RESEARCHER" "$N" "$PID" >"$tmp/release" || {
  cat "$tmp/release" >&2; tail -5 "$tmp/cohortd.b.log" >&2; exit 1; }
stop

c=$tmp/contrib r=$tmp/release
echo "Machine: $(nproc) cores, $cpu. PostgreSQL fsync=$fsync, synchronous_commit=$sync (every"
echo "accepted contribution is a durable commit). cohortd: http_threads=$HTTP_THREADS,"
echo "db_pool_size=$POOL, one release worker; client, cohortd and PostgreSQL share the cores."
echo "Load average when the run started: $load (anything above ~0.5 is another workload)."
echo
echo "### (a) Sealed contributions over HTTP"
echo
echo "\`bench/market/run.sh\`: $CLIENTS contributors, each with its own session and one keep-alive"
echo "connection (libcurl multi, 1 thread), POST pre-sealed records to $REQUESTS open requests (each"
echo "POST a new request/contributor pair) for at most ${DUR} s. Set-up not measured: sessions and"
echo "$(fmt "$(get consents "$c")") EIP-712-signed consents seeded through COPY in $(get seed_s "$c") s; the $REQUESTS requests created over HTTP"
echo "(keys and escrow by cohortd) in $(get requests_create_s "$c") s."
echo
echo "| $(nproc) cores, $cpu | per second | note |"
echo "|---|---:|---|"
echo "| raw \`crypto_box_seal_open\`, 1 thread (baseline) | $(fmt "$(get raw_open_per_s "$tmp/open")") | one ~70-byte record |"
echo "| \`coh_crypto_box_open\` into secure memory, 1 thread (baseline) | $(fmt "$(get secure_open_per_s "$tmp/open")") | + sodium_malloc/mlock/free per record |"
echo "| GET /healthz, $CLIENTS connections, same client loop (baseline) | $(fmt "$(get healthz_per_s "$tmp/healthz")") | HTTP path without database |"
echo "| **POST /v1/requests/{id}/contributions, $CLIENTS clients** | **$(fmt "$(get contrib_per_s "$c")")** | target ≥ 2,000/s; $(fmt "$(get contrib_ok "$c")") accepted (201) in $(get contrib_seconds "$c") s, $(get contrib_errors "$c") errors, $(fmt "$(get contrib_stored "$c")") rows stored |"
err=$(get contrib_first_error "$c"); [ -n "$err" ] && echo && echo "First error: \`$err\`"
echo
echo "### (b) Release of $(fmt "$N") contributions end to end"
echo
echo "One k-anonymity request (k=5, age and preg quasi-identifiers), max_contributors $(fmt "$N")"
echo "(the API's maximum). Set-up not measured: $(fmt "$N") keys, signed consents and sealed records"
echo "made in $(get seed_crypto_s "$r") s ($(nproc) threads); COPY of accounts, profiles, consents and contributions"
echo "in one transaction, $(get seed_copy_s "$r") s. The clock starts at that COMMIT: the count reaches"
echo "max_contributors, so the worker may close the request itself before POST /close arrives"
echo "(it answered $(get close_status "$r"); 202 = closed by the researcher, 409 = already closing). It stops"
echo "when GET shows status=released, which the worker sets only after every reward and the refund"
echo "are posted."
echo
echo "| $(nproc) cores, $cpu | value | note |"
echo "|---|---:|---|"
echo "| **POST /close → released, all rewards posted** | **$(get release_s "$r") s** | target < 30 s; status $(get release_status "$r") |"
echo "| of which decrypt + validate + k-anonymity + store release | $(get release_compute_s "$r") s | closed_at to the release row; the rest is payouts |"
echo "| rows in the release | $(fmt "$(get release_included "$r")") | |"
echo "| reward ledger entries posted | $(fmt "$(get release_rewards "$r")") | signed, hash-chained, batches of 500 |"
echo "| cohortd peak RSS (VmHWM) | $(awk -v k="$(get rss_peak_kb "$r")" 'BEGIN{printf "%.0f MiB", k/1024}') | $(awk -v k="$(get rss_before_kb "$r")" 'BEGIN{printf "%.0f MiB", k/1024}') before the close |"
