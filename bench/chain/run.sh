#!/usr/bin/env bash
# Gas of anchor and claim (claims tree of 1,000,000 accounts, proof depth 20) beside the
# OpenZeppelin MerkleProof baseline, measured on a private anvil started for the run.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export COH_BUILD=${COH_BUILD:-$ROOT/build}
cd "$ROOT"
node bench/chain/gas.mjs "${COH_BENCH_CHAIN_ACCOUNTS:-1000000}"
