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
rm "$T_DIR/sql/901_broken.sql"

# Privileges split (sql/030_roles.sql). Applied by a superuser above (a database from before
# the split): every table moved to cohort_owner.
check_eq "a superuser's migrations leave every table to cohort_owner" \
  "$(q "SELECT string_agg(DISTINCT pg_get_userbyid(relowner), ',') FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'S') AND relname <> 'mig_probe'")" cohort_owner

# A database owned by cohort_owner, migrated by it; cohortd serves as cohort_app.
admin "DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'cohort_owner') THEN CREATE ROLE cohort_owner; END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'cohort_app') THEN CREATE ROLE cohort_app; END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'cohort_watch') THEN CREATE ROLE cohort_watch; END IF;
  ALTER ROLE cohort_owner LOGIN; ALTER ROLE cohort_app LOGIN; ALTER ROLE cohort_watch LOGIN; END \$\$"
sdb=coh_priv_$$
admin "CREATE DATABASE $sdb OWNER cohort_owner"
trap 'admin "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1; admin "DROP DATABASE IF EXISTS $sdb" >/dev/null 2>&1; cleanup' EXIT
surl="$(printf '%s' "$COH_TEST_DATABASE_URL" | sed -e "s/dbname=[^ ]*/dbname=$sdb/" -e 's/ *user=[^ ]*//')"
owner="$surl user=cohort_owner" app="$surl user=cohort_app"
out=$(env COHORT_DATABASE_URL="$app" COHORT_MASTER_KEY_FILE="$T_DIR/master.key" "$COHORTD" --check 2>&1)
check "the application role alone cannot apply migrations" test $? -ne 0
check_contains "and says to run them as the owner" "$out" "run cohortd --check with migrate_database_url"
out=$(env COHORT_DATABASE_URL="$app" COHORT_MIGRATE_DATABASE_URL="$owner" \
  COHORT_MASTER_KEY_FILE="$T_DIR/master.key" "$COHORTD" --check 2>&1)
check_contains "migrated as cohort_owner" "$out" "migration(s) applied now"
check_contains "cohortd connects as cohort_app, unprivileged" "$out" "database role cohort_app"$'\n'
out=$(env COHORT_DATABASE_URL="$app" COHORT_MASTER_KEY_FILE="$T_DIR/master.key" "$COHORTD" --check 2>&1)
check_contains "then starts with the application role alone" "$out" "0 migration(s) applied now"
# One entry, posted as cohort_app (the CLI with cohortd's credentials).
out=$(env COHORT_DATABASE_URL="$app" COHORT_MASTER_KEY_FILE="$T_DIR/master.key" "$COH_CLI" ledger rotate-key 2>&1)
check "cohort_app appends ledger entries" test $? -eq 0
as_app() { psql "$app" -qtAX -c "$1" 2>&1; }
before=$(as_app "SELECT count(*), string_agg(encode(hash, 'hex'), ',') FROM ledger_entries")
check_contains "and reads them" "$before" "1|"
for sql in "UPDATE ledger_entries SET amount = amount + 1" "DELETE FROM ledger_entries" \
           "TRUNCATE ledger_entries" "ALTER TABLE ledger_entries DISABLE TRIGGER ALL" \
           "ALTER TABLE ledger_entries OWNER TO cohort_app" "DROP TABLE ledger_entries" \
           "SET session_replication_role = replica" \
           "SET ROLE cohort_owner" "CREATE TABLE ledger_entries_copy (seq bigint)"; do
  out=$(as_app "$sql")
  check "as cohort_app, refused: $sql" grep -Eq 'permission denied|must be owner' <<<"$out"
done
out=$(as_app "UPDATE ledger_head SET seq = 0; DELETE FROM ledger_head" )
check_contains "the head row cannot be removed" "$out" "permission denied for table ledger_head"
check_eq "the entry is as it was" "$(as_app "SELECT count(*), string_agg(encode(hash, 'hex'), ',') FROM ledger_entries")" "$before"
# Private credits (031, 034): appended before their entry is posted, never restated, never added
# to a posted entry, never removed.
posted=$(as_app "SELECT idempotency_key FROM ledger_entries LIMIT 1")
out=$(as_app "INSERT INTO ledger_credits (address, amount, salt, entry_key) VALUES
  ('0x$(printf 'a%.0s' {1..40})', 6, decode(repeat('00', 32), 'hex'), 'reward:pending')")
check_eq "cohort_app appends a credit whose entry is not posted" "$out" ""
out=$(as_app "INSERT INTO ledger_credits (address, amount, salt, entry_key) VALUES
  ('0x$(printf 'b%.0s' {1..40})', 7, decode(repeat('11', 32), 'hex'), '$posted')")
check "as cohort_app, refused: a credit added under a posted entry" grep -q 'its entry is posted' <<<"$out"
out=$(as_app "INSERT INTO ledger_credits (address, amount, salt, entry_key) VALUES ('0x$(printf 'a%.0s' {1..40})', 9, decode(repeat('22', 32), 'hex'), 'reward:pending') ON CONFLICT (entry_key, address) DO UPDATE SET amount = EXCLUDED.amount")
check "as cohort_app, refused: restating a credit" grep -q 'permission denied' <<<"$out"
for sql in "UPDATE ledger_credits SET amount = 8" \
           "UPDATE ledger_credits SET address = '0x$(printf 'c%.0s' {1..40})'" \
           "UPDATE ledger_credits SET salt = decode(repeat('33', 32), 'hex')" \
           "DELETE FROM ledger_credits" "TRUNCATE ledger_credits" \
           "ALTER TABLE ledger_credits DISABLE TRIGGER ledger_credits_fixed"; do
  out=$(as_app "$sql")
  check "as cohort_app, refused: $sql" grep -Eq 'permission denied|must be owner|cannot change' <<<"$out"
done
check_eq "the credits are as written" "$(as_app "SELECT string_agg(amount::text, ',' ORDER BY amount) FROM ledger_credits")" "6"
# cohort watch's role (032) reads the entries and the credits, nothing else, and writes nothing.
as_watch() { psql "$surl user=cohort_watch" -qtAX -c "$1" 2>&1; }
check_eq "cohort_watch reads the entries and the credits" \
  "$(as_watch "SELECT (SELECT count(*) FROM ledger_entries) || ',' || (SELECT count(*) FROM ledger_credits)")" "1,1"
for sql in "SELECT count(*) FROM sessions" "SELECT count(*) FROM contributions" \
           "SELECT count(*) FROM ledger_keys" "DELETE FROM ledger_credits" \
           "INSERT INTO ledger_entries (seq) VALUES (99)"; do
  out=$(as_watch "$sql")
  check "as cohort_watch, refused: $sql" grep -q 'permission denied' <<<"$out"
done
finish
