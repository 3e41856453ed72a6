#!/usr/bin/env bash
# Same-machine CPU speed of the two supported torches: the harness built against Debian's libtorch
# 1.13 (build/) and against PyPI's torch 2.x (build-torch2/, `BENCH_TORCH=pip scripts/setup.sh`), on
# the same networks, batches and seeds, one thread each. The short measurements alternate the two
# binaries on one pinned core (which goes first alternates too), so a ratio is never taken across
# two different moments of a shared machine; the two long PushT trainings run at the same time on
# the two cores and swap cores between repeats. Writes results/torch/cpu_speed.{md,csv}.
# Usage: scripts/experiments/torch_speed.sh   (about 25 min on the 2-core VM; needs a trained
#        PushT DP-DDPM run and a OneDP-S run distilled from it, see TEACHER / STUDENT below)
# Environment: OLD / NEW (the two harness binaries), TEACHER, STUDENT (run dirs), REPEATS (5),
#   LONG_REPEATS (2), CORE (1), OUT (results/torch), WORK (scratch, /tmp/torch_speed), LABELS (the
#   short measurements to run, default all six). Measurements already in WORK are kept, so a
#   stopped run continues where it was; FRESH=1 starts over.
set -euo pipefail
OLD=${OLD:-build/harness/harness}
NEW=${NEW:-build-torch2/harness/harness}
TEACHER=${TEACHER:-runs/gap/pusht/dp-ddpm}
STUDENT=${STUDENT:-runs/gap/pusht/s-ddpm}
REPEATS=${REPEATS:-5}
LONG_REPEATS=${LONG_REPEATS:-2}
CORE=${CORE:-1}
LABELS=${LABELS:-ddpm100 ddim10 onestep big1 train200 distill100}
OUT=${OUT:-results/torch}
WORK=${WORK:-/tmp/torch_speed}
DATA=${DATA:-data/pusht.hdf5}
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
for f in "$OLD" "$NEW"; do [ -x "$f" ] || { echo "missing binary $f (build it first)" >&2; exit 2; }; done
for d in "$TEACHER" "$STUDENT"; do [ -f "$d/run.json" ] || { echo "missing run $d" >&2; exit 2; }; done
[ "${FRESH:-0}" = 1 ] && rm -rf "$WORK"
mkdir -p "$WORK/bin" "$OUT"
# Private copies, so that a rebuild of the tree during the run cannot swap a binary under it.
cp "$OLD" "$WORK/bin/old"
cp "$NEW" "$WORK/bin/new"
OLD_NAME=$OLD NEW_NAME=$NEW
OLD=$WORK/bin/old NEW=$WORK/bin/new

# One measurement of one binary: writes $WORK/<label>_<side>_<repeat>.(json|csv) via the harness's own
# outputs (bench policy's JSON, the train/distill loops' train_log.csv seconds column).
measure() {  # side binary label repeat core
  local side=$1 bin=$2 label=$3 r=$4 core=$5
  local dir=$WORK/${label}_${side}_$r
  if [ -f "$dir.json" ] || [ -f "$dir/done" ]; then return 0; fi
  rm -rf "$dir"
  case $label in
    ddpm100) taskset -c "$core" "$bin" bench policy --ckpt "$TEACHER" --sampler ddpm:100 --repeats 5 --json "$dir.json" > /dev/null ;;
    ddim10) taskset -c "$core" "$bin" bench policy --ckpt "$TEACHER" --sampler ddim:10 --repeats 20 --json "$dir.json" > /dev/null ;;
    onestep) taskset -c "$core" "$bin" bench policy --ckpt "$STUDENT" --sampler onestep --repeats 200 --json "$dir.json" > /dev/null ;;
    big1) taskset -c "$core" "$bin" bench policy --task pusht --preset cpu --set 'unet.down_dims=[256,512,1024]' \
        --sampler ddim:1 --repeats 20 --json "$dir.json" > /dev/null ;;
    train200) taskset -c "$core" "$bin" train --task pusht --policy dp-ddpm --preset cpu --seed 0 --dataset "$DATA" \
        --epochs 1 --set train.steps_per_epoch=200 --eval-every -1 --out "$dir" > /dev/null 2>&1 ;;
    distill100) taskset -c "$core" "$bin" distill --teacher "$TEACHER" --method onedp-s --preset cpu --seed 0 \
        --epochs 1 --set train.steps_per_epoch=100 --eval-every -1 --out "$dir" > /dev/null 2>&1 ;;
    train1000) taskset -c "$core" "$bin" train --task pusht --policy dp-ddpm --preset cpu --seed 0 --dataset "$DATA" \
        --epochs 1 --set train.steps_per_epoch=1000 --eval-every -1 --out "$dir" > /dev/null 2>&1 ;;
  esac
  if [ -d "$dir" ]; then touch "$dir/done"; fi
}

start=$(date +%s)
for r in $(seq 1 "$REPEATS"); do
  for label in $LABELS; do
    if [ $((r % 2)) -eq 1 ]; then order="old new"; else order="new old"; fi
    for side in $order; do
      bin=$OLD; [ "$side" = new ] && bin=$NEW
      measure "$side" "$bin" "$label" "$r" "$CORE"
    done
    echo "repeat $r/$REPEATS $label done, elapsed $(( $(date +%s) - start )) s" >&2
  done
