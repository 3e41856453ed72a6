#!/usr/bin/env python3
"""Measures OneDP Bench's speed against what users would pick instead, side by side in one run.

Pairs (issue 19): env steps/s (robosuite 1.5.1 Lift/Square/Transport, gym-pusht PushT; random
actions and our expert's actions; without and with the policy cameras), batch-1 policy latency
and one training / distillation step (LeRobot's DiffusionPolicy on PyTorch vs ours on libtorch,
the same networks), and 50 PushT evaluation episodes with a one-step policy. Every measurement is
a subprocess pinned to one core (taskset) with one thread (OMP_NUM_THREADS=1); ours and theirs
alternate within each repeat. Writes results/peers/speed.md and speed.csv (temporary name, then
rename) with min / median / max per side and the ratio ours / theirs in speed (> 1: ours faster).

Run under .venv-lerobot/bin/python (scripts/peers/setup.sh, then PEERS_LEROBOT=1 for LeRobot):
  .venv-lerobot/bin/python scripts/peers/speed.py --quick     # tiny counts: checks the plumbing
  .venv-lerobot/bin/python scripts/peers/speed.py             # the full measurement
The script re-invokes itself with --worker for the Python side's measurements.
"""
import argparse
import csv
import gc
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Our task -> (robosuite env, robots, policy cameras). The cameras are robomimic's image datasets'
# (DP's image policies), 84x84; our bench sim renders its task's spec cameras, checked below.
ROBOSUITE = {
    "lift-ph": ("Lift", "Panda", ["agentview", "robot0_eye_in_hand"]),
    "square-ph": ("NutAssemblySquare", "Panda", ["agentview", "robot0_eye_in_hand"]),
    "transport-ph": ("TwoArmTransport", ["Panda", "Panda"],
                     ["shouldercamera0", "shouldercamera1", "robot0_eye_in_hand", "robot1_eye_in_hand"]),
}


# The networks compared: ours built by bench train / bench policy with net_args, LeRobot's with the same dims.
NETS = {
    "cpu": {"task": "pusht", "preset": "cpu", "obs": "lowdim", "set": [], "down_dims": [32, 64, 128],
            "step_embed_dim": 32, "label": "cpu preset, PushT low-dim, U-Net [32,64,128]"},
    "paper-edm": {"task": "pusht", "preset": "paper", "obs": "image", "set": ["unet.down_dims=[256,512,1024]"],
                  "down_dims": [256, 512, 1024], "step_embed_dim": 128,
                  "label": "paper EDM dims, PushT 96x96 image, U-Net [256,512,1024] + ResNet-18-GN"},
}


def net_args(n):
    args = ["--task", n["task"], "--preset", n["preset"], "--obs", n["obs"], "--policy", "dp-ddpm"]
    for s in n["set"]:
        args += ["--set", s]
    return args


# ----------------------------------------------------------------------------------------------
# Workers: each prints one JSON line on stdout (run in a fresh, pinned process).


def robosuite_env(task, render, horizon):
    """robosuite's env for our task (OSC_POSE, 20 Hz), with its policy cameras at 84x84 when render."""
    import robosuite
    env_name, robots, cameras = ROBOSUITE[task]
    cam = bool(render)
    kwargs = dict(robots=robots, has_renderer=False, has_offscreen_renderer=cam, use_camera_obs=cam,
                  camera_names=cameras if cam else None, camera_heights=84, camera_widths=84,
                  control_freq=20, horizon=horizon, ignore_done=True, reward_shaping=False,
                  use_object_obs=True)
    if env_name == "TwoArmTransport":
        kwargs["env_configuration"] = "opposed"
    if not cam:
        kwargs.pop("camera_names")
    return robosuite.make(env_name, **kwargs)


def pusht_env(render, horizon):
    """gym-pusht's PushT: state observations, or 96x96 images (+ agent position) when render."""
    import gymnasium as gym
    import gym_pusht  # noqa: F401  (registers the env)
    obs_type = "pixels_agent_pos" if render else "state"
    return gym.make("gym_pusht/PushT-v0", obs_type=obs_type, observation_width=96, observation_height=96,
                    max_episode_steps=horizon)


def restore_render_context(env):
    """robosuite 1.5.1's reset builds a new offscreen render context; the old one, freed later by the
    garbage collector, frees its GL objects by name inside the new GL context, and from then on frames
    read back as garbage at no cost. Collect the old one now and rebuild MuJoCo's context in the new
    GL context, so every measured frame is a real one."""
    gc.collect()
    ctx = env.sim._render_context_offscreen
    ctx.gl_ctx.make_current()
    ctx.con.free()
    ctx._set_mujoco_context_and_buffers()


