#!/usr/bin/env bash
# `cohort sign-in` against a live cohortd: the token it prints works on the API, failures
# are one line and a non-zero exit, a readable key file is refused. Then the sign-in rate
# limits, seen from several client IPs on the loopback range (127.0.0.0/8).
source "$(dirname "$0")/lib.sh"
start_cohortd || exit 1

one_line() { [ "$(wc -l <"$1")" -eq 1 ] && [ -s "$1" ]; }

addr=$("$COH_CLI" keys new --out "$T_DIR/k")
check "keys new writes a key" test -s "$T_DIR/k"
shown=$("$COH_CLI" keys show --key "$T_DIR/k" | sed -n 's/^address //p')
check_eq "keys show agrees with keys new" "$shown" "$addr"

"$COH_CLI" sign-in --url "$BASE" --key "$T_DIR/k" >"$T_DIR/out" 2>"$T_DIR/err"; rc=$?
check_eq "sign-in exits 0" "$rc" 0
check "sign-in prints one line" one_line "$T_DIR/out"
check "sign-in prints nothing on stderr" test ! -s "$T_DIR/err"
token=$(cat "$T_DIR/out")
http GET /v1/me/profile -H "Authorization: Bearer $token"
check_eq "the token reads the profile" "$STATUS" 200
# docs/API.md: responses write addresses lowercase; the CLI shows the key's EIP-55 form.
check_eq "the profile is the key's address" "$(jq_body .address)" "$(printf %s "$shown" | tr A-F a-f)"
check_eq "the profile has the key's DID" "$(jq_body .did)" "did:pkh:eip155:31337:$shown"

token2=$("$COH_CLI" sign-in --url "$BASE/" --key "$T_DIR/k" --statement "Sign in to Cohort from a shell.")
check_eq "sign-in with a statement (and a trailing slash) works" "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token2" "$BASE/v1/me/profile")" 200
check "each sign-in gets a new token" test "$token" != "$token2"

# refused NAME TEXT ARGS...: `cohort sign-in ARGS` fails: non-zero exit, nothing on stdout,
# one line on stderr that holds TEXT.
refused() {
  local name=$1 text=$2 rc; shift 2
  "$COH_CLI" sign-in "$@" >"$T_DIR/out" 2>"$T_DIR/err"; rc=$?
  check "$name: non-zero exit" test "$rc" -ne 0
  check "$name: nothing on stdout" test ! -s "$T_DIR/out"
  check "$name: one-line error" one_line "$T_DIR/err"
  check_contains "$name: the error says why" "$(cat "$T_DIR/err")" "$text"
}

refused "multi-line statement" "cohort sign-in: --statement" --url "$BASE" --key "$T_DIR/k" --statement $'two\nlines'
# Wrong URLs: nothing listening, and a server path that is not Cohort's.
dead=http://127.0.0.1:$(free_port)
refused "unreachable URL" "cohort sign-in: cannot reach $dead/v1/auth/nonce" --url "$dead" --key "$T_DIR/k"
refused "wrong path" "cohort sign-in: cannot get a nonce: " --url "$BASE/wrong" --key "$T_DIR/k"
"$COH_CLI" sign-in --url "not-a-url" --key "$T_DIR/k" >"$T_DIR/out" 2>"$T_DIR/err"; rc=$?
check_eq "a URL without scheme is a usage error" "$rc" 2
# The server must sign in for the host it is reached at (localhost is not 127.0.0.1 here).
refused "another domain" "asks to sign in for domain '${BASE#http://}'" --url "${BASE/127.0.0.1/localhost}" --key "$T_DIR/k"

cp "$T_DIR/k" "$T_DIR/k644"; chmod 0644 "$T_DIR/k644"
refused "key file of mode 0644" "must be a regular file with mode 0600" --url "$BASE" --key "$T_DIR/k644"
refused "missing key file" "cohort sign-in: key_file: cannot open" --url "$BASE" --key "$T_DIR/missing"

# Rate limits (docs/OPERATIONS.md): every attempt takes a token of its client IP's bucket,
# checked first; only a sign-in whose signature verifies takes one of the address's, so
# attempts naming someone else's address with signatures that do not verify cannot lock them
# out (they did, when the address was charged before the signature check).
start_cohortd COHORT_SIGNIN_RATE_PER_MIN=3 || exit 1
domain=${BASE#http://}
message() { # message ADDRESS
  printf '%s wants you to sign in with your Ethereum account:\n%s\n\n\nURI: %s\nVersion: 1\nChain ID: 31337\nNonce: abcdef0123456789\nIssued At: %s' \
    "$domain" "$1" "$BASE" "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
}
attempt() { # attempt SOURCE_IP ADDRESS [SIGNATURE]: prints the status
  jq -n --arg m "$(message "$2")" --arg s "${3:-0x00}" '{message: $m, signature: $s}' |
    curl -s --interface "$1" -o "$T_DIR/rl.body" -w '%{http_code}' \
      -H 'Content-Type: application/json' --data-binary @- "$BASE/v1/auth/siwe"
}
a1=$("$COH_CLI" keys new --out "$T_DIR/a1")
a2=$("$COH_CLI" keys new --out "$T_DIR/a2")
# 65 bytes that parse (r and s in range, low s) but are no signature of a1's.
wrong=0x$(printf '11%.0s' $(seq 64))1b
got=""
for ip in 127.0.0.2 127.0.0.3 127.0.0.4 127.0.0.5 127.0.0.6; do
  got="$got $(attempt $ip "$a1")"
  got="$got $(attempt $ip "$a1" "$wrong")"
done
check_eq "ten bogus sign-ins naming one address from five IPs: none limited" "$(tr ' ' '\n' <<<"$got" | grep -c '^429$')" 0
check_eq "and each was refused" "$(tr ' ' '\n' <<<"$got" | grep -c '^4[0-9][0-9]$')" 10
token_a1=$("$COH_CLI" sign-in --url "$BASE" --key "$T_DIR/a1")
check_eq "the address's owner then signs in" "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token_a1" "$BASE/v1/me/profile")" 200
# Per client IP: a fourth attempt from one IP is refused whatever the address.
got=""
for a in "$a1" "$a2" "$a2" "$a2"; do got="$got $(attempt 127.0.0.10 "$a")"; done
check_eq "one IP: 3 attempts, then 429" "$got" " 422 422 422 429"
check_contains "that 429 names the client limit" "$(jq -r .detail "$T_DIR/rl.body")" "for this client"
check_eq "another IP still gets through" "$(attempt 127.0.0.11 "$a2")" 422
# The CLI reports the server's problem+json: status and detail, on one line. 127.0.0.1 spent
# two of its three tokens on the sign-in above: the nonce takes the last one.
refused "sign-in from a rate-limited client" "cohort sign-in: sign-in refused: HTTP 429: too many sign-in attempts for this client" --url "$BASE" --key "$T_DIR/a1"
finish
