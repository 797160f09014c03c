#!/usr/bin/env bash
# Gas of anchor and claim (claims tree of 1,000,000 accounts, proof depth 20) beside the
# OpenZeppelin MerkleProof baseline, measured on a private anvil started for the run; then
# GET /v1/claims/{address}'s proof path over the same size of tree, cached vs uncached, against
# PostgreSQL (claims.sh, which can also run alone).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
export COH_BUILD=${COH_BUILD:-$ROOT/build}
cd "$ROOT"
node bench/chain/gas.mjs "${COH_BENCH_CHAIN_ACCOUNTS:-1000000}"
echo
bash bench/chain/claims.sh
