#!/usr/bin/env bash
# Privacy engine benchmark. Prints markdown. Needs a release build in ${COH_BUILD:-build}
# (cohort, bench_release, bench_dp, bench_dp_bounds).
#  (a) utility: `cohort anonymize` beside the plain strict Mondrian reference
#      (bench/privacy/mondrian_ref.py) on each data set in tests/data at k=5 and k=10, with
#      the reference's QIs and no l-diversity: strict classes (as a market release), numeric
#      QIs on grids from the data sets' a-priori bounds (tests/data/DATASETS.md) with the
#      default steps, then the same without a grid (the old data-bound intervals), with a 5%
#      suppression allowance (NCP with suppressed rows counted as 1, and over released rows),
#      and relaxed;
#  (b) the market's release code (coh_market_release_compute) on the same data under the
#      default floors (k >= 5, distinct l >= 2 on the sensitive field), schema bounds' grids;
#  (c) speed and memory of `cohort anonymize` (default: relaxed, default grid) on each data
#      set and on a generated 1,000,000-row input, beside the reference's time;
#  (d) DP sampler throughput (one core), and DP error bounds against their empirical error.
set -euo pipefail
cd "$(dirname "$0")/../.."
B=${COH_BUILD:-$PWD/build}
COHORT=$B/src/cli/cohort
OUT=bench/out/privacy
mkdir -p "$OUT"
REF_TIMEOUT=${REF_TIMEOUT:-90}

[ -f bench/out/fertility_1m.csv ] ||
  python3 bench/privacy/gen_1m.py tests/data/fertility.csv bench/out/fertility_1m.csv

# file | QIs | sensitive | grids (DATASETS.md bounds) | market schema fields
cat_qi() { printf '{"name":"%s","type":"category","role":"quasi-identifier"}' "$1"; }
int_qi() { printf '{"name":"%s","type":"integer","min":%s,"max":%s,"role":"quasi-identifier"}' "$1" "$2" "$3"; }
sets=(
  "diabetes|age,preg,mass,plas|class|age=21:90 preg=0:20 mass=0:70 plas=0:300|$(int_qi age 21 90),$(int_qi preg 0 20),{\"name\":\"mass\",\"type\":\"decimal\",\"min\":0,\"max\":70,\"decimals\":1,\"role\":\"quasi-identifier\"},$(int_qi plas 0 300),{\"name\":\"class\",\"type\":\"category\",\"role\":\"sensitive\"}"
  "healthinsurance|age,gender,married,family,region,ethnicity,education|health|age=18:65 family=1:20|$(int_qi age 18 65),$(cat_qi gender),$(cat_qi married),$(int_qi family 1 20),$(cat_qi region),$(cat_qi ethnicity),$(cat_qi education),{\"name\":\"health\",\"type\":\"category\",\"role\":\"sensitive\"}"
  "cpssw8|age,gender,region,education|earnings|age=21:64 education=0:20|$(int_qi age 21 64),$(cat_qi gender),$(cat_qi region),$(int_qi education 0 20),{\"name\":\"earnings\",\"type\":\"decimal\",\"min\":0,\"max\":100,\"decimals\":9,\"role\":\"sensitive\"}"
  "fertility|age,gender1,gender2,afam,hispanic,other|morekids|age=21:35|$(int_qi age 21 35),$(cat_qi gender1),$(cat_qi gender2),$(cat_qi afam),$(cat_qi hispanic),$(cat_qi other),{\"name\":\"morekids\",\"type\":\"category\",\"role\":\"sensitive\"}"
)

# anon FILE QI SENS K NAME ARGS...: runs cohort anonymize, leaves the report in $OUT/NAME.json
anon() {
  local file=$1 qi=$2 sens=$3 k=$4 name=$5
  shift 5
  "$COHORT" anonymize --input "$file" --output "$OUT/$name.csv" --qi "$qi" --sensitive "$sens" \
    --k "$k" --report "$OUT/$name.json" "$@" 2>/dev/null
}
# jget NAME EXPR: a value from $OUT/NAME.json (python expression over d)
jget() { python3 -c "import json;d=json.load(open('$OUT/$1.json'));print($2)"; }

