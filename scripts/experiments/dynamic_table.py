#!/usr/bin/env python3
"""Summarises scripts/experiments/dynamic_eval.sh's per-episode CSVs into one Markdown table and a
CSV (method x condition: success rate with its 95 % Wilson interval, mean score, delay, held steps,
boundary jump, perturbations applied / skipped). Standard library only.

Usage: scripts/experiments/dynamic_table.py OUT_DIR [TITLE]   (writes OUT_DIR/dynamic.{md,csv})
"""
import csv
import math
import os
import sys


def wilson(k, n, z=1.959964):
    if n == 0:
        return (float("nan"), float("nan"))
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return (max(0.0, c - h), min(1.0, c + h))


def mean(xs):
    return sum(xs) / len(xs) if xs else float("nan")


def main():
    out = sys.argv[1]
    title = sys.argv[2] if len(sys.argv) > 2 else os.path.basename(os.path.normpath(out))
    rows = []
    for name in sorted(os.listdir(out)):
        if not name.endswith(".csv") or name.startswith("dynamic") or ".tmp" in name:
            continue
        method, latency, exec_mode, perturb = name[:-4].rsplit("_", 3)
        with open(os.path.join(out, name)) as f:
            eps = list(csv.DictReader(f))
        n = len(eps)
        k = sum(int(e["success"]) for e in eps)
        lo, hi = wilson(k, n)
        jumps = [float(e["boundary_jump"]) for e in eps if e.get("boundary_jump") not in (None, "")]
        rows.append({
            "method": method, "latency": latency, "exec": exec_mode, "perturb": perturb, "episodes": n,
            "success": k / n, "success_lo": lo, "success_hi": hi,
            "score": mean([float(e["score"]) for e in eps]),
            "delay_steps": mean([float(e["delay_steps"]) for e in eps]),
            "held_steps": mean([float(e["held_steps"]) for e in eps]),
            "skipped_actions": mean([float(e["skipped_actions"]) for e in eps]),
            "boundary_jump": mean(jumps),
            "applied": sum(e.get("perturbation") == "applied" for e in eps),
            "skipped": sum(e.get("perturbation") == "skipped" for e in eps),
        })
    order = {"none": 0, "v100-paper": 1}
    rows.sort(key=lambda r: (order.get(r["latency"], 2), r["exec"], r["perturb"], r["method"]))
    fields = list(rows[0].keys()) if rows else []
    with open(os.path.join(out, "dynamic.csv.tmp"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        for r in rows:
            w.writerow({k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in r.items()})
    os.replace(os.path.join(out, "dynamic.csv.tmp"), os.path.join(out, "dynamic.csv"))
    lines = [f"# Latency-aware evaluation: {title}", "",
             "| latency | exec | perturbation | method | success [95 % CI] | score | delay (steps) | held / chunk-skipped steps per episode | boundary jump | perturbation applied / skipped |",
             "|---|---|---|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(
            f"| {r['latency']} | {r['exec']} | {r['perturb']} | {r['method']} | {r['success']:.2f} "
            f"[{r['success_lo']:.2f}, {r['success_hi']:.2f}] | {r['score']:.3f} | {r['delay_steps']:.0f} | "
            f"{r['held_steps']:.1f} / {r['skipped_actions']:.1f} | {r['boundary_jump']:.4f} | "
            f"{r['applied']} / {r['skipped']} |")
    with open(os.path.join(out, "dynamic.md.tmp"), "w") as f:
        f.write("\n".join(lines) + "\n")
    os.replace(os.path.join(out, "dynamic.md.tmp"), os.path.join(out, "dynamic.md"))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