def worker_robosuite(a):
    import numpy as np
    env = robosuite_env(a.task, a.render, a.horizon)
    low, high = env.action_spec
    rng = np.random.default_rng(a.seed)
    replay = load_replay(a.replay) if a.replay else None
    env.reset()
    if a.render:
        restore_render_context(env)
    t_reset = t_workaround = 0.0
    steps = episodes = 0
    t0 = time.perf_counter()
    ep_step = 0
    demo = 0
    while steps < a.steps:
        if replay is None:
            act = rng.uniform(low, high)
        else:
            acts = replay[demo % len(replay)]
            act = acts[ep_step] if ep_step < len(acts) else np.zeros_like(low)
        env.step(act)
        steps += 1
        ep_step += 1
        done = env._check_success() or ep_step >= a.horizon
        if replay is not None and ep_step >= len(replay[demo % len(replay)]):
            done = True
        if done:
            episodes += 1
            tr = time.perf_counter()
            env.reset()
            t_reset += time.perf_counter() - tr
            if a.render:  # the workaround is not robosuite's cost: it stays out of the timing
                tw = time.perf_counter()
                restore_render_context(env)
                t_workaround += time.perf_counter() - tw
            ep_step = 0
            demo += 1
    secs = time.perf_counter() - t0 - t_workaround
    print(json.dumps({"steps_per_s": steps / secs, "seconds": secs, "episodes": episodes,
                      "reset_s": t_reset, "action_dim": int(low.shape[0]),
                      "renderer": os.environ.get("MUJOCO_GL", "")}))


def worker_pusht(a):
    import numpy as np
    env = pusht_env(a.render, a.horizon)
    rng = np.random.default_rng(a.seed)
    replay = load_replay(a.replay) if a.replay else None
    env.reset(seed=a.seed)
    steps = episodes = ep_step = demo = 0
    t0 = time.perf_counter()
    while steps < a.steps:
        if replay is None:
            act = rng.uniform(0.0, 512.0, size=2)
        else:
            acts = replay[demo % len(replay)]
            act = acts[min(ep_step, len(acts) - 1)]
        _, _, terminated, truncated, _ = env.step(act)
        steps += 1
        ep_step += 1
        if replay is not None and ep_step >= len(replay[demo % len(replay)]):
            truncated = True
        if terminated or truncated:
            episodes += 1
            env.reset(seed=a.seed + episodes)
            ep_step = 0
            demo += 1
    secs = time.perf_counter() - t0
    print(json.dumps({"steps_per_s": steps / secs, "seconds": secs, "episodes": episodes}))


def load_replay(path):
    import h5py
    import numpy as np
    out = []
    with h5py.File(path, "r") as f:
        for k in sorted(f["data"].keys(), key=lambda s: int(s.split("_")[1])):
            out.append(np.asarray(f["data"][k]["actions"], dtype=np.float64))
    return out


def lerobot_policy(net, sampler, steps):
    """LeRobot's DiffusionPolicy with our networks' dims. net: the JSON of ours (spec, unet)."""
    import torch
    from lerobot.configs.types import FeatureType, PolicyFeature
    from lerobot.policies.diffusion.configuration_diffusion import DiffusionConfig
    from lerobot.policies.diffusion.modeling_diffusion import DiffusionPolicy
    spec = net["spec"]
    inputs = {}
    lowdim = sum(k["shape"][0] for k in spec["obs"] if not k["is_image"])
    images = [k for k in spec["obs"] if k["is_image"]]
    # LeRobot needs observation.state; the rest of our low-dim vector goes to environment_state so
    # that the global conditioning has our width.
    state = 2 if lowdim > 2 else lowdim
    inputs["observation.state"] = PolicyFeature(type=FeatureType.STATE, shape=(state,))
    if lowdim > state:
        inputs["observation.environment_state"] = PolicyFeature(type=FeatureType.ENV, shape=(lowdim - state,))
    for i, k in enumerate(images):
        h, w, c = k["shape"]
        inputs[f"observation.images.cam{i}"] = PolicyFeature(type=FeatureType.VISUAL, shape=(c, h, w))
    outputs = {"action": PolicyFeature(type=FeatureType.ACTION, shape=(spec["action_dim"],))}
    crop = spec["crop"]
    cfg = DiffusionConfig(
        n_obs_steps=spec["obs_steps"], horizon=spec["horizon"], n_action_steps=spec["action_steps"],
        input_features=inputs, output_features=outputs,
        down_dims=tuple(net["down_dims"]), diffusion_step_embed_dim=net["step_embed_dim"],
        kernel_size=5, n_groups=8, use_film_scale_modulation=True,
        vision_backbone="resnet18", pretrained_backbone_weights=None, use_group_norm=True,
        spatial_softmax_num_keypoints=32, crop_shape=(crop, crop) if images else None,
        use_separate_rgb_encoder_per_camera=True,
        noise_scheduler_type=sampler, num_train_timesteps=100, num_inference_steps=steps,
        device="cpu")
    torch.manual_seed(0)
    policy = DiffusionPolicy(cfg)
    return policy, cfg, inputs


