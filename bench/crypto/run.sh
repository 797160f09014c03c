#!/usr/bin/env bash
# Prints the crypto benchmark table (markdown). Binaries come from ${COH_BUILD:-build}.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin="${COH_BUILD:-build}/bench/crypto/bench_crypto"
if [ ! -x "$bin" ]; then
  echo "bench/crypto: $bin not found; build first (cmake --build ${COH_BUILD:-build})" >&2
  exit 1
fi
"$bin"
