#!/usr/bin/env python3
"""Holds our PushT (MuJoCo, driven through `harness env --task pusht`) against gym-pusht (pymunk)
side by side: coverage on random block poses, the reset distribution, one-window dynamics from our
demonstrations' states, open-loop replays of our expert's demonstrations, and a trained low-dim
policy of ours run inside gym-pusht through `harness serve` beside `harness eval` on the same seeds.
Writes a Markdown report and a CSV of every number in it; each part's numbers are cached, so
`--parts` reruns only the parts it names and the report keeps the others.

Run with the peers' virtual environment (scripts/peers/setup.sh):
  .venv-peers/bin/python scripts/peers/pusht_compare.py          # coverage,reset,dynamics,replay
  .venv-peers/bin/python scripts/peers/pusht_compare.py --parts policy --ckpt RUN [--sampler ddim:10]
  .venv-peers/bin/python scripts/peers/pusht_compare.py --parts ''   # the report from the cache

Coordinates: one MuJoCo length unit of ours is one PushT pixel, x right, y down, angles from +x
toward +y, as pymunk's. Both report the block by its body origin (the T's local (0, 0), the middle
of the bar's top edge), not its centre of gravity (0, 45). gym-pusht's reset_to_state sets the
position before the angle (legacy order: the angle then turns the block about its centre of
gravity), so a pose of ours is handed over through `legacy_input`, and the bodies are then set
exactly (angle first, then the origin) with the pusher's velocity from our state.
"""
import argparse
import csv
import json
import math
import os
import shlex
import subprocess
import sys
import time

import h5py
import numpy as np

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MUJOCO_GL", "egl")  # gym-pusht: no "human" render mode needed

from gym_pusht.envs.pusht import PushTEnv  # noqa: E402
import gym_pusht  # noqa: E402
import pymunk  # noqa: E402
import shapely  # noqa: E402

from harness_lines import HarnessLines  # noqa: E402  (this folder)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COG = np.array([0.0, 45.0])  # the T's centre of gravity in its local frame (both implementations)


def rot(a):
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s], [s, c]])


def legacy_input(origin_x, origin_y, angle):
    """The (x, y) that gym-pusht's legacy _set_state (position, then angle about the centre of
    gravity) turns into the body origin (origin_x, origin_y) at `angle`."""
    p = np.array([origin_x, origin_y]) - COG + rot(angle) @ COG
    return float(p[0]), float(p[1])


def wrap_deg(a):
    """An angle difference in degrees, wrapped to (-180, 180]."""
    d = math.degrees(a) % 360.0
    return d - 360.0 if d > 180.0 else d


class OurEnv(HarnessLines):
    """`harness env` as a subprocess speaking JSON lines."""

    def __init__(self, harness, task="pusht"):
        super().__init__([harness, "env", "--task", task, "--action-mode", "absolute"])


def make_gym():
    env = PushTEnv(obs_type="state")
    env.reset(seed=0)
    return env


def gym_set_exact(env, agent_xy, agent_v, block):
    """Places gym-pusht's bodies exactly: pusher position and velocity, block origin and angle at rest."""
    env.agent.position = (float(agent_xy[0]), float(agent_xy[1]))
    env.agent.velocity = (float(agent_v[0]), float(agent_v[1]))
    env.block.angle = float(block[2])  # angle first: then `position` is the body origin as given
    env.block.position = (float(block[0]), float(block[1]))
    env.block.velocity = (0.0, 0.0)
    env.block.angular_velocity = 0.0


def gym_block(env):
    return np.array([env.block.position.x, env.block.position.y, env.block.angle])


def stats_row(rows, section, metric, value, target="", note=""):
    rows.append({"section": section, "metric": metric, "value": value, "target": target, "note": note})


# ---------------------------------------------------------------------------------------------
def coverage_test(ours, gym_env, n, seed, rows, md):
    rng = np.random.default_rng(seed)
    info = ours.ask("info")
    goal = np.array(info["env_kwargs"]["goal_pose"], dtype=float)
    # Half spread over the board near the goal, half close to it (coverage near the 0.95 threshold).
    poses = np.empty((n, 3))
    half = n // 2
    poses[:half, :2] = goal[:2] + rng.uniform(-120, 120, size=(half, 2))
    poses[:half, 2] = rng.uniform(-math.pi, math.pi, size=half)
    poses[half:, :2] = goal[:2] + rng.normal(0, 4, size=(n - half, 2))
    poses[half:, 2] = goal[2] + rng.normal(0, 0.05, size=n - half) + 2 * math.pi * rng.integers(-2, 3, size=n - half)
    ours.ask("reset", seed=0)
    cov_o, cov_g, rew_o, rew_g, succ_o, succ_g = [], [], [], [], [], []
    for x, y, a in poses:
        ours.ask("set_qpos", qpos={"block_x": x, "block_y": y, "block_angle": a})
        e = ours.ask("evaluate")
        cov_o.append(e["meta"]["final_coverage"])
        rew_o.append(e["reward"])
        succ_o.append(e["success"])
        gym_set_exact(gym_env, (100, 100), (0, 0), (x, y, a))
        c = gym_env._get_coverage()
        cov_g.append(c)
        rew_g.append(float(np.clip(c / gym_env.success_threshold, 0.0, 1.0)))
        succ_g.append(c > gym_env.success_threshold)
    cov_o, cov_g = np.array(cov_o), np.array(cov_g)
    dc = np.abs(cov_o - cov_g)
    dr = np.abs(np.array(rew_o) - np.array(rew_g))
    agree = int(np.sum(np.array(succ_o) == np.array(succ_g)))
    worst = int(np.argmax(dc))
    stats_row(rows, "coverage", "poses", n)
    stats_row(rows, "coverage", "max_abs_coverage_diff", f"{dc.max():.3e}", "<= 1e-6")
    stats_row(rows, "coverage", "max_abs_reward_diff", f"{dr.max():.3e}", "<= 1e-6")
    stats_row(rows, "coverage", "success_agreement", f"{agree}/{n}")
    stats_row(rows, "coverage", "poses_with_success", int(np.sum(succ_g)))
    stats_row(rows, "coverage", "poses_with_coverage_gt_0", int(np.sum(cov_g > 0)))
    md += [
        "## 1. Coverage and reward on random block poses",
        "",
        f"{n} block poses (seed {seed}): half with the origin within +-120 px of the goal's and any angle, "
        f"half near the goal (sd 4 px, 0.05 rad, plus whole turns). Ours: `set_qpos` on the joints "
        f"block_x/y/angle, then `evaluate` (coverage from `meta.final_coverage`); gym-pusht: the block "
        f"body set to the same origin and angle, then `_get_coverage()` (shapely).",
        "",
        "| measure | value | target |",
        "|---|---:|---|",
        f"| max abs coverage difference | {dc.max():.3e} | <= 1e-6 |",
        f"| max abs reward difference | {dr.max():.3e} | <= 1e-6 |",
        f"| mean abs coverage difference | {dc.mean():.3e} | |",
        f"| success (coverage > 0.95) agreement | {agree} / {n} | all |",
        f"| poses with coverage > 0 / > 0.95 (gym-pusht) | {int(np.sum(cov_g > 0))} / {int(np.sum(succ_g))} | |",
        "",
        f"Largest difference at pose ({poses[worst][0]:.3f}, {poses[worst][1]:.3f}, {poses[worst][2]:.5f}): "
        f"ours {cov_o[worst]:.9f}, gym-pusht {cov_g[worst]:.9f}.",
        "",
    ]
    return md