def lerobot_batch(cfg, inputs, b, with_actions):
    import torch
    batch = {}
    for key, f in inputs.items():
        if f.type.name == "VISUAL":
            batch[key] = torch.rand(b, cfg.n_obs_steps, *f.shape)
        else:
            batch[key] = torch.rand(b, cfg.n_obs_steps, *f.shape) * 2 - 1
    if with_actions:
        batch["action"] = torch.rand(b, cfg.horizon, cfg.action_feature.shape[0]) * 2 - 1
        batch["action_is_pad"] = torch.zeros(b, cfg.horizon, dtype=torch.bool)
    return batch


def stack_images(policy, batch):
    import torch
    keys = [k for k in batch if k.startswith("observation.images.")]
    if keys:
        batch = dict(batch)
        batch["observation.images"] = torch.stack([batch[k] for k in keys], dim=-4)
    return batch


def parameter_counts(policy):
    unet = sum(p.numel() for p in policy.diffusion.unet.parameters())
    total = sum(p.numel() for p in policy.diffusion.parameters())
    return {"total": total, "unet": unet, "encoder": total - unet}


def worker_latency(a):
    """Batch-1 times (ms) of LeRobot's DiffusionPolicy: encoder, one U-Net forward, and whole samplers."""
    import torch
    net = json.loads(a.net)
    out = {"rows": {}}
    for label, sampler, steps in (("ddpm:100", "DDPM", 100), ("ddim:10", "DDIM", 10), ("ddim:1", "DDIM", 1)):
        policy, cfg, inputs = lerobot_policy(net, sampler, steps)
        policy.eval()
        out["parameters"] = parameter_counts(policy)
        batch = stack_images(policy, lerobot_batch(cfg, inputs, 1, False))
        d = policy.diffusion
        with torch.no_grad():
            d.generate_actions(batch)  # warm-up
            enc, total, fwd = [], [], []
            for _ in range(a.repeats):
                t0 = time.perf_counter()
                cond = d._prepare_global_conditioning(batch)
                enc.append(1e3 * (time.perf_counter() - t0))
                t0 = time.perf_counter()
                d.generate_actions(batch)
                total.append(1e3 * (time.perf_counter() - t0))
                x = torch.randn(1, cfg.horizon, cfg.action_feature.shape[0])
                t = torch.full((1,), 50, dtype=torch.long)
                t0 = time.perf_counter()
                d.unet(x, t, global_cond=cond)
                fwd.append(1e3 * (time.perf_counter() - t0))
        out["rows"][label] = {"encode_ms": statistics.median(enc), "total_ms": statistics.median(total),
                              "unet_ms": statistics.median(fwd)}
    print(json.dumps(out))


