#!/usr/bin/env bash
# Migrations on a database of their own: applied once under concurrency, recorded with
# checksums, a changed applied file refused.
source "$(dirname "$0")/lib.sh"
db=coh_mig_$$
admin() { psql "$COH_TEST_DATABASE_URL" -qtAX -v ON_ERROR_STOP=1 -c "$1"; }
admin "CREATE DATABASE $db"
trap 'admin "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1; cleanup' EXIT
url="$(printf '%s' "$COH_TEST_DATABASE_URL" | sed "s/dbname=[^ ]*/dbname=$db/")"
q() { psql "$url" -qtAX -c "$1"; }

cp -r "$COH_SRC/sql" "$T_DIR/sql"
printf 'CREATE TABLE mig_probe (id int);\n' > "$T_DIR/sql/900_probe.sql"
n_files=$(ls "$T_DIR/sql"/*.sql | wc -l)

pids=()
for i in 1 2 3 4; do
  env COHORT_DATABASE_URL="$url" COHORT_MASTER_KEY_FILE="$T_DIR/master.key" COHORT_SQL_DIR="$T_DIR/sql" \
    "$COHORTD" --check >"$T_DIR/m$i.out" 2>&1 & pids+=($!)
done
fails=0; for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
check_eq "four concurrent starters all succeed" "$fails" 0
check_eq "every migration recorded exactly once" "$(q 'SELECT count(*) FROM schema_migrations')" "$n_files"
applied=$(cat "$T_DIR"/m*.out | grep -c '"migration applied: 900_probe.sql"')
check_eq "the probe migration was applied by exactly one starter" "$applied" 1
check_eq "checksums are recorded" "$(q "SELECT length(checksum) FROM schema_migrations WHERE version = 900")" 64

printf 'CREATE TABLE mig_probe (id bigint);\n' > "$T_DIR/sql/900_probe.sql"
out=$(env COHORT_DATABASE_URL="$url" COHORT_MASTER_KEY_FILE="$T_DIR/master.key" COHORT_SQL_DIR="$T_DIR/sql" "$COHORTD" --check 2>&1)
check "a changed applied migration stops cohortd" test $? -ne 0
check_contains "and the message names the file" "$out" "900_probe.sql was changed after it was applied"

printf 'CREATE TABLE mig_probe (id int);\n' > "$T_DIR/sql/900_probe.sql"
printf 'CREATE TABLE broken (;\n' > "$T_DIR/sql/901_broken.sql"
out=$(env COHORT_DATABASE_URL="$url" COHORT_MASTER_KEY_FILE="$T_DIR/master.key" COHORT_SQL_DIR="$T_DIR/sql" "$COHORTD" --check 2>&1)
check_contains "a failing migration is named" "$out" "901_broken.sql failed"
check_eq "and leaves no record" "$(q 'SELECT count(*) FROM schema_migrations WHERE version = 901')" 0
finish