# ---------------------------------------------------------------------------------------------
def reset_test(ours, gym_env, n, rows, md):
    o_agent, o_origin, o_angle, o_raw, g_agent, g_origin, g_angle, g_raw = [], [], [], [], [], [], [], []
    o_drawn, g_drawn = [], []
    same_draw_diff = []  # per seed: max abs start-state difference when gym-pusht gets our draws
    for s in range(n):
        r = ours.ask("reset", seed=s)
        j = r["joints"]
        ax, ay = r["meta"]["reset_agent_pos"]
        obs_same, _ = gym_env.reset(options={"reset_to_state": [ax, ay, *r["meta"]["reset_block"]]})
        same_draw_diff.append(max(float(np.max(np.abs(obs_same[:4] - np.array(r["state"][1:5])))),
                                  abs(math.radians(wrap_deg(obs_same[4] - r["state"][5])))))
        o_agent.append([j["pusher_x"], j["pusher_y"]])
        o_origin.append([j["block_x"], j["block_y"]])
        o_angle.append(j["block_angle"] % (2 * math.pi))
        o_raw.append(r["meta"]["reset_block"][2])
        o_drawn.append(r["meta"]["reset_block"][:2])
        obs, _ = gym_env.reset(seed=s)
        g_agent.append(obs[:2])
        g_origin.append(obs[2:4])
        g_angle.append(obs[4])
        g_raw.append(gym_env.block.angle)
        g_drawn.append(legacy_input(obs[2], obs[3], gym_env.block.angle))
    o_agent, o_origin, g_agent, g_origin = map(np.array, (o_agent, o_origin, g_agent, g_origin))
    o_drawn, g_drawn = np.array(o_drawn), np.array(g_drawn)
    o_angle, g_angle, o_raw, g_raw = map(np.array, (o_angle, g_angle, o_raw, g_raw))

    def kstat_uniform(a):  # Kolmogorov-Smirnov distance of angles mod 2 pi from the uniform law
        u = np.sort(a / (2 * math.pi))
        k = np.arange(1, len(u) + 1) / len(u)
        return float(max(np.max(k - u), np.max(u - (k - 1 / len(u)))))

    lines = []
    for name, a, b in [("agent x", o_agent[:, 0], g_agent[:, 0]), ("agent y", o_agent[:, 1], g_agent[:, 1]),
                       ("block x drawn", o_drawn[:, 0], g_drawn[:, 0]),
                       ("block y drawn", o_drawn[:, 1], g_drawn[:, 1]),
                       ("block origin x", o_origin[:, 0], g_origin[:, 0]),
                       ("block origin y", o_origin[:, 1], g_origin[:, 1]),
                       ("block angle mod 2pi (rad)", o_angle, g_angle),
                       ("block angle as drawn (rad)", o_raw, g_raw)]:
        lines.append(f"| {name} | {a.min():.2f} .. {a.max():.2f} | {a.mean():.2f} +- {a.std():.2f} | "
                     f"{b.min():.2f} .. {b.max():.2f} | {b.mean():.2f} +- {b.std():.2f} |")
        for impl, v in (("ours", a), ("gym", b)):
            stats_row(rows, "reset", f"{name} [{impl}] min/max/mean/std",
                      f"{v.min():.4f}/{v.max():.4f}/{v.mean():.4f}/{v.std():.4f}")
    ks_o, ks_g = kstat_uniform(o_angle), kstat_uniform(g_angle)
    stats_row(rows, "reset", "angle mod 2pi KS distance from uniform [ours]", f"{ks_o:.4f}")
    stats_row(rows, "reset", "angle mod 2pi KS distance from uniform [gym]", f"{ks_g:.4f}")
    drawn_int = bool(np.all(np.abs(o_drawn - np.round(o_drawn)) < 1e-9))
    same = np.array(same_draw_diff)
    overlap = same > 1e-9
    # how far our reset step moved the block from where the legacy setter put it
    moved = []
    for (dx, dy), ang_raw, org in zip(o_drawn, o_raw, o_origin):
        legacy_origin = np.array([dx, dy]) + COG - rot(ang_raw) @ COG
        moved.append(float(np.linalg.norm(org - legacy_origin)))
    moved = np.array(moved)
    # The seeds whose pusher is drawn inside the T: one step with the pusher held moves the block in
    # ours (MuJoCo resolves the overlap at once). Those seeds again, pusher held 30 steps: where both settle.
    inside = []
    for seed_ in range(n):
        r = ours.ask("reset", seed=int(seed_))
        start, hold = np.array(r["state"][3:6]), r["meta"]["reset_agent_pos"]
        if np.abs(np.array(ours.ask("step", actions=[hold])["state"][3:6]) - start).max() > 1e-9:
            inside.append(seed_)
    settle_pos, settle_ang = [], []
    for seed_ in inside:
        r = ours.ask("reset", seed=int(seed_))
        hold = r["meta"]["reset_agent_pos"]
        gym_env.reset(options={"reset_to_state": [*hold, *r["meta"]["reset_block"]]})
        r = ours.ask("step", actions=[hold] * 30)
        for _ in range(30):
            gym_env.step(np.asarray(hold, dtype=np.float64))
        gb, ob = gym_block(gym_env), np.array(r["state"][3:6])
        settle_pos.append(float(np.linalg.norm(gb[:2] - ob[:2])))
        settle_ang.append(abs(wrap_deg(gb[2] - ob[2])))
    settle_pos = np.array(settle_pos) if settle_pos else np.zeros(1)
    settle_ang = np.array(settle_ang) if settle_ang else np.zeros(1)
    stats_row(rows, "reset", "seeds with the pusher drawn inside the T", f"{len(inside)}/{n}")
    stats_row(rows, "reset", "overlap seeds, pusher held 30 steps: block pos diff px [median/max]",
              f"{np.median(settle_pos):.4f}/{settle_pos.max():.4f}")
    stats_row(rows, "reset", "overlap seeds, pusher held 30 steps: block angle diff deg [median/max]",
              f"{np.median(settle_ang):.4f}/{settle_ang.max():.4f}")
    stats_row(rows, "reset", "same draws: seeds whose start states differ", f"{int(overlap.sum())}/{n}")
    stats_row(rows, "reset", "same draws: max start difference (px or rad)", f"{same.max():.3e}")
    stats_row(rows, "reset", "same draws: max start difference elsewhere", f"{same[~overlap].max() if (~overlap).any() else 0:.3e}")
    stats_row(rows, "reset", "our reset step moved the block [seeds / max px]", f"{int((moved > 1e-9).sum())}/{moved.max():.3f}")
    md += [
        "## 2. Reset distribution",
        "",
        f"Seeds 0..{n - 1} in both (the generators differ: ours is `Rng(seed, stream 1)`, gym-pusht's "
        f"`np_random`; only the laws can match). 'drawn' is the block position handed to the legacy "
        f"setter (gym-pusht's recovered from its origin and angle), 'origin' the body origin after the "
        f"reset's physics step.",
        "",
        "| quantity | ours range | ours mean +- sd | gym-pusht range | gym-pusht mean +- sd |",
        "|---|---|---|---|---|",
        *lines,
        "",
        f"Angles mod 2 pi, Kolmogorov-Smirnov distance from the uniform law: ours {ks_o:.4f}, gym-pusht "
        f"{ks_g:.4f} (the 5 % critical value for n = {n} is {1.36 / math.sqrt(n):.4f}). Our drawn block "
        f"positions are integers: {drawn_int}.",
        "",
        f"Same draws in both: our {n} resets' drawn values handed to gym-pusht's `reset_to_state`. "
        + (f"The start states agree to {same.max():.1e} in every seed, also where the pusher is drawn "
           f"overlapping the T ({len(inside)} seeds): neither reset moves the block (see the README of this "
           f"folder). "
           if not overlap.any() else
           f"The start states agree to {same[~overlap].max() if (~overlap).any() else 0:.1e} except in "
           f"{int(overlap.sum())} seeds ({overlap.mean():.1%}), where they differ by up to {same.max():.2f} (px, "
           f"or rad for the angle): those are the seeds whose pusher is drawn overlapping the T. Our reset "
           f"moved the block there ({int((moved > 1e-9).sum())} seeds, up to {moved.max():.2f} px); "
           f"gym-pusht's leaves it where it was set (see the README of this folder). ")
        + f"In those {len(inside)} seeds, with the pusher held still for 30 steps: block position difference median "
        f"{np.median(settle_pos):.2f} px (max {settle_pos.max():.2f}), angle median "
        f"{np.median(settle_ang):.2f} deg (max {settle_ang.max():.2f}).",
        "",
    ]
    return md