def worker_train(a):
    """One LeRobot DiffusionPolicy training step (forward, backward, clip, AdamW, lr schedule), or
    one OneDP-S step written plainly on three copies of its U-Net (teacher, score net, generator)."""
    import copy
    import torch
    net = json.loads(a.net)
    policy, cfg, inputs = lerobot_policy(net, "DDPM", 100)
    policy.train()
    batch = stack_images(policy, lerobot_batch(cfg, inputs, a.batch, True))
    times, cpu = [], []
    if a.method == "":
        opt = torch.optim.AdamW(policy.parameters(), lr=1e-4, betas=(0.95, 0.999), eps=1e-8, weight_decay=1e-6)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)

        def step():
            loss, _ = policy.forward(batch)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(policy.parameters(), 10.0)
            opt.step()
            opt.zero_grad()
            sched.step()
    else:
        d = policy.diffusion
        teacher = d
        score = copy.deepcopy(d)
        gen = copy.deepcopy(d)
        for p in teacher.parameters():
            p.requires_grad_(False)
        opt_g = torch.optim.Adam(gen.parameters(), lr=1e-6, betas=(0.0, 0.999))
        opt_s = torch.optim.Adam(score.parameters(), lr=2e-5, betas=(0.0, 0.999))
        sch = d.noise_scheduler
        b = a.batch
        shape = (b, cfg.horizon, cfg.action_feature.shape[0])
        t_init = torch.full((b,), 65, dtype=torch.long)

        def step():
            # (a) score network learns the generator's samples (generator forward without grad).
            with torch.no_grad():
                x = gen.unet(torch.randn(shape), t_init, global_cond=gen._prepare_global_conditioning(batch))
            k = torch.randint(2, 95, (b,))
            n = torch.randn(shape)
            pred = score.unet(sch.add_noise(x, n, k), k, global_cond=score._prepare_global_conditioning(batch))
            loss_s = torch.nn.functional.mse_loss(pred, n)
            loss_s.backward()
            opt_s.step()
            opt_s.zero_grad()
            # (b) generator step against the frozen teacher and the score network.
            x = gen.unet(torch.randn(shape), t_init, global_cond=gen._prepare_global_conditioning(batch))
            k = torch.randint(2, 95, (b,))
            n = torch.randn(shape)
            xk = sch.add_noise(x.detach(), n, k)
            with torch.no_grad():
                e_t = teacher.unet(xk, k, global_cond=teacher._prepare_global_conditioning(batch))
                e_s = score.unet(xk, k, global_cond=score._prepare_global_conditioning(batch))
            grad = e_s - e_t
            loss_g = 0.5 * torch.nn.functional.mse_loss(x, (x - grad).detach())
            loss_g.backward()
            opt_g.step()
            opt_g.zero_grad()
    for i in range(a.warmup + a.steps):
        t0, c0 = time.perf_counter(), time.process_time()
        step()
        if i >= a.warmup:
            times.append(1e3 * (time.perf_counter() - t0))
            cpu.append(1e3 * (time.process_time() - c0))
    print(json.dumps({"step_ms": times, "median_ms": statistics.median(times), "cpu_median_ms": statistics.median(cpu),
                      "parameters": parameter_counts(policy)}))


def worker_eval(a):
    """50 PushT episodes in gym-pusht, vectorised as lerobot-eval does (one SyncVectorEnv, one
    batched policy call per step), with LeRobot's DiffusionPolicy sampling DDIM-1 (one network
    call: the one-step policy's work). Fresh weights: no episode succeeds, every one runs the full
    horizon on both sides."""
    import gymnasium as gym
    import gym_pusht  # noqa: F401
    import numpy as np
    import torch
    net = json.loads(a.net)
    policy, cfg, inputs = lerobot_policy(net, "DDIM", 1)
    policy.eval()
    policy.reset()
    n = a.episodes
    envs = gym.vector.SyncVectorEnv([
        (lambda: gym.make("gym_pusht/PushT-v0", obs_type="environment_state_agent_pos", max_episode_steps=a.horizon))
        for _ in range(n)])
    t0 = time.perf_counter()
    obs, _ = envs.reset(seed=list(range(100000, 100000 + n)))
    done = np.zeros(n, dtype=bool)
    steps = 0
    env_dim = inputs["observation.environment_state"].shape[0]
    with torch.no_grad():
        while not done.all():
            env_state = torch.as_tensor(obs["environment_state"], dtype=torch.float32)
            pad = env_dim - env_state.shape[1]
            if pad > 0:
                env_state = torch.cat([env_state, torch.zeros(n, pad)], dim=1)
            batch = {"observation.state": torch.as_tensor(obs["agent_pos"], dtype=torch.float32),
                     "observation.environment_state": env_state[:, :env_dim]}
            action = policy.select_action(batch).numpy()
            obs, _, terminated, truncated, _ = envs.step(np.clip(action, 0, 512))
            done |= terminated | truncated
            steps += int((~done).sum())
    secs = time.perf_counter() - t0
    print(json.dumps({"seconds": secs, "episodes": n, "env_steps": steps}))


# ----------------------------------------------------------------------------------------------
# The driver.


def pinned_env():
    env = dict(os.environ)
    for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[k] = "1"
    env.setdefault("MUJOCO_GL", "egl")
    env.setdefault("ONEDP_GL", env["MUJOCO_GL"] if env["MUJOCO_GL"] in ("egl", "osmesa") else "egl")
    return env


