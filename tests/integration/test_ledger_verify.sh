#!/usr/bin/env bash
# The public ledger over HTTP and `cohort verify` on a database of its own: deposits through
# `cohort ledger deposit` (local chains only, idempotent), the ledger endpoints (pagination,
# filters, problems for bad input), then four tampered copies of the database, each edited
# directly with the append-only trigger disabled: a changed amount, a removed entry, two
# entries swapped, a forged signature. verify must name the first broken seq each time.
source "$(dirname "$0")/lib.sh"
db=coh_lv_$$
admin() { psql "$COH_TEST_DATABASE_URL" -qtAX -v ON_ERROR_STOP=1 -c "$1"; }
dburl() { printf '%s' "$COH_TEST_DATABASE_URL" | sed "s/dbname=[^ ]*/dbname=$1/"; }
admin "CREATE DATABASE $db"
dbs=($db)
trap 'for d in "${dbs[@]}"; do admin "DROP DATABASE IF EXISTS $d" >/dev/null 2>&1; done; cleanup' EXIT
url=$(dburl $db)
export COHORT_DATABASE_URL="$url" COHORT_MASTER_KEY_FILE="$T_DIR/master.key"
A=0x1111111111111111111111111111111111111111
B=0x2222222222222222222222222222222222222222

"$COHORTD" --check >/dev/null 2>&1
check "cohortd --check creates the ledger key" test "$(psql "$url" -qtAX -c 'SELECT count(*) FROM ledger_keys WHERE active')" = 1
out=$("$COH_CLI" ledger deposit --address $A --amount 1000 --key dep-a1 2>&1)
check_contains "a deposit is posted as entry 1" "$out" "posted entry 1"
out=$("$COH_CLI" ledger deposit --address $A --amount 1000 --key dep-a1 2>&1)
check_contains "the same deposit retried is not posted twice" "$out" "already posted as entry 1"
out=$("$COH_CLI" ledger deposit --address $A --amount 7 --key dep-a1 2>&1)
check_contains "the same key with another amount is refused" "$out" "already used for entry 1 with other content"
out=$(COHORT_CHAIN_ID=1 "$COH_CLI" ledger deposit --address $A --amount 5 2>&1)
check "deposits are refused on a public chain id" test $? -ne 0
check_contains "with one line saying why" "$out" "chain_id 1 is not a local test network"
for i in 2 3 4 5; do "$COH_CLI" ledger deposit --address $B --amount $((i * 10)) --key dep-b$i >/dev/null; done
check_eq "five entries on the ledger" "$(psql "$url" -qtAX -c 'SELECT count(*) FROM ledger_entries')" 5

start_cohortd COHORT_DATABASE_URL="$url"
http GET /v1/chain
check_eq "GET /v1/chain answers 200" "$STATUS" 200
signer=$(jq_body .ledger_signer)
check_eq "and publishes the ledger signer" "$(psql "$url" -qtAX -c 'SELECT address FROM ledger_keys WHERE active')" "$(printf '%s' "$signer" | tr A-F a-f)"
check_eq "and the chain id" "$(jq_body .chain_id)" 31337
check_eq "and the head" "$(jq_body .head.seq)" 5
http GET "/v1/ledger/entries?limit=2"
check_eq "the first page has 2 entries" "$(jq_body '.entries | length')" 2
check_eq "and a next cursor" "$(jq_body .next)" 2
http GET "/v1/ledger/entries?after=2&limit=2"
check_eq "the next page starts after the cursor" "$(jq_body '.entries[0].seq')" 3
http GET "/v1/ledger/entries?account=$B&kind=deposit"
check_eq "filtering by address and kind" "$(jq_body '[.entries[].credit] | unique | join(",")')" "available:$B"
http GET "/v1/ledger/entries/1"
check_eq "an entry has its amount as a decimal string" "$(jq_body .amount)" 1000
check_eq "its signer" "$(jq_body .signer)" "$signer"
check_eq "and no inclusion proof until anchoring" "$(jq_body .inclusion_proof)" null
http GET "/v1/accounts/$A/balance"
check_eq "the balance shows what was deposited once" "$(jq_body .available)" 1000
for bad in "/v1/ledger/entries?after=-1" "/v1/ledger/entries?limit=0" "/v1/ledger/entries?kind=gift" \
           "/v1/ledger/entries?request=0x12" "/v1/ledger/entries/zero" "/v1/accounts/0x12/balance"; do
  http GET "$bad"
  check_eq "bad input $bad is a 422 problem" "$STATUS $CTYPE" "422 application/problem+json"