echo "### (a) Utility beside the plain strict Mondrian reference"
echo
echo "NCP as the independent checker counts it (tools/check_release.py): a numeric cell's"
echo "interval clipped to the column's range over that range, a set (|set|-1)/(|domain|-1), mean"
echo "over rows and QIs. Reference: \`bench/privacy/mondrian_ref.py\`, strict Mondrian (median"
echo "cut on the widest QI), data-bound intervals, no suppression. cohort, same QIs and k, no"
echo "l-diversity: **strict grid** = strict classes with numeric QIs on grids from the data sets'"
echo "a-priori bounds (tests/data/DATASETS.md) at the default step; **data-bound** = the same"
echo "with \`--grid none\` (intervals end at the class's own values, as before the grid);"
echo "**+5% supp.** = strict grid with \`--max-suppression 0.05\`: NCP with suppressed rows counted"
echo "as 1 (ARX) / NCP over released rows / rows suppressed; **relaxed** = relaxed grid (the"
echo "CLI's default mode). Ratio: strict grid +5% supp. (suppressed counted) / reference."
echo
echo "| data set | rows | QIs | k | reference NCP | ref s | strict grid NCP | data-bound NCP | +5% supp.: NCP (supp. = 1) / released / rows | relaxed NCP | ratio | cohort s |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|"
for spec in "${sets[@]}"; do
  IFS='|' read -r name qi sens grids _fields <<<"$spec"
  file=tests/data/$name.csv
  rows=$(($(wc -l <"$file") - 1))
  nqi=$(awk -F, '{print NF}' <<<"$qi")
  gargs=()
  for g in $grids; do gargs+=(--grid "$g"); done
  for k in 5 10; do
    ref=$(timeout "$REF_TIMEOUT" python3 bench/privacy/mondrian_ref.py "$file" "$qi" "$k")
    read -r ref_ncp ref_t < <(python3 -c "import json;d=json.loads('$ref');print(d['ncp'],d['seconds'])")
    anon "$file" "$qi" "$sens" "$k" "$name.k$k.grid" --mode strict "${gargs[@]}"
    anon "$file" "$qi" "$sens" "$k" "$name.k$k.bound" --mode strict --grid none
    anon "$file" "$qi" "$sens" "$k" "$name.k$k.supp" --mode strict "${gargs[@]}" --max-suppression 0.05
    anon "$file" "$qi" "$sens" "$k" "$name.k$k.relaxed" --mode relaxed "${gargs[@]}"
    python3 - "$OUT" "$name" "$k" "$rows" "$nqi" "$ref_ncp" "$ref_t" <<'PY'
import json, sys
out, name, k, rows, nqi, ref_ncp, ref_t = sys.argv[1:]
ld = lambda v: json.load(open("%s/%s.k%s.%s.json" % (out, name, k, v)))
g, b, s, r = ld("grid"), ld("bound"), ld("supp"), ld("relaxed")
ref = float(ref_ncp)
f = lambda x: "%.4g" % x
print("| %s | %s | %s | %s | %s | %s | %s | %s | %s / %s / %d | %s | %.3f | %.3f |" % (
    name, rows, nqi, k, f(ref), ref_t, f(g["ncp_incl_suppressed"]), f(b["ncp"]),
    f(s["ncp_incl_suppressed"]), f(s["ncp"]), s["suppressed"], f(r["ncp"]),
    s["ncp_incl_suppressed"] / ref, s["seconds"]["partition"]))
PY
  done
done
echo

