#!/usr/bin/env python3
"""CLI tests for `cohort anonymize` and `cohort dp` (python3 stdlib only).

usage: cli_test.py path/to/cohort tests/data

Checks releases independently of the C code: k-anonymity and l-diversity over the printed
QI tuples, the suppression limit, and truthfulness by a matching: a release is truthful iff
its rows can be matched to distinct input rows, each inside its row's class box with the
same non-QI cells (a maximum flow per non-QI tuple, from distinct QI points to classes; the
boxes of strict classes may touch at grid points, so a point can lie in two). Also: unsatisfiable
k/l gives exit 1, one line on stderr and no output file; bad input names row and column.
Grids: every end of every numeric interval is a grid point (--grid lo:hi:step, step only,
the default), and a value outside declared grid bounds is refused naming row and column.
"""
import csv
import json
import math
import os
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from fractions import Fraction

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


def max_flow(sup, dem, edges):
    """largest flow source -> point (sup) -> class (edges) -> sink (dem), augmenting paths"""
    flow = defaultdict(int)  # (point, class) -> units
    used = Counter()  # class -> units received
    sent = Counter()  # point -> units sent
    total = 0
    for point in sup:
        while sent[point] < sup[point]:
            # search a path point -> class (-> back to a point already sending there -> ...)
            prev, stack, seen, end = {}, [("p", point)], {("p", point)}, None
            while stack and end is None:
                kind, x = stack.pop()
                if kind == "p":
                    for c in edges.get(x, ()):
                        if ("c", c) not in seen:
                            seen.add(("c", c))
                            prev[("c", c)] = ("p", x)
                            if used[c] < dem[c]:
                                end = ("c", c)
                                break
                            stack.append(("c", c))
                else:
                    for p2 in sup:
                        if flow[(p2, x)] > 0 and ("p", p2) not in seen:
                            seen.add(("p", p2))
                            prev[("p", p2)] = ("c", x)
                            stack.append(("p", p2))
            if end is None:
                break
            node = end
            used[end[1]] += 1
            while node != ("p", point):
                back = prev[node]
                if node[0] == "c":
                    flow[(back[1], node[1])] += 1
                else:
                    flow[(node[1], back[1])] -= 1
                node = back
            sent[point] += 1
            total += 1
    return total


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
    # truthfulness: per non-QI tuple, a flow from input QI points (capacity: their count) to
    # the classes whose box holds them (capacity: the class's rows with that tuple)
    keys = list(classes)
    holds = {}
    need = defaultdict(Counter)  # non-QI tuple -> class -> rows
    for key, c in classes.items():
        for r in c:
            need[tuple(r[j] for j in others)][key] += 1
    have = defaultdict(Counter)  # non-QI tuple -> QI point -> input rows
    for r in orows:
        have[tuple(r[j] for j in others)][tuple(r[j] for j in qidx)] += 1
    truthful = True
    for t, dem in need.items():
        sup = have.get(t, Counter())
        edges = {}
        for point in sup:
            if point not in holds:
                holds[point] = [key for key in keys if all(
                    inside(key[i], point[i], numeric[i]) for i in range(len(qidx)))]
            edges[point] = [key for key in holds[point] if key in dem]
        truthful &= max_flow(sup, dem, edges) == sum(dem.values())
    check(truthful, "%s: truthful (each released row generalizes a distinct input row)" % name)
    report = json.load(open(rep))
    check(report["rows"] == len(orows) and report["released"] == len(rrows)
          and 0 <= report["ncp"] <= 1, "%s: report consistent" % name)


def grid_ends_ok(name, col, lo, hi, step):
    """every end of every cell of col in the release `name` is lo, hi or a multiple of step"""
    h, rows = read(os.path.join(TMP, name + ".out.csv"))
    j = h.index(col)
    bad = 0
    for r in rows:
        cell = r[j]
        ends = cell[1:-1].split(",") if cell.startswith("[") else [cell]
        for e in ends:
            x = Fraction(e)
            on = (lo is not None and x in (Fraction(lo), Fraction(hi))) or (
                x % Fraction(step) == 0 and (lo is None or Fraction(lo) < x < Fraction(hi)))
            bad += not on
    check(bad == 0, "%s: every end in %s is a grid point (%d off the grid)" % (name, col, bad))


verify("diabetes.csv", ["age", "preg", "mass", "plas"], "class", 5)
verify("diabetes.csv", ["age", "preg", "mass", "plas"], "class", 5, supp=0.05,
       extra=("--grid", "age=21:90:5", "--grid", "mass=0:70", "--grid", "plas=25"))
grid_ends_ok("diabetes.csv", "age", "21", "90", "5")
grid_ends_ok("diabetes.csv", "mass", "0", "70", "2")
grid_ends_ok("diabetes.csv", "plas", None, None, "25")
grid_ends_ok("diabetes.csv", "preg", None, None, "1")
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

# a value outside the declared grid bounds: row and column named, nothing written
rc, _, err = run("anonymize", "--input", os.path.join(DATA, "diabetes.csv"), "--output", out,
                 "--qi", "age,preg", "--k", "5", "--grid", "age=30:60")
check(rc == 1 and not os.path.exists(out) and "column 'age'" in err and "row " in err,
      "grid bounds refuse an outside value: " + err.strip())
rc, _, err = run("anonymize", "--input", os.path.join(DATA, "diabetes.csv"), "--output", out,
                 "--qi", "age,preg", "--k", "5", "--grid", "nope=5")
check(rc == 2 and not os.path.exists(out), "--grid on a column that is not a QI: usage error")

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
