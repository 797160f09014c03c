#!/usr/bin/env bash
# Signed ledger postings/s into PostgreSQL beside raw secp256k1 signing and raw INSERTs,
# measured in the same run (bench_ledger creates and drops a database of its own).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${COH_BUILD:-$ROOT/build}
source "$ROOT/scripts/common.sh"
"$B/bench/ledger/bench_ledger" "${COH_BENCH_DATABASE_URL:-$COH_DATABASE_URL}" 2> >(grep -v '"migration applied' >&2)
