#!/usr/bin/env bash
# Load: a bounded wrk run on loopback over a realistic mix of reads (request list and detail,
# ledger entries, balances, /healthz) and sealed contributions posted with the bearer tokens
# of LOAD_USERS (default 1,000) contributors, then each kind alone. Prints throughput,
# p50/p99 latency and status counts as a markdown table; exits 1 on any error response other
# than a rate limit (429) or any socket error.
# The users are prepared through the HTTP API by prepare.mjs (SIWE sign-in, profile, EIP-712
# consent, a record sealed to the request); only the researcher's deposit goes through the
# cohort CLI (on chain it would be a Deposited event). A database of its own is created and
# dropped; the master key is var/master.key (a throwaway key if there is none).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${COH_BUILD:-$ROOT/build}
source "$ROOT/scripts/common.sh"
USERS=${LOAD_USERS:-1000}
REQS=${LOAD_REQUESTS:-10}
DUR=${LOAD_SECONDS:-20}
DUR1=${LOAD_SECONDS_EACH:-5}
CONNS=${LOAD_CONNS:-32}
tmp=$(mktemp -d)
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 100); do curl -fs "$1" >/dev/null && return 0; sleep 0.1; done; return 1; }

if [ -f "$COH_VAR/master.key" ]; then install -m 600 "$COH_VAR/master.key" "$tmp/mk"
else (umask 077; od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > "$tmp/mk"); fi
db=cohort_bench_load_$$
bash "$ROOT/scripts/pg.sh" psql -d postgres -qc "CREATE DATABASE $db"
trap 'kill $(jobs -p) 2>/dev/null; wait; bash "$ROOT/scripts/pg.sh" psql -d postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)"; rm -rf "$tmp"' EXIT
url="host=$COH_PG_RUN port=$COH_PG_PORT dbname=$db user=$COH_PG_USER"
p=$(port)
COHORT_DATABASE_URL="$url" COHORT_MASTER_KEY_FILE="$tmp/mk" COHORT_LISTEN="127.0.0.1:$p" COHORT_METRICS_LISTEN= \
  COHORT_PUBLIC_URL="http://127.0.0.1:$p" COHORT_HTTP_THREADS=$((CONNS * 2)) \
  COHORT_SIGNIN_RATE_PER_MIN=100000 COHORT_CHAIN_RPC_URL= COHORT_REQUEST_CREATE_RATE_PER_HOUR=1000000 \
  COHORT_CONSENT_RATE_PER_HOUR=1000000 COHORT_CONTRIBUTION_RATE_PER_HOUR=1000000 \
  "$B/cohortd" 2> "$tmp/cohortd.log" &
wait_up "http://127.0.0.1:$p/healthz" || { cat "$tmp/cohortd.log" >&2; exit 1; }
base="http://127.0.0.1:$p"

t0=$(date +%s)
COH_CLI="$B/src/cli/cohort" COHORT_DATABASE_URL="$url" COHORT_MASTER_KEY_FILE="$tmp/mk" \
  node "$ROOT/bench/load/prepare.mjs" "$base" "$tmp" "$USERS" "$REQS" >&2
prep_s=$(( $(date +%s) - t0 ))

status=0
rows=()
run() { # name mix seconds
  local line
  line=$(LOAD_DIR=$tmp MIX=$2 wrk -t2 -c"$CONNS" -d"$3s" -s "$ROOT/bench/load/mix.lua" "$base" | sed -n 's/^RESULT //p')
  rows+=("$(node -e '
    const [name, secs, line] = process.argv.slice(1);
    const r = JSON.parse(line);
    const st = Object.entries(r.statuses).sort();
    const bad = st.filter(([s]) => !(s >= 200 && s < 300) && s !== "429").reduce((a, [, n]) => a + n, 0);
    const limited = r.statuses["429"] ?? 0;
    const f = (us) => (us / 1000).toFixed(2);
    console.log(`| ${name} | ${secs} | ${r.requests} | ${(r.requests / r.seconds).toFixed(0)} | ${f(r.p50_us)} | ${f(r.p99_us)} | ${st.map(([s, n]) => s + ": " + n).join(", ")} | ${limited} | ${bad + r.socket_errors} |`);
    process.exitCode = bad + r.socket_errors > 0 ? 1 : 0;
  ' "$1" "$3" "$line")") || status=1
}
run "mix: 25% list, 20% request, 15% ledger, 15% balance, 5% healthz, 20% contribute" mix "$DUR"
run "sealed contributions (POST, bearer)" contribute "$DUR1"
run "GET /v1/requests?limit=20" list "$DUR1"
run "GET /v1/requests/{id}" get "$DUR1"
run "GET /v1/ledger/entries?limit=50" ledger "$DUR1"
run "GET /v1/accounts/{address}/balance" balance "$DUR1"
run "GET /healthz" health "$DUR1"

# Contributions are upserts per (request, contributor): however often a user posts, one row.
counts=$(bash "$ROOT/scripts/pg.sh" psql -d "$db" -tAc \
  "SELECT (SELECT count(*) FROM contributions) || ' ' || (SELECT count(DISTINCT (request_id, contributor)) FROM contributions) || ' ' || (SELECT coalesce(sum(n_contributions), 0) FROM requests)")
read -r n_rows n_distinct n_counted <<<"$counts"

echo "wrk -t2 -c$CONNS on loopback; $USERS contributors (SIWE, consent and sealed record each) and $REQS requests prepared over HTTP in ${prep_s} s; mix ${DUR} s, each kind ${DUR1} s"
echo
echo "| workload | seconds | requests | requests/s | p50 ms | p99 ms | statuses | rate-limited | errors |"
echo "|---|---:|---:|---:|---:|---:|---|---:|---:|"
printf '%s\n' "${rows[@]}"
echo
echo "Contribution rows after the run: $n_rows ($n_distinct distinct request/contributor pairs, counters say $n_counted; expected $USERS)."
[ "$n_rows" = "$USERS" ] && [ "$n_distinct" = "$USERS" ] && [ "$n_counted" = "$USERS" ] || { echo "contribution count mismatch" >&2; status=1; }
grep -q '"level":"error"' "$tmp/cohortd.log" && { echo "cohortd logged errors:" >&2; grep '"level":"error"' "$tmp/cohortd.log" | head -5 >&2; status=1; }
exit $status
