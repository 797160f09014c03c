#!/usr/bin/env python3
"""Plain reference Mondrian (Python 3 stdlib only) to compare `cohort anonymize` against.

Strict multidimensional Mondrian (LeFevre et al. 2006): pick the QI with the largest
normalized width, split at the median (values <= median | > median, else < | >=), accept if
both sides have >= k rows, else try the next QI; a partition nobody can split is a class.
Numeric QIs generalize to [min,max]; categorical QIs are ordered by their string and
generalize to the set of values present (set-valued), '*' when the set is the whole domain.
NCP as in tools/check_release.py: numeric (hi-lo)/(column range), categorical
(|set|-1)/(|domain|-1), averaged over rows and QIs.

usage: mondrian_ref.py in.csv qi1,qi2,... k [out.csv]   -> prints one JSON line
"""
import csv
import json
import sys
import time


def main():
    path, qi, k = sys.argv[1], sys.argv[2].split(","), int(sys.argv[3])
    out = sys.argv[4] if len(sys.argv) > 4 else None
    t0 = time.time()
    with open(path, newline="") as f:
        r = csv.reader(f)
        header = next(r)
        rows = list(r)
    qidx = [header.index(q) for q in qi]
    cols, numeric, labels, rng = [], [], [], []
    for j in qidx:
        raw = [row[j] for row in rows]
        try:
            vals = [float(v) for v in raw]
            cols.append(vals)
            numeric.append(True)
            labels.append(None)
            rng.append(max(vals) - min(vals))
        except ValueError:
            dom = sorted(set(raw))
            code = {v: i for i, v in enumerate(dom)}
            cols.append([code[v] for v in raw])
            numeric.append(False)
            labels.append(dom)
            rng.append(len(dom) - 1)
    d = len(qi)
    classes = []
    stack = [list(range(len(rows)))]
    while stack:
        part = stack.pop()
        widths = []
        for j in range(d):
            c = cols[j]
            if numeric[j]:
                vs = [c[i] for i in part]
                w = (max(vs) - min(vs)) / rng[j] if rng[j] else 0.0
            else:
                w = (len(set(c[i] for i in part)) - 1) / rng[j] if rng[j] else 0.0
            widths.append((w, j))
        widths.sort(reverse=True)
        done = False
        for w, j in widths:
            if w <= 0:
                break
            c = cols[j]
            vs = sorted(c[i] for i in part)
            med = vs[len(vs) // 2]
            for left_test in (lambda v: v <= med, lambda v: v < med):
                lhs = [i for i in part if left_test(c[i])]
                if len(lhs) >= k and len(part) - len(lhs) >= k:
                    rhs = [i for i in part if not left_test(c[i])]
                    stack.append(lhs)
                    stack.append(rhs)
                    done = True
                    break
            if done:
                break
        if not done:
            classes.append(part)
    # generalize and measure
    ncp_sum = 0.0
    gen = [None] * len(rows)
    for part in classes:
        cells = []
        for j in range(d):
            c = cols[j]
            if numeric[j]:
                lo, hi = min(c[i] for i in part), max(c[i] for i in part)
                ncp = (hi - lo) / rng[j] if rng[j] else 0.0
                cells.append(rows[part[0]][qidx[j]] if lo == hi else "[%r,%r]" % (lo, hi))
            else:
                s = sorted(set(c[i] for i in part))
                ncp = (len(s) - 1) / rng[j] if rng[j] else 0.0
                cells.append(labels[j][s[0]] if len(s) == 1 else
                             "*" if len(s) == len(labels[j]) else
                             "{" + ",".join(labels[j][x] for x in s) + "}")
            ncp_sum += ncp * len(part)
        for i in part:
            gen[i] = cells
    if out:
        with open(out, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(header)
            for i, row in enumerate(rows):
                row = list(row)
                for j, col in enumerate(qidx):
                    row[col] = gen[i][j]
                w.writerow(row)
    secs = time.time() - t0
    print(json.dumps({"rows": len(rows), "classes": len(classes), "k": k,
                      "ncp": ncp_sum / (len(rows) * d), "seconds": round(secs, 3),
                      "rows_per_s": round(len(rows) / secs)}))


if __name__ == "__main__":
    main()
