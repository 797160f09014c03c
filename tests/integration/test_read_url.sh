#!/usr/bin/env bash
# database_read_url: the public reads (ledger entries, one entry, anchors) come from the read
# database, everything else from database_url. Shown with two databases of different content:
# the primary holds one deposit, the "replica" three; GET /v1/ledger/entries answers with the
# replica's three, while a balance (not a public read) is the primary's. A malformed
# database_read_url, or one that cannot connect, stops cohortd at start with one line.
source "$(dirname "$0")/lib.sh"
primary=coh_rp_$$ replica=coh_rr_$$
admin() { psql "$COH_TEST_DATABASE_URL" -qtAX -v ON_ERROR_STOP=1 -c "$1"; }
dburl() { printf '%s' "$COH_TEST_DATABASE_URL" | sed "s/dbname=[^ ]*/dbname=$1/"; }
admin "CREATE DATABASE $primary"
admin "CREATE DATABASE $replica"
trap 'admin "DROP DATABASE IF EXISTS $primary" >/dev/null 2>&1; admin "DROP DATABASE IF EXISTS $replica" >/dev/null 2>&1; cleanup' EXIT
export COHORT_MASTER_KEY_FILE="$T_DIR/master.key"
A=0x1111111111111111111111111111111111111111
for d in $primary $replica; do
  COHORT_DATABASE_URL=$(dburl $d) "$COHORTD" --check >/dev/null 2>&1
done
COHORT_DATABASE_URL=$(dburl $primary) "$COH_CLI" ledger deposit --address $A --amount 7 >/dev/null
for i in 1 2 3; do
  COHORT_DATABASE_URL=$(dburl $replica) "$COH_CLI" ledger deposit --address $A --amount 100 >/dev/null
done

out=$(COHORT_DATABASE_URL=$(dburl $primary) COHORT_DATABASE_READ_URL="host=/nonexistent-dir port=1 dbname=x" "$COHORTD" 2>&1)
check "an unreachable database_read_url stops cohortd" test $? -ne 0
check_contains "with one line naming it" "$out" "database_read_url"

start_cohortd COHORT_DATABASE_URL="$(dburl $primary)" COHORT_DATABASE_READ_URL="$(dburl $replica)"
http GET /v1/ledger/entries
check_eq "GET /v1/ledger/entries answers 200" "$STATUS" 200
check_eq "the public ledger is read from database_read_url (three entries)" "$(jq_body '.entries | length')" 3
http GET /v1/ledger/entries/3
check_eq "one entry too" "$STATUS" 200
http GET /v1/anchors
check_eq "and the anchors" "$STATUS" 200
http GET "/v1/accounts/$A/balance"
check_eq "a balance is read from database_url (the primary's 7)" "$(jq_body '.available')" 7
finish
