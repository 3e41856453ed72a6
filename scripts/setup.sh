#!/usr/bin/env bash
# Installs every dependency from Debian 12 packages and builds OneDP Bench.
# Usage: scripts/setup.sh [build-dir]   (default: build)
# Environment: BENCH_WITH_TORCH=ON|OFF, BENCH_BUILD_VIEWER=ON|OFF, BENCH_SKIP_APT=1 to skip apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${1:-build}

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

if [ "${BENCH_SKIP_APT:-0}" != "1" ]; then
  SUDO=""
  if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends "${PACKAGES[@]}"
fi

cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release \
  -DBENCH_WITH_TORCH="${BENCH_WITH_TORCH:-ON}" \
  -DBENCH_BUILD_VIEWER="${BENCH_BUILD_VIEWER:-ON}"
cmake --build "$BUILD_DIR" -j "$(nproc)"