class Runner:
    def __init__(self, args):
        self.args = args
        self.env = pinned_env()
        self.tmp = Path(tempfile.mkdtemp(prefix="onedp_speed_"))

    def run(self, cmd, timeout=1800):
        full = ["taskset", "-c", str(self.args.core)] + ([] if self.args.nice == 0 else ["nice", "-n", str(self.args.nice)]) + cmd
        t0 = time.perf_counter()
        p = subprocess.run(full, env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stderr[-3000:]}")
        return p.stdout, time.perf_counter() - t0

    def ours_json(self, cmd):
        path = self.tmp / "ours.json"
        if path.exists():
            path.unlink()
        self.run([self.args.harness] + cmd + ["--json", str(path)])
        return json.loads(path.read_text())

    def theirs(self, worker_args):
        out, _ = self.run([sys.executable, str(Path(__file__).resolve()), "--worker"] + worker_args)
        return json.loads(out.strip().splitlines()[-1])


def summary(values):
    return min(values), statistics.median(values), max(values)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny counts (plumbing check; its numbers are not results)")
    ap.add_argument("--repeats", type=int, default=None, help="repeats per pair (default 5; --quick 1)")
    ap.add_argument("--parts", default="env,policy,train,eval", help="comma list of env,policy,train,eval")
    ap.add_argument("--tasks", default="pusht,lift-ph,square-ph,transport-ph")
    ap.add_argument("--harness", default=str(ROOT / "build/harness/harness"))
    ap.add_argument("--env-steps", type=int, default=1000, help="env steps per measurement without cameras")
    ap.add_argument("--render-steps", type=int, default=100, help="env steps per measurement with cameras")
    ap.add_argument("--fresh", action="store_true", help="ignore OUT.pairs.json and measure every pair again")
    ap.add_argument("--core", type=int, default=1, help="the core every measurement is pinned to")
    ap.add_argument("--nice", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "results/peers/speed"), help="writes OUT.md and OUT.csv")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--task", default="")
    ap.add_argument("--render", type=int, default=0)
    ap.add_argument("--steps", type=int, default=0)
    ap.add_argument("--horizon", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--replay", default="")
    ap.add_argument("--net", default="")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--method", default="")
    ap.add_argument("--episodes", type=int, default=50)
    a = ap.parse_args()
    if a.worker:
        a.repeats = a.repeats or 5
        {"robosuite": worker_robosuite, "pusht": worker_pusht, "latency": worker_latency,
         "train": worker_train, "eval": worker_eval}[a.worker](a)
        return
    reps = a.repeats or (1 if a.quick else 5)
    q = a.quick
    r = Runner(a)
    rows = []  # (part, item, config, metric, unit, higher_is_better, ours list, theirs list, note)
    parts = a.parts.split(",")
    started = time.perf_counter()
    facts = {}

    # Every finished pair is kept in OUT.pairs.json, so a stopped run resumes after its last finished
    # pair (a full run takes about an hour) and a run of more parts reuses the pairs measured before,
    # when they were measured with the same settings; --fresh measures every pair again.
    partial = Path(a.out + ".pairs.json")
    settings = {"quick": q, "repeats": reps, "env_steps": a.env_steps, "render_steps": a.render_steps,
                "core": a.core, "harness": a.harness}
    done = {}
    if partial.exists() and not a.fresh:
        saved = json.loads(partial.read_text())
        if saved["settings"] != settings:
            sys.exit(f"{partial} was measured with {saved['settings']}, not {settings}: rerun with those "
                     "options, or with --fresh to start over")
        done = saved["pairs"]
        facts.update(saved["facts"])
        print(f"resuming: {len(done)} pairs already measured in {partial}", flush=True)

    def pair(part, item, config, metric, unit, higher, ours_fn, theirs_fn, note=""):
        key = f"{part} | {item} | {config}"
        if key in done:
            ours, theirs = done[key]
        else:
            ours, theirs = [], []
            for i in range(reps):
                # Alternate which side goes first, so a drift in the machine's load hits both alike.
                order = (ours_fn, theirs_fn) if i % 2 == 0 else (theirs_fn, ours_fn)
                for fn in order:
                    (ours if fn is ours_fn else theirs).append(fn())
            done[key] = [ours, theirs]
            tmp = partial.with_suffix(".tmp")
            tmp.write_text(json.dumps({"settings": settings, "pairs": done, "facts": facts}))
            os.replace(tmp, partial)
        rows.append((part, item, config, metric, unit, higher, ours, theirs, note))
        if isinstance(ours[0], (int, float)):
            print(f"[{time.perf_counter() - started:7.0f} s] {part} {item} {config}: ours {statistics.median(ours):.4g} "
                  f"theirs {statistics.median(theirs):.4g} {unit}", flush=True)
        else:
            print(f"[{time.perf_counter() - started:7.0f} s] {part} {item} done", flush=True)

    if "env" in parts:
        # Camera configurations render every step in software (llvmpipe) on both sides, so they run
        # fewer steps: a rate over a few hundred steps is as stable as over thousands.
        steps_for = {0: 100 if q else a.env_steps, 1: 100 if q else a.render_steps}
        for task in a.tasks.split(","):
            for actions in ("random", "expert"):
                replay = ""
                if actions == "expert":
                    replay = str(r.tmp / f"{task}_expert.hdf5")
                    if not Path(replay).exists():
                        r.run([a.harness, "collect", "--task", task, "--episodes", "2" if q else "5", "--seed", "0",
                               "--no-images", "--workers", "1", "--out", replay])
                cache = {}

                def ours(render, actions=actions, task=task, cache=cache):
                    # One bench sim process times both configurations; each pair reads its own.
                    key = len(cache.setdefault(render, []))
                    j = r.ours_json(["bench", "sim", "--task", task, "--steps", str(steps_for[render]),
                                     "--actions", actions])
                    facts[f"sim {task} {actions}"] = j
                    cache[render].append(j)
                    return j["render" if render else "no_render"]["env_steps_per_s"]

                horizon = None
                probe = r.ours_json(["bench", "sim", "--task", task, "--steps", "1", "--actions", "random"])
                horizon = probe["horizon"]
                facts[f"cameras {task}"] = probe["cameras"]
                for render in (0, 1):
                    if task == "pusht":
                        theirs = lambda render=render: r.theirs(["pusht", "--render", str(render), "--steps", str(steps_for[render]),
                                                                 "--horizon", str(horizon), "--replay", replay])["steps_per_s"]
                        peer = "gym-pusht"
                        cfg = "96x96 image" if render else "state only"
                    else:
                        theirs = lambda render=render, task=task: r.theirs(
                            ["robosuite", "--task", task, "--render", str(render), "--steps", str(steps_for[render]),
                             "--horizon", str(horizon), "--replay", replay])["steps_per_s"]
                        peer = "robosuite"
                        cfg = f"{len(ROBOSUITE[task][2])} cameras 84x84" if render else "no cameras"
                    pair("env", f"{task} vs {peer}", f"{cfg}, {actions} actions", "env steps/s", "steps/s", True,
                         lambda render=render, ours=ours: ours(render), theirs,
                         "ours: bench sim's env rate without the expert's planning" if actions == "expert" else "")

    nets = NETS

    def net_json(n):
        # The spec of ours (shapes, crop) for the LeRobot side, from a one-step bench train.
        key = f"spec {n['label']}"
        if key not in facts:
            j = r.ours_json(["bench", "train"] + net_args(n) + ["--steps", "1", "--warmup", "1", "--batch", "2"])
            facts[key] = j
        j = facts[key]
        return json.dumps({"spec": j["spec"], "down_dims": n["down_dims"], "step_embed_dim": n["step_embed_dim"],
                           "parameters": j["parameters"]})

    if "policy" in parts:
        for name, n in nets.items():
            # The paper-width DDPM-100 takes tens of seconds per call on one core: fewer calls per process.
            lat_reps = 3 if q or name != "cpu" else 20
            netj = net_json(n)
            cache = {"ours": [], "theirs": []}

            def ours_lat(n=n, cache=cache):
                j = r.ours_json(["bench", "policy"] + net_args(n) + ["--repeats", str(lat_reps), "--sampler", "ddpm:100",
                                                                    "--sampler", "ddim:10", "--sampler", "ddim:1",
                                                                    "--sampler", "onestep"])
                facts[f"bench policy {name}"] = j
                cache["ours"].append(j)
                return j

            def theirs_lat(netj=netj, cache=cache):
                j = r.theirs(["latency", "--net", netj, "--repeats", str(lat_reps)])
                facts[f"lerobot latency {name}"] = j
                cache["theirs"].append(j)
                return j

            # One pair of processes per repeat gives every row; split them afterwards.
            pair("policy", name, "raw", "raw", "", False, ours_lat, theirs_lat)
            _, _, _, _, _, _, ours_raw, theirs_raw, _ = rows.pop()

            def row(j, label):
                return next(x for x in j["rows"] if x["sampler"] == label)

            def ours_val(j, what):
                if what == "encoder":
                    return row(j, "ddim:10")["encode_ms"]
                if what == "nfe":
                    return row(j, "ddpm:100")["sample_ms"] / 100
                if what == "onestep":
                    return row(j, "onestep")["total_ms"]
                return row(j, what)["total_ms"]

            def theirs_val(j, what):
                if what == "encoder":
                    return j["rows"]["ddim:10"]["encode_ms"]
                if what == "nfe":
                    return (j["rows"]["ddpm:100"]["total_ms"] - j["rows"]["ddpm:100"]["encode_ms"]) / 100
                if what == "onestep":
                    return j["rows"]["ddim:1"]["total_ms"]
                return j["rows"][what]["total_ms"]

            whats = [("nfe", "one U-Net call (DDPM-100 sampling / 100)"), ("ddpm:100", "DDPM-100 (encoder + sampling)"),
                     ("ddim:10", "DDIM-10"), ("onestep", "OneDP one step (theirs: DDIM-1, the same work)")]
            if n["obs"] == "image":
                whats.insert(0, ("encoder", "observation encoder (2 x 96x96 frames)"))
            for what, label in whats:
                rows.append(("policy", f"{name}: {n['label']}", label, "batch-1 latency", "ms", False,
                             [ours_val(j, what) for j in ours_raw], [theirs_val(j, what) for j in theirs_raw], ""))
            facts[f"parameters {name}"] = {"ours": ours_raw[0]["unet_parameters"], "ours_encoder": ours_raw[0]["encoder_parameters"],
                                           "theirs": theirs_raw[0]["parameters"]}

    if "train" in parts:
        for name, n in nets.items():
            netj = net_json(n)
            batch = 64 if name == "cpu" else 8
            steps = 2 if q else (10 if name == "cpu" else 3)
            for method in ("", "onedp-s"):
                def ours_step(n=n, method=method, batch=batch, steps=steps):
                    cmd = ["bench", "train"] + net_args(n) + ["--batch", str(batch), "--steps", str(steps), "--warmup", "1"]
                    if method:
                        cmd += ["--method", method]
                    j = r.ours_json(cmd)
                    facts[f"bench train {name} {method or 'dp'}"] = j
                    return j["median_ms"]

                def theirs_step(netj=netj, method=method, batch=batch, steps=steps):
                    j = r.theirs(["train", "--net", netj, "--batch", str(batch), "--steps", str(steps), "--warmup", "1",
                                  "--method", method])
                    facts[f"lerobot train {name} {method or 'dp'}"] = j
                    return j["median_ms"]

                what = "OneDP-S distillation step (theirs: the same passes in plain PyTorch)" if method else \
                    "DP training step (fwd + bwd + optimiser; ours also EMA)"
                pair("train", f"{name}: {n['label']}", f"{what}, batch {batch}", "step time", "ms", False,
                     ours_step, theirs_step)

    if "eval" in parts:
        n = nets["cpu"]
        netj = net_json(n)
        episodes = 4 if q else 50
        ck = r.tmp / "onedp_s_fresh"
        if not ck.exists():
            r.run([a.harness, "bench", "train"] + net_args(n) + ["--method", "onedp-s", "--steps", "1", "--warmup", "1",
                                                                "--batch", "2", "--save", str(ck)])
        horizon = r.ours_json(["bench", "sim", "--task", "pusht", "--steps", "1", "--actions", "random"])["horizon"]

        def ours_eval():
            _, secs = r.run([a.harness, "eval", "--ckpt", str(ck), "--task", "pusht", "--sampler", "onestep",
                             "--episodes", str(episodes), "--envs", str(episodes), "--workers", "1",
                             "--out", str(r.tmp / "eval.csv")])
            return episodes / secs

        def theirs_eval():
            j = r.theirs(["eval", "--net", netj, "--episodes", str(episodes), "--horizon", str(horizon)])
            return j["episodes"] / j["seconds"]

        pair("eval", "pusht one-step policy", f"{episodes} episodes, fresh weights (full horizon)", "episodes/s",
             "episodes/s", True, ours_eval, theirs_eval, "ours: process wall time incl. start-up; theirs: the loop")

    write_results(a, rows, facts, reps, time.perf_counter() - started)


def versions():
    v = {"python": platform.python_version()}
    for mod in ("torch", "robosuite", "mujoco", "gym_pusht", "pymunk", "lerobot", "diffusers", "numpy"):
        try:
            m = __import__(mod)
            v[mod] = getattr(m, "__version__", None) or importlib.metadata.version(mod.replace("_", "-"))
        except Exception as e:  # a missing peer: its part cannot run, say so
            v[mod] = f"missing ({type(e).__name__})"
    return v


def write_results(a, rows, facts, reps, wall):
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True,
                           text=True).stdout.strip()
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    table = []
    for part, item, config, metric, unit, higher, ours, theirs, note in rows:
        om, tm = statistics.median(ours), statistics.median(theirs)
        ratio = om / tm if higher else tm / om
        table.append((part, item, config, metric, unit, summary(ours), summary(theirs), ratio, note))
    tmp = out.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["part", "item", "config", "metric", "unit", "ours_min", "ours_median", "ours_max",
                    "theirs_min", "theirs_median", "theirs_max", "speed_ratio_ours_over_theirs", "repeats", "note"])
        for part, item, config, metric, unit, o, t, ratio, note in table:
            w.writerow([part, item, config, metric, unit, *[f"{x:.6g}" for x in o], *[f"{x:.6g}" for x in t],
                        f"{ratio:.4g}", reps, note])
    os.replace(tmp, out.with_suffix(".csv"))
    v = versions()
    lines = [
        "# Speed against the Python stack, side by side (issue 19)",
        "",
        f"Command: `{' '.join([Path(sys.executable).name] + sys.argv)}`{' (quick: not results)' if a.quick else ''}",
        f"CPU: {cpu}; every measurement a fresh process on core {a.core} (taskset), OMP_NUM_THREADS=1; "
        f"{reps} repeats per pair, ours and theirs alternating; wall {wall / 60:.1f} min (the last invocation; a resumed run measured earlier pairs before it). Env rates over "
        f"{a.env_steps} steps without cameras and {a.render_steps} with cameras per measurement.",
        f"Cameras: both sides render offscreen through the same backend, robosuite with MUJOCO_GL={pinned_env()['MUJOCO_GL']} "
        f"and ours with ONEDP_GL={pinned_env()['ONEDP_GL']} (on a machine without a GPU: Mesa's llvmpipe, in software).",
        f"Ours: git {commit}{' (uncommitted changes)' if dirty else ''}, `{a.harness}`; theirs: "
        + ", ".join(f"{k} {val}" for k, val in v.items()) + ".",
        "",
        "Ratio = ours / theirs in speed (steps/s, or 1 / time): above 1 ours is faster. Median over the repeats.",
        "",
        "| part | pair | configuration | metric | ours min / median / max | theirs min / median / max | ratio |",
        "|---|---|---|---|---:|---:|---:|",
    ]
    for part, item, config, metric, unit, o, t, ratio, note in table:
        lines.append(f"| {part} | {item} | {config} | {metric} ({unit}) | {o[0]:.4g} / **{o[1]:.4g}** / {o[2]:.4g} | "
                     f"{t[0]:.4g} / **{t[1]:.4g}** / {t[2]:.4g} | **{ratio:.2f}x** |")
    lines += ["", "## Facts recorded", ""]
    for k, val in facts.items():
        if k.startswith("parameters") or k.startswith("cameras"):
            lines.append(f"- {k}: `{json.dumps(val)}`")
    for k, val in facts.items():
        if k.startswith("sim ") and isinstance(val, dict):
            for c in ("no_render", "render"):
                m = val[c]
                lines.append(f"- bench sim {k[4:]} {c}: physics {m['physics_s']:.3f} s, control {m['control_s']:.3f} s, "
                             f"render {m['render_s']:.3f} s ({m['ms_per_frame']:.2f} ms/frame, {val.get('render_backend', '?')}), "
                             f"actions {m['actions_s']:.3f} s, other {m['other_s']:.3f} s of {m['seconds']:.3f} s; "
                             f"{m['us_per_substep']:.1f} µs per physics substep")
    tmp = out.with_suffix(".md.tmp")
    tmp.write_text("\n".join(lines) + "\n")
    os.replace(tmp, out.with_suffix(".md"))
    (out.parent / (out.name + "_facts.json")).write_text(json.dumps(facts, indent=1, default=str))
    print(f"wrote {out.with_suffix('.md')} and {out.with_suffix('.csv')}")


if __name__ == "__main__":
    main()