# ---------------------------------------------------------------------------------------------
def dynamics_test(ours, gym_env, dataset, n_windows, horizon, seed, rows, md):
    f = h5py.File(dataset, "r")
    demos = sorted(f["data"].keys(), key=lambda k: int(k.split("_")[1]))
    rng = np.random.default_rng(seed)
    windows = []
    for _ in range(n_windows):
        d = demos[rng.integers(len(demos))]
        T = f[f"data/{d}/actions"].shape[0]
        t = int(rng.integers(0, T - horizon + 1))
        windows.append((d, t))
    checkpoints = [1, 5, 10] if horizon >= 10 else [1, horizon]
    pos_err = {k: [] for k in checkpoints}
    ang_err = {k: [] for k in checkpoints}
    agent_err = {k: [] for k in checkpoints}
    moved_flags = []
    ours_vs_data = 0.0
    touched = 0
    ours.ask("reset", seed=0)
    for d, t in windows:
        states = f[f"data/{d}/states"]
        actions = f[f"data/{d}/actions"][t:t + horizon]
        s = np.array(states[t])
        ours.ask("set_state", state=s.tolist())
        r = ours.ask("step", actions=actions.tolist(), states=True)
        o_states = np.array(r["states"])  # after each action
        # our replay against the dataset's own next states (a check of set_state + step)
        n_next = min(horizon, states.shape[0] - 1 - t)
        if n_next > 0:
            ours_vs_data = max(ours_vs_data, float(np.max(np.abs(o_states[:n_next, 1:6] -
                                                                  np.array(states[t + 1:t + 1 + n_next])[:, 1:6]))))
        agent, agent_v, block = s[1:3], s[6:8], s[3:6]
        gym_env.reset(options={"reset_to_state": [agent[0], agent[1], *legacy_input(*block), block[2]]})
        gym_set_exact(gym_env, agent, agent_v, block)
        moved = False
        for k, a in enumerate(actions, start=1):
            gym_env.step(np.asarray(a, dtype=np.float64))
            gb = gym_block(gym_env)
            ob = o_states[k - 1, 3:6]
            moved = moved or np.linalg.norm(ob[:2] - block[:2]) > 1e-6 or np.linalg.norm(gb[:2] - block[:2]) > 1e-6
            if k in checkpoints:
                pos_err[k].append(float(np.linalg.norm(gb[:2] - ob[:2])))
                ang_err[k].append(abs(wrap_deg(gb[2] - ob[2])))
                ga = np.array([gym_env.agent.position.x, gym_env.agent.position.y])
                agent_err[k].append(float(np.linalg.norm(ga - o_states[k - 1, 1:3])))
        touched += moved
        moved_flags.append(moved)
    lines = []
    moved_mask = np.array(moved_flags)
    for k in checkpoints:
        p, a, g = np.array(pos_err[k]), np.array(ang_err[k]), np.array(agent_err[k])
        pm, am = p[moved_mask], a[moved_mask]
        lines.append(f"| {k} | {np.median(p):.3f} | {np.percentile(p, 95):.3f} | {np.median(a):.3f} | "
                     f"{np.percentile(a, 95):.3f} | {np.median(pm):.3f} | {np.percentile(pm, 95):.3f} | "
                     f"{np.median(am):.3f} | {np.percentile(am, 95):.3f} | {g.max():.1e} |")
        for tag, pp, aa in (("all", p, a), ("block moves", pm, am)):
            stats_row(rows, "dynamics", f"block pos err px after {k} [{tag}; median/p95]",
                      f"{np.median(pp):.4f}/{np.percentile(pp, 95):.4f}", "median <= 2 (k=10)" if k == 10 else "")
            stats_row(rows, "dynamics", f"block angle err deg after {k} [{tag}; median/p95]",
                      f"{np.median(aa):.4f}/{np.percentile(aa, 95):.4f}", "median <= 2 (k=10)" if k == 10 else "")
        stats_row(rows, "dynamics", f"agent pos err px after {k} [max]", f"{g.max():.3e}")
    # the same errors over the windows where the block moves at all (in either sim)
    stats_row(rows, "dynamics", "windows", len(windows))
    stats_row(rows, "dynamics", "windows where the block moves", touched)
    stats_row(rows, "dynamics", "our replay vs dataset states, max abs qpos diff", f"{ours_vs_data:.3e}")
    md += [
        "## 3. Dynamics: windows of our demonstrations replayed in both",
        "",
        f"{len(windows)} windows (seed {seed}) of {horizon} actions from `{os.path.basename(dataset)}` "
        f"({len(demos)} demos): both sims set to the window's first state (ours: `set_state` with the flat "
        f"state; gym-pusht: `reset(options={{'reset_to_state': ...}})` with the legacy-converted block "
        f"position, then the bodies set exactly, the pusher's velocity included), the same absolute "
        f"actions stepped. The block moved (in either sim) in {touched} of the windows; 'moving' columns are "
        f"over those only (in the others both leave it where it is). Errors: |gym-pusht - ours|.",
        "",
        "| steps | pos median (px) | pos p95 | angle median (deg) | angle p95 | moving: pos median (px) | "
        "pos p95 | angle median (deg) | angle p95 | pusher max (px) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        *lines,
        "",
        f"Target: median after 10 steps <= 2 px and <= 2 deg. Our own replay of the windows reproduces "
        f"the dataset's next states to {ours_vs_data:.1e} (max abs qpos difference).",
        "",
    ]
    return md