done
http GET "/v1/ledger/entries/999"
check_eq "an unknown entry is a 404 problem" "$STATUS" 404

out=$("$COH_CLI" verify --url "$BASE" --export "$T_DIR/export.json")
check "verify passes on the untouched ledger" test $? -eq 0
check_contains "and says so" "$out" "ok: 5 entries"
out=$("$COH_CLI" verify --file "$T_DIR/export.json")
check "verify passes on the exported file" test $? -eq 0
jq '.entries[2].amount = "31"' "$T_DIR/export.json" > "$T_DIR/tampered.json"
out=$("$COH_CLI" verify --file "$T_DIR/tampered.json")
check "verify fails on a tampered export" test $? -ne 0
check_contains "naming the entry" "$out" "break at seq 3: hash mismatch"
kill "${T_PIDS[-1]}"; wait "${T_PIDS[-1]}" 2>/dev/null

# A live server: deposits to 20 addresses are posted without pause while verify runs. Each
# balance is compared at the entry the server's figures include, so none of the runs may see
# a mismatch (a copy of the database, so the tampered copies below start from 5 entries).
admin "CREATE DATABASE ${db}_live TEMPLATE $db"
dbs+=(${db}_live)
start_cohortd COHORT_DATABASE_URL="$(dburl ${db}_live)"
(
  export COHORT_DATABASE_URL="$(dburl ${db}_live)"
  i=0
  while :; do
    "$COH_CLI" ledger deposit --address "$(printf '0x%040x' $((i % 20 + 1)))" --amount 1 >/dev/null 2>&1
    i=$((i + 1))
  done
) &
poster=$!
live_ok=0
for run in $(seq 1 40); do
  "$COH_CLI" verify --url "$BASE" >"$T_DIR/live.out" 2>&1 && live_ok=$((live_ok + 1)) || cat "$T_DIR/live.out" >&2
done
kill $poster; wait $poster 2>/dev/null
posted=$(psql "$(dburl ${db}_live)" -qtAX -c 'SELECT count(*) - 5 FROM ledger_entries')
check "deposits were posted while verify ran" test "$posted" -gt 20
check_eq "verify passed 40 of 40 runs on the live server ($posted deposits meanwhile)" "$live_ok" 40
kill "${T_PIDS[-1]}"; wait "${T_PIDS[-1]}" 2>/dev/null

# tamper NAME SQL EXPECTED: a copy of the database edited directly, then verified over HTTP.
tamper() {
  local name=$1 sql=$2 want=$3 copy=${db}_$1
  admin "CREATE DATABASE $copy TEMPLATE $db"
  dbs+=($copy)
  psql "$(dburl $copy)" -qtAX -v ON_ERROR_STOP=1 -c "ALTER TABLE ledger_entries DISABLE TRIGGER ledger_entries_no_update" \
    -c "$sql" -c "ALTER TABLE ledger_entries ENABLE TRIGGER ledger_entries_no_update" >/dev/null
  start_cohortd COHORT_DATABASE_URL="$(dburl $copy)"
  out=$("$COH_CLI" verify --url "$BASE")
  check "verify detects $name" test $? -ne 0
  check_contains "and prints the first broken link ($name)" "$out" "$want"
  kill "${T_PIDS[-1]}"; wait "${T_PIDS[-1]}" 2>/dev/null
}
tamper amount "UPDATE ledger_entries SET amount = amount + 1 WHERE seq = 3" "break at seq 3: hash mismatch"
tamper removed "DELETE FROM ledger_entries WHERE seq = 3" "break at seq 3: expected entry seq 3 here but found seq 4"
tamper reordered "UPDATE ledger_entries SET seq = 100 WHERE seq = 2; UPDATE ledger_entries SET seq = 2 WHERE seq = 3; UPDATE ledger_entries SET seq = 3 WHERE seq = 100" "break at seq 2"
tamper forged "UPDATE ledger_entries SET signature = (SELECT signature FROM ledger_entries WHERE seq = 3) WHERE seq = 4" "break at seq 4: signature forged"
tamper tail "DELETE FROM ledger_entries WHERE seq = 5" "the server's head is seq 5 but the entries end at seq 4"
finish
