#!/usr/bin/env bash
# GET /v1/claims/{address}'s proof path over a claims tree of 1,000,000 accounts, cached vs
# uncached (the tree rebuilt from every leaf on each call), measured in the same run against
# the local cluster, on a database of its own created here and dropped at the end.
# Env: COH_BENCH_CLAIMS_ACCOUNTS (1000000), _UNCACHED (5 calls), _CACHED (10000 calls).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${COH_BUILD:-$ROOT/build}
source "$ROOT/scripts/common.sh"
db=coh_bench_claims_$$
pgq() { bash "$ROOT/scripts/pg.sh" psql -qtAX -v ON_ERROR_STOP=1 -d postgres -c "$1"; }
cleanup() { pgq "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true; }
trap cleanup EXIT
pgq "CREATE DATABASE $db"
echo "Load average when the run started: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cores; bench and PostgreSQL share them)."
echo
COH_BENCH_DATABASE_URL="host=$COH_PG_RUN port=$COH_PG_PORT dbname=$db user=$COH_PG_USER" \
  "$B/bench/chain/bench_claims" "${COH_BENCH_CLAIMS_ACCOUNTS:-1000000}" \
  "${COH_BENCH_CLAIMS_UNCACHED:-5}" "${COH_BENCH_CLAIMS_CACHED:-10000}" \
  2> >(grep -v '"migration applied' >&2)
