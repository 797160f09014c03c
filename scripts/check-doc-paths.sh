#!/usr/bin/env bash
# Every repository path the documents name in backquotes (`src/...`, `docs/...`) exists, so
# the behaviour-to-file table in docs/ARCHITECTURE.md cannot point at a file that moved.
# Patterns (a '*' or NNN) are skipped. Run by ctest (docs_paths).
set -euo pipefail
cd "$(dirname "$0")/.."
missing=0
while read -r p; do
  case "$p" in *'*'* | *NNN*) continue ;; esac
  if [ ! -e "$p" ]; then
    echo "docs name $p, which does not exist" >&2
    missing=1
  fi
done < <(grep -ohE '`(src|sql|web|docs|tests|scripts|bench|contracts-abi|fuzz)/[^` ]+`' README.md docs/*.md | tr -d '`' | sort -u)
exit $missing
