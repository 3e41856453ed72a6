#!/usr/bin/env python3
"""Compares policies evaluated on the same test seeds: each one's score and success with 95 %
intervals, and the paired difference of every pair (episode by episode on the seeds they share),
which is far tighter than the difference of two independent intervals.

Usage: paired_scores.py NAME=FILE[,FILE...] NAME=FILE... [--markdown OUT.md]
Each FILE is a per-episode CSV of `harness eval` (columns seed, success, score); a NAME's files are
concatenated (e.g. the first 50 test seeds and the next 150)."""
import argparse
import csv
import math
import os
import statistics


def load(files):
    rows = {}
    for f in files:
        for r in csv.DictReader(open(f)):
            if r.get("error"):
                raise SystemExit(f"{f}: seed {r['seed']} failed: {r['error']}")
            rows[int(r["seed"])] = (float(r["score"]), int(r["success"]))
    return rows


def mean_ci(xs):
    m = statistics.mean(xs)
    h = 1.96 * statistics.stdev(xs) / math.sqrt(len(xs)) if len(xs) > 1 else float("nan")
    return m, m - h, m + h


def wilson(k, n, z=1.96):
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return p, c - h, c + h


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("policies", nargs="+", help="NAME=FILE[,FILE...]")
    ap.add_argument("--markdown", help="also write the tables to this Markdown file")
    a = ap.parse_args()
    named = []
    for spec in a.policies:
        if "=" not in spec:
            raise SystemExit(f"expected NAME=FILE[,FILE...], got '{spec}'")
        name, files = spec.split("=", 1)
        named.append((name, load(files.split(","))))
    lines = ["| policy | episodes | score [95 % CI] | success [95 % Wilson] |", "|---|---:|---:|---:|"]
    for name, rows in named:
        scores = [s for s, _ in rows.values()]
        wins = sum(w for _, w in rows.values())
        m, lo, hi = mean_ci(scores)
        p, plo, phi = wilson(wins, len(rows))
        lines.append(f"| {name} | {len(rows)} | {m:.3f} [{lo:.3f}, {hi:.3f}] | "
                     f"{wins}/{len(rows)} = {p:.3f} [{plo:.3f}, {phi:.3f}] |")
    lines += ["", "| pair (first - second) | shared seeds | score difference [95 % CI] | success difference [95 % CI] |",
              "|---|---:|---:|---:|"]
    for i, (na, ra) in enumerate(named):
        for nb, rb in named[i + 1:]:
            seeds = sorted(set(ra) & set(rb))
            if len(seeds) < 2:
                continue
            ds = mean_ci([ra[s][0] - rb[s][0] for s in seeds])
            dw = mean_ci([ra[s][1] - rb[s][1] for s in seeds])
            lines.append(f"| {na} - {nb} | {len(seeds)} | {ds[0]:+.3f} [{ds[1]:+.3f}, {ds[2]:+.3f}] | "
                         f"{dw[0]:+.3f} [{dw[1]:+.3f}, {dw[2]:+.3f}] |")
    text = "\n".join(lines) + "\n"
    print(text, end="")
    if a.markdown:
        tmp = a.markdown + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, a.markdown)


if __name__ == "__main__":
    main()