# ---------------------------------------------------------------------------------------------
def replay_test(ours, gym_env, dataset, max_demos, rows, md):
    f = h5py.File(dataset, "r")
    demos = sorted(f["data"].keys(), key=lambda k: int(k.split("_")[1]))[:max_demos]
    succ_g, succ_o, start_diff, final_cov_g, final_cov_o = [], [], 0.0, [], []
    max_cov_g, end_pos_err, end_ang_err, lengths, overlap_start = [], [], [], [], []
    succ_noisy = []  # control: our own sim, the same actions plus 0.5 px noise
    noise_rng = np.random.default_rng(1)
    for d in demos:
        g = f[f"data/{d}"]
        meta = json.loads(g.attrs["ep_meta"])
        actions = np.array(g["actions"])
        s0 = np.array(g["states"][0])
        ax, ay = meta["reset_agent_pos"]
        bx, by, ba = meta["reset_block"]
        obs, _ = gym_env.reset(options={"reset_to_state": [ax, ay, bx, by, ba]})
        d0 = max(float(np.max(np.abs(obs[:4] - s0[1:5]))), abs(math.radians(wrap_deg(obs[4] - s0[5]))))
        overlap_start.append(d0 > 1e-9)
        start_diff = max(start_diff, d0) if d0 <= 1e-9 else start_diff
        ok = False
        cov, best_cov = 0.0, 0.0
        for a in actions:
            _, _, term, _, info = gym_env.step(np.asarray(a, dtype=np.float64))
            cov = info["coverage"]
            best_cov = max(best_cov, cov)
            ok = ok or bool(term)
        succ_g.append(ok)
        final_cov_g.append(cov)
        max_cov_g.append(best_cov)
        lengths.append(len(actions))
        g_end = gym_block(gym_env)
        # ours from the same start (the demo's own seed reproduces its reset), open loop
        r = ours.ask("reset", seed=int(meta["seed"]))
        assert np.max(np.abs(np.array(r["state"][1:6]) - s0[1:6])) < 1e-9, d
        best = False
        for a in actions:
            best = best or ours.ask("step", action=a.tolist())["success"]
        e = ours.ask("evaluate")
        succ_o.append(best)
        ours.ask("reset", seed=int(meta["seed"]))
        noisy = actions + noise_rng.normal(0, 0.5, size=actions.shape)
        best_noisy = False
        for a in noisy:
            best_noisy = best_noisy or ours.ask("step", action=a.tolist())["success"]
        succ_noisy.append(best_noisy)
        final_cov_o.append(e["meta"]["final_coverage"])
        o_end = np.array(e["meta"]["final_block_pose"])  # from the exact replay (evaluated above)
        end_pos_err.append(float(np.linalg.norm(g_end[:2] - o_end[:2])))
        end_ang_err.append(abs(wrap_deg(g_end[2] - o_end[2])))
    n = len(demos)
    sg, so = int(np.sum(succ_g)), int(np.sum(succ_o))
    stats_row(rows, "replay", "demos", n)
    stats_row(rows, "replay", "success in gym-pusht", f"{sg}/{n}")
    stats_row(rows, "replay", "success here", f"{so}/{n}")
    stats_row(rows, "replay", "start state max abs diff", f"{start_diff:.3e}")
    stats_row(rows, "replay", "final coverage gym-pusht median", f"{np.median(final_cov_g):.4f}")
    stats_row(rows, "replay", "final coverage here median", f"{np.median(final_cov_o):.4f}")
    stats_row(rows, "replay", "final block pos err px [median/p95]",
              f"{np.median(end_pos_err):.4f}/{np.percentile(end_pos_err, 95):.4f}")
    stats_row(rows, "replay", "final block angle err deg [median/p95]",
              f"{np.median(end_ang_err):.4f}/{np.percentile(end_ang_err, 95):.4f}")
    n90 = int(np.sum(np.array(max_cov_g) > 0.90))
    ov = np.array(overlap_start)
    sg_clean, n_clean = int(np.sum(np.array(succ_g)[~ov])), int(np.sum(~ov))
    sn = int(np.sum(succ_noisy))
    stats_row(rows, "replay", "control: success here with actions + N(0, 0.5 px)", f"{sn}/{n}")
    stats_row(rows, "replay", "success in gym-pusht, identical starts", f"{sg_clean}/{n_clean}")
    stats_row(rows, "replay", "success in gym-pusht, overlapping starts",
              f"{int(np.sum(np.array(succ_g)[ov]))}/{int(ov.sum())}")
    stats_row(rows, "replay", "gym-pusht replays reaching coverage > 0.90", f"{n90}/{n}")
    md += [
        "## 4. Our expert's demonstrations replayed open-loop in gym-pusht",
        "",
        f"The first {n} demos of `{os.path.basename(dataset)}`: gym-pusht reset with `reset_to_state` = the "
        f"demo's drawn reset (agent, block position as drawn, angle; both apply the same legacy order and one "
        f"physics step: start states agree to {start_diff:.1e}"
        + (f", except the {int(ov.sum())} demos whose pusher starts overlapping the T, see section 2"
           if ov.any() else " for every demo")
        + "), then the demo's actions; success = coverage > 0.95 at any step (gym-pusht's `terminated`).",
        "",
        "| | success | final coverage (median) |",
        "|---|---:|---:|",
        f"| here (our replay) | {so} / {n} ({so / n:.1%}) | {np.median(final_cov_o):.3f} |",
        f"| gym-pusht | {sg} / {n} ({sg / n:.1%}) | {np.median(final_cov_g):.3f} |",
        f"| control: here, each action + N(0, 0.5 px) noise | {sn} / {n} ({sn / n:.1%}) | |",
        "",
        f"Demos are {int(np.min(lengths))}..{int(np.max(lengths))} steps (median {int(np.median(lengths))}). "
        f"Final block pose, |gym-pusht - ours|: position median {np.median(end_pos_err):.2f} px, p95 "
        f"{np.percentile(end_pos_err, 95):.2f} px; angle median {np.median(end_ang_err):.2f} deg, p95 "
        f"{np.percentile(end_ang_err, 95):.2f} deg. In gym-pusht {n90} / {n} replays reach coverage > 0.90 "
        f"at some step."
        + (f" Success in gym-pusht: {sg_clean} / {n_clean} of the demos with identical starts, "
           f"{int(np.sum(np.array(succ_g)[ov]))} / {int(ov.sum())} of those with overlapping starts."
           if ov.any() else ""),
        "",
    ]
    return md


