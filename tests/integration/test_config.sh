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

# One settings table for cohortd and the CLI: `cohortd --check` and `cohort ledger` accept or
# refuse the same file and environment alike, with the same one line after the program name.
# same_refusal NAME FILE EXPECTED [ENV=VALUE ...]
same_refusal() {
  local name=$1 file=$2 want=$3 d l drc lrc; shift 3
  d=$(env -i PATH="$PATH" "$@" "$COHORTD" --config "$file" --check 2>&1 >/dev/null); drc=$?
  l=$(env -i PATH="$PATH" "$@" "$COH_CLI" ledger rotate-key --config "$file" 2>&1 >/dev/null); lrc=$?
  check_eq "$name: cohortd --check exits 1" "$drc" 1
  check_eq "$name: cohort ledger rotate-key exits 1" "$lrc" 1
  check_eq "$name: cohortd says one line" "$(printf '%s\n' "$d" | wc -l)" 1
  check_eq "$name: cohort ledger says one line" "$(printf '%s\n' "$l" | wc -l)" 1
  check_eq "$name: the same message" "${l#cohort ledger: }" "${d#cohortd: }"
  check_contains "$name: named with where it came from" "$d" "$want"
}
base="database_url = host=/nonexistent\nmaster_key_file = $T_DIR/master.key\n"
printf "$base"'# a comment\nlisten = 127.0.0.1:1\ncolour = blue\n' > "$T_DIR/unknown.conf"
same_refusal "unknown setting" "$T_DIR/unknown.conf" "unknown.conf:5: unknown setting 'colour'"
printf "$base"'chain_id = 1x\n' > "$T_DIR/chain.conf"
same_refusal "malformed chain_id" "$T_DIR/chain.conf" "chain.conf:3: setting 'chain_id' must be an integer in [1, 2147483647], got '1x'"
printf "$base"'http_threads = lots\n' > "$T_DIR/threads.conf"
same_refusal "a cohortd-only setting, malformed" "$T_DIR/threads.conf" "threads.conf:3: setting 'http_threads' must be an integer"
printf "$base"'rewards_contract = 0x1234\n' > "$T_DIR/addr.conf"
same_refusal "malformed address" "$T_DIR/addr.conf" "addr.conf:3: setting 'rewards_contract' must be empty or an address"
# A code hash cut short (an address pasted instead): refused at load, before any node is asked.
printf "$base"'rewards_code_hash = 0x5fbdb2315678afecb367f032d93f642f64180aa3\n' > "$T_DIR/hash.conf"
same_refusal "malformed code hash" "$T_DIR/hash.conf" "hash.conf:3: setting 'rewards_code_hash' must be empty or a hash"
printf "$base"'privacy_max_epsilon = 0.0000001\n' > "$T_DIR/eps.conf"
same_refusal "decimal with 7 fraction digits" "$T_DIR/eps.conf" "eps.conf:3: setting 'privacy_max_epsilon' must be a decimal in [0.000001, 10]"
printf "$base"'just words\n' > "$T_DIR/noeq.conf"
same_refusal "a line without =" "$T_DIR/noeq.conf" "noeq.conf:3: expected name = value"
printf "$base"'metrics_listen = 0.0.0.0:9464\n' > "$T_DIR/metrics.conf"
same_refusal "metrics off loopback without a token" "$T_DIR/metrics.conf" "metrics.conf:3: metrics_listen is not a loopback address"
same_refusal "a short metrics token" "$T_DIR/metrics.conf" "COHORT_METRICS_TOKEN: metrics_token must have at least 16 characters" COHORT_METRICS_TOKEN=short
printf "$base"'chain_id = 31337\n' > "$T_DIR/envbad.conf"
same_refusal "a malformed environment override" "$T_DIR/envbad.conf" "COHORT_CHAIN_ID: setting 'chain_id' must be an integer in [1, 2147483647], got '0'" COHORT_CHAIN_ID=0
printf 'master_key_file = %s\n' "$T_DIR/master.key" > "$T_DIR/nodb.conf"
same_refusal "a missing required setting" "$T_DIR/nodb.conf" "setting 'database_url' is required"
same_refusal "a file that is not there" "$T_DIR/absent.conf" "cannot open $T_DIR/absent.conf"
# A secret's value is never echoed.
printf "$base"'migrate_database_url =\nmetrics_token = hunter2hunter2\n' > "$T_DIR/secret.conf"
out=$(env -i PATH="$PATH" "$COHORTD" --config "$T_DIR/secret.conf" --check 2>&1)
check "a secret's value is not echoed" test "$(grep -c hunter2 <<<"$out")" = 0

# Both accept a good file: the environment overrides a bad file value for both alike, and
# `cohort ledger` gets past its settings (to refusing the made-up address).
printf "$base"'chain_id = 1x\n' > "$T_DIR/override.conf"
out=$(env -i PATH="$PATH" COHORT_DATABASE_URL="$COH_TEST_DATABASE_URL" COHORT_CHAIN_ID=31337 "$COHORTD" --config "$T_DIR/override.conf" --check 2>&1)
check_contains "cohortd: COHORT_CHAIN_ID overrides a bad file value" "$out" "configuration ok"
out=$(env -i PATH="$PATH" COHORT_CHAIN_ID=31337 "$COH_CLI" ledger deposit --config "$T_DIR/override.conf" --address nope --amount 1 2>&1)
check_contains "cohort ledger: the same override" "$out" "--address 'nope' is not a valid address"

# cohortd --help lists every setting from the table.
help=$("$COHORTD" --help)
for s in database_url chain_id privacy_max_delta metrics_token release_lease_s; do
  check_contains "--help lists $s" "$help" "  $s ("
done
finish
