#!/usr/bin/env bash
# Privacy engine benchmark: `cohort anonymize` (k=5, k=10) on each data set in tests/data and
# on a generated 1,000,000-row input, beside the plain Python reference Mondrian
# (bench/privacy/mondrian_ref.py) on the same inputs; then DP sampler throughput (one core).
# Prints markdown. Needs a release build in ${COH_BUILD:-build} (cohort, bench_dp).
set -euo pipefail
cd "$(dirname "$0")/../.."
B=${COH_BUILD:-$PWD/build}
COHORT=$B/src/cli/cohort
OUT=bench/out/privacy
mkdir -p "$OUT"
REF_TIMEOUT=${REF_TIMEOUT:-90}

[ -f bench/out/fertility_1m.csv ] ||
  python3 bench/privacy/gen_1m.py tests/data/fertility.csv bench/out/fertility_1m.csv

inputs=(
  "tests/data/diabetes.csv|age,preg,mass,plas|class"
  "tests/data/healthinsurance.csv|age,gender,married,family,region,ethnicity,education|health"
  "tests/data/cpssw8.csv|age,gender,region,education|earnings"
  "tests/data/fertility.csv|age,gender1,gender2,afam,hispanic,other|morekids"
  "bench/out/fertility_1m.csv|age,gender1,gender2,afam,hispanic|morekids"
  "bench/out/fertility_1m.csv|age,gender1,gender2,afam,hispanic,other|morekids"
)

echo "cohort: \`cohort anonymize\` (default relaxed Mondrian, no suppression), wall time incl."
echo "CSV read and write, median of 3 runs; peak RSS from /usr/bin/time. Python reference:"
echo "strict Mondrian, median split, set-valued categoricals, timeout ${REF_TIMEOUT} s."
echo "fertility_1m = 4 stacked copies of fertility.csv (speed/memory only, not utility)."
echo "Peak RSS includes the ~10 MB baseline of the process (dominant for the small files)."
echo
echo "| input | rows | QIs | k | cohort s | cohort rows/s | cohort NCP | peak RSS MB | RSS / CSV size | ref s | ref rows/s | ref NCP |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for spec in "${inputs[@]}"; do
  IFS='|' read -r file qi sens <<<"$spec"
  name=$(basename "$file" .csv)
  rows=$(($(wc -l <"$file") - 1))
  nqi=$(awk -F, '{print NF}' <<<"$qi")
  csv_mb=$(awk -v b="$(stat -c %s "$file")" 'BEGIN{printf "%.4f", b/1048576}')
  for k in 5 10; do
    times=()
    rss=0
    for rep in 1 2 3; do
      /usr/bin/time -f "%e %M" -o "$OUT/time.txt" "$COHORT" anonymize --input "$file" \
        --output "$OUT/$name.k$k.csv" --qi "$qi" --sensitive "$sens" --k "$k" \
        --report "$OUT/$name.k$k.json" 2>/dev/null
      read -r t m <"$OUT/time.txt"
      times+=("$t")
      [ "$m" -gt "$rss" ] && rss=$m
    done
    t=$(printf '%s\n' "${times[@]}" | sort -g | sed -n 2p)
    ncp=$(python3 -c "import json;print('%.3g'%json.load(open('$OUT/$name.k$k.json'))['ncp'])")
    ref_t="-" ref_rps="-" ref_ncp="-"
    if ref=$(timeout "$REF_TIMEOUT" python3 bench/privacy/mondrian_ref.py "$file" "$qi" "$k"); then
      read -r ref_t ref_rps ref_ncp < <(python3 -c "import json;d=json.loads('$ref');print(d['seconds'],d['rows_per_s'],'%.3g'%d['ncp'])")
    else
      ref_t="> $REF_TIMEOUT (stopped)"
    fi
    awk -v n="$name" -v r="$rows" -v q="$nqi" -v k="$k" -v t="$t" -v c="$ncp" -v m="$rss" \
      -v mb="$csv_mb" -v rt="$ref_t" -v rr="$ref_rps" -v rn="$ref_ncp" 'BEGIN{
      printf "| %s | %d | %d | %d | %.2f | %.0f | %s | %.0f | %.1fx | %s | %s | %s |\n",
             n, r, q, k, t, r / (t > 0 ? t : 0.01), c, m / 1024, (m / 1024) / mb, rt, rr, rn}'
  done
done
echo
echo "DP samplers (exact CKS 2020 algorithms, ChaCha20-expanded libsodium CSPRNG), one core:"
echo
taskset -c 0 "$B/bench/privacy/bench_dp" 2>/dev/null || "$B/bench/privacy/bench_dp"
echo
echo "DP error bounds: stated 95% bound beside the empirical 95% error, and their cost:"
echo
"$B/bench/privacy/bench_dp_bounds"