# ---------------------------------------------------------------------------------------------
# Our trained policy inside gym-pusht: the observation, the noise seeds and the executed horizon
# exactly as our rollouts (harness/rollout.cc) make them, so that with identical dynamics the same
# actions would come back in both simulators.

LOCAL_KEYPOINTS = np.array([[-55, 5], [55, 5], [-55, 25], [55, 25], [0, 15], [0, 45], [0, 80],
                            [-10, 115], [10, 115]], dtype=float)  # PushTTask::LocalKeypoints
U64 = (1 << 64) - 1


def mix_seed(seed, stream=0):
    """sim/rng.h MixSeed (SplitMix64 finaliser) in 64-bit unsigned arithmetic."""
    z = (seed + 0x9E3779B97F4A7C15 * (stream + 1)) & U64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & U64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & U64
    return z ^ (z >> 31)


def chunk_noise_seed(episode_seed, chunk):
    """harness/rollout.cc ChunkNoiseSeed: the noise seed of an episode's chunk-th policy call."""
    return mix_seed((mix_seed(episode_seed, 0x524F4C4C) + chunk) & U64)


def pusht_obs(agent, block):
    """Our PushT's low-dim observation keys (PushTTask::Observe) from a pusher position and a block
    pose (body origin x, y, angle): keypoints = the 9 block points then the agent, state = agent,
    origin, angle mod 2 pi."""
    pts = np.asarray(block[:2], dtype=float) + LOCAL_KEYPOINTS @ rot(block[2]).T
    kp = [float(v) for v in pts.reshape(-1)] + [float(agent[0]), float(agent[1])]
    return {"agent_pos": [float(agent[0]), float(agent[1])], "keypoints": kp,
            "state": [float(agent[0]), float(agent[1]), float(block[0]), float(block[1]),
                      float(block[2]) % (2 * math.pi)]}


class OurServer(HarnessLines):
    """`harness serve --ckpt CKPT --sampler SAMPLER` as a subprocess speaking JSON lines."""

    def __init__(self, harness, ckpt, sampler):
        super().__init__([harness, "serve", "--ckpt", ckpt, "--sampler", sampler])
        self.spec = self.ask("spec")

    def predict(self, obs, seed):
        """One observation history (batch 1) -> the executed action chunk (Ta rows)."""
        reply = self.request(obs=obs, seed=seed)
        # float32 printed shortest: round back to the float32 our rollouts execute (as doubles)
        return [[float(v) for v in row] for row in np.asarray(reply["actions"], dtype=np.float32)]


def run_policy_episode(server, keys, to, seed, max_steps, start_obs, step_fn):
    """One episode as our rollouts run it: the history filled with the reset observation, a policy
    call with the To last observations and noise seed ChunkNoiseSeed(seed, chunk), its Ta actions
    executed, until success (coverage > 0.95) or max_steps. step_fn(action) -> (obs, reward,
    success, block pose). Returns score (max reward), success, steps, actions, block poses."""
    history = [start_obs] * to
    score, success, steps, chunk = 0.0, False, 0, 0
    actions, blocks = [], []
    while True:
        req = {k: [h[k] for h in history] for k in keys}
        chunk_actions = server.predict(req, chunk_noise_seed(seed, chunk))
        chunk += 1
        for a in chunk_actions:
            obs, reward, ok, block = step_fn(a)
            steps += 1
            actions.append(a)
            blocks.append(block)
            score = max(score, reward)
            success = success or ok
            if success or steps >= max_steps:
                return score, success, steps, np.array(actions), np.array(blocks)
            history = history[1:] + [obs]


def wilson(k, n, z=1.96):
    """Wilson score interval of k successes in n."""
    p = k / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return mid - half, mid + half


def bootstrap_mean(x, n_boot=10000, seed=0):
    """Percentile bootstrap 95 % interval of the mean of x (paired data: pass the differences)."""
    x = np.asarray(x, dtype=float)
    idx = np.random.default_rng(seed).integers(0, len(x), size=(n_boot, len(x)))
    m = x[idx].mean(axis=1)
    return float(np.percentile(m, 2.5)), float(np.percentile(m, 97.5))


