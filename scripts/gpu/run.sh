#!/usr/bin/env bash
# Builds the harness on a lent GPU machine against the PyTorch installed there and measures the
# paper preset on its GPU, in one command that ends within BENCH_GPU_BUDGET_S (450 s) even when a
# step hangs. Run in the repository root after scripts/gpu/prepare.sh, with .gpu carried:
#   bash scripts/gpu/run.sh
# Steps (each under `timeout`; a failed step skips only the steps that need its output):
#   env       OS, compiler, GPU, CMake, torch
#   unpack    .gpu/gl/*.deb into / (the device README's GL loaders), .gpu/debs/*.deb into a private
#             prefix (never into /); sonames the image lacks are linked into $PREFIX/rt
#   configure CMake + Ninja, Release, CUDA torch from torch.utils.cmake_prefix_path, viewer, tests
#             and OpenCV off, /usr ignored as a search prefix (only the private prefix serves)
#   build     the harness target only
#   gl        `bench sim` on Square-ph with EGL: which renderer, env steps/s
#   collect   Square-ph image demonstrations (10 episodes, 16 workers)
#   train     DP-DDPM on the paper preset (256 M U-Net, ResNet-18 per camera): 2 epochs of 100 steps
#   distill   OneDP-S from it, 100 steps
#   bench     bench policy, batch 1: DDPM-100, DDIM-10, EDM-35 (edm:18), OneDP-1 in one process
#   eval      20 Square-ph rollouts of the OneDP-S student (EGL on the GPU)
#   cp        DP-EDM 50 steps, CP 50 steps from it, bench policy CP-1 / CP-3 and EDM-35 on the EDM
#             teacher's 67 M networks (the first bench times every sampler on the DDPM teacher's)
#   report    scripts/gpu/report.py: $OUT/gpu.md (the content of results/gpu/<device>.md), gpu.csv
# Everything lands in $OUT (the device tool's return folder), at most 8 files:
# run.log, steps.csv, gpu.md, gpu.csv, bench_onedp.json, bench_cp.json, train_log.csv, eval_onedp.csv
# ($BENCH_GPU_ROOT/out when OUT is unset).
# Environment: BENCH_GPU_DRYRUN=1 stops after the build (for checking the prefix on a Debian
# machine: nothing is unpacked into /); BENCH_GPU_PYTHON (python3), BENCH_GPU_JOBS (the CPU count),
# BENCH_GPU_DEVICE (cuda), BENCH_GPU_PRESET (paper), BENCH_GPU_ROOT (/tmp/onedp-gpu: prefix,
# build, datasets and runs), BENCH_GPU_BUDGET_S (450), BENCH_GPU_OBS (image), BENCH_GPU_CAP_SCALE
# (1: multiplies every step's own limit, for slow machines); BENCH_GPU_HARNESS=path skips unpack,
# configure and build and measures with that binary (a smoke test of the steps on a CPU machine);
# BENCH_GPU_EPISODES, BENCH_GPU_TRAIN_STEPS, BENCH_GPU_DISTILL_STEPS, BENCH_GPU_EVAL_EPISODES (10,
# 100 per epoch, 100, 20): the sizes.
# shellcheck disable=SC2317  # the step functions run through `step`, which shellcheck cannot see
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
REPO=$PWD
START=$(date +%s)
BUDGET=${BENCH_GPU_BUDGET_S:-450}
SCALE=${BENCH_GPU_CAP_SCALE:-1}
DRYRUN=${BENCH_GPU_DRYRUN:-0}
PY=${BENCH_GPU_PYTHON:-python3}
JOBS=${BENCH_GPU_JOBS:-$(getconf _NPROCESSORS_ONLN)}  # nproc would follow OMP_NUM_THREADS
DEVICE=${BENCH_GPU_DEVICE:-cuda}
PRESET=${BENCH_GPU_PRESET:-paper}
OBS=${BENCH_GPU_OBS:-image}
ROOT=${BENCH_GPU_ROOT:-/tmp/onedp-gpu}
PREFIX=$ROOT/prefix
BUILD=$ROOT/build
WORK=$ROOT/work
OUT=${OUT:-$ROOT/out}
HARNESS=$BUILD/harness/harness
mkdir -p "$OUT" "$WORK"
# torch's CMake package finds CUDA through nvcc.
if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then export PATH=/usr/local/cuda/bin:$PATH; fi
exec > >(tee "$OUT/run.log") 2>&1
echo "step,rc,seconds,timeout_s" >"$OUT/steps.csv"

