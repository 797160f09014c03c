# Helpers for integration tests: each test starts its own cohortd on a free loopback port
# against the real PostgreSQL named by COH_TEST_DATABASE_URL, and counts its checks.
set -uo pipefail
: "${COHORTD:?set by ctest}" "${COH_CLI:?set by ctest}"
if [ -z "${COH_TEST_DATABASE_URL:-}" ]; then
  echo "COH_TEST_DATABASE_URL is not set: run through scripts/test.sh" >&2
  exit 1
fi
COH_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
T_DIR=$(mktemp -d /tmp/coh-it.XXXXXX)
T_PASS=0
T_FAIL=0
T_PIDS=()
cleanup() {
  for p in "${T_PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  rm -rf "$T_DIR"
}
trap cleanup EXIT
# One master key for every process on the shared test database: the ledger key stored there is
# wrapped under it.
: "${COH_TEST_MASTER_KEY_FILE:?set by scripts/test.sh (the master key of the test cluster)}"
install -m 0600 "$COH_TEST_MASTER_KEY_FILE" "$T_DIR/master.key"

ok() { T_PASS=$((T_PASS + 1)); echo "ok - $1"; }
not_ok() { T_FAIL=$((T_FAIL + 1)); echo "not ok - $1"; [ -n "${2:-}" ] && echo "#   $2"; }
check() { local name=$1; shift; if "$@"; then ok "$name"; else not_ok "$name" "command: $*"; fi; }
check_eq() { if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "expected '$3', got '$2'"; fi; }
# A here-string, not a pipe: under pipefail, grep -q leaving at its first match can kill the
# printf still writing a long text (SIGPIPE) and fail a check that matched.
check_contains() { if grep -qF -- "$3" <<<"$2"; then ok "$1"; else not_ok "$1" "'$3' not in: ${2:0:400}"; fi; }
finish() { echo "$T_PASS passed, $T_FAIL failed"; [ "$T_FAIL" -eq 0 ]; exit $?; }

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

# start_cohortd [ENV=VALUE ...]: starts cohortd, waits for /healthz, sets BASE, METRICS_BASE
# (its own metrics listener, on a free loopback port) and LOG.
start_cohortd() {
  local port mport; port=$(free_port); mport=$(free_port)
  BASE=http://127.0.0.1:$port
  METRICS_BASE=http://127.0.0.1:$mport
  LOG=$T_DIR/cohortd.$port.log
  # Privileges split as scripts/test.sh sets them up (cohort_app serves, cohort_owner
  # migrates), unless the caller names a database of its own (here or in COH_TEST_DATABASE_URL).
  local db=(COHORT_DATABASE_URL="$COH_TEST_DATABASE_URL") dbname='dbname=[^ ]*'
  if [ -n "${COH_TEST_APP_DATABASE_URL:-}" ] && ! grep -q '^COHORT_DATABASE_URL=' <<<"$(printf '%s\n' "$@")" &&
     [ "$(grep -o "$dbname" <<<"$COH_TEST_DATABASE_URL")" = "$(grep -o "$dbname" <<<"$COH_TEST_APP_DATABASE_URL")" ]; then
    db=(COHORT_DATABASE_URL="$COH_TEST_APP_DATABASE_URL" COHORT_MIGRATE_DATABASE_URL="$COH_TEST_OWNER_DATABASE_URL")
  fi
  env "${db[@]}" COHORT_PRIVACY_MIN_K=2 COHORT_MASTER_KEY_FILE="$T_DIR/master.key" \
      COHORT_LISTEN="127.0.0.1:$port" COHORT_METRICS_LISTEN="127.0.0.1:$mport" \
      COHORT_PUBLIC_URL="$BASE" "$@" \
      "$COHORTD" >"$LOG" 2>&1 &
  T_PIDS+=($!)
  for _ in $(seq 1 100); do
    curl -fs "$BASE/healthz" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "cohortd did not start:"; cat "$LOG"; return 1
}

# http METHOD PATH [curl args...]: sets STATUS, BODY, CTYPE (and HEADERS file).
http() {
  local method=$1 path=$2; shift 2
  HEADERS=$T_DIR/headers
  BODY=$(curl -s -X "$method" -D "$HEADERS" -o - -w '' "$@" "$BASE$path")
  STATUS=$(awk 'NR==1{print $2}' "$HEADERS")
  CTYPE=$(grep -i '^content-type:' "$HEADERS" | head -1 | cut -d' ' -f2- | tr -d '\r')
}
header() { grep -i "^$1:" "$HEADERS" | head -1 | cut -d' ' -f2- | tr -d '\r'; }
jq_body() { printf '%s' "$BODY" | jq -r "$1"; }
