#!/usr/bin/env bash
# Readiness follows the database: 503 while PostgreSQL is stopped, 200 again once it is back,
# with no restart of cohortd. Runs alone (RUN_SERIAL): it stops the shared cluster.
source "$(dirname "$0")/lib.sh"
start_cohortd || exit 1
pg() { bash "$COH_SRC/scripts/pg.sh" "$@"; }
trap 'pg start >/dev/null 2>&1; cleanup' EXIT

http GET /readyz
check_eq "ready before the stop" "$STATUS" 200
pg stop
http GET /readyz
check_eq "readyz is 503 while PostgreSQL is down" "$STATUS" 503
check_eq "503 is problem+json" "$CTYPE" application/problem+json
check_eq "and names the database check" "$(jq_body .check)" database
http GET /healthz
check_eq "healthz stays 200: the process is alive" "$STATUS" 200
pg start
ready=0
for _ in $(seq 1 50); do http GET /readyz; [ "$STATUS" = 200 ] && { ready=1; break; }; sleep 0.2; done
check_eq "readyz returns to 200 when PostgreSQL is back" "$ready" 1
finish