echo "### (b) The market's release code under the default floors"
echo
echo "\`coh_market_release_compute\` (src/market/release.c), what a closed k-anonymity request"
echo "runs: strict classes, every field a quasi-identifier or sensitive, numeric fields on the"
echo "grids of the schema's bounds (default granularity), k raised to the floor 5 and distinct"
echo "l = 2 on the sensitive field (so NCP is higher than in (a), which has no l-diversity)."
echo "\`bench/privacy/bench_release\`; time: the release computation alone (table built, CSV and"
echo "report rendered), median of 3 runs."
echo
echo "| data set | rows | k | max_suppression | NCP (supp. = 1) | NCP released | suppressed | classes | s |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for spec in "${sets[@]}"; do
  IFS='|' read -r name _qi _sens _grids fields <<<"$spec"
  for k in 5 10; do
    for supp in 0 0.05; do
      line=$("$B/bench/privacy/bench_release" "tests/data/$name.csv" "{\"fields\":[$fields]}" "$k" "$supp" 3)
      python3 -c "
import json;d=json.loads('$line')
print('| $name | %d | $k | $supp | %.4g | %.4g | %d | %d | %.3f |' % (d['rows'], d['ncp_incl_suppressed'], d['ncp'], d['suppressed'], d['classes'], d['seconds']))"
    done
  done
done
echo

echo "### (c) Speed and memory of \`cohort anonymize\`"
echo
echo "Default options (relaxed, default grid, no suppression), wall time incl. CSV read and"
echo "write, median of 3 runs; peak RSS from /usr/bin/time (includes the ~10 MB baseline of the"
echo "process). fertility_1m = 4 stacked copies of fertility.csv (speed and memory only, not"
echo "utility). Reference: the Python Mondrian above, timeout ${REF_TIMEOUT} s."
echo
echo "| input | rows | QIs | k | cohort s | cohort rows/s | cohort NCP | peak RSS MB | RSS / CSV size | ref s | ref rows/s |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
inputs=(
  "tests/data/diabetes.csv|age,preg,mass,plas|class"
  "tests/data/healthinsurance.csv|age,gender,married,family,region,ethnicity,education|health"
  "tests/data/cpssw8.csv|age,gender,region,education|earnings"
  "tests/data/fertility.csv|age,gender1,gender2,afam,hispanic,other|morekids"
  "bench/out/fertility_1m.csv|age,gender1,gender2,afam,hispanic|morekids"
  "bench/out/fertility_1m.csv|age,gender1,gender2,afam,hispanic,other|morekids"
)
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
    ncp=$(jget "$name.k$k" "'%.3g'%d['ncp']")
    ref_t="-" ref_rps="-"
    if ref=$(timeout "$REF_TIMEOUT" python3 bench/privacy/mondrian_ref.py "$file" "$qi" "$k"); then
      read -r ref_t ref_rps < <(python3 -c "import json;d=json.loads('$ref');print(d['seconds'],d['rows_per_s'])")
    else
      ref_t="> $REF_TIMEOUT (stopped)"
    fi
    awk -v n="$name" -v r="$rows" -v q="$nqi" -v k="$k" -v t="$t" -v c="$ncp" -v m="$rss" \
      -v mb="$csv_mb" -v rt="$ref_t" -v rr="$ref_rps" 'BEGIN{
      printf "| %s | %d | %d | %d | %.2f | %.0f | %s | %.0f | %.1fx | %s | %s |\n",
             n, r, q, k, t, r / (t > 0 ? t : 0.01), c, m / 1024, (m / 1024) / mb, rt, rr}'
  done
done
echo
echo "### (d) Differential privacy"
echo
echo "DP samplers (exact CKS 2020 algorithms, ChaCha20-expanded libsodium CSPRNG), one core:"
echo
taskset -c 0 "$B/bench/privacy/bench_dp" 2>/dev/null || "$B/bench/privacy/bench_dp"
echo
echo "DP error bounds: stated 95% bound beside the empirical 95% error, and their cost:"
echo
"$B/bench/privacy/bench_dp_bounds"
