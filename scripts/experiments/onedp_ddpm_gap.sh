#!/usr/bin/env bash
# The experiments of results/onedp_ddpm_gap: why OneDP-S distilled from a DDPM teacher lags it, at
# the cpu preset (seed 0, 5 distillation epochs, every epoch and the warm start evaluated on the
# 50 test episodes from seed 100000). Every step skips what is already done and resumes a killed
# run from its checkpoint, so the script can simply be run again.
# Usage: scripts/experiments/onedp_ddpm_gap.sh TASK EXPERIMENT...   (TASK: pusht | square-ph)
#   EXPERIMENT: teacher-ddpm | teacher-edm | teacher-{ddpm,edm}-noclip | a name from `distill_args` below |
#               samples
# Environment: HARNESS (default build/harness/harness), WORK (default runs/gap/TASK).
set -euo pipefail
HARNESS=${HARNESS:-build/harness/harness}
TASK=$1
shift
WORK=${WORK:-runs/gap/$TASK}
DATA=data/${TASK//-/_}.hdf5
EPOCHS=5
mkdir -p "$WORK" data

[ -f "$DATA" ] || "$HARNESS" collect --task "$TASK" --no-images --workers 1 --out "$DATA"

# Batches per epoch of the distillation (batch 64 over the train windows), for warm-ups in epochs.
batches() { python3 -c "import json,math;print(math.ceil(json.load(open('$WORK/dp-ddpm/run.json'))['train_sequences']/64))"; }

teacher() {  # family
  local dir=$WORK/dp-$1
  [ -f "$dir/done" ] && return 0
  "$HARNESS" train --task "$TASK" --policy "dp-$1" --preset cpu --seed 0 --eval-every -1 --dataset "$DATA" --out "$dir"
  local sampler=ddim:10
  [ "$1" = edm ] && sampler=edm:10
  "$HARNESS" eval --ckpt "$dir" --sampler "$sampler" --episodes 50 --workers 1 --out "$dir/eval_final_$sampler.csv"
  touch "$dir/done"
}

# A teacher sampled as the network gives it: a copy of its checkpoint whose config sets
# ddpm.clip_sample (DDPM) or edm.clamp_denoised (EDM) false; DP's samplers otherwise clamp the x0
# reading to [-1, 1] at every step, which the distillation's target, the teacher's score, never
# sees. Evaluated beside the clamped one.
teacher_noclip() {  # family
  local src=$WORK/dp-$1 dir=$WORK/dp-$1-noclip
  local field=ddpm.clip_sample samplers="ddpm:100 ddim:10"
  [ "$1" = edm ] && field=edm.clamp_denoised samplers="edm:18 edm:10"
  [ -f "$dir/done" ] && return 0
  mkdir -p "$dir/checkpoint"
  cp "$src/run.json" "$dir/run.json"
  cp "$src/checkpoint/weights.pt" "$dir/checkpoint/weights.pt"
  python3 -c "import json,sys;p=json.load(open(sys.argv[1]));b,f=sys.argv[3].split('.');p['config'][b][f]=False;json.dump(p,open(sys.argv[2],'w'),indent=1)" \
    "$src/checkpoint/policy.json" "$dir/checkpoint/policy.json" "$field"
  for s in $samplers; do
    "$HARNESS" eval --ckpt "$src" --sampler "$s" --episodes 50 --workers 1 --out "$src/eval_clip_$s.csv"
    "$HARNESS" eval --ckpt "$dir" --sampler "$s" --episodes 50 --workers 1 --out "$dir/eval_final_$s.csv"
  done
  touch "$dir/done"
}

# name -> "family method epochs [--set ...]"
distill_args() {
  case $1 in
    s-ddpm) echo "ddpm onedp-s $EPOCHS" ;;
    d-ddpm) echo "ddpm onedp-d $EPOCHS" ;;
    s-edm) echo "edm onedp-s $EPOCHS" ;;
    d-edm) echo "edm onedp-d $EPOCHS" ;;
    s-ddpm-lr3e-6) echo "ddpm onedp-s $EPOCHS --set onedp.lr_generator=3e-6" ;;
    s-ddpm-ema) echo "ddpm onedp-s $EPOCHS --set onedp.generator_ema=0.999" ;;
    s-ddpm-kmax40) echo "ddpm onedp-s $EPOCHS --set onedp.k_max=40" ;;
    s-ddpm-three) echo "ddpm onedp-s $EPOCHS --set onedp.lr_generator=3e-6 --set onedp.generator_ema=0.999 --set onedp.k_max=40" ;;
    s-ddpm-gamma0.5) echo "ddpm onedp-s $EPOCHS --set onedp.noise_scale=0.5" ;;
    s-ddpm-gamma0.25) echo "ddpm onedp-s $EPOCHS --set onedp.noise_scale=0.25" ;;
    s-ddpm-lognormal) echo "ddpm onedp-s $EPOCHS --set onedp.level_sampling=edm-lognormal" ;;
    s-ddpm-scorewarm) echo "ddpm onedp-s $((EPOCHS + 2)) --set onedp.score_warmup_steps=$((2 * $(batches)))" ;;
    s-ddpm-k2) echo "ddpm onedp-s $EPOCHS --set onedp.score_steps_per_generator_step=2" ;;
    s-ddpm-k5) echo "ddpm onedp-s $EPOCHS --set onedp.score_steps_per_generator_step=5" ;;
    s-ddpm-clipx0) echo "ddpm onedp-s $EPOCHS --set onedp.clip_x0=true" ;;
    d-ddpm-clipx0) echo "ddpm onedp-d $EPOCHS --set onedp.clip_x0=true" ;;
    s-edm-clipx0) echo "edm onedp-s $EPOCHS --set onedp.clip_x0=true" ;;
    *) echo "unknown experiment '$1'" >&2; return 2 ;;
  esac
}

