#!/usr/bin/env bash
# Makes .venv-peers/ (at the repository root, ignored by git) with the original implementations our
# tasks reimplement, at pinned versions from PyPI: gym-pusht (pymunk PushT), robosuite 1.5.1 (MuJoCo
# 3.3), robomimic 0.3.0, and numpy, h5py, shapely, pillow. Optional: the README's two commands and
# CI do not use it. Usage: scripts/peers/setup.sh   (then scripts/peers/*_compare.py);
# PEERS_LEROBOT=1 also makes .venv-lerobot/ (LeRobot, for scripts/peers/speed.py).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${PEERS_VENV:-$ROOT/.venv-peers}"
PYTHON="${PYTHON:-python3}"

"$PYTHON" -c 'import sys; assert sys.version_info[:2] >= (3, 10), sys.version' ||
  { echo "setup.sh: needs Python >= 3.10 (pinned for 3.11)" >&2; exit 2; }
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -m venv "$VENV" ||
    { echo "setup.sh: python3 -m venv failed (Debian: apt-get install python3-venv)" >&2; exit 1; }
fi
"$VENV/bin/pip" install --quiet --upgrade pip
"$VENV/bin/pip" install --quiet -r "$ROOT/scripts/peers/requirements.txt"
"$VENV/bin/pip" check

# Smoke test: each peer imports and builds its environment.
MUJOCO_GL="${MUJOCO_GL:-egl}" OMP_NUM_THREADS=1 "$VENV/bin/python" - <<'PY'
import gymnasium as gym, gym_pusht, pymunk, shapely, robosuite, robomimic, mujoco, numpy, h5py
env = gym.make("gym_pusht/PushT-v0", obs_type="state")
env.reset(seed=0)
robosuite.make("Lift", robots="Panda", has_renderer=False, has_offscreen_renderer=False, use_camera_obs=False)
import robomimic.utils.dataset  # noqa: F401  (torch-backed SequenceDataset)
print(f"peers ready: gym-pusht (pymunk {pymunk.version}, shapely {shapely.__version__}), "
      f"robosuite {robosuite.__version__} (mujoco {mujoco.__version__}), robomimic {robomimic.__version__}, "
      f"numpy {numpy.__version__}, h5py {h5py.__version__}")
PY
echo "virtual environment: $VENV"

# Optional (PEERS_LEROBOT=1): .venv-lerobot/ with LeRobot's DiffusionPolicy for scripts/peers/speed.py,
# layered on $VENV (a .pth file adds its site-packages, so torch is not downloaded twice).
if [ "${PEERS_LEROBOT:-0}" = 1 ]; then
  LEROBOT_VENV="${LEROBOT_VENV:-$ROOT/.venv-lerobot}"
  [ -x "$LEROBOT_VENV/bin/python" ] || "$PYTHON" -m venv "$LEROBOT_VENV"
  SITE="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  LSITE="$("$LEROBOT_VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  echo "$SITE" > "$LSITE/zz_peers.pth"
  "$LEROBOT_VENV/bin/pip" install --quiet --no-deps -r "$ROOT/scripts/peers/requirements-lerobot.txt"
  OMP_NUM_THREADS=1 "$LEROBOT_VENV/bin/python" -c \
    'from lerobot.policies.diffusion.modeling_diffusion import DiffusionPolicy; import lerobot, torch; print("lerobot", lerobot.__version__, "on torch", torch.__version__)'
  echo "virtual environment: $LEROBOT_VENV"
fi
