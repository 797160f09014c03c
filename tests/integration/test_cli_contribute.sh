#!/usr/bin/env bash
# `cohort contribute` against a live cohortd: a researcher funds and posts a small
# k-anonymity request, two contributors (key files, consent profiles) contribute with the CLI,
# which signs in, gives the EIP-712 consent, seals the record to the request's key and
# submits it; the owner then sees two contributions. Failures are one line and a non-zero
# exit: a record outside the schema's bounds (the line names the field, never the value), a
# record that is not a JSON object, an unknown request, a second consent not needed.
source "$(dirname "$0")/lib.sh"
# A database of its own: the shared test database's state belongs to the other tests.
db=coh_cc_$$
admin() { psql "$COH_TEST_DATABASE_URL" -qtAX -v ON_ERROR_STOP=1 -c "$1"; }
admin "CREATE DATABASE $db" || exit 1
trap 'admin "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1; cleanup' EXIT
COH_TEST_DATABASE_URL=$(printf '%s' "$COH_TEST_DATABASE_URL" | sed "s/dbname=[^ ]*/dbname=$db/")
start_cohortd COHORT_SIGNIN_RATE_PER_MIN=1000 || exit 1

one_line() { [ "$(wc -l <"$1")" -eq 1 ] && [ -s "$1" ]; }
auth() { printf 'Authorization: Bearer %s' "$1"; }

# The researcher: key, sign-in, role, funds.
R=$("$COH_CLI" keys new --out "$T_DIR/researcher")
rtoken=$("$COH_CLI" sign-in --url "$BASE" --key "$T_DIR/researcher")
http PUT /v1/me/profile -H "$(auth "$rtoken")" -H 'Content-Type: application/json' \
  --data '{"roles":["researcher"],"display_name":"Lab"}'
check_eq "the researcher sets the researcher role" "$STATUS" 200
out=$(COHORT_DATABASE_URL="$COH_TEST_DATABASE_URL" COHORT_MASTER_KEY_FILE="$T_DIR/master.key" \
  "$COH_CLI" ledger deposit --address "$R" --amount 1000000 --key "it-contrib-$R" 2>&1)
check_contains "the researcher gets a deposit" "$out" "posted entry"

purpose="it-contribute-$$"
closes=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)
request_body=$(jq -n --arg p "$purpose" --arg c "$closes" '{
  title: "CLI contributions", description: "integration test", purpose: $p,
  schema: {fields: [
    {name: "age", type: "integer", unit: "years", min: 18, max: 100, role: "quasi-identifier"},
    {name: "mass", type: "decimal", min: "0", max: "80", role: "quasi-identifier"},
    {name: "class", type: "category", categories: ["tested_positive", "tested_negative"],
     role: "sensitive"}]},
  eligibility: {}, privacy: {mode: "k-anonymity", k: 2},
  reward: "1000", min_contributors: 2, max_contributors: 5, closes_at: $c, retention_days: 30}')
http POST /v1/requests -H "$(auth "$rtoken")" -H 'Content-Type: application/json' --data "$request_body"
check_eq "the researcher posts a request" "$STATUS" 201
ID=$(jq_body .id)

# Two contributors with consent profiles for the request's purpose.
profile=$(jq -n --arg p "$purpose" '{roles: ["contributor"], consent_profile: {categories: ["health"],
  purposes: [$p], attributes: {}, lifetime_epsilon: "5"}}')
for i in 1 2; do
  "$COH_CLI" keys new --out "$T_DIR/c$i" >/dev/null
  t=$("$COH_CLI" sign-in --url "$BASE" --key "$T_DIR/c$i")
  http PUT /v1/me/profile -H "$(auth "$t")" -H 'Content-Type: application/json' --data "$profile"
  check_eq "contributor $i sets a consent profile" "$STATUS" 200
done
printf '{"age": 34, "mass": 31.5, "class": "tested_negative"}\n' >"$T_DIR/r1.json"
printf '{\n  "age": 51,\n  "mass": 27.25,\n  "class": "tested_positive"\n}\n' >"$T_DIR/r2.json"

for i in 1 2; do
  "$COH_CLI" contribute --request "$ID" --record "$T_DIR/r$i.json" --key "$T_DIR/c$i" \
    --url "$BASE" >"$T_DIR/out" 2>"$T_DIR/err"
  rc=$?
  check_eq "contributor $i: contribute exits 0" "$rc" 0
  check "contributor $i: one line on stdout" one_line "$T_DIR/out"
  check "contributor $i: nothing on stderr" test ! -s "$T_DIR/err"
  check_contains "contributor $i: the line names the request and the consent" \
    "$(cat "$T_DIR/out")" "contributed to $ID ("
