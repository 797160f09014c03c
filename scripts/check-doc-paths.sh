#!/usr/bin/env bash
# Every repository path the documents name in backquotes (`src/...`, `docs/...`) exists, so
# the behaviour-to-file table in docs/ARCHITECTURE.md cannot point at a file that moved, and
# every picture they show exists.
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
# Pictures the documents show (docs/WEB.md's screenshots), relative to docs/.
while read -r p; do
  if [ ! -e "docs/$p" ]; then
    echo "docs show docs/$p, which does not exist" >&2
    missing=1
  fi
done < <(grep -ohE '!\[[^]]*\]\([^)]+\)' docs/*.md | sed -E 's/.*\(([^)]+)\)/\1/' | sort -u)
exit $missing
