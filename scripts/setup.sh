#!/usr/bin/env bash
# Installs every dependency from Debian 12 packages and builds OneDP Bench.
# Usage: scripts/setup.sh [build-dir]   (default: build; build-torch2 with BENCH_TORCH=pip)
# Environment: BENCH_WITH_TORCH=ON|OFF, BENCH_BUILD_VIEWER=ON|OFF, BENCH_SKIP_APT=1 to skip apt-get,
# BENCH_TORCH=debian|pip: the libtorch to build against. debian (the default) is Debian 12's
# libtorch 1.13 (CPU only); pip makes the virtual environment .venv-torch, installs the pinned
# PyTorch 2.x wheel from PyPI (its libtorch is CUDA-enabled) and points CMake at it.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_TORCH=${BENCH_TORCH:-debian}
TORCH_PIP_VERSION=2.15.0
case "$BENCH_TORCH" in
  debian) BUILD_DIR=${1:-build} ;;
  pip) BUILD_DIR=${1:-build-torch2} ;;
  *) echo "BENCH_TORCH must be debian or pip, got '$BENCH_TORCH'" >&2; exit 2 ;;
esac

PACKAGES=(
  build-essential cmake pkg-config
  libmujoco-dev libqhull-dev
  libtorch-dev libopenblas0-pthread
  libhdf5-dev hdf5-tools
  libopencv-core-dev libopencv-imgproc-dev libopencv-imgcodecs-dev libopencv-videoio-dev
  libcli11-dev libgtest-dev libbenchmark-dev
  libimgui-dev libglfw3-dev
  libegl-dev libegl-mesa0 libgl1-mesa-dri libgl-dev libosmesa6-dev
  libeigen3-dev nlohmann-json3-dev libboost-dev
  gnuplot-nox
  xvfb xauth
)
if [ "$BENCH_TORCH" = "pip" ]; then PACKAGES+=(python3-venv); fi

if [ "${BENCH_SKIP_APT:-0}" != "1" ]; then
  SUDO=""
  if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends "${PACKAGES[@]}"
fi

CMAKE_EXTRA=()
if [ "$BENCH_TORCH" = "pip" ]; then
  [ -x .venv-torch/bin/python ] || python3 -m venv .venv-torch
  .venv-torch/bin/pip install "torch==${TORCH_PIP_VERSION}"
  # The torch package itself is a prefix too, so that its lib/ is searched before the system's
  # (Debian's libtorch.so in /usr/lib would otherwise be linked with the wheel's headers).
  TORCH_DIR=$(.venv-torch/bin/python -c 'import os, torch; print(os.path.dirname(torch.__file__))' 2>/dev/null)
  CMAKE_EXTRA+=(-DCMAKE_PREFIX_PATH="$TORCH_DIR/share/cmake;$TORCH_DIR")
  # The wheel's CUDA libraries (NCCL, cuDNN, ...) live beside it in nvidia/*/lib; the linker must
  # resolve libtorch_cuda.so's dependencies there, not in an older system CUDA toolkit.
  LINK_FLAGS=""
  for d in "$(dirname "$TORCH_DIR")"/nvidia/*/lib; do LINK_FLAGS+="-Wl,-rpath-link,$d "; done
  CMAKE_EXTRA+=(-DCMAKE_EXE_LINKER_FLAGS="$LINK_FLAGS")
fi

cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release \
  -DBENCH_WITH_TORCH="${BENCH_WITH_TORCH:-ON}" \
  -DBENCH_BUILD_VIEWER="${BENCH_BUILD_VIEWER:-ON}" "${CMAKE_EXTRA[@]}"
cmake --build "$BUILD_DIR" -j "$(nproc)"
