#!/usr/bin/env python3
"""Writes the GPU run's report from what scripts/gpu/run.sh left behind: OUT/gpu.md (the content of
results/gpu/<device>.md, naming the device) and OUT/gpu.csv (one row per measured number).

Reads OUT/steps.csv, bench_onedp.json, bench_cp.json, train_log.csv, eval_onedp.csv and, from the
work folder, obs.txt, gl.txt and eval_onedp.txt; a missing input leaves its section saying so.
Standard library only (it runs under whatever python3 the GPU machine has)."""

import argparse
import csv
import json
import os
import re
import subprocess

# The targets (issue 21): the paper's V100 OneDP chunk (9 ms encoder + 7 ms) and the
# DDPM-100 / OneDP ratio measured in one process.
TARGET_ONEDP_MS = 16.0
TARGET_RATIO = 40.0


def read_text(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def read_json(path):
    text = read_text(path)
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def read_csv(path):
    text = read_text(path)
    if text is None:
        return None
    return list(csv.DictReader(text.splitlines()))


def device_name():
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20).stdout.strip().splitlines()
        return out[0] if out else ""
    except (OSError, subprocess.SubprocessError):
        return ""


def slug(name):
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "unknown-device"


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--preset", default="paper")
    ap.add_argument("--device", default="cuda")
    a = ap.parse_args()
    o = lambda name: os.path.join(a.out, name)
    w = lambda name: os.path.join(a.work, name)

    gpu = device_name()
    gpu_model = gpu.split(",")[0].strip() if gpu else ""
    obs = (read_text(w("obs.txt")) or "image").strip()
    steps = read_csv(o("steps.csv")) or []
    rows = []  # gpu.csv: section, item, value, unit
    md = []
    md.append(f"# OneDP Bench on {gpu_model or 'an unnamed device'}\n")
    md.append(f"Device: {gpu or 'nvidia-smi gave nothing'}; harness device `{a.device}`, preset `{a.preset}`, "
              f"observations `{obs}`. Written by scripts/gpu/run.sh + report.py from one run on the lent machine "
              f"(results/gpu/{slug(gpu_model)}.md).\n")
    if obs != "image":
        md.append("**Low-dim fallback**: the image dataset could not be collected (EGL failed), so no encoder is "
                  "timed and the latencies below are the U-Nets' alone.\n")

    # Steps.
    md.append("## Steps\n")
    md.append("| step | exit | seconds | limit s |\n|---|---:|---:|---:|")
    for s in steps:
        note = {"0": "", "124": " (timed out)", "125": " (skipped: budget)"}.get(s["rc"], "")
        md.append(f"| {s['step']} | {s['rc']}{note} | {s['seconds']} | {s['timeout_s']} |")
        rows.append(("step", s["step"], s["seconds"], "s"))
    md.append("")

    # GL.
    gl = read_text(w("gl.txt"))
    log = read_text(o("run.log")) or ""
    renderer = re.findall(r"\[onedp\] headless GL: (.*)", log)
    md.append("## Rendering\n")
    md.append(f"Headless GL: {renderer[0] if renderer else 'not reported'}.\n")
    if gl:
        md.append("`harness bench sim --task square-ph --steps 200`:\n\n```\n" + gl.strip() + "\n```\n")

    # Latency.
    bench = read_json(o("bench_onedp.json"))
    cp = read_json(o("bench_cp.json"))
    md.append("## Batch-1 latency (`harness bench policy`, median of 20 calls, synchronised)\n")
    table = []  # (networks, row)
    params = {}
    for b, name, nets in ((bench, "bench_onedp.txt", "DDPM teacher's"), (cp, "bench_cp.txt", "EDM teacher's")):
        head = re.search(r"^policy (\S+) .*parameters (\d+) \(encoder (\d+), unet (\d+)\)",
                         read_text(w(name)) or "", re.M)
        if head:
            params[nets] = (head.group(1), *(int(head.group(i)) / 1e6 for i in (2, 3, 4)))
            nets = f"{nets} ({params[nets][3]:.1f} M U-Net)"
        for r in (b or {}).get("rows", []):
            table.append((nets, r))
    if table:
        md.append("| sampler | policy | networks | NFE | encoder ms | sampling ms | total ms | Hz |\n"
                  "|---|---|---|---:|---:|---:|---:|---:|")
        for nets, r in table:
            total = r["total_ms"]
            md.append(f"| {r['sampler']} | {r['policy']} | {nets} | {r['nfe']} | {r['encode_ms']:.2f} | "
                      f"{r['sample_ms']:.2f} | {total:.2f} | {1e3 / total if total > 0 else 0:.1f} |")
            rows.append(("latency_total_ms", f"{r['policy']} {r['sampler']} {nets}", f"{total:.4f}", "ms"))
            rows.append(("latency_encoder_ms", f"{r['policy']} {r['sampler']} {nets}", f"{r['encode_ms']:.4f}", "ms"))
        md.append("")
        for nets, (policy, total, enc, unet) in params.items():
            md.append(f"- {nets} networks ({policy} checkpoint): {total:.1f} M parameters, encoder {enc:.1f} M, "
                      f"U-Net {unet:.1f} M. The DP rows time randomly initialised DPs on those networks.")
        md.append("")
    else:
        md.append("No latency was measured (see Steps and run.log).\n")
    by = {(r["sampler"]): r for r in (bench or {}).get("rows", [])}
    if "ddpm:100" in by and "onestep" in by:
        onedp = by["onestep"]["total_ms"]
        ratio = by["ddpm:100"]["total_ms"] / onedp if onedp > 0 else 0
        rows.append(("target", "onedp_chunk_ms", f"{onedp:.4f}", "ms"))
        rows.append(("target", "ddpm100_over_onedp", f"{ratio:.2f}", "x"))
        md.append("## Targets (issue 21)\n")
        md.append(f"- OneDP chunk, encoder included: {onedp:.2f} ms (target <= {TARGET_ONEDP_MS:.0f} ms, the paper's "
                  f"V100 figure): {'met' if onedp <= TARGET_ONEDP_MS else 'missed'}.")
        md.append(f"- DDPM-100 / OneDP in the same process: {ratio:.1f}x (target >= {TARGET_RATIO:.0f}x): "
                  f"{'met' if ratio >= TARGET_RATIO else 'missed'}.\n")

    # Training.
    md.append(f"## Training (DP-DDPM, preset `{a.preset}`)\n")
    log_rows = read_csv(o("train_log.csv"))
    if log_rows:
        md.append("| epoch | steps | seconds | steps/s | train loss |\n|---:|---:|---:|---:|---:|")
        prev = 0
        for r in log_rows:
            n = int(r["step"]) - prev
            prev = int(r["step"])
            sec = float(r["seconds"])
            md.append(f"| {r['epoch']} | {n} | {sec:.1f} | {n / sec:.2f} | {float(r['train_loss']):.4f} |")
            rows.append(("train_steps_per_s", f"epoch {r['epoch']}", f"{n / sec:.4f}", "steps/s"))
        warm = "CUDA start-up (cuDNN algorithm choice, allocator growth)" if a.device.startswith("cuda") else "start-up"
        md.append(f"\nEpoch 1 includes the first steps' {warm}; epoch 2 is the steady rate. Each epoch's seconds "
                  "include its validation batches.\n")
    else:
        md.append("Not measured (see Steps and run.log).\n")

    # Rollouts.
    md.append("## Rollouts (OneDP-S student, Square-ph, rendered with the GL above)\n")
    ev = read_csv(o("eval_onedp.csv"))
    text = read_text(w("eval_onedp.txt")) or ""
    m = re.search(r"success ([0-9.eE+-]+), mean score ([0-9.eE+-]+); PredictChunk mean ([0-9.eE+-]+) ms over (\d+) calls; "
                  r"([0-9.eE+-]+) s", text)
    if ev:
        env_steps = sum(int(r["steps"]) for r in ev)
        text_ev = (f"{len(ev)} episodes, {env_steps} env steps, {sum(int(r['success']) for r in ev)} successes (a "
                   "student distilled briefly from a briefly trained teacher: its success is not the point here).")
        if m:
            wall = float(m.group(5))
            text_ev += (f" Wall {wall:.1f} s ({env_steps / wall:.0f} env steps/s with rendering and policy calls); "
                        f"PredictChunk mean {float(m.group(3)):.2f} ms over {m.group(4)} batched calls.")
            rows.append(("rollout", "env_steps_per_s", f"{env_steps / wall:.2f}", "steps/s"))
            rows.append(("rollout", "predict_chunk_mean_ms", m.group(3), "ms"))
        md.append(text_ev + "\n")
    else:
        md.append("Not measured (see Steps and run.log).\n")

    with open(o("gpu.md"), "w") as f:
        f.write("\n".join(md).rstrip() + "\n")
    with open(o("gpu.csv"), "w", newline="") as f:
        cw = csv.writer(f)
        cw.writerow(["device", "section", "item", "value", "unit"])
        for r in rows:
            cw.writerow([gpu_model, *r])
    print(f"report: wrote {o('gpu.md')} and {o('gpu.csv')} ({len(rows)} rows); commit gpu.md as "
          f"results/gpu/{slug(gpu_model)}.md")


if __name__ == "__main__":
    main()
