#!/usr/bin/env bash
# CLI test for `cohort keys new/show`: 0600 file, no overwrite, mode check, one-line errors.
set -u
cohort=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fails=0
check() { # check NAME CONDITION...
  local name=$1; shift
  if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fails=$((fails + 1)); fi
}
one_line() { [ "$(wc -l <"$1")" -eq 1 ] && [ -s "$1" ]; }

addr=$("$cohort" keys new --out "$dir/k" 2>"$dir/err"); rc=$?
check "new exits 0" [ $rc -eq 0 ]
check "new prints an EIP-55 address" bash -c "[[ '$addr' =~ ^0x[0-9a-fA-F]{40}$ ]]"
check "key file mode is 0600" [ "$(stat -c %a "$dir/k")" = 600 ]
check "key file is 64 hex + newline" bash -c "[[ \$(cat '$dir/k') =~ ^[0-9a-f]{64}$ ]] && [ \$(stat -c %s '$dir/k') -eq 65 ]"

before=$(cat "$dir/k")
"$cohort" keys new --out "$dir/k" >"$dir/out" 2>"$dir/err"; rc=$?
check "new refuses to overwrite" [ $rc -ne 0 ]
check "overwrite error is one line" one_line "$dir/err"
check "existing key unchanged" [ "$(cat "$dir/k")" = "$before" ]

out=$("$cohort" keys show --key "$dir/k" --chain-id 1); rc=$?
check "show exits 0" [ $rc -eq 0 ]
check "show prints the same address" [ "$(echo "$out" | sed -n 's/^address //p')" = "$addr" ]
check "show prints the DID" [ "$(echo "$out" | sed -n 's/^did //p')" = "did:pkh:eip155:1:$addr" ]

chmod 0644 "$dir/k"
"$cohort" keys show --key "$dir/k" >"$dir/out" 2>"$dir/err"; rc=$?
check "show refuses mode 0644" [ $rc -ne 0 ]
check "bad mode error is one line" one_line "$dir/err"
check "bad mode error names 0600" grep -q 0600 "$dir/err"
check "nothing on stdout on error" [ ! -s "$dir/out" ]

"$cohort" keys show --key "$dir/missing" >/dev/null 2>"$dir/err"; rc=$?
check "missing file fails with one line" bash -c "[ $rc -ne 0 ] && [ \$(wc -l <'$dir/err') -eq 1 ]"
"$cohort" keys new >/dev/null 2>"$dir/err"; rc=$?
check "missing --out is a usage error (2)" [ $rc -eq 2 ]
check "usage error is one line" one_line "$dir/err"
"$cohort" keys frob >/dev/null 2>&1; rc=$?
check "unknown subcommand is a usage error" [ $rc -eq 2 ]

[ $fails -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
