#!/usr/bin/env bash
# Builds the release tree (build/) and, with --asan, the sanitizer tree (build-asan/).
source "$(dirname "$0")/common.sh"
cmake -S "$COH_ROOT" -B "$COH_BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$COH_BUILD" -j"$(nproc)"
if [ "${1:-}" = "--asan" ]; then
  cmake -S "$COH_ROOT" -B "$COH_BUILD_ASAN" -DCMAKE_BUILD_TYPE=Debug -DCOH_SANITIZE=ON -DCOH_BENCH=OFF >/dev/null
  cmake --build "$COH_BUILD_ASAN" -j"$(nproc)"
fi
