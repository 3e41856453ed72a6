#!/usr/bin/env python3
"""Summarises the runs of scripts/experiments/onedp_ddpm_gap.sh into Markdown and CSV tables.

For every run directory under WORK (runs/gap/<task>) it reads eval_epoch<E>.csv (per-episode
results of the warm start, E = 0, and of each distillation epoch) and train_log.csv, and writes
one row per run: the metric at every epoch, its peak and final value with a 95 % interval, the
score-network and generator losses of the last epoch. The metric is the PushT score (mean of the
per-episode max coverage reward; interval: mean +- 1.96 standard errors) or the success rate
(Wilson interval). Standard library only.
Usage: gap_table.py WORK TASK OUT_PREFIX   (writes OUT_PREFIX.md and OUT_PREFIX.csv)
"""
import csv
import math
import os
import re
import sys


def wilson(k, n, z=1.96):
    if n == 0:
        return (float("nan"),) * 2
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return c - h, c + h


def metric(path, score):
    rows = list(csv.DictReader(open(path)))
    n = len(rows)
    if score:
        v = [float(r["score"]) for r in rows]
        m = sum(v) / n
        sd = math.sqrt(sum((x - m) ** 2 for x in v) / (n - 1)) if n > 1 else 0.0
        h = 1.96 * sd / math.sqrt(n)
        return m, max(0.0, m - h), min(1.0, m + h), n
    k = sum(int(r["success"]) for r in rows)
    lo, hi = wilson(k, n)
    return k / n, lo, hi, n


def last_losses(run):
    path = os.path.join(run, "train_log.csv")
    if not os.path.exists(path):
        return {}
    rows = list(csv.DictReader(open(path)))
    return rows[-1] if rows else {}


def main():
    work, task, out = sys.argv[1], sys.argv[2], sys.argv[3]
    score = task == "pusht"
    name = "score" if score else "success"
    table = []
    for run in sorted(os.listdir(work)):
        d = os.path.join(work, run)
        evals = {}
        for f in os.listdir(d) if os.path.isdir(d) else []:
            m = re.fullmatch(r"eval_epoch(\d+)\.csv", f)
            if m:
                evals[int(m.group(1))] = metric(os.path.join(d, f), score)
        files = sorted(os.listdir(d)) if os.path.isdir(d) else []
        # Teachers: one row per final evaluation (eval_final_<sampler>.csv; eval_clip_<sampler>.csv
        # is the same teacher evaluated beside its no-clip copy).
        seen = set()
        for f in files:
            m = re.fullmatch(r"eval_(final|clip)_(.+)\.csv", f)
            if m and m.group(2) not in seen:
                seen.add(m.group(2))
                table.append((run, {"teacher " + m.group(2): metric(os.path.join(d, f), score)}, {}))
        if evals:
            table.append((run, evals, last_losses(d)))
    with open(out + ".csv", "w") as f:
        w = csv.writer(f)
        w.writerow(["run", "epoch", name, "ci_low", "ci_high", "episodes"])
        for run, evals, _ in table:
            for e, (m, lo, hi, n) in sorted(evals.items(), key=lambda x: str(x[0]).zfill(4)):
                w.writerow([run, e, f"{m:.4f}", f"{lo:.4f}", f"{hi:.4f}", n])
    with open(out + ".md", "w") as f:
        f.write(f"| run | {name} by epoch (0 = warm start) | peak [95 % CI] | final [95 % CI] | "
                "score loss | generator loss |\n|---|---|---|---|---:|---:|\n")
        for run, evals, losses in table:
            if any(isinstance(k, str) for k in evals):
                (k, (m, lo, hi, n)), = evals.items()
                f.write(f"| {run} ({k}) | | | {m:.3f} [{lo:.2f}, {hi:.2f}] | | |\n")
                continue
            epochs = sorted(evals)
            curve = " / ".join(f"{evals[e][0]:.3f}" for e in epochs)
            trained = [e for e in epochs if e > 0] or epochs
            pk = max(trained, key=lambda e: evals[e][0])
            fin = epochs[-1]
            cell = lambda e: f"{evals[e][0]:.3f} [{evals[e][1]:.2f}, {evals[e][2]:.2f}] (ep {e})"
            sl = losses.get("score_loss", "")
            gl = losses.get("train_loss", "")
            fmt = lambda v: f"{float(v):.4g}" if v not in ("", None) else ""
            f.write(f"| {run} | {curve} | {cell(pk)} | {cell(fin)} | {fmt(sl)} | {fmt(gl)} |\n")


if __name__ == "__main__":
    main()
