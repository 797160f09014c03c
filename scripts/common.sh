# Shared settings for the scripts; sourced, not run. Everything lives under the checkout.
set -euo pipefail
COH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
COH_VAR=$COH_ROOT/var
COH_PG_BIN=/usr/lib/postgresql/15/bin
COH_PG_DATA=$COH_VAR/pg
COH_PG_RUN=$COH_VAR/pg-run
COH_PG_PORT=${COH_PG_PORT:-55432}
COH_PG_USER=cohort
COH_BUILD=${COH_BUILD:-$COH_ROOT/build}
COH_BUILD_ASAN=${COH_BUILD_ASAN:-$COH_ROOT/build-asan}
COH_DB_NAME=${COH_DB_NAME:-cohort}
# Privileges are split (sql/030_roles.sql): the cluster's superuser is for set-up only, the
# owner role owns the tables and applies migrations, cohortd connects as the application role
# and runs as its own unprivileged system user.
COH_DB_OWNER=cohort_owner
COH_DB_APP=cohort_app
COH_DB_WATCH=cohort_watch # read-only, for `cohort watch` (sql/032_watch_role.sql)
COH_DAEMON_USER=${COH_DAEMON_USER:-cohortd}
COH_DATABASE_URL="host=$COH_PG_RUN port=$COH_PG_PORT dbname=$COH_DB_NAME user=$COH_PG_USER"
COH_OWNER_DATABASE_URL="host=$COH_PG_RUN port=$COH_PG_PORT dbname=$COH_DB_NAME user=$COH_DB_OWNER"
COH_APP_DATABASE_URL="host=$COH_PG_RUN port=$COH_PG_PORT dbname=$COH_DB_NAME user=$COH_DB_APP"
COH_CONFIG=$COH_VAR/cohortd.conf

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
as_pg() { runuser -u "$COH_PG_USER" -- "$@"; }
# A system user must be able to reach the checkout (var/, the build, sql/, web/): grant search
# (x) on the ancestors it cannot pass.
reachable_by() {
  local d=$COH_ROOT
  while [ "$d" != / ]; do
    if ! runuser -u "$1" -- test -x "$d"; then
      log "granting o+x on $d so $1 can reach the checkout"
      chmod o+x "$d"
    fi
    d=$(dirname "$d")
  done
}
COH_ANVIL_PORT=${COH_ANVIL_PORT:-8545}
COH_ANVIL_URL=http://127.0.0.1:$COH_ANVIL_PORT
