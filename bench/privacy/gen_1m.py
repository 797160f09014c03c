#!/usr/bin/env python3
"""Writes the 1,000,000-row scaling input described in tests/data/DATASETS.md: four copies of
fertility.csv (254,654 rows each; the first 1,000,000 rows are kept) with an extra non-QI
column `copy` (1..4). Every record appears up to 4 times, so use it for speed and memory,
never for utility claims. Usage: gen_1m.py fertility.csv out.csv"""
import sys

src, dst = sys.argv[1], sys.argv[2]
with open(src, newline="") as f:
    header = f.readline().rstrip("\r\n")
    body = [line.rstrip("\r\n") for line in f if line.strip()]
with open(dst, "w", newline="") as out:
    out.write(header + ',"copy"\n')
    n = 0
    for c in range(1, 5):
        for line in body:
            if n == 1000000:
                break
            out.write("%s,%d\n" % (line, c))
            n += 1
