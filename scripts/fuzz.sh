#!/usr/bin/env bash
# Runs every libFuzzer harness in fuzz/ for the given number of seconds each, one after the
# other, and prints a markdown table of libFuzzer's final figures (executions, coverage
# counters cov/ft, corpus size). Builds the clang tree (COH_BUILD_FUZZ, default build-fuzz/)
# with -DCOH_FUZZ=ON first. New inputs go to var/fuzz/corpus/<name> (kept between runs, not
# committed); crashes to var/fuzz/artifacts/<name>/. Exits 1 if any harness crashed: then
# fix the bug and copy the input into fuzz/regressions/<name>/, which ctest replays.
# Usage: scripts/fuzz.sh [seconds-per-fuzzer (default 15)] [name ...]
source "$(dirname "$0")/common.sh"
secs=${1:-15}
shift || true
COH_BUILD_FUZZ=${COH_BUILD_FUZZ:-$COH_ROOT/build-fuzz}
command -v clang >/dev/null || die "clang is not installed (scripts/install-deps.sh)"

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for f in "$COH_ROOT"/fuzz/fuzz_*.c; do n=$(basename "$f" .c); names+=("${n#fuzz_}"); done
fi
targets=()
for n in "${names[@]}"; do targets+=("fuzz_$n"); done
log "fuzz: building ${#targets[@]} harnesses in $COH_BUILD_FUZZ"
CC=clang cmake -S "$COH_ROOT" -B "$COH_BUILD_FUZZ" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCOH_FUZZ=ON -DCOH_BENCH=OFF >/dev/null
cmake --build "$COH_BUILD_FUZZ" -j"${COH_JOBS:-2}" --target "${targets[@]}" >/dev/null

work=$COH_VAR/fuzz
mkdir -p "$work"
table=$(mktemp)
status=0
for n in "${names[@]}"; do
  corpus=$work/corpus/$n arts=$work/artifacts/$n
  rm -rf "$arts"; mkdir -p "$corpus" "$arts"
  seeds=()
  for d in "$COH_ROOT/fuzz/corpus/$n" "$COH_ROOT/fuzz/regressions/$n"; do [ -d "$d" ] && seeds+=("$d"); done
  log "fuzz: $n for ${secs}s"
  out=$work/$n.log
  # -rss_limit_mb: parsers must stay small; -max_len keeps inputs near real request sizes.
  rc=0
  "$COH_BUILD_FUZZ/fuzz/fuzz_$n" "$corpus" "${seeds[@]}" -max_total_time="$secs" \
    -print_final_stats=1 -max_len=8192 -rss_limit_mb=1024 -timeout=10 \
    -artifact_prefix="$arts/" >"$out" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out" | tail -1)
  persec=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out" | tail -1)
  last=$(grep -E '^#[0-9]+' "$out" | grep 'cov:' | tail -1)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<<"$last")
  result=ok
  if [ $rc -ne 0 ]; then
    result="**crash** (see $out)"
    status=1
  fi
  printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$n" "$secs" "${execs:-?}" \
    "${persec:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$result" >>"$table"
done
echo
echo "| fuzzer | seconds | executions | exec/s | cov | ft | corpus | result |"
echo "|---|---:|---:|---:|---:|---:|---:|---|"
cat "$table"
rm -f "$table"
[ $status -eq 0 ] || log "fuzz: a harness crashed; its input is in $work/artifacts/<name>/"
exit $status
