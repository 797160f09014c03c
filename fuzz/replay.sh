#!/bin/sh
# Runs a harness once over each of the given corpus directories that exist (libFuzzer binaries
# with -runs=0; replay.c binaries ignore the flag). Usage: replay.sh <harness> <dir>...
bin=$1; shift
dirs=""
for d in "$@"; do [ -d "$d" ] && dirs="$dirs $d"; done
[ -n "$dirs" ] || { echo "no corpus for $bin"; exit 1; }
# shellcheck disable=SC2086
exec "$bin" -runs=0 $dirs
