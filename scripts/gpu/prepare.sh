#!/usr/bin/env bash
# Downloads (never installs) the Debian 12 packages that scripts/gpu/run.sh needs to build the
# harness on a lent GPU machine whose image has CUDA, CMake and PyTorch but none of our C++
# dependencies, into the ignored folder .gpu/ that the device call carries:
#   .gpu/debs/  MuJoCo, HDF5, Eigen, nlohmann-json, CLI11, Boost headers, GL headers and the
#               runtime libraries they need beyond glibc/libstdc++ (run.sh unpacks them into a
#               private prefix, never into /)
#   .gpu/gl/    the GL loaders of the device README (libEGL, libGLdispatch, ...), unpacked into /
# Then unpacks everything into a scratch prefix to check that every library's dependencies are in
# it or in the base set an Ubuntu CUDA image has, prints the newest glibc symbol version needed,
# and checks what the device call sends (working tree + .gpu) against the 64 MiB limit.
# Usage: scripts/gpu/prepare.sh   (on a Debian 12 amd64 machine with network; no root needed)
set -euo pipefail
cd "$(dirname "$0")/../.."

# Headers and CMake packages for the GPU build (BENCH_WITH_OPENCV=OFF, viewer and tests off).
DEV=(libmujoco-dev libhdf5-dev libeigen3-dev nlohmann-json3-dev libcli11-dev libboost1.74-dev
     libgl-dev libglx-dev libopengl-dev)
# The runtime closure of libmujoco and libhdf5(_cpp) without glibc, libgcc and libstdc++
# (apt-cache depends --recurse --no-recommends libmujoco2.2.2 libhdf5-103-1 libhdf5-cpp-103-1).
RUNTIME=(libmujoco2.2.2 libccd2 liblodepng0 libqhull-r8.0 libtinyxml2-9
         libhdf5-103-1 libhdf5-cpp-103-1 libaec0 libsz2 zlib1g
         libcurl4 libbrotli1 libgssapi-krb5-2 libkrb5-3 libk5crypto3 libkrb5support0 libkeyutils1
         libcom-err2 libidn2-0 libunistring2 libldap-2.5-0 libsasl2-2 libsasl2-modules-db libdb5.3
         libnghttp2-14 libpsl5 librtmp1 libgnutls30 libhogweed6 libnettle8 libgmp10 libp11-kit0
         libtasn1-6 libffi8 libssh2-1 libssl3 libzstd1)
# The device README's GL loaders (EGL on the NVIDIA driver).
GL=(libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
# Sonames an Ubuntu CUDA image always has (glibc, the GCC runtime).
BASE_RE='^(libc|libm|libdl|libpthread|librt|libresolv|libutil|ld-linux-x86-64|libstdc\+\+|libgcc_s)\.so'
LIMIT=$((64 * 1024 * 1024))

[ "$(dpkg --print-architecture)" = amd64 ] || { echo "prepare.sh: needs an amd64 Debian 12 machine" >&2; exit 2; }
grep -q 'VERSION_CODENAME=bookworm' /etc/os-release || echo "prepare.sh: warning: not Debian 12 (bookworm)" >&2

# A private apt state, so that nothing of the system's apt configuration changes. Packages already
# in .gpu are kept (BENCH_GPU_REFRESH=1 downloads everything again).
LISTS=/tmp/onedp-gpu-apt-lists
APT=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists="$LISTS")
if [ "${BENCH_GPU_REFRESH:-0}" = 1 ]; then rm -rf .gpu/debs .gpu/gl; fi
mkdir -p "$LISTS/partial" .gpu/debs .gpu/gl
download() {  # download DIR PACKAGE...: the packages that DIR does not hold yet
  local dir=$1 want=() p
  shift
  for p in "$@"; do compgen -G "$dir/${p}_*.deb" >/dev/null || want+=("$p"); done
  [ ${#want[@]} -eq 0 ] && return 0
  [ -e "$LISTS/lock" ] || apt-get "${APT[@]}" -qq update
  (cd "$dir" && apt-get "${APT[@]}" -qq download "${want[@]}" 2>&1 | { grep -v 'unsandboxed as root' || true; })
  for p in "${want[@]}"; do compgen -G "$dir/${p}_*.deb" >/dev/null || { echo "prepare.sh: $p not downloaded" >&2; exit 1; }; done
}
download .gpu/debs "${DEV[@]}" "${RUNTIME[@]}"
download .gpu/gl "${GL[@]}"

# Dry unpack: every NEEDED soname of every carried library must be carried too or be in the base
# set. GLX (libGLX, libGL) needs libX11, which the image may lack: headless EGL never loads them.
SCRATCH=$(mktemp -d /tmp/onedp-gpu-prefix.XXXXXX)
trap 'rm -rf "$SCRATCH"' EXIT
for f in .gpu/debs/*.deb .gpu/gl/*.deb; do dpkg-deb -x "$f" "$SCRATCH"; done
declare -A HAVE=()
while read -r name; do HAVE[$name]=1; done < <(find "$SCRATCH" -name 'lib*.so*' -printf '%f\n')
mapfile -t LIBS < <(find "$SCRATCH" -type f -name 'lib*.so*' ! -name 'libGLX.so*' ! -name 'libGL.so*' | sort)
missing=""
glibc="0"
for lib in "${LIBS[@]}"; do
  for soname in $(objdump -p "$lib" | awk '/NEEDED/ {print $2}'); do
    if [[ ! $soname =~ $BASE_RE ]] && [ -z "${HAVE[$soname]:-}" ]; then missing+=" $soname(${lib##*/})"; fi
  done
  v=$(objdump -T "$lib" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1 || true)
  [ -n "$v" ] && glibc=$(printf '%s\n%s\n' "$glibc" "$v" | sort -V | tail -1)
done
if [ -n "$missing" ]; then
  echo "prepare.sh: libraries needed but not carried:$missing" >&2
  exit 1
fi

# What the device call sends: tracked files, untracked files git does not ignore, and .gpu.
tree_bytes=$( { git ls-files -z; git ls-files -z --others --exclude-standard; } |
              xargs -0 -r stat -c %s 2>/dev/null | awk '{s += $1} END {print s + 0}')
gpu_bytes=$(du -sbc .gpu/debs .gpu/gl | tail -1 | cut -f1)
total=$((tree_bytes + gpu_bytes))
debs=(.gpu/debs/*.deb)
gl=(.gpu/gl/*.deb)
awk -v d="${#debs[@]}" -v g="${#gl[@]}" -v a="$gpu_bytes" -v t="$tree_bytes" 'BEGIN {
  printf "debs: %d in .gpu/debs, %d in .gpu/gl; .gpu %.1f MiB + working tree %.1f MiB = %.1f MiB of 64 MiB\n",
         d, g, a / 1048576, t / 1048576, (a + t) / 1048576 }'
echo "all $((${#LIBS[@]})) carried libraries resolve within .gpu or glibc/libstdc++; newest glibc symbol needed: GLIBC_$glibc"
if [ "$total" -gt "$LIMIT" ]; then
  echo "prepare.sh: over the device's 64 MiB limit; the largest untracked folders git does not ignore:" >&2
  git ls-files -z --others --exclude-standard --directory | xargs -0 -r du -sh 2>/dev/null | sort -rh | head -5 >&2
  exit 1
fi
echo "ready: device run with carry [\".gpu\"], command 'bash scripts/gpu/run.sh'"