done
# PushT training to 1,000 steps: both binaries at once, one per core, swapping cores each repeat.
for r in $(seq 1 "$LONG_REPEATS"); do
  c_old=$(( r % 2 )); c_new=$(( 1 - c_old ))
  measure old "$OLD" train1000 "$r" "$c_old" & p1=$!
  measure new "$NEW" train1000 "$r" "$c_new" & p2=$!
  wait "$p1" "$p2"
  echo "train1000 repeat $r/$LONG_REPEATS done, elapsed $(( $(date +%s) - start )) s" >&2
done

python3 - "$WORK" "$OUT" "$OLD_NAME" "$NEW_NAME" "$REPEATS" "$LONG_REPEATS" "$TEACHER" "$STUDENT" <<'PY'
import csv, glob, json, os, platform, statistics, subprocess, sys
work, out, old, new, repeats, long_repeats, teacher, student = sys.argv[1:9]

def ms(label, side):
    """Per-repeat values: milliseconds per call (bench) or per optimiser step (train/distill)."""
    vals = []
    for path in sorted(glob.glob(f"{work}/{label}_{side}_*")):
        if path.endswith(".json"):
            vals.append(json.load(open(path))["rows"][0]["total_ms"])
        elif os.path.isfile(f"{path}/done"):
            rows = list(csv.DictReader(open(f"{path}/train_log.csv")))
            steps = int(rows[-1]["step"])
            vals.append(1000.0 * sum(float(r["seconds"]) for r in rows) / steps)
    return vals

def version(side):
    """The library versions a training run of this binary recorded in its run.json."""
    for path in sorted(glob.glob(f"{work}/train200_{side}_*/run.json")):
        v = json.load(open(path))["versions"]
        return f"torch {v['torch']}, compiler {v['compiler']}, MuJoCo {v['mujoco']}"
    return "?"

cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
what = [
    ("ddpm100", "DDPM-100 chunk, batch 1 (100 U-Net calls)", "ms per chunk"),
    ("ddim10", "DDIM-10 chunk, batch 1", "ms per chunk"),
    ("onestep", "OneDP-S chunk, batch 1 (one U-Net call)", "ms per chunk"),
    ("big1", "One call of a U-Net with the paper's DDPM widths [256, 512, 1024] (fresh weights, PushT low-dim), batch 1", "ms per call"),
    ("train200", "DP-DDPM training step, batch 64 (200 steps)", "ms per step"),
    ("distill100", "OneDP-S distillation step, batch 64 (100 steps: score net + generator)", "ms per step"),
    ("train1000", "PushT DP-DDPM training to 1,000 steps (both at once, one per core)", "ms per step"),
]
rows = []
for label, desc, unit in what:
    a, b = ms(label, "old"), ms(label, "new")
    if not a or not b:
        continue
    rows.append(dict(measure=label, what=desc, unit=unit, n=len(a),
                     old_min=min(a), old_median=statistics.median(a), old_max=max(a),
                     new_min=min(b), new_median=statistics.median(b), new_max=max(b),
                     speedup_new=statistics.median(a) / statistics.median(b)))
os.makedirs(out, exist_ok=True)
with open(f"{out}/cpu_speed.csv.tmp", "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(rows[0].keys()) + ["cpu", "git_commit"])
    w.writeheader()
    for r in rows:
        w.writerow({**r, "cpu": cpu, "git_commit": commit})
os.replace(f"{out}/cpu_speed.csv.tmp", f"{out}/cpu_speed.csv")
lines = [
    "# libtorch 1.13 (Debian) against torch 2.x (PyPI), same machine, one thread",
    "",
    f"CPU: {cpu}; one thread (`OMP_NUM_THREADS=1`), pinned with taskset; commit {commit}.",
    f"Networks: the cpu preset's PushT low-dim DP U-Net ({teacher}) and the OneDP-S generator distilled from it ({student}).",
    f"Old: `{old}` ({version('old')}); new: `{new}` ({version('new')}).",
    f"Short measurements: {repeats} repeats, the two binaries alternating on one core; the 1,000-step training: {long_repeats} repeats, both at once on the two cores, swapping cores.",
    "Each value is the median inside one repeat (bench policy) or the mean over the repeat's steps (training); min / median / max are over repeats.",
    "",
    "| measure | unit | 1.13 min / median / max | 2.x min / median / max | 1.13 / 2.x (medians) |",
    "|---|---|---:|---:|---:|",
]
for r in rows:
    lines.append(f"| {r['what']} | {r['unit']} | {r['old_min']:.2f} / {r['old_median']:.2f} / {r['old_max']:.2f} | "
                 f"{r['new_min']:.2f} / {r['new_median']:.2f} / {r['new_max']:.2f} | {r['speedup_new']:.2f}x |")
lines += ["", "A ratio above 1 means torch 2.x is faster.", ""]
with open(f"{out}/cpu_speed.md.tmp", "w") as f:
    f.write("\n".join(lines))
os.replace(f"{out}/cpu_speed.md.tmp", f"{out}/cpu_speed.md")
print("\n".join(lines))
PY