def policy_one(ours, gym_env, harness, ckpt, sampler, episodes, start_seed, here_dir):
    """Our policy `ckpt` on seeds start_seed.. in gym-pusht (through `harness serve`), the same
    client loop on ours (through `harness env`), and `harness eval` here. Per-episode records."""
    name = os.path.relpath(os.path.abspath(ckpt), ROOT)
    os.makedirs(here_dir, exist_ok=True)
    here, eval_cmds, eval_s = {}, {}, {}
    # "one": one env per policy call, the batch of 1 that `harness serve` computes (the client loop
    # on ours reproduces it bit for bit); "batched": the default (28 envs per call), whose float
    # rounding differs and so follows other trajectories from the same seeds.
    for kind, extra in (("one", ["--envs", "1"]), ("batched", [])):
        out = os.path.join(here_dir, f"here_{name.replace('/', '_')}_{sampler.replace(':', '')}_{kind}.csv")
        cmd = [harness, "eval", "--ckpt", ckpt, "--sampler", sampler, "--episodes", str(episodes),
               "--start-seed", str(start_seed), *extra, "--workers", "1", "--out", out]
        t = time.time()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        eval_s[kind] = time.time() - t
        eval_cmds[kind] = " ".join([os.path.relpath(harness, ROOT)] + [
            shlex.quote(os.path.relpath(a, ROOT) if a in (ckpt, out) else a) for a in cmd[1:]])
        with open(out) as fh:
            here[kind] = {int(r["seed"]): r for r in csv.DictReader(fh)}

    server = OurServer(harness, ckpt, sampler)
    spec = server.spec["spec"]
    keys = [k["key"] for k in spec["obs"]]
    if any(k["is_image"] for k in spec["obs"]):
        raise SystemExit(f"{ckpt}: an image policy; this part runs low-dim PushT policies only")
    to, max_steps = spec["obs_steps"], ours.ask("info")["max_steps"]
    eps = []
    obs_diff, start_diff = 0.0, 0.0
    t = time.time()
    for seed in range(start_seed, start_seed + episodes):
        # ours, through the same client loop (checks the loop against `harness eval`)
        r = ours.ask("reset", seed=seed)
        st = r["state"]
        obs_diff = max(obs_diff, max(float(np.max(np.abs(np.array(pusht_obs(st[1:3], st[3:6])[k]) -
                                                         np.array(r["obs"][k])))) for k in keys))

        def step_ours(a):
            nonlocal obs_diff
            s = ours.ask("step", action=a)
            if "episode_error" in s:
                raise RuntimeError(f"seed {seed}: {s['episode_error']}")
            q = s["state"]
            obs_diff = max(obs_diff, max(float(np.max(np.abs(np.array(pusht_obs(q[1:3], q[3:6])[k]) -
                                                             np.array(s["obs"][k])))) for k in keys))
            return s["obs"], s["reward"], s["success"], np.array(q[3:6])

        o_score, o_succ, o_steps, o_act, o_blk = run_policy_episode(server, keys, to, seed, max_steps,
                                                                    r["obs"], step_ours)
        # a start with the pusher drawn inside the T: held still for one step, it moves the block
        ax, ay = r["meta"]["reset_agent_pos"]
        ours.ask("reset", seed=seed)
        overlap = bool(np.abs(np.array(ours.ask("step", action=[ax, ay])["state"][3:6]) -
                              np.array(st[3:6])).max() > 1e-9)
        # gym-pusht from the same start state
        obs, _ = gym_env.reset(options={"reset_to_state": [ax, ay, *r["meta"]["reset_block"]]})
        start_diff = max(start_diff, float(np.max(np.abs(obs[:4] - np.array(st[1:5])))),
                         abs(math.radians(wrap_deg(obs[4] - st[5]))))
        g0 = pusht_obs((gym_env.agent.position.x, gym_env.agent.position.y), gym_block(gym_env))

        def step_gym(a):
            _, reward, term, _, info = gym_env.step(np.asarray(a, dtype=np.float64))
            blk = gym_block(gym_env)
            return (pusht_obs((gym_env.agent.position.x, gym_env.agent.position.y), blk), float(reward),
                    bool(term), blk)

        g_score, g_succ, g_steps, g_act, g_blk = run_policy_episode(server, keys, to, seed, max_steps, g0,
                                                                    step_gym)
        n = min(len(o_act), len(g_act))
        act_div = np.nonzero(np.abs(o_act[:n] - g_act[:n]).max(axis=1) > 1e-3)[0]
        blk_div = np.nonzero(np.linalg.norm(o_blk[:n, :2] - g_blk[:n, :2], axis=1) > 1.0)[0]
        h, b = here["one"][seed], here["batched"][seed]
        eps.append({"seed": seed, "there_score": g_score, "there_success": int(g_succ), "there_steps": g_steps,
                    "client_score": o_score, "client_success": int(o_succ), "client_steps": o_steps,
                    "here_score": float(h["score"]), "here_success": int(h["success"]),
                    "here_steps": int(h["steps"]), "here_error": h["error"],
                    "batched_score": float(b["score"]), "batched_success": int(b["success"]),
                    "batched_steps": int(b["steps"]), "batched_error": b["error"],
                    "overlap_start": int(overlap),
                    "first_block_split": int(blk_div[0]) + 1 if len(blk_div) else -1,
                    "first_action_split": int(act_div[0]) + 1 if len(act_div) else -1})
    server.close()
    return {"ckpt": name, "sampler": sampler, "episodes": eps, "eval_cmds": eval_cmds, "eval_s": eval_s,
            "loop_s": time.time() - t, "obs_diff": obs_diff, "start_diff": start_diff, "spec": spec,
            "nfe": server.spec.get("nfe")}


