#!/usr/bin/env bash
# README command 2: the same set-up as run.sh, then every test: unit and integration tests
# (ctest) in the release build and again under ASan+UBSan, then the Node e2e tests against a
# live cohortd. Exits non-zero if anything fails.
source "$(dirname "$0")/common.sh"
bash "$COH_ROOT/scripts/setup.sh" --asan
# Tests run on a database of their own, made afresh each run, so they never touch the data
# of `scripts/run.sh` and never depend on what an earlier run left behind.
# Privileges split as in production: the owner role owns the database and migrates, cohortd
# serves as the application role; COH_TEST_DATABASE_URL (the superuser) is for the tests' own
# checks and scratch databases.
bash "$COH_ROOT/scripts/pg.sh" psql -d postgres -qc "DROP DATABASE IF EXISTS cohort_test WITH (FORCE)" \
  -c "CREATE DATABASE cohort_test OWNER $COH_DB_OWNER"
export COH_TEST_DATABASE_URL="host=$COH_PG_RUN port=$COH_PG_PORT dbname=cohort_test user=$COH_PG_USER"
export COH_TEST_OWNER_DATABASE_URL="host=$COH_PG_RUN port=$COH_PG_PORT dbname=cohort_test user=$COH_DB_OWNER"
export COH_TEST_APP_DATABASE_URL="host=$COH_PG_RUN port=$COH_PG_PORT dbname=cohort_test user=$COH_DB_APP"
export COH_TEST_WATCH_DATABASE_URL="host=$COH_PG_RUN port=$COH_PG_PORT dbname=cohort_test user=$COH_DB_WATCH"
export COH_TEST_MASTER_KEY_FILE=$COH_VAR/master.key
status=0

log "ctest: release build"
ctest --test-dir "$COH_BUILD" --output-on-failure -j2 || status=1

log "ctest: ASan+UBSan build"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir "$COH_BUILD_ASAN" --output-on-failure -j2 -E openapi_lint || status=1

# Every parser under libFuzzer for a bounded time (13 harnesses x COH_FUZZ_SECONDS, default
# 15 s); longer runs: scripts/fuzz.sh <seconds>. A crash fails the run.
log "fuzz: ${COH_FUZZ_SECONDS:-15} s per harness"
bash "$COH_ROOT/scripts/fuzz.sh" "${COH_FUZZ_SECONDS:-15}" || status=1

# Crash consistency, short: a few SIGKILLs of cohortd and a throwaway PostgreSQL during the
# marketplace flow (scripts/crash-test.sh 100 for the full run).
log "crash consistency: ${COH_CRASH_KILLS:-5} kills"
bash "$COH_ROOT/scripts/crash-test.sh" "${COH_CRASH_KILLS:-5}" || status=1

if ls "$COH_ROOT"/tests/e2e/*.test.mjs >/dev/null 2>&1; then
  log "node e2e tests"
  (cd "$COH_ROOT" && node --test --test-concurrency=1 tests/e2e/) || status=1
fi

if [ $status -ne 0 ]; then log "FAILED"; else log "all tests passed"; fi
exit $status