# step NAME CAP_S CMD...: runs CMD under a timeout of CAP_S or the time left, whichever is less
# (keeping 20 s for the report); a step that cannot get 15 s is skipped (rc 125 in steps.csv).
# Its own lines go to stderr, so that a step piped into tee leaves only the command's output there.
step() {
  local name=$1 cap=$2 left t t0 rc
  shift 2
  left=$((START + BUDGET - 20 - $(date +%s)))
  if [ "$left" -lt 15 ]; then
    echo "== $name: skipped, the time budget is spent" >&2
    echo "$name,125,0,0" >>"$OUT/steps.csv"
    return 125
  fi
  cap=$((cap * SCALE))
  t=$((cap < left ? cap : left))
  echo "== $name (timeout ${t} s, $(($(date +%s) - START)) s in): $*" >&2
  t0=$(date +%s%N)
  if [ "$(type -t "$1")" = function ]; then  # this script's functions run in a child bash
    timeout -k 5 "$t" bash -c '"$@"' step "$@"
  else
    timeout -k 5 "$t" "$@"
  fi
  rc=$?
  local dt
  dt=$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN {printf "%.1f", (b - a) / 1e9}')
  echo "$name,$rc,$dt,$t" >>"$OUT/steps.csv"
  echo "== $name: rc $rc, $dt s" >&2
  return "$rc"
}

env_info() {
  cat /etc/os-release
  uname -a
  g++ --version | head -1
  cmake --version | head -1
  ninja --version
  nvcc --version | tail -2
  ldd --version | head -1
  nvidia-smi || true
  timeout 50 "$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")'
  getconf _NPROCESSORS_ONLN
  free -g 2>/dev/null | head -2
  df -h /tmp | tail -1
  command -v dpkg-deb ldconfig timeout
}

