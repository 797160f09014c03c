#!/usr/bin/env bash
# cohortd's configuration: file + COHORT_* overrides, and one clear line for a bad setting.
source "$(dirname "$0")/lib.sh"

run_cohortd() { env -i PATH="$PATH" "$@" "$COHORTD" --check 2>&1 >/dev/null; echo "exit=$?"; }

out=$(run_cohortd COHORT_MASTER_KEY_FILE="$T_DIR/master.key")
check_contains "missing database_url is named" "$out" "setting 'database_url' is required"
check_contains "missing setting exits non-zero" "$out" "exit=1"
check_eq "the error is one line" "$(printf '%s\n' "$out" | grep -vc '^exit=')" 1

out=$(run_cohortd COHORT_DATABASE_URL="$COH_TEST_DATABASE_URL" COHORT_MASTER_KEY_FILE="$T_DIR/master.key" COHORT_HTTP_THREADS=lots)
check_contains "malformed integer is named" "$out" "setting 'http_threads' must be an integer"

out=$(run_cohortd COHORT_DATABASE_URL="$COH_TEST_DATABASE_URL" COHORT_MASTER_KEY_FILE="$T_DIR/master.key" COHORT_LOG_LEVEL=loud)
check_contains "bad log level is named" "$out" "'log_level'"

printf 'listen = 127.0.0.1:1\ncolour = blue\n' > "$T_DIR/bad.conf"
out=$(env -i PATH="$PATH" "$COHORTD" --config "$T_DIR/bad.conf" --check 2>&1)
check_contains "unknown key in the file is named with its line" "$out" "bad.conf:2: unknown setting 'colour'"

cp "$T_DIR/master.key" "$T_DIR/open.key"; chmod 0644 "$T_DIR/open.key"
out=$(run_cohortd COHORT_DATABASE_URL="$COH_TEST_DATABASE_URL" COHORT_MASTER_KEY_FILE="$T_DIR/open.key")
check_contains "a world-readable master key is refused" "$out" "master_key_file"
check_contains "and the message says why" "$out" "0600"

out=$(run_cohortd COHORT_DATABASE_URL="host=/nonexistent dbname=x" COHORT_MASTER_KEY_FILE="$T_DIR/master.key")
check_contains "an unreachable database is named" "$out" "database_url: database unreachable"

# The environment overrides the file.
port=$(free_port)
printf 'database_url = host=/nonexistent\nmaster_key_file = %s\nlisten = 127.0.0.1:%s\n' "$T_DIR/master.key" "$port" > "$T_DIR/good.conf"
out=$(env -i PATH="$PATH" COHORT_DATABASE_URL="$COH_TEST_DATABASE_URL" "$COHORTD" --config "$T_DIR/good.conf" --check 2>&1)
check_contains "COHORT_DATABASE_URL overrides the file" "$out" "configuration ok"

out=$("$COHORTD" --bogus 2>&1); check_contains "unknown argument is refused" "$out" "unknown argument '--bogus'"
finish