distill() {  # name
  local args
  args=$(distill_args "$1")
  set -- "$1" $args
  local name=$1 family=$2 method=$3 epochs=$4
  shift 4
  local dir=$WORK/$name
  [ -f "$dir/eval_epoch$epochs.csv" ] && return 0
  "$HARNESS" distill --teacher "$WORK/dp-$family" --method "$method" --preset cpu --seed 0 --epochs "$epochs" \
    --checkpoint-every 1 --eval-every 1 --eval-episodes 50 --workers 1 --eval-warm-start --out "$dir" "$@"
}

samples() {  # the trained and warm-start generators beside the teachers and the dataset
  local args=(--policy "$WORK/dp-ddpm@ddpm:100" --policy "$WORK/dp-ddpm@ddim:10")
  [ -f "$WORK/dp-ddpm-noclip/done" ] && args+=(--policy "$WORK/dp-ddpm-noclip@ddpm:100")
  for d in s-ddpm d-ddpm s-ddpm-lr3e-6 s-ddpm-gamma0.5 s-ddpm-lognormal s-edm d-edm; do
    [ -d "$WORK/$d/warm_start" ] && args+=(--policy "$WORK/$d/warm_start@onestep")
    [ -f "$WORK/$d/eval_epoch$EPOCHS.csv" ] && args+=(--policy "$WORK/$d@onestep")
  done
  [ -f "$WORK/dp-edm/done" ] && args+=(--policy "$WORK/dp-edm@edm:18")
  "$HARNESS" samples "${args[@]}" --windows 32 --draws 16 --seed 0 --out "$WORK/samples.csv"
}

for e in "$@"; do
  echo "== $TASK $e ($(date -u +%H:%M:%S))"
  case $e in
    teacher-ddpm) teacher ddpm ;;
    teacher-edm) teacher edm ;;
    teacher-ddpm-noclip) teacher_noclip ddpm ;;
    teacher-edm-noclip) teacher_noclip edm ;;
    samples) samples ;;
    *) distill "$e" ;;
  esac
done
