#!/usr/bin/env python3
"""Checks that robomimic 0.3.0 reads our datasets as its own: for each dataset given, its env
metadata reader, its shape reader and its SequenceDataset (low-dim keys; image keys where the file
has them; DP's windows: 2 observation frames, 16 action steps) load it and one item is checked
against the file; then a few steps of robomimic's BC training run on one file. Prints a Markdown
summary (for results/peers/README.md) and writes it to --out.

Run with the peers' virtual environment (scripts/peers/setup.sh):
  nice -n 10 .venv-peers/bin/python scripts/peers/robomimic_read.py --out /tmp/robomimic_read.md \
      data/square_ph.hdf5 data/square_mh.hdf5 ...
"""
import argparse
import json
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

import robomimic  # noqa: E402
import robomimic.utils.file_utils as FileUtils  # noqa: E402
import robomimic.utils.obs_utils as ObsUtils  # noqa: E402
import robomimic.utils.train_utils as TrainUtils  # noqa: E402
from robomimic.algo import algo_factory  # noqa: E402
from robomimic.config import config_factory  # noqa: E402
from robomimic.utils.dataset import SequenceDataset  # noqa: E402

LOW_DIM = ["object", "robot0_eef_pos", "robot0_eef_quat", "robot0_gripper_qpos"]


def keys_of(path):
    with h5py.File(path, "r") as f:
        obs = f["data/demo_0/obs"]
        keys = list(obs.keys())
    low = [k for k in keys if not k.endswith("_image")]
    rgb = [k for k in keys if k.endswith("_image")]
    return low, rgb


def read_one(path):
    """Env metadata, shapes and one SequenceDataset item of one file; returns a result dict."""
    low, rgb = keys_of(path)
    ObsUtils.initialize_obs_utils_with_obs_specs({"obs": {"low_dim": low, "rgb": rgb}})
    t0 = time.time()
    meta = FileUtils.get_env_metadata_from_dataset(path)
    shapes = FileUtils.get_shape_metadata_from_dataset(path, all_obs_keys=low + rgb)
    ds = SequenceDataset(hdf5_path=path, obs_keys=low + rgb, dataset_keys=("actions", "actions_abs", "rewards", "dones"),
                         frame_stack=2, seq_length=16, pad_frame_stack=True, pad_seq_length=True,
                         hdf5_cache_mode="low_dim", hdf5_use_swmr=True, load_next_obs=False)
    item = ds[5]
    # index 5 is demo_0's step 5; the window runs from step 4 (frame_stack 2) for 17 steps, so
    # position 1 of each sequence is the file's step 5
    with h5py.File(path, "r") as f:
        g = f["data/demo_0"]
        ok = all(np.allclose(item["obs"][k][1], g["obs"][k][5], atol=1e-6) for k in low)
        ok = ok and all(np.allclose(item["obs"][k][0], g["obs"][k][4], atol=1e-6) for k in low)
        ok = ok and np.allclose(item["actions"][1], g["actions"][5], atol=1e-6)
        ok = ok and np.allclose(item["actions_abs"][1], g["actions_abs"][5], atol=1e-6)
        for k in rgb:  # robomimic keeps images HWC uint8 in the item until the model's processing
            ok = ok and np.array_equal(np.asarray(item["obs"][k][1]), g["obs"][k][5])
    return {"path": path, "env_name": meta["env_name"], "env_type": meta["type"],
            "controller": meta["env_kwargs"]["controller_configs"]["type"], "demos": ds.n_demos,
            "samples": len(ds), "low_dim": low, "rgb": rgb,
            "shapes": {k: list(v) for k, v in shapes["all_shapes"].items()}, "ac_dim": shapes["ac_dim"],
            "item_shapes": {k: list(np.asarray(v).shape) for k, v in item["obs"].items()},
            "item_matches_file": bool(ok), "seconds": time.time() - t0}


def train_bc(path, steps):
    """A few steps of robomimic's BC (an MLP on the low-dim keys) on our file; seeded before the
    model is built, so its initial weights and the batch order repeat from run to run."""
    torch.manual_seed(0)
    config = config_factory("bc")
    with config.values_unlocked():
        config.train.data = path
        config.train.output_dir = "/tmp/robomimic_bc"
        config.train.batch_size = 16
        config.train.num_data_workers = 0
        config.train.hdf5_cache_mode = "low_dim"
        config.train.seq_length = 1
        config.train.frame_stack = 1
        config.observation.modalities.obs.low_dim = LOW_DIM
        config.observation.modalities.obs.rgb = []
    ObsUtils.initialize_obs_utils_with_config(config)
    shapes = FileUtils.get_shape_metadata_from_dataset(path, all_obs_keys=LOW_DIM)
    model = algo_factory(config.algo_name, config, obs_key_shapes=shapes["all_shapes"], ac_dim=shapes["ac_dim"],
                         device=torch.device("cpu"))
    ds = SequenceDataset(hdf5_path=path, obs_keys=LOW_DIM, dataset_keys=("actions",), frame_stack=1, seq_length=1,
                         hdf5_cache_mode="low_dim", load_next_obs=False)
    loader = torch.utils.data.DataLoader(ds, batch_size=16, shuffle=True, num_workers=0, drop_last=True)
    losses = []
    it = iter(loader)
    for _ in range(steps):
        batch = next(it)
        inp = model.process_batch_for_training(batch)
        info = model.train_on_batch(inp, epoch=0, validate=False)
        losses.append(float(info["losses"]["action_loss"]))
    return losses


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("datasets", nargs="+")
    ap.add_argument("--train", default="data/square_ph.hdf5", help="file for the BC steps")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    lines = [f"robomimic {robomimic.__version__}, torch {torch.__version__}", "",
             "| dataset | env (type) | controller | demos | windows | low-dim keys | image keys | ac_dim | item = file |",
             "|---|---|---|---:|---:|---|---|---:|---|"]
    results = []
    for p in args.datasets:
        if not os.path.exists(p):
            print(f"skip {p}: missing", file=sys.stderr)
            continue
        r = read_one(p)
        results.append(r)
        print(json.dumps(r), flush=True)
        shp = ", ".join(f"{k} {tuple(r['shapes'][k])}" for k in r["low_dim"])
        img = ", ".join(f"{k} {tuple(r['shapes'][k])}" for k in r["rgb"]) or "none"
        lines.append(f"| `{os.path.basename(p)}` | {r['env_name']} ({r['env_type']}) | {r['controller']} | {r['demos']} | "
                     f"{r['samples']} | {shp} | {img} | {r['ac_dim']} | {r['item_matches_file']} |")
    losses = train_bc(args.train, args.steps)
    lines += ["", f"BC ({args.steps} steps, batch 16, robomimic's default BC MLP, low-dim keys) on "
              f"`{os.path.basename(args.train)}`: action loss {losses[0]:.4f} at step 1, {losses[-1]:.4f} at step "
              f"{len(losses)} (min {min(losses):.4f}; mean of the first 5 steps {np.mean(losses[:5]):.4f}, of the last 5 "
              f"{np.mean(losses[-5:]):.4f}); all finite: {bool(np.all(np.isfinite(losses)))}."]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        tmp = args.out + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, args.out)


if __name__ == "__main__":
    sys.exit(main())
