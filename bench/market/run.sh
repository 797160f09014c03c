#!/usr/bin/env bash
# The marketplace against a live cohortd on a fresh database of its own, fsync on:
#  (a) sealed contributions accepted per second over HTTP, many signed-in contributors at
#      once, beside baselines measured in the same run (raw crypto_box_seal_open, the same
#      client loop on GET /healthz);
#  (b) the end-to-end release of 100,000 contributions: POST /close until status=released
#      with the pooled reward (private credits + one entry) and the refund posted, its stages,
#      cohortd's peak RSS, and the payout checked against the credits' root; beside it, in the
#      same run on a fresh database, the same release paid in wave 1's form (an entry per
#      contributor), the form before issue 14.
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
BAD=${BENCH_MARKET_INVALID:-100} # records the schema refuses: their share of the escrow is refunded
HTTP_THREADS=${BENCH_MARKET_HTTP_THREADS:-$CLIENTS} # civetweb holds a thread per keep-alive connection
POOL=${BENCH_MARKET_DB_POOL:-16}
BM=$B/bench/market/bench_market
db=cohort_bench_market_$$
tmp=$(mktemp -d)
pids=()
pgq() { bash "$ROOT/scripts/pg.sh" psql -qtAX -v ON_ERROR_STOP=1 -d postgres -c "$1"; }
cleanup() {
  set +e
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  for d in a b c; do pgq "DROP DATABASE IF EXISTS ${db}_$d WITH (FORCE)" >/dev/null 2>&1 || true; done
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
    COHORT_DB_POOL_SIZE="$POOL" COHORT_REQUEST_CREATE_RATE_PER_HOUR=1000000 \
    COHORT_CONSENT_RATE_PER_HOUR=1000000 COHORT_CONTRIBUTION_RATE_PER_HOUR=1000000 \
    "$B/cohortd" 2>"$tmp/cohortd.$1.log" &
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
"$BM" release "$URL" "$BASE" "$RESEARCHER" "$N" "$BAD" "$PID" >"$tmp/release" || {
  cat "$tmp/release" >&2; tail -5 "$tmp/cohortd.b.log" >&2; exit 1; }
stop
start c
"$BM" release "$URL" "$BASE" "$RESEARCHER" "$N" "$BAD" "$PID" wave1 "$tmp/master.key" >"$tmp/wave1" || {
  cat "$tmp/wave1" >&2; tail -5 "$tmp/cohortd.c.log" >&2; exit 1; }
stop

c=$tmp/contrib r=$tmp/release w=$tmp/wave1
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
echo "One k-anonymity request (k=5, the operator's floor; age, preg and mass quasi-identifiers on"
echo "their schema grids, class sensitive, 2-diverse), reward 1000 units, max_contributors $(fmt "$N")"
echo "(the API's maximum). $(fmt "$BAD") of the $(fmt "$N") sealed records have an age the schema refuses,"
echo "so the worker decrypts and validates $(fmt "$N") records, releases and pays $(fmt "$(get release_members "$r")") and"
echo "refunds the escrow of the rest. Set-up not measured: keys, signed consents and sealed records"
echo "made in $(get seed_crypto_s "$r") s ($(nproc) threads); COPY of accounts, profiles, consents and contributions"
echo "in one transaction, $(get seed_copy_s "$r") s. The clock starts at that COMMIT: the count reaches"
echo "max_contributors, so the worker may close the request itself before POST /close arrives"
echo "(it answered $(get close_status "$r"); 202 = closed by the researcher, 409 = already closing). It stops"
echo "when GET shows status=released, which the worker sets only after the reward and the refund"
echo "are posted. Stages from the timestamps the worker leaves in the database."
echo
echo "Baseline, same run: the same release on a fresh database and cohortd, paid in wave 1's form"
echo "(before issue 14: an entry per contributor, escrow:<request> → payable:<contributor>, batches"
echo "of 500). The worker still finishes a payout in that form when one began in it, so the bench"
echo "posts one contributor's wave-1 entry with cohortd's ledger key before the COMMIT (set-up)."
echo
echo "| $(nproc) cores, $cpu | pooled (now), s | wave-1 payout (baseline), s | note |"
echo "|---|---:|---:|---|"
echo "| **COMMIT of the contributions → status=released** | **$(get release_s "$r")** | $(get release_s "$w") | target < 30 s; status $(get release_status "$r") / $(get release_status "$w") |"
echo "| COMMIT → request closed | $(get stage_close_s "$r") | $(get stage_close_s "$w") | the worker's poll (50 ms) or POST /close |"
echo "| closed → release stored: read + decrypt + validate + k-anonymity | $(get stage_compute_s "$r") | $(get stage_compute_s "$w") | to the start of the statement storing the release |"
echo "| store the release and its members; read the payees back | $(get stage_store_s "$r") | $(get stage_store_s "$w") | one statement, $(fmt "$(get release_members "$r")") members; then the payout's query |"
echo "| **pay** | **$(get stage_credits_s "$r")** | **$(get stage_credits_s "$w")** | pooled: $(fmt "$(get release_credits "$r")") private credits in one INSERT, their Merkle root, one reward entry; wave 1: $(fmt "$(get release_rewards "$w")") entries in batches of 500, from the first sealed (its batch's preparation falls in the row above) |"
echo "| store + pay (release statement → last reward entry) | $(awk -v a="$(get stage_store_s "$r")" -v b="$(get stage_credits_s "$r")" 'BEGIN{printf "%.2f", a+b}') | $(awk -v a="$(get stage_store_s "$w")" -v b="$(get stage_credits_s "$w")" 'BEGIN{printf "%.2f", a+b}') | the two rows above |"
echo "| refund | $(get stage_refund_s "$r") | $(get stage_refund_s "$w") | reward committed → refund of $(fmt "$BAD") × reward sealed |"
echo "| refund committed → final statement | $(get stage_finish_s "$r") | $(get stage_finish_s "$w") | |"
echo "| status=released and notices | $(get stage_status_s "$r") | $(get stage_status_s "$w") | one statement (status, $(fmt "$(get release_members "$r")") reward_paid notices), then the client's GET (20 ms polls) |"
echo "| contributors paid per second in the pay stage | $(awk -v n="$(get release_members "$r")" -v s="$(get stage_credits_s "$r")" 'BEGIN{printf "%.0f", n/s}') | $(awk -v n="$(get release_members "$w")" -v s="$(get stage_credits_s "$w")" 'BEGIN{printf "%.0f", n/s}') | |"
echo "| cohortd peak RSS (VmHWM) | $(awk -v k="$(get rss_peak_kb "$r")" 'BEGIN{printf "%.0f MiB", k/1024}') | $(awk -v k="$(get rss_peak_kb "$w")" 'BEGIN{printf "%.0f MiB", k/1024}') | $(awk -v k="$(get rss_before_kb "$r")" 'BEGIN{printf "%.0f MiB", k/1024}') before the close |"
echo
echo "Rows in the release: $(fmt "$(get release_included "$r")") / $(fmt "$(get release_included "$w")"). Payouts checked after the clock:"
echo "pooled $(get release_checks "$r") ($(get release_rewards "$r") reward entry, $(get reward_entry "$r");"
echo "$(fmt "$(get release_credits "$r")") private credits whose Merkle root equals the entry's: $(get release_root_ok "$r"); refund $(get release_refund "$r"); escrow left $(get release_escrow_left "$r"));"
echo "wave 1 $(get release_checks "$w") ($(fmt "$(get release_rewards "$w")") reward entries, $(get reward_entry "$w"); $(get release_credits "$w") credits; refund $(get release_refund "$w"); escrow left $(get release_escrow_left "$w"))."
