#!/usr/bin/env python3
"""CLI tests for `cohort anonymize` and `cohort dp` (python3 stdlib only).

usage: cli_test.py path/to/cohort tests/data

Checks releases independently of the C code: k-anonymity and l-diversity over the printed
QI tuples, the suppression limit, and truthfulness by a per-class multiset check (strict
Mondrian classes are disjoint boxes, so each input row can fall in at most one class: a
release is truthful iff, for every class, the multiset of its non-QI tuples is contained in
the multiset of non-QI tuples of the input rows inside the class box). Also: unsatisfiable
k/l gives exit 1, one line on stderr and no output file; bad input names row and column.
"""
import csv
import json
import math
import os
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict

COHORT, DATA = sys.argv[1], sys.argv[2]
TMP = tempfile.mkdtemp(prefix="coh_cli_")
failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("FAIL:", what)
    else:
        print("ok:", what)


def run(*args):
    p = subprocess.run([COHORT, *args], capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def read(path):
    with open(path, newline="") as f:
        r = csv.reader(f)
        h = next(r)
        return h, [row for row in r]


def num(s):
    try:
        x = float(s)
        return x if math.isfinite(x) else None
    except ValueError:
        return None


def inside(cell, v, numeric):
    if cell == "*" or cell == v:
        return True
    if numeric:
        if cell.startswith("[") and cell.endswith("]"):
            lo, hi = (float(x) for x in cell[1:-1].split(","))
            return lo <= float(v) <= hi
        return num(cell) is not None and float(cell) == float(v)
    if cell.startswith("{") and cell.endswith("}"):
        return v in cell[1:-1].split(",")
    return False


def verify(name, qi, sens, k, l=None, l_kind="distinct", supp=0.0, extra=()):
    out = os.path.join(TMP, name + ".out.csv")
    rep = os.path.join(TMP, name + ".json")
    args = ["anonymize", "--input", os.path.join(DATA, name), "--output", out, "--qi",
            ",".join(qi), "--sensitive", sens, "--k", str(k), "--report", rep, "--mode", "strict",
            *extra]
    if l:
        args += ["--l", str(l), "--l-kind", l_kind]
    if supp:
        args += ["--max-suppression", str(supp)]
    rc, _, err = run(*args)
    check(rc == 0, "%s k=%d l=%s: exit 0 (%s)" % (name, k, l, err.strip()))
    if rc:
        return
    oh, orows = read(os.path.join(DATA, name))
    rh, rrows = read(out)
    check(oh == rh, "%s: header kept" % name)
    qidx = [oh.index(q) for q in qi]
    others = [j for j in range(len(oh)) if j not in qidx]
    numeric = [all(num(r[j]) is not None for r in orows) for j in qidx]
    classes = defaultdict(list)
    for r in rrows:
        classes[tuple(r[j] for j in qidx)].append(r)
    check(all(len(c) >= k for c in classes.values()), "%s: every class has >= %d rows" % (name, k))
    if l:
        s = oh.index(sens)
        ok = True
        for c in classes.values():
            cnt = Counter(r[s] for r in c)
            if l_kind == "distinct":
                ok &= len(cnt) >= l
            else:
                ok &= -sum(v / len(c) * math.log(v / len(c)) for v in cnt.values()) >= math.log(l) - 1e-9
        check(ok, "%s: %s l-diversity >= %s" % (name, l_kind, l))
    check(len(orows) - len(rrows) <= supp * len(orows) + 1e-9 and len(rrows) <= len(orows),
          "%s: suppression %d rows within %.3f" % (name, len(orows) - len(rrows), supp))
    # truthfulness: per-class multiset containment (classes are disjoint in strict mode)
    truthful = True
    pool = defaultdict(Counter)  # class key -> Counter of non-QI tuples of input rows inside
    keys = list(classes)
    found = {}
    for r in orows:
        point = tuple(r[j] for j in qidx)
        if point not in found:
            found[point] = next((key for key in keys if all(
                inside(key[i], point[i], numeric[i]) for i in range(len(qidx)))), None)
        if found[point] is not None:
            pool[found[point]][tuple(r[j] for j in others)] += 1
    for key, c in classes.items():
        need = Counter(tuple(r[j] for j in others) for r in c)
        truthful &= all(pool[key][t] >= n for t, n in need.items())
    check(truthful, "%s: truthful (each released row generalizes a distinct input row)" % name)
    report = json.load(open(rep))
    check(report["rows"] == len(orows) and report["released"] == len(rrows)
          and 0 <= report["ncp"] <= 1, "%s: report consistent" % name)


verify("diabetes.csv", ["age", "preg", "mass", "plas"], "class", 5)
verify("diabetes.csv", ["age", "preg", "mass", "plas"], "class", 10, l=2)
verify("healthinsurance.csv", ["age", "gender", "married", "family", "region", "ethnicity",
                               "education"], "health", 5, l=1.2, l_kind="entropy", supp=0.05)

# unsatisfiable: no release, exit 1, one line naming the problem
out = os.path.join(TMP, "none.csv")
rc, _, err = run("anonymize", "--input", os.path.join(DATA, "diabetes.csv"), "--output", out,
                 "--qi", "age,preg", "--sensitive", "class", "--k", "1000")
check(rc == 1 and not os.path.exists(out) and err.count("\n") == 1 and "cannot be met" in err,
      "unsatisfiable k: exit 1, no output, one line")
rc, _, err = run("anonymize", "--input", os.path.join(DATA, "diabetes.csv"), "--output", out,
                 "--qi", "age,preg", "--sensitive", "class", "--k", "5", "--l", "3")
check(rc == 1 and not os.path.exists(out) and "l-diversity" in err, "unsatisfiable l: exit 1")
rc, _, err = run("anonymize", "--input", os.path.join(DATA, "diabetes.csv"), "--output", out,
                 "--qi", "age", "--k", "0")
check(rc == 2 and not os.path.exists(out), "bad --k: usage error")

# bad input: a ragged row, and NaN in a bounded column; row and column named, value never
bad = os.path.join(TMP, "bad.csv")
with open(bad, "w") as f:
    f.write("age,sex\n30,f\n31,m\nSECRET-NaN,f\n")
rc, _, err = run("dp", "--input", bad, "--query", "mean(age)", "--bounds", "age=0:120",
                 "--epsilon", "1")
check(rc == 1 and "row 4" in err and "'age'" in err and "SECRET" not in err,
      "dp: NaN row rejected with row/column, value not echoed (%s)" % err.strip())
with open(bad, "w") as f:
    f.write("age,sex\n30,f\n31\n")
rc, _, err = run("anonymize", "--input", bad, "--output", out, "--qi", "age", "--k", "1")
check(rc == 1 and "row 3" in err and err.count("\n") == 1, "ragged row rejected: " + err.strip())

# dp: JSON with noise scale and error bound for every statistic; group-by; gaussian
rc, so, err = run("dp", "--input", os.path.join(DATA, "fertility.csv"), "--query", "count",
                  "--query", "mean(age)", "--query", "histogram(morekids)", "--bounds",
                  "age=21:35", "--categories", "morekids=no,yes", "--group-by", "afam=no,yes",
                  "--epsilon", "1", "--mechanism", "gaussian", "--delta", "1e-6")
ok = rc == 0
if ok:
    d = json.loads(so)
    ok = d["spent"]["epsilon"] == "1" and len(d["results"]) == 3
    for q in d["results"]:
        for g in q["groups"]:
            ok &= "noise_scale" in g and "error_bound_95" in g
    m = d["results"][1]["groups"][0]["value"]
    ok &= 21 <= m <= 35
check(ok, "dp: gaussian JSON with scales and bounds per group")
rc, _, err = run("dp", "--input", os.path.join(DATA, "fertility.csv"), "--query", "sum(work)",
                 "--epsilon", "1")
check(rc == 1 and "bounds" in err, "dp: bounds required, never from data")
rc, _, err = run("dp", "--input", os.path.join(DATA, "fertility.csv"), "--query", "count",
                 "--epsilon", "1", "--lifetime-remaining", "0.5")
check(rc == 1 and "lifetime" in err, "dp: lifetime budget refuses")

print("%d failure(s)" % failures)
sys.exit(1 if failures else 0)
