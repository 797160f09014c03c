#!/usr/bin/env bash
# Crash consistency: runs the marketplace flow while SIGKILLing cohortd, PostgreSQL or both at
# random moments, N times (default 100), then checks with `cohort verify --url` and SQL that
# no contribution was lost or paid twice, escrow and balances add up and the hash chain is
# intact (scripts/crash-test.mjs does the work and prints the summary). PostgreSQL is a
# throwaway cluster of its own (initdb as the cluster user into a temp dir, unix socket under
# /tmp, no TCP), never the shared one under var/. Needs root (runuser) and a build (COH_BUILD,
# default build/). Not part of CI by default; scripts/test.sh runs a short variant.
# Usage: scripts/crash-test.sh [kills]
source "$(dirname "$0")/common.sh"
kills=${1:-100}
[ "$(id -u)" = 0 ] || die "run as root (the throwaway cluster runs as $COH_PG_USER)"
[ -x "$COH_BUILD/cohortd" ] || die "no cohortd in $COH_BUILD (scripts/build.sh)"
tmp=$(mktemp -d /tmp/coh-crash.XXXXXX)
chmod 755 "$tmp"
install -d -o "$COH_PG_USER" -m 0700 "$tmp/data" "$tmp/sock"
pgport=$((56000 + RANDOM % 1000))
stop_pg() { as_pg "$COH_PG_BIN/pg_ctl" -D "$tmp/data" -m immediate stop >/dev/null 2>&1 || true; }
trap 'stop_pg; rm -rf "$tmp"' EXIT
as_pg "$COH_PG_BIN/initdb" -D "$tmp/data" -U "$COH_PG_USER" -A peer --auth-local=trust -E UTF8 \
  --locale=C.UTF-8 >/dev/null
as_pg "$COH_PG_BIN/pg_ctl" -D "$tmp/data" -w -t 60 -l "$tmp/data/server.log" \
  -o "-c listen_addresses='' -c unix_socket_directories='$tmp/sock' -p $pgport" start >/dev/null
as_pg psql -h "$tmp/sock" -p "$pgport" -d postgres -qc "CREATE DATABASE cohort_crash"
(umask 077; od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > "$tmp/master.key")
http_port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
log "crash test: $kills kills (cohortd, PostgreSQL or both), cluster in $tmp"
CRASH_KILLS=$kills CRASH_PG_BIN=$COH_PG_BIN CRASH_PG_DATA=$tmp/data CRASH_PG_SOCK=$tmp/sock \
  CRASH_PG_PORT=$pgport CRASH_DB=cohort_crash CRASH_HTTP_PORT=$http_port \
  CRASH_MASTER_KEY=$tmp/master.key CRASH_COHORTD=$COH_BUILD/cohortd \
  CRASH_CLI=$COH_BUILD/src/cli/cohort CRASH_LOG=$tmp/cohortd.log \
  node "$COH_ROOT/scripts/crash-test.mjs" || {
    log "crash test FAILED; last cohortd log lines:"; tail -20 "$tmp/cohortd.log" >&2; exit 1; }