def policy_report(results, rows, md):
    """Section 5 from policy_one's records (one subsection per checkpoint)."""
    md += [
        "## 5. Our trained policy evaluated inside gym-pusht through `harness serve`",
        "",
        "For each seed: our reset (`harness env`, `reset`) gives the start state, gym-pusht is reset to it "
        "with `reset_to_state` (the drawn values, as in section 2: identical starts), and the policy runs in "
        "gym-pusht as our rollouts run it (`harness/rollout.cc`): the low-dim observation computed from "
        "gym-pusht's bodies as `PushTTask::Observe` does (the 9 block keypoints from the body origin and "
        "angle, then the pusher), the history filled with the reset observation, each call (batch 1) with "
        "the To last observations and the noise seed ChunkNoiseSeed(episode seed, chunk), its Ta executed "
        "actions (`harness serve`'s reply, read back as the float32 values our rollouts execute) stepped, "
        "until coverage > 0.95 (gym-pusht's `terminated`) or our 300 steps. Score = the episode's maximum "
        "reward clip(coverage / 0.95, 0, 1), as ours. 'Here' is `harness eval` on the same seeds, with one "
        "env per policy call (`--envs 1`: the same batch of 1 as `serve`, so the only difference from the "
        "gym-pusht loop is the simulator) and with its default batching (28 envs per call: other float "
        "rounding, so other trajectories from the same seeds; its difference from `--envs 1` is the spread "
        "that rounding alone gives). 'Client here' is the same Python loop run on our PushT through "
        "`harness env`. Intervals: score, percentile bootstrap of the mean (10,000 resamples; paired: of "
        "the per-seed differences); success, Wilson.",
        "",
    ]
    for res in results:
        eps = res["episodes"]
        n = len(eps)
        start_seed = res["start_seed"]
        col = lambda k: np.array([e[k] for e in eps])  # noqa: E731
        ts, hs, bs, cs = col("there_score"), col("here_score"), col("batched_score"), col("client_score")
        tk, hk, bk, ck = col("there_success"), col("here_success"), col("batched_success"), col("client_success")
        # harness eval's CSV prints 10 significant digits
        client_same = int(np.sum((np.abs(cs - hs) < 1e-9) & (ck == hk) & (col("client_steps") == col("here_steps"))))
        split, asplit = col("first_block_split"), col("first_action_split")
        tag = f"{res['ckpt']} {res['sampler']}"
        sec = "policy"
        stats_row(rows, sec, f"[{tag}] episodes (seeds)", f"{n} ({start_seed}..{start_seed + n - 1})")
        table = []
        for label, key, sc, sk in (("gym-pusht (through `harness serve`)", "gym-pusht", ts, tk),
                                   ("here (`harness eval --envs 1`)", "here envs 1", hs, hk),
                                   ("here (`harness eval`, default batching)", "here batched", bs, bk)):
            ci, wi = bootstrap_mean(sc), wilson(int(sk.sum()), n)
            stats_row(rows, sec, f"[{tag}] score {key} [mean; 95% bootstrap]",
                      f"{sc.mean():.4f} [{ci[0]:.4f}, {ci[1]:.4f}]")
            stats_row(rows, sec, f"[{tag}] success {key} [k/n; 95% Wilson]",
                      f"{int(sk.sum())}/{n} [{wi[0]:.3f}, {wi[1]:.3f}]")
            table.append(f"| {label} | {sc.mean():.3f} [{ci[0]:.3f}, {ci[1]:.3f}] | "
                         f"{int(sk.sum())} / {n} = {sk.mean():.2f} [{wi[0]:.2f}, {wi[1]:.2f}] |")
        for label, key, a, b, ak, bk_, target in (
                ("gym-pusht - here (`--envs 1`), paired", "gym-pusht - here envs 1", ts, hs, tk, hk, "|mean| <= 0.15"),
                ("gym-pusht - here (batched), paired", "gym-pusht - here batched", ts, bs, tk, bk, ""),
                ("here batched - here `--envs 1`, paired", "here batched - here envs 1", bs, hs, bk, hk, "")):
            d, dk = a - b, ak - bk_
            ci, ck_ = bootstrap_mean(d), bootstrap_mean(dk)
            stats_row(rows, sec, f"[{tag}] score {key} [mean; 95% bootstrap]",
                      f"{d.mean():+.4f} [{ci[0]:+.4f}, {ci[1]:+.4f}]", target)
            stats_row(rows, sec, f"[{tag}] success {key} [mean; 95% bootstrap]",
                      f"{dk.mean():+.3f} [{ck_[0]:+.3f}, {ck_[1]:+.3f}]",
                      "", f"discordant pairs {int(np.sum(dk > 0))}/{int(np.sum(dk < 0))}")
            table.append(f"| {label} | {d.mean():+.3f} [{ci[0]:+.3f}, {ci[1]:+.3f}] | "
                         f"{dk.mean():+.2f} [{ck_[0]:+.2f}, {ck_[1]:+.2f}] ({int(np.sum(dk > 0))} vs "
                         f"{int(np.sum(dk < 0))} discordant) |")
        d = ts - hs
        ov = col("overlap_start") == 1
        if ov.any() and (~ov).any():
            ci = bootstrap_mean(d[~ov])
            stats_row(rows, sec, f"[{tag}] seeds with the pusher drawn inside the T", f"{int(ov.sum())}/{n}")
            stats_row(rows, sec, f"[{tag}] score gym-pusht - here envs 1 without those seeds [mean; 95% bootstrap]",
                      f"{d[~ov].mean():+.4f} [{ci[0]:+.4f}, {ci[1]:+.4f}]")
            overlap_note = (f" {int(ov.sum())} of the seeds start with the pusher drawn inside the T (section 2; "
                            f"{', '.join(str(e['seed']) for e in eps if e['overlap_start'])}); without them the "
                            f"paired score difference is {d[~ov].mean():+.3f} [{ci[0]:+.3f}, {ci[1]:+.3f}] over "
                            f"{int((~ov).sum())} seeds (gym-pusht {ts[~ov].mean():.3f}, here {hs[~ov].mean():.3f}).")
        else:
            overlap_note = f" Seeds with the pusher drawn inside the T: {int(ov.sum())}."
        stats_row(rows, sec, f"[{tag}] client loop on ours = harness eval --envs 1 (score, success, steps)",
                  f"{client_same}/{n}")
        stats_row(rows, sec, f"[{tag}] start states max abs diff", f"{res['start_diff']:.3e}")
        stats_row(rows, sec, f"[{tag}] observation from state vs ours, max abs diff", f"{res['obs_diff']:.3e}")
        diverged = split[split > 0]
        stats_row(rows, sec, f"[{tag}] step where the block first differs by > 1 px [median/min/max; episodes]",
                  f"{int(np.median(diverged)) if len(diverged) else -1}/{int(diverged.min()) if len(diverged) else -1}/"
                  f"{int(diverged.max()) if len(diverged) else -1}; {len(diverged)}/{n}")
        for e in eps:
            stats_row(rows, sec, f"[{tag}] seed {e['seed']}: score gym-pusht/here/batched, success gym-pusht/here/batched",
                      f"{e['there_score']:.6f}/{e['here_score']:.6f}/{e['batched_score']:.6f}, "
                      f"{e['there_success']}/{e['here_success']}/{e['batched_success']}",
                      "", f"steps {e['there_steps']}/{e['here_steps']}/{e['batched_steps']}; block splits > 1 px "
                      f"at step {e['first_block_split']}")
        md += [
            f"### `{res['ckpt']}`, sampler `{res['sampler']}` (NFE {res['nfe']}), seeds {start_seed}..{start_seed + n - 1}",
            "",
            f"Here: `{res['eval_cmds']['one']}` ({res['eval_s']['one']:.0f} s) and `{res['eval_cmds']['batched']}` "
            f"({res['eval_s']['batched']:.0f} s). Policy: To = {res['spec']['obs_steps']}, Ta = "
            f"{res['spec']['action_steps']}, H = {res['spec']['horizon']}, observation "
            f"{', '.join(k['key'] for k in res['spec']['obs'])}. Client loops (gym-pusht and ours): "
            f"{res['loop_s']:.0f} s.",
            "",
            "| | score (mean, 95 % CI) | success (95 % CI) |",
            "|---|---:|---:|",
            *table,
            "",
            f"Target: |score gym-pusht - score here| <= 0.15: {abs(d.mean()):.3f}, "
            f"{'met' if abs(d.mean()) <= 0.15 else 'not met'}. Start states agree to {res['start_diff']:.1e}; "
            f"the observation computed from the state agrees with ours to {res['obs_diff']:.1e}; the client "
            f"loop on ours reproduces `harness eval --envs 1` (score, success, steps, bit for bit) in "
            f"{client_same} / {n} episodes. The block positions in gym-pusht and in the client loop on ours "
            f"first differ by more than 1 px at step "
            + (f"median {int(np.median(diverged))} (range {int(diverged.min())}..{int(diverged.max())}) in "
               f"{len(diverged)} / {n} episodes" if len(diverged) else "never")
            + (f"; the executed actions first differ (> 1e-3 px) at step median {int(np.median(asplit[asplit > 0]))}"
               if np.any(asplit > 0) else "")
            + " (until then both simulators run the same actions from the same states)." + overlap_note,
            "",
            "<details><summary>Per episode</summary>",
            "",
            "| seed | score gym-pusht | score here | score here batched | success gym-pusht / here / batched | "
            "steps gym-pusht / here / batched | block splits at step |",
            "|---:|---:|---:|---:|---:|---:|---:|",
            *[f"| {e['seed']} | {e['there_score']:.4f} | {e['here_score']:.4f} | {e['batched_score']:.4f} | "
              f"{e['there_success']} / {e['here_success']} / {e['batched_success']} | {e['there_steps']} / "
              f"{e['here_steps']} / {e['batched_steps']} | {e['first_block_split']} |" for e in eps],
            "",
            "</details>",
            "",
            f"Produced by `{res['command']}` ({res['elapsed']:.0f} s for this checkpoint).",
            "",
        ]
    return md