unpack() {
  if [ "$DRYRUN" != 1 ]; then  # the device README's GL loaders belong in /
    for f in .gpu/gl/*.deb; do dpkg-deb -x "$f" / || return 1; done
    ldconfig
  fi
  rm -rf "$PREFIX"
  mkdir -p "$PREFIX/rt"
  for f in .gpu/debs/*.deb .gpu/gl/*.deb; do dpkg-deb -x "$f" "$PREFIX" || return 1; done
  # Debian's mujoco target names /usr/include/libqhull_r/ (no public header needs it): point it
  # into the prefix, where CMake's check that the directory exists holds.
  local mt=$PREFIX/usr/lib/x86_64-linux-gnu/cmake/mujoco/mujocoTargets.cmake
  sed -i 's#;/usr/include/libqhull_r/#;${_IMPORT_PREFIX}/include/libqhull_r/#' "$mt"
  mkdir -p "$PREFIX/usr/include/libqhull_r"
  grep -q '/usr/include/libqhull_r' "$mt" && { echo "unpack: mujocoTargets.cmake still names /usr/include/libqhull_r"; return 1; }
  # At run time only the sonames the image lacks come from the prefix (Debian's copies of libz,
  # libssl, ... must not replace the image's own for the driver's and torch's libraries).
  local have lib soname n=0
  have=$(ldconfig -p | awk '{print $1}' | sort -u)
  for lib in "$PREFIX"/usr/lib/x86_64-linux-gnu/lib*.so.* "$PREFIX"/lib/x86_64-linux-gnu/lib*.so.* \
             "$PREFIX"/usr/lib/x86_64-linux-gnu/hdf5/serial/lib*.so.*; do
    if [ ! -f "$lib" ] || [ -L "$lib" ]; then continue; fi  # each real file once
    soname=$(readelf -d "$lib" 2>/dev/null | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
    if [ -z "$soname" ] || [ -e "$PREFIX/rt/$soname" ] || grep -qxF "$soname" <<<"$have"; then continue; fi
    ln -s "$lib" "$PREFIX/rt/$soname"
    n=$((n + 1))
  done
  local debs=(.gpu/debs/*.deb)
  echo "unpack: ${#debs[@]} packages into $PREFIX; $n sonames the system lacks in $PREFIX/rt"
}

configure() {
  local torch_cmake torch_dir link="" paths
  paths=$("$PY" -c 'import os, torch; print(torch.utils.cmake_prefix_path); print(os.path.dirname(torch.__file__))') ||
    return 1
  torch_cmake=$(sed -n 1p <<<"$paths")
  torch_dir=$(sed -n 2p <<<"$paths")
  # ld resolves the Debian libraries' own dependencies in the prefix, and libtorch_cuda's in the
  # wheel's nvidia/*/lib rather than in an older system CUDA (NOTES: the NCCL link failure).
  for d in "$PREFIX/usr/lib/x86_64-linux-gnu" "$PREFIX/lib/x86_64-linux-gnu" \
           "$PREFIX/usr/lib/x86_64-linux-gnu/hdf5/serial" "$(dirname "$torch_dir")"/nvidia/*/lib; do
    [ -d "$d" ] && link+="-Wl,-rpath-link,$d "
  done
  local arch=()
  if [ "$DRYRUN" != 1 ]; then arch=(-DTORCH_CUDA_ARCH_LIST=9.0); fi
  rm -rf "$BUILD"
  cmake -S "$REPO" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DBENCH_WITH_TORCH=ON -DBENCH_BUILD_VIEWER=OFF -DBENCH_BUILD_TESTS=OFF -DBENCH_WITH_OPENCV=OFF \
    -DCMAKE_PREFIX_PATH="$torch_cmake;$torch_dir;$PREFIX/usr" \
    -DCMAKE_IGNORE_PREFIX_PATH="/usr;/" -DCMAKE_POLICY_VERSION_MINIMUM=3.5 \
    -DHDF5_ROOT="$PREFIX/usr/lib/x86_64-linux-gnu/hdf5/serial;$PREFIX/usr/include/hdf5/serial" \
    -DCMAKE_EXE_LINKER_FLAGS="$link" "${arch[@]}" || return 1
  # Every dependency must come from the prefix or torch: list what the cache found elsewhere.
  local stray
  stray=$(grep -E '^(mujoco_DIR|Eigen3_DIR|nlohmann_json_DIR|CLI11_DIR|Boost_DIR|boost_headers_DIR|HDF5_[A-Z_]*(LIBRARY[A-Z_]*|INCLUDE_DIR)|OPENGL_[a-z]*_LIBRARY|OPENGL_INCLUDE_DIR)[:=]' \
          "$BUILD/CMakeCache.txt" | grep -v -e "$PREFIX" -e 'NOTFOUND' -e ':INTERNAL=' || true)
  if [ -n "$stray" ]; then
    echo "configure: found outside the private prefix:"
    echo "$stray"
    return 1
  fi
  echo "configure: every C++ dependency from $PREFIX"
}

build() {
  cmake --build "$BUILD" --target harness -j "$JOBS" || return 1
  # The compiler must have read our dependencies' headers from the prefix too.
  local stray
  stray=$(ninja -C "$BUILD" -t deps 2>/dev/null |
          grep -E '^ +/usr/include/(mujoco|eigen3|nlohmann|CLI|boost|hdf5|H5|GL/)' | sort -u | head || true)
  if [ -n "$stray" ]; then
    echo "build: headers read from the system, not the prefix:"
    echo "$stray"
    return 1
  fi
  LD_LIBRARY_PATH=$PREFIX/rt ldd "$HARNESS" | grep -E 'not found|mujoco|hdf5|torch_cuda'
  ! LD_LIBRARY_PATH=$PREFIX/rt ldd "$HARNESS" | grep -q 'not found'
}

export REPO DRYRUN PY JOBS PREFIX BUILD HARNESS
export -f env_info unpack configure build

# The steps, in one function that bash reads whole before running it (so an edit of this file
# cannot change a run in progress).
main() {
echo "== scripts/gpu/run.sh: budget ${BUDGET} s, device $DEVICE, preset $PRESET, obs $OBS, dry run $DRYRUN"
step env 90 env_info
if [ -n "${BENCH_GPU_HARNESS:-}" ]; then  # a harness built elsewhere: only the measurements
  HARNESS=$BENCH_GPU_HARNESS
  built=0
else
  step unpack 90 unpack
  step configure 150 configure && step build 330 build
  built=$?
fi
if [ "$DRYRUN" = 1 ] || [ "$built" != 0 ]; then
  echo "== done (dry run or no build), $(($(date +%s) - START)) s"
  return "$built"
fi

# Headless GL through the NVIDIA driver's EGL (sim/gl_context.cc tries hardware EGL devices first).
export ONEDP_GL=egl ONEDP_GL_VERBOSE=1
if ! compgen -G '/usr/share/glvnd/egl_vendor.d/*nvidia*' >/dev/null &&
   [ -f /usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json ]; then
  export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
fi
export LD_LIBRARY_PATH=$PREFIX/rt${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export HDF5_USE_FILE_LOCKING=FALSE  # HDF5 1.10's lock fails on some container filesystems
cd "$WORK" || return 1
DATA=$WORK/square_ph.hdf5
RUNS=$WORK/runs
# The preset with fixed epoch lengths (steps_per_epoch, which --set cannot add), written beside the
# runs: DP-DDPM and OneDP-S get BENCH_GPU_TRAIN_STEPS / BENCH_GPU_DISTILL_STEPS per epoch, DP-EDM and CP 50.
"$PY" - "$PRESET" "$WORK" "${BENCH_GPU_TRAIN_STEPS:-100}" "${BENCH_GPU_DISTILL_STEPS:-100}" <<'EOF' || return 1
import json, os, sys
preset, work, train_steps, distill_steps = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
path = preset if preset.endswith(".json") else os.path.join(os.environ["REPO"], "presets", preset + ".json")
for name, t, d in (("main", train_steps, distill_steps), ("short", 50, 50)):
    with open(path) as f:
        p = json.load(f)
    p["description"] = f"scripts/gpu/run.sh: {preset} with epochs of {t} (train) and {d} (distill) steps"
    for section, steps in (("train", t), ("distill", d)):
        p.setdefault(section, {}).pop("max_batches_per_epoch", None)
        p[section]["steps_per_epoch"] = steps
    with open(os.path.join(work, f"preset_{name}.json"), "w") as f:
        json.dump(p, f, indent=1)
EOF
MAIN=(--preset "$WORK/preset_main.json" --device "$DEVICE" --eval-every -1)
SHORT=(--preset "$WORK/preset_short.json" --device "$DEVICE" --eval-every -1)

step gl 45 "$HARNESS" bench sim --task square-ph --steps 200 | tee "$WORK/gl.txt"
collect_args=(collect --task square-ph --episodes "${BENCH_GPU_EPISODES:-10}" --workers "$JOBS" --out "$DATA" --overwrite)
if [ "$OBS" = image ]; then
  step collect 120 "$HARNESS" "${collect_args[@]}"
else
  step collect 120 "$HARNESS" "${collect_args[@]}" --no-images
fi
have_data=$?
if [ "$have_data" != 0 ] && [ "$OBS" = image ]; then
  # Without EGL no images: the low-dim run still times the paper's U-Nets (no encoder).
  echo "== collect with images failed: falling back to low-dim observations (no encoder timed)"
  OBS=lowdim
  unset ONEDP_GL
  step collect-lowdim 60 "$HARNESS" "${collect_args[@]}" --no-images
  have_data=$?
fi
echo "$OBS" >"$WORK/obs.txt"

if [ "$have_data" = 0 ]; then
  step train 150 "$HARNESS" train --task square-ph --policy dp-ddpm --obs "$OBS" --dataset "$DATA" --out "$RUNS/dp-ddpm" \
    "${MAIN[@]}" --epochs 2 --checkpoint-every 2 &&
    cp "$RUNS/dp-ddpm/train_log.csv" "$OUT/train_log.csv"
fi
if [ -d "$RUNS/dp-ddpm/checkpoint" ]; then
  step distill 120 "$HARNESS" distill --teacher "$RUNS/dp-ddpm" --method onedp-s --out "$RUNS/onedp-s" \
    "${MAIN[@]}" --epochs 1
fi
if [ -d "$RUNS/onedp-s/checkpoint" ]; then
  step bench 120 "$HARNESS" bench policy --ckpt "$RUNS/onedp-s" --device "$DEVICE" --repeats 20 \
    --sampler ddpm:100 --sampler ddim:10 --sampler edm:18 --sampler onestep --json "$OUT/bench_onedp.json" |
    tee "$WORK/bench_onedp.txt"
  step eval 100 "$HARNESS" eval --ckpt "$RUNS/onedp-s" --sampler onestep --episodes "${BENCH_GPU_EVAL_EPISODES:-20}" --device "$DEVICE" \
    --workers "$JOBS" --out "$OUT/eval_onedp.csv" | tee "$WORK/eval_onedp.txt"
fi
if [ "$have_data" = 0 ]; then
  step train-edm 90 "$HARNESS" train --task square-ph --policy dp-edm --obs "$OBS" --dataset "$DATA" --out "$RUNS/dp-edm" \
    "${SHORT[@]}" --epochs 1 &&
    step distill-cp 90 "$HARNESS" distill --teacher "$RUNS/dp-edm" --method cp --out "$RUNS/cp" \
      "${SHORT[@]}" --epochs 1 &&
    step bench-cp 60 "$HARNESS" bench policy --ckpt "$RUNS/cp" --device "$DEVICE" --repeats 20 \
      --sampler cp:1 --sampler cp:3 --sampler edm:18 --json "$OUT/bench_cp.json" | tee "$WORK/bench_cp.txt"
fi

cd "$REPO" || return 1
timeout 30 "$PY" scripts/gpu/report.py --out "$OUT" --work "$WORK" --preset "$PRESET" --device "$DEVICE"
echo "== done in $(($(date +%s) - START)) s"
cat "$OUT/steps.csv"
sleep 1  # lets tee finish run.log
}

main; exit  # one line: bash has read it whole before main runs
