#!/usr/bin/env bash
# Builds the release tree (build/) and, with --asan, the sanitizer tree (build-asan/).
source "$(dirname "$0")/common.sh"
cmake -S "$COH_ROOT" -B "$COH_BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCOH_WERROR=ON >/dev/null
cmake --build "$COH_BUILD" -j"$(nproc)"
# The web app: web/src bundled into web/app.js by the pinned esbuild that npm ci installs.
if [ -d "$COH_ROOT/node_modules/esbuild" ]; then
  node "$COH_ROOT/web/build.mjs"
else
  log "esbuild is not installed (npm ci): web/app.js not built"
fi
if [ "${1:-}" = "--asan" ]; then
  cmake -S "$COH_ROOT" -B "$COH_BUILD_ASAN" -DCMAKE_BUILD_TYPE=Debug -DCOH_SANITIZE=ON -DCOH_BENCH=OFF -DCOH_WERROR=ON >/dev/null
  cmake --build "$COH_BUILD_ASAN" -j"$(nproc)"
fi