PARTS = ["coverage", "reset", "dynamics", "replay", "policy"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--harness", default=os.path.join(ROOT, "build/harness/harness"))
    ap.add_argument("--dataset", default=os.path.join(ROOT, "data/peers/pusht200.hdf5"),
                    help="our PushT demos; collected (harness collect, --demos episodes, seed 0) when missing")
    ap.add_argument("--demos", type=int, default=200, help="episodes to collect when --dataset is missing")
    ap.add_argument("--poses", type=int, default=10000)
    ap.add_argument("--resets", type=int, default=1000)
    ap.add_argument("--windows", type=int, default=500)
    ap.add_argument("--replays", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--parts", default="coverage,reset,dynamics,replay",
                    help=f"the parts to run, of {','.join(PARTS)} (policy needs --ckpt); the others are "
                         f"kept from --cache in the report; empty: rebuild the report from the cache")
    ap.add_argument("--ckpt", nargs="+", default=[], help="policy: trained low-dim PushT run(s) to serve")
    ap.add_argument("--sampler", default="ddim:10", help="policy: the sampler of harness serve and eval")
    ap.add_argument("--episodes", type=int, default=50, help="policy: episodes (seeds from --start-seed)")
    ap.add_argument("--start-seed", type=int, default=100000, help="policy: first seed (ours: the evaluation seeds)")
    ap.add_argument("--cache", default=os.path.join(ROOT, "data/peers/pusht_compare_cache"),
                    help="each part's report and rows, merged into --out")
    ap.add_argument("--out", default=os.path.join(ROOT, "results/peers/pusht.md"))
    args = ap.parse_args()
    parts = [p for p in args.parts.split(",") if p]
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        ap.error(f"unknown part(s) {','.join(unknown)}; valid: {','.join(PARTS)}")
    if "policy" in parts and not args.ckpt:
        ap.error("--parts policy needs --ckpt")

    if {"dynamics", "replay"} & set(parts):
        collect = [args.harness, "collect", "--task", "pusht", "--episodes", str(args.demos), "--seed", "0",
                   "--out", args.dataset]
        if not os.path.exists(args.dataset):
            os.makedirs(os.path.dirname(os.path.abspath(args.dataset)), exist_ok=True)
            subprocess.run(collect, check=True)
        with h5py.File(args.dataset, "r") as fh:
            seeds = sorted(json.loads(fh[f"data/{d}"].attrs["ep_meta"])["seed"] for d in fh["data"])
        harness_rel, data_rel = os.path.relpath(args.harness, ROOT), os.path.relpath(args.dataset, ROOT)
        demos_note = (f"Demos (sections 3 and 4): `{data_rel}`, {len(seeds)} episodes of our scripted expert "
                      f"(seeds {seeds[0]}..{seeds[-1]}), as `{harness_rel} collect --task pusht --episodes "
                      f"{len(seeds)} --seed 0 --out {data_rel}` writes them (the script runs it when the file "
                      f"is missing).")
    command = " ".join([".venv-peers/bin/python scripts/peers/pusht_compare.py"] + [
        shlex.quote(a) for a in sys.argv[1:]])
    ours = OurEnv(args.harness) if parts else None
    gym_env = make_gym() if parts else None
    os.makedirs(args.cache, exist_ok=True)
    for part in PARTS:
        if part not in parts:
            continue
        rows, md, data = [], [], None
        t0 = time.time()
        if part == "coverage":
            md = coverage_test(ours, gym_env, args.poses, args.seed, rows, md)
        elif part == "reset":
            md = reset_test(ours, gym_env, args.resets, rows, md)
        elif part == "dynamics":
            md = dynamics_test(ours, gym_env, args.dataset, args.windows, 10, args.seed, rows, md)
        elif part == "replay":
            md = replay_test(ours, gym_env, args.dataset, args.replays, rows, md)
        elif part == "policy":
            # one subsection per checkpoint and sampler: a new run replaces its own, keeps the others
            path = os.path.join(args.cache, "policy.json")
            data = []
            if os.path.exists(path):
                with open(path) as fh:
                    data = json.load(fh).get("data", [])
            for c in args.ckpt:
                t1 = time.time()
                res = policy_one(ours, gym_env, args.harness, c, args.sampler, args.episodes, args.start_seed,
                                 os.path.join(os.path.dirname(args.cache), "pusht_policy"))
                res.update(command=command, start_seed=args.start_seed, elapsed=time.time() - t1)
                data = [d for d in data if (d["ckpt"], d["sampler"]) != (res["ckpt"], res["sampler"])] + [res]
            md = policy_report(data, rows, md)
        else:
            md.append(f"Produced by `{command}` ({time.time() - t0:.0f} s for this section).")
            md.append("")
        entry = {"md": md, "rows": rows}
        if data is not None:
            entry["data"] = data  # the per-episode records
        if part in ("dynamics", "replay"):
            entry["demos_note"] = demos_note
        path = os.path.join(args.cache, f"{part}.json")
        with open(path + ".tmp", "w") as fh:
            json.dump(entry, fh, indent=1, default=lambda o: o.item())  # numpy scalars
        os.replace(path + ".tmp", path)  # a failed run leaves the part's previous numbers
    if ours is not None:
        ours.close()
    write_report(args)


def write_report(args):
    """The report and CSV from every cached part, in PARTS order."""
    md, rows, notes = [], [], []
    for part in PARTS:
        path = os.path.join(args.cache, f"{part}.json")
        if not os.path.exists(path):
            continue
        with open(path) as fh:
            entry = json.load(fh)
        md += entry["md"]
        rows += entry["rows"]
        if entry.get("demos_note") and entry["demos_note"] not in notes:
            notes.append(entry["demos_note"])
    head = [
        "# PushT: ours (MuJoCo 2.2.2) vs gym-pusht (pymunk), side by side",
        "",
        f"With gym-pusht {version('gym-pusht')}, pymunk {pymunk.version}, shapely {shapely.__version__}, numpy "
        f"{np.__version__}; ours through `{os.path.relpath(args.harness, ROOT)} env --task pusht --action-mode "
        f"absolute` (and `serve` in section 5). Each section ends with the command that produced it; "
        f"`--parts` reruns only the parts it names and keeps the others' numbers (cached in "
        f"`{os.path.relpath(args.cache, ROOT)}/`). Every number below is also in "
        f"`{os.path.splitext(os.path.basename(args.out))[0]}.csv`." + (" " + " ".join(notes) if notes else ""),
        "",
    ]
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as fh:
        fh.write("\n".join(head + md))
    with open(os.path.splitext(args.out)[0] + ".csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["section", "metric", "value", "target", "note"])
        w.writeheader()
        w.writerows(rows)
    print("\n".join(head + md))


def version(dist):
    from importlib.metadata import version as v
    return v(dist)


if __name__ == "__main__":
    main()