done
check_contains "the first contribution also gave the consent" "$(cat "$T_DIR/out")" "consent given"
# The CLI computed the terms itself and names what the version-2 consent agreed to.
check_contains "the line names the privacy terms consented to" "$(cat "$T_DIR/out")" \
  "consent given: k-anonymity k=2, l=2 on class; encrypted records destroyed 30 days after release)"
http GET "/v1/requests/$ID/consents/me" -H "$(auth "$("$COH_CLI" sign-in --url "$BASE" --key "$T_DIR/c2")")"
check_eq "the stored consent is version 2" "$(jq_body .version)" 2

http GET "/v1/requests/$ID" -H "$(auth "$rtoken")"
check_eq "the owner sees 2 contributions" "$(jq_body .contributions)" 2

# Contributing again with a token replaces the record and signs no second consent.
t1=$("$COH_CLI" sign-in --url "$BASE" --key "$T_DIR/c1")
out=$("$COH_CLI" contribute --request "$ID" --record "$T_DIR/r1.json" --token "$t1" --url "$BASE" 2>&1)
check_eq "a second contribution with --token alone (consent already live)" "$out" \
  "$(printf 'contributed to %s (%d bytes sealed)' "$ID" $(($(stat -c %s "$T_DIR/r1.json") + 48)))"
http GET "/v1/requests/$ID" -H "$(auth "$rtoken")"
check_eq "still 2 contributions (one per contributor)" "$(jq_body .contributions)" 2

# refused NAME TEXT ARGS...: `cohort contribute ARGS` fails: non-zero exit, nothing on
# stdout, one line on stderr that holds TEXT.
refused() {
  local name=$1 text=$2 rc
  shift 2
  "$COH_CLI" contribute "$@" >"$T_DIR/out" 2>"$T_DIR/err"
  rc=$?
  check "$name: non-zero exit" test "$rc" -ne 0
  check "$name: nothing on stdout" test ! -s "$T_DIR/out"
  check "$name: one-line error" one_line "$T_DIR/err"
  check_contains "$name: the error says why" "$(cat "$T_DIR/err")" "$text"
}

"$COH_CLI" keys new --out "$T_DIR/c3" >/dev/null
printf '{"age": 150, "mass": 20, "class": "tested_negative"}' >"$T_DIR/bad.json"
refused "age out of bounds" "cohort contribute: contribution refused: HTTP 422: " \
  --request "$ID" --record "$T_DIR/bad.json" --key "$T_DIR/c1" --url "$BASE"
check_contains "the out-of-bounds error names the field" "$(cat "$T_DIR/err")" "age"
check "the out-of-bounds error does not show the value" sh -c "! grep -q 150 '$T_DIR/err'"
printf '{"age": 40, "mass": 20, "class": "tested_negative", "zip": "12345"}' >"$T_DIR/extra.json"
refused "a field outside the schema" "'zip' is not a field of the schema" \
  --request "$ID" --record "$T_DIR/extra.json" --key "$T_DIR/c1" --url "$BASE"
printf '[1, 2]' >"$T_DIR/array.json"
refused "a record that is not an object" "is not a JSON object" \
  --request "$ID" --record "$T_DIR/array.json" --key "$T_DIR/c1" --url "$BASE"
printf '{"age": 40,' >"$T_DIR/trunc.json"
refused "a record that is not JSON" "is not JSON" \
  --request "$ID" --record "$T_DIR/trunc.json" --key "$T_DIR/c1" --url "$BASE"
refused "a missing record file" "--record: cannot open" \
  --request "$ID" --record "$T_DIR/missing.json" --key "$T_DIR/c1" --url "$BASE"
other=0x$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
refused "an unknown request" "cohort contribute: cannot get the request: HTTP 404: no request $other" \
  --request "$other" --record "$T_DIR/r1.json" --key "$T_DIR/c1" --url "$BASE"
refused "a malformed request id" "--request must be 0x followed by 64 hex digits" \
  --request 0x1234 --record "$T_DIR/r1.json" --key "$T_DIR/c1" --url "$BASE"
refused "a contributor without a profile" "consent refused: HTTP 403: " \
  --request "$ID" --record "$T_DIR/r1.json" --key "$T_DIR/c3" --url "$BASE"
refused "the owner cannot contribute" "HTTP 403: a researcher cannot contribute to their own request" \
  --request "$ID" --record "$T_DIR/r1.json" --key "$T_DIR/researcher" --url "$BASE"
t3=$("$COH_CLI" sign-in --url "$BASE" --key "$T_DIR/c3")
refused "a consent needs the key" "giving the consent for request $ID needs --key" \
  --request "$ID" --record "$T_DIR/r1.json" --token "$t3" --url "$BASE"
http GET "/v1/requests/$ID" -H "$(auth "$rtoken")"
check_eq "the refused contributions left 2 contributions" "$(jq_body .contributions)" 2
finish
