#!/usr/bin/env bash
# Issue 18: sealed contributions accepted per second over HTTP with one cohortd (A, the
# baseline) and with three cohortd on the same database (B), the same CLIENTS signed-in
# contributors (spread round-robin over the three in B) for the same SECONDS, interleaved
# A/B/A/B... ROUNDS times, fsync on. Each run has a fresh database of its own (bench_market
# contrib counts every stored row), dropped after it. Sessions and signed consents are seeded
# through COPY (set-up, not measured), as in bench/market (a). Everything runs on this machine:
# the three instances share its cores with PostgreSQL and the client, so B shows the cost of
# running several instances (coordination, more connections), not scale-out.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${COH_BUILD:-$ROOT/build}
source "$ROOT/scripts/common.sh"
CLIENTS=${BENCH_INSTANCES_CLIENTS:-64}
REQUESTS=${BENCH_INSTANCES_REQUESTS:-300} # CLIENTS x REQUESTS posts available: more than SECONDS takes
DUR=${BENCH_INSTANCES_SECONDS:-5}
ROUNDS=${BENCH_INSTANCES_ROUNDS:-3}
HTTP_THREADS=${BENCH_INSTANCES_HTTP_THREADS:-$CLIENTS} # per instance
POOL=${BENCH_INSTANCES_DB_POOL:-16}                     # per instance
BM=$B/bench/market/bench_market
db=cohort_bench_instances_$$
tmp=$(mktemp -d)
pids=()
dbs=()
pgq() { bash "$ROOT/scripts/pg.sh" psql -qtAX -v ON_ERROR_STOP=1 -d postgres -c "$1"; }
cleanup() {
  set +e
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  for d in "${dbs[@]}"; do pgq "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1; done
  rm -rf "$tmp"
}
trap cleanup EXIT
install -m 0600 "$ROOT/var/master.key" "$tmp/master.key"
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
get() { sed -n "s/^$1=//p" "$2" | head -1; }

# daemon NAME URL: starts a cohortd on URL, waits for /healthz; appends its base to BASES.
daemon() {
  local p; p=$(port)
  local base=http://127.0.0.1:$p
  env COHORT_DATABASE_URL="$2" COHORT_MASTER_KEY_FILE="$tmp/master.key" COHORT_LISTEN="127.0.0.1:$p" \
    COHORT_METRICS_LISTEN= COHORT_PUBLIC_URL="$base" COHORT_HTTP_THREADS="$HTTP_THREADS" \
    COHORT_DB_POOL_SIZE="$POOL" COHORT_REQUEST_CREATE_RATE_PER_HOUR=1000000 \
    COHORT_CONSENT_RATE_PER_HOUR=1000000 COHORT_CONTRIBUTION_RATE_PER_HOUR=1000000 \
    COHORT_SIGNIN_RATE_PER_MIN=100000 \
    "$B/cohortd" 2>"$tmp/cohortd.$1.log" &
  pids+=($!)
  for _ in $(seq 100); do curl -fs "$base/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
  curl -fs "$base/healthz" >/dev/null || { cat "$tmp/cohortd.$1.log" >&2; exit 1; }
  BASES=${BASES:+$BASES,}$base
}

# run NAME INSTANCES: a fresh database, INSTANCES cohortd on it (the first alone first: it
# migrates the schema), the contrib load over all of them; stops them and drops the database.
run() {
  local d=${db}_$1
  dbs+=("$d")
  pgq "CREATE DATABASE $d"
  local url="host=$COH_PG_RUN port=$COH_PG_PORT dbname=$d user=$COH_PG_USER"
  local first=${#pids[@]}
  BASES=
  for i in $(seq "$2"); do daemon "$1.$i" "$url"; done
  local researcher=0x$(od -An -tx1 -N20 /dev/urandom | tr -d ' \n')
  COHORT_DATABASE_URL="$url" COHORT_MASTER_KEY_FILE="$tmp/master.key" \
    "$B/src/cli/cohort" ledger deposit --address "$researcher" --amount 1000000000000000 >/dev/null
  "$BM" contrib "$url" "$BASES" "$researcher" "$CLIENTS" "$REQUESTS" "$DUR" >"$tmp/$1" || {
    cat "$tmp/$1" >&2; tail -5 "$tmp"/cohortd."$1".*.log >&2; exit 1; }
  for p in "${pids[@]:$first}"; do kill "$p"; wait "$p" 2>/dev/null || true; done
  pids=("${pids[@]:0:$first}")
  pgq "DROP DATABASE $d WITH (FORCE)"
}
median() { sort -n | awk '{a[NR]=$1} END{print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')
load0=$(cut -d' ' -f1-3 /proc/loadavg)
fsync=$(pgq "SHOW fsync"); sync=$(pgq "SHOW synchronous_commit"); maxconn=$(pgq "SHOW max_connections")
order=()
for r in $(seq "$ROUNDS"); do
  run "a$r" 1; order+=("a$r")
  run "b$r" 3; order+=("b$r")
done
load1=$(cut -d' ' -f1-3 /proc/loadavg)

echo "Machine: $(nproc) cores, $cpu. PostgreSQL fsync=$fsync, synchronous_commit=$sync,"
echo "max_connections=$maxconn. Each cohortd: http_threads=$HTTP_THREADS, db_pool_size=$POOL (three"
echo "instances hold three pools). Load average at the start $load0, at the end $load1."
echo "**The three instances share the same $(nproc) cores with PostgreSQL and the client: the"
echo "figure shows the cost of coordination, not scale-out.**"
echo
echo "\`bench/instances/run.sh\`: $CLIENTS signed-in contributors, one keep-alive connection each"
echo "(libcurl multi, 1 thread), POST pre-sealed records to $REQUESTS open requests for ${DUR} s; in B,"
echo "contributor i posts to instance i mod 3. Runs interleaved in the order shown, each on a"
echo "fresh database (sessions and consents seeded through COPY, not measured)."
echo
echo "| run | cohortd | contributions/s | accepted (201) | errors | seconds |"
echo "|---|---:|---:|---:|---:|---:|"
for n in "${order[@]}"; do
  f=$tmp/$n
  echo "| $n | $([ "${n:0:1}" = a ] && echo 1 || echo 3) | $(get contrib_per_s "$f") | $(get contrib_ok "$f") | $(get contrib_errors "$f") | $(get contrib_seconds "$f") |"
done
ma=$(for n in "${order[@]}"; do if [ "${n:0:1}" = a ]; then get contrib_per_s "$tmp/$n"; fi; done | median)
mb=$(for n in "${order[@]}"; do if [ "${n:0:1}" = b ]; then get contrib_per_s "$tmp/$n"; fi; done | median)
echo "| **median A (1 cohortd, baseline)** | 1 | **$(printf '%.0f' "$ma")** | | | |"
echo "| **median B (3 cohortd, same database)** | 3 | **$(printf '%.0f' "$mb")** | | | |"
echo
echo "B / A = $(awk -v a="$ma" -v b="$mb" 'BEGIN{printf "%.2f", b/a}')."
for n in "${order[@]}"; do
  err=$(get contrib_first_error "$tmp/$n")
  if [ -n "$err" ]; then echo "First error in $n: \`$err\`"; fi
done
true
