#!/usr/bin/env bash
# Latency-aware evaluation of trained cpu-preset policies (issue 20's target experiment): each
# method at its own v100-paper latency, with and without the task's perturbations, on the same 50
# test seeds. Resumable: an existing per-episode CSV is kept. Summarise with dynamic_table.py.
# Usage: scripts/experiments/dynamic_eval.sh TASK TEACHER_RUN ONEDP_RUN [OUT_DIR]
#   e.g. scripts/experiments/dynamic_eval.sh pusht runs/gap/pusht/dp-ddpm runs/gap/pusht/s-ddpm
# Environment: HARNESS (default build/harness/harness), EPISODES (50), METHODS (default below).
set -euo pipefail
TASK=$1 TEACHER=$2 ONEDP=$3
OUT=${4:-results/dynamic_cpu/$TASK}
HARNESS=${HARNESS:-build/harness/harness}
EPISODES=${EPISODES:-50}
mkdir -p "$OUT"
# method label = run@sampler; conditions = latency/exec/perturb (none = the static protocol).
METHODS=${METHODS:-"dp-ddpm-100=$TEACHER@ddpm:100 onedp-s=$ONEDP@onestep dp-ddim-10=$TEACHER@ddim:10"}
CONDITIONS=${CONDITIONS:-"none/sync/- v100-paper/sync/- v100-paper/sync/move v100-paper/sync/reset v100-paper/async/move"}
for cond in $CONDITIONS; do
  IFS=/ read -r latency exec perturb <<< "$cond"
  for m in $METHODS; do
    label=${m%%=*} spec=${m#*=}
    run=${spec%@*} sampler=${spec#*@}
    csv="$OUT/${label}_${latency}_${exec}_${perturb}.csv"
    [ -f "$csv" ] && continue
    args=(eval --ckpt "$run" --sampler "$sampler" --episodes "$EPISODES" --latency "$latency" --exec "$exec"
          --out "$csv.tmp.csv" --workers 1)
    [ "$perturb" != "-" ] && args+=(--perturb "$perturb")
    echo "== $label $cond"
    OMP_NUM_THREADS=1 "$HARNESS" "${args[@]}"
    mv "$csv.tmp.csv" "$csv"
  done
done
