#!/usr/bin/env python3
"""Lists the longest C function bodies under src/ (lines from the opening brace at column 0 to
the closing one), for the structure note: `python3 scripts/longest-functions.py [N]`."""
import os, re, sys

n = int(sys.argv[1]) if len(sys.argv) > 1 else 10
rows, total = [], []
for root, _, files in os.walk('src'):
    for f in files:
        if not f.endswith('.c'):
            continue
        path = os.path.join(root, f)
        lines = open(path, encoding='utf-8').read().split('\n')
        for i, line in enumerate(lines):
            if line == '{':
                j = i - 1
                while j > 0 and '(' not in lines[j]:
                    j -= 1
                m = re.search(r'(\w+)\s*\(', lines[j])
                k = i + 1
                while k < len(lines) and lines[k] != '}':
                    k += 1
                rows.append((k - i + 1, f'{path}:{j + 1}', m.group(1) if m else '?'))
rows.sort(reverse=True)
lens = sorted(r[0] for r in rows)
print(f'{len(rows)} functions, median {lens[len(lens) // 2]} lines, '
      f'{sum(1 for x in lens if x > 100)} over 100 lines')
for length, where, name in rows[:n]:
    print(f'{length:5d}  {name}  {where}')
