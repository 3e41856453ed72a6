#!/usr/bin/env python3
"""Holds our robomimic tasks (Lift, Can, Square, ToolHang, Transport; MuJoCo 2.2.2, driven through
`harness env`) against robosuite 1.5.1 (MuJoCo 3.3.0) side by side: object placement over many
resets, the OSC_POSE controller on one delta action sequence, camera views at matched poses, our PH
demonstrations' absolute actions replayed open-loop, our Square-ph Diffusion Policy evaluated in
robosuite through `harness serve`, and the success rules near their boundaries. Diagnostic parts,
not in the default list: selfreplay (our demos replayed in our own simulator, delta vs absolute
actions, with and without set_state), trace (one demo stepped side by side, every step logged) and
frame_turn (ToolHang's released frame in the stand under each set of solver options). Writes
results/peers/robosuite.md, robosuite.csv and <task>_views.png.

Run with the peers' virtual environment (scripts/peers/setup.sh):
  nice -n 10 .venv-peers/bin/python scripts/peers/robosuite_compare.py [--tasks lift,square] \
      [--parts placement,controller,views,rules,replay,policy] [--replays 100]
  ... --tasks tool_hang --parts selfreplay,trace,frame_turn --trace-demos demo_0,demo_1 --trace-variants base,opt

Every part of every task is cached as JSON under data/peers/robosuite_cache/ (written under a temp
name, then renamed; replays every few demos), so an interrupted run resumes where it stopped and the
report is rebuilt from the cache; --fresh recomputes. A side run on another dataset of ours names both
(`--dataset data/peers/x.hdf5 --cache data/peers/robosuite_cache_x`) and writes no report (results/peers
is built from the default cache only); `--summary` prints its replay counts. robosuite environments are built once per task
(hard_reset=False) because building one takes tens of seconds.

Frames: our models use robosuite's world frame (tables, robot bases, cameras at robosuite's
coordinates), and the objects' free joints have the same body origins for Lift, Can and Square, so
joint positions are copied as they are. ToolHang's and Transport's objects are placed in robosuite
from the same drawn values (position and angle handed to robosuite's own placement samplers with
their ranges pinned), which also tests that both turn a draw into the same pose.
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

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MUJOCO_GL", "osmesa")  # EGL has no device on a CPU-only machine

import h5py  # noqa: E402
import mujoco  # noqa: E402
import numpy as np  # noqa: E402
import robosuite  # noqa: E402
from robosuite.controllers import load_composite_controller_config  # noqa: E402
from robosuite.models.objects import HammerObject  # noqa: E402
from scipy.spatial.transform import Rotation  # noqa: E402

from harness_lines import HarnessLines  # noqa: E402  (this folder)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CACHE = os.path.join(ROOT, "data", "peers", "robosuite_cache")
OUT = os.path.join(ROOT, "results", "peers")

# task key -> (our registry name, robosuite env, robots, the free joints compared: ours -> robosuite's)
TASKS = {
    "lift": ("lift-ph", "Lift", "Panda", {"cube_joint": "cube_joint0"}),
    "can": ("can-ph", "PickPlaceCan", "Panda", {"can_joint": "Can_joint0"}),
    "square": ("square-ph", "NutAssemblySquare", "Panda", {"SquareNut_joint0": "SquareNut_joint0"}),
    "tool_hang": ("tool-hang-ph", "ToolHang", "Panda", {"frame_joint0": "frame_joint0", "tool_joint0": "tool_joint0"}),
    "transport": ("transport-ph", "TwoArmTransport", ["Panda", "Panda"],
                  {"payload_joint0": "payload_joint0", "trash_joint0": "trash_joint0",
                   "lid_joint0": "transport_start_bin_lid_joint0", "start_bin_joint0": "transport_start_bin_joint0",
                   "target_bin_joint0": "transport_target_bin_joint0", "trash_bin_joint0": "transport_trash_bin_joint0"}),
}
DATASETS = {"lift": "data/peers/lift_ph.hdf5", "can": "data/peers/can_ph.hdf5", "square": "data/square_ph.hdf5",
            "tool_hang": "data/tool_hang_ph_v2.hdf5", "transport": "data/transport_ph.hdf5"}
VIEW_CAMERAS = {"tool_hang": ["sideview", "robot0_eye_in_hand"],
                "transport": ["shouldercamera0", "robot0_eye_in_hand", "shouldercamera1", "robot1_eye_in_hand"]}


def log(*a):
    print(time.strftime("%H:%M:%S"), *a, flush=True)


def write_atomic(path, text, mode="w"):
    tmp = path + ".tmp"
    with open(tmp, mode) as f:
        f.write(text)
    os.replace(tmp, path)


def cache_path(part, task):
    return os.path.join(CACHE, f"{part}_{task}.json")


def cache_load(part, task):
    p = cache_path(part, task)
    if os.path.exists(p):
        with open(p) as f:
            return json.load(f)
    return None


def cache_save(part, task, obj):
    os.makedirs(CACHE, exist_ok=True)
    write_atomic(cache_path(part, task), json.dumps(obj))


# ------------------------------------------------------------------------------------------ ours
class OurEnv(HarnessLines):
    """`harness env` as a subprocess speaking JSON lines."""

    def __init__(self, harness, task, mode="delta"):
        super().__init__([harness, "env", "--task", task, "--action-mode", mode])
        self.info = self.ask("info")
        self.joints = {j["name"]: j for j in self.info["joints"]}

    def qpos_of(self, state, joint):
        """A joint's qpos slice from a flat state [time, qpos, qvel]."""
        j = self.joints[joint]
        return np.asarray(state[1 + j["qpos_adr"]: 1 + j["qpos_adr"] + j["qpos_width"]], dtype=float)

    def close(self):
        self.p.stdin.close()
        self.p.wait(timeout=30)


class OurServer(HarnessLines):
    """`harness serve` (a trained policy) as a subprocess speaking JSON lines."""

    def __init__(self, harness, ckpt, sampler):
        super().__init__([harness, "serve", "--ckpt", ckpt, "--sampler", sampler])
        self.spec = self.ask("spec")


# ------------------------------------------------------------------------------------- robosuite
def rs_make(key, render=False):
    _, env_name, robots, _ = TASKS[key]
    cfg = load_composite_controller_config(controller=None, robot="Panda")
    for part in cfg["body_parts"].values():  # world-frame deltas, as robosuite 1.2 / robomimic's datasets
        part["input_ref_frame"] = "world"
    kw = dict(robots=robots, controller_configs=cfg, has_renderer=False, has_offscreen_renderer=False,
              use_camera_obs=False, use_object_obs=True, control_freq=20, ignore_done=True, hard_reset=False,
              reward_shaping=False)
    if key == "transport":
        kw["env_configuration"] = "opposed"
    t = time.time()
    env = robosuite.make(env_name, **kw)
    env.reset()
    log(f"robosuite {env_name} built in {time.time() - t:.0f} s")
    return env


def rs_model(env):
    return env.sim.model._model, env.sim.data._data


def rs_arm_ctrl(robot):
    return robot.part_controllers["right"]


def rs_set_mode(env, mode):
    """Delta or absolute OSC_POSE input; robosuite's reset rebuilds its controllers with the
    configured (delta) input, so call after every reset."""
    for r in env.robots:
        rs_arm_ctrl(r).input_type = mode


def rs_qpos(env, joint):
    m, d = rs_model(env)
    j = m.joint(joint)
    w = {0: 7, 1: 4}.get(int(j.type[0]), 1)
    return np.array(d.qpos[j.qposadr[0]: j.qposadr[0] + w])


def rs_set_joint(env, joint, value):
    m, d = rs_model(env)
    j = m.joint(joint)
    value = np.atleast_1d(np.asarray(value, dtype=float))
    d.qpos[j.qposadr[0]: j.qposadr[0] + len(value)] = value
    dw = {0: 6, 1: 3}.get(int(j.type[0]), 1)
    d.qvel[j.dofadr[0]: j.dofadr[0] + dw] = 0


def rs_set_robots(env, ours, state):
    """robosuite's arms and fingers to our state's joint positions (velocities zero), controller goals
    to the current pose, gripper command integrators to zero (as our reset leaves them)."""
    for r, robot in enumerate(env.robots):
        for i in range(7):
            rs_set_joint(env, f"robot{r}_joint{i + 1}", ours.qpos_of(state, f"robot{r}_joint{i + 1}"))
        for i in range(2):
            rs_set_joint(env, f"gripper{r}_right_finger_joint{i + 1}",
                         ours.qpos_of(state, f"gripper{r}_finger_joint{i + 1}"))
    env.sim.forward()
    for robot in env.robots:
        c = rs_arm_ctrl(robot)
        c.update(force=True)
        c.update_initial_joints(c.joint_pos)  # nullspace posture target: the reset joints, as ours
        c.reset_goal()
        robot.gripper["right"].current_action = np.zeros(robot.gripper["right"].dof)


def rs_eef(env, r=0):
    """Grip-site position and rotation matrix of robot r."""
    _, d = rs_model(env)
    sid = env.robots[r].eef_site_id["right"]
    return np.array(d.site_xpos[sid]), np.array(d.site_xmat[sid]).reshape(3, 3)


def quat_wxyz_to_mat(q):
    return Rotation.from_quat([q[1], q[2], q[3], q[0]]).as_matrix()


def rot_angle_deg(a, b):
    """Angle of the rotation between two rotation matrices, in degrees."""
    c = (np.trace(a.T @ b) - 1) / 2
    return math.degrees(math.acos(max(-1.0, min(1.0, c))))


def yaw_of(q_wxyz):
    return math.atan2(2 * (q_wxyz[0] * q_wxyz[3] + q_wxyz[1] * q_wxyz[2]), 1 - 2 * (q_wxyz[2] ** 2 + q_wxyz[3] ** 2))


def sixd_to_mat(v):
    """DP's rotation-6d (pytorch3d: the first two rows, Gram-Schmidt) to a rotation matrix."""
    a1, a2 = np.asarray(v[:3], float), np.asarray(v[3:6], float)
    b1 = a1 / np.linalg.norm(a1)
    b2 = a2 - b1.dot(a2) * b1
    b2 /= np.linalg.norm(b2)
    return np.stack([b1, b2, np.cross(b1, b2)])


def abs_to_rs(a):
    """Our 10-D absolute action per arm -> robosuite's absolute OSC_POSE input (pos, axis-angle, grip)."""
    out = []
    for k in range(len(a) // 10):
        s = a[10 * k: 10 * k + 10]
        rv = Rotation.from_matrix(sixd_to_mat(s[3:9])).as_rotvec()
        out.extend([s[0], s[1], s[2], rv[0], rv[1], rv[2], s[9]])
    return np.array(out)


# ---------------------------------------------------------------------------- placing like ours
def sampler_of(env, name):
    s = env.placement_initializer
    if hasattr(s, "samplers"):
        return s.samplers[name]
    return s


def pinned_reset(env, key, draws, init_quat=None):
    """robosuite reset whose placement samplers are pinned to our drawn values: draws is
    {sampler name: (world x, world y, angle)}; init_quat, if given, pins HammerObject.init_quat
    (Transport's head flip, otherwise a fresh draw at every evaluation); then all are restored."""
    saved = []
    saved_init_quat = None
    if init_quat is not None:
        saved_init_quat = HammerObject.__dict__["init_quat"]
        HammerObject.init_quat = property(lambda self: np.array(init_quat, dtype=float))
    for name, (x, y, ang) in draws.items():
        s = sampler_of(env, name)
        saved.append((s, s.x_range, s.y_range, s.rotation, s.ensure_object_boundary_in_range, s.ensure_valid_placement))
        ref = np.asarray(s.reference_pos, dtype=float)
        s.x_range = [x - ref[0], x - ref[0]]
        s.y_range = [y - ref[1], y - ref[1]]
        s.rotation = ang
        s.ensure_object_boundary_in_range = False
        # Can's sampler also places Milk, Bread and Cereal (moved away in single-object mode): all
        # share the pinned spot, so overlap is not checked
        s.ensure_valid_placement = False
    try:
        env.reset()
    finally:
        for s, xr, yr, rot, ens, val in saved:
            s.x_range, s.y_range, s.rotation, s.ensure_object_boundary_in_range, s.ensure_valid_placement = \
                xr, yr, rot, ens, val
        if saved_init_quat is not None:
            HammerObject.init_quat = saved_init_quat


def our_init_quat(key, meta):
    """Transport: HammerObject.init_quat's value (x, y, z, w) for our drawn head side, else None."""
    if key != "transport" or "payload_head_side" not in meta:
        return None
    return (0.5, -0.5, 0.5, -0.5) if meta["payload_head_side"] > 0 else (-0.5, -0.5, -0.5, -0.5)


def our_draws(key, ours, state, meta):
    """Our reset's drawn values per robosuite sampler name (world x, y, angle)."""
    if key == "lift":
        q = ours.qpos_of(state, "cube_joint")
        return {"ObjectSampler": (q[0], q[1], yaw_of(q[3:]))}
    if key == "can":
        q = ours.qpos_of(state, "can_joint")
        return {"CollisionObjectSampler": (q[0], q[1], yaw_of(q[3:]))}
    if key == "square":
        q = ours.qpos_of(state, "SquareNut_joint0")
        return {"SquareNutSampler": (q[0], q[1], yaw_of(q[3:]))}
    if key == "tool_hang":
        f, t = meta["frame_init_xy_angle"], meta["tool_init_xy_yaw"]
        return {"frameObjectSampler": tuple(f), "toolObjectSampler": tuple(t)}
    if key == "transport":
        # lid, payload and trash x, y are replaced by their bins' in robosuite's reset (as ours)
        return {"start_binObjectSampler": (*meta["start_bin_xy"], 0.0), "lidObjectSampler": (0.0, -0.45, 0.0),
                "payloadObjectSampler": (0.0, -0.45, meta["payload_angle"]),
                "target_binObjectSampler": (*meta["target_bin_xy"], 0.0),
                "trashObjectSampler": (0.0, 0.45, meta["trash_yaw"]),
                "trash_binObjectSampler": (*meta["trash_bin_xy"], 0.0)}
    raise KeyError(key)


def place_like_ours(env, key, ours, reply):
    """robosuite in our reset's configuration: objects from our draws (Lift: our cube size too),
    then the robots' joints."""
    state, meta = reply["state"], reply["meta"]
    draws = our_draws(key, ours, state, meta)
    pinned_reset(env, key, {k: v for k, v in draws.items() if k in sampler_names(env)}, our_init_quat(key, meta))
    if key == "lift":
        m, _ = rs_model(env)
        m.geom_size[m.geom("cube_g0").id] = meta["cube_half_size"]
    if key in ("lift", "can", "square"):  # same body origins: copy the poses exactly
        for o, r in TASKS[key][3].items():
            rs_set_joint(env, r, ours.qpos_of(state, o))
    rs_set_robots(env, ours, state)


def sampler_names(env):
    s = env.placement_initializer
    return list(s.samplers.keys()) if hasattr(s, "samplers") else [s.name]


# ------------------------------------------------------------------------------------ model facts
def part_model(key, env):
    """Physics options and the Panda's link inertials / hand offset: robosuite's model vs ours (our
    model as the dataset stores it, loaded in the same mujoco Python module)."""
    path = os.path.join(ROOT, DATASETS[key])
    if not os.path.exists(path):
        return {"skipped": f"{DATASETS[key]} missing"}
    with h5py.File(path, "r") as f:
        xml = f["data/demo_0"].attrs["model_file"]
    mo = mujoco.MjModel.from_xml_string(xml)
    mr, _ = rs_model(env)

    def opt(mm):
        o = mm.opt
        return {"timestep": o.timestep, "cone": ["pyramidal", "elliptic"][int(o.cone)], "impratio": o.impratio,
                "density": o.density, "viscosity": o.viscosity, "integrator": int(o.integrator),
                "iterations": int(o.iterations)}

    def links(mm):
        out = {}
        for i in range(8):
            b = mm.body(f"robot0_link{i}")
            out[f"link{i}"] = [float(b.mass[0]), b.inertia.round(5).tolist()]
        b = mm.body("robot0_right_hand")
        out["hand_pos"] = b.pos.tolist()
        out["hand_quat"] = b.quat.tolist()
        sub = mm.body_subtreemass[mm.body("robot0_right_hand").id]
        out["hand_subtree_mass"] = float(sub)
        out["arm_mass"] = float(mm.body_subtreemass[mm.body("robot0_link0").id])
        return out

    return {"opt_ours": opt(mo), "opt_rs": opt(mr), "links_ours": links(mo), "links_rs": links(mr)}


# ---------------------------------------------------------------------------------- (a) placement
def part_placement(key, env, ours, n):
    """Object pose ranges over n resets: ours (seeds 0..n-1) and robosuite's sampler (the call its
    reset makes), then the same draws handed to robosuite (50 seeds): pose difference."""
    joints = TASKS[key][3]
    res = {"n": n, "ours": {}, "rs": {}}
    our_vals = {o: [] for o in joints}
    metas = []
    for s in range(n):
        rep = ours.ask("reset", seed=s)
        metas.append(rep["meta"])
        for o in joints:
            our_vals[o].append(ours.qpos_of(rep["state"], o).tolist())
    rs_vals = {o: [] for o in joints}
    name_of = {}
    for s in range(n):
        placements = env.placement_initializer.sample()
        for o, r in joints.items():
            for obj_name, (pos, quat, obj) in placements.items():
                if obj.joints and obj.joints[0] == r:
                    rs_vals[o].append(list(pos) + list(quat))
                    name_of[o] = obj_name
    for o in joints:
        for side, vals in (("ours", our_vals[o]), ("rs", rs_vals[o])):
            if not vals:
                continue
            v = np.array(vals)
            yaw = np.array([yaw_of(q) % (2 * math.pi) for q in v[:, 3:7]])
            tilt = np.array([math.degrees(math.acos(min(1.0, abs(1 - 2 * (q[1] ** 2 + q[2] ** 2))))) for q in v[:, 3:7]])
            res[side][o] = {"x": [v[:, 0].min(), v[:, 0].max(), v[:, 0].mean()],
                            "y": [v[:, 1].min(), v[:, 1].max(), v[:, 1].mean()],
                            "z": [v[:, 2].min(), v[:, 2].max()],
                            "yaw": [yaw.min(), yaw.max()], "tilt_deg": [tilt.min(), tilt.max()], "count": len(v)}
    if key == "lift":
        from robosuite.models.objects import BoxObject
        sizes = np.array([BoxObject(name="cube", size_min=[0.020] * 3, size_max=[0.022] * 3).size for _ in range(200)])
        res["rs_cube_half_sizes"] = {"min": sizes.min(0).tolist(), "max": sizes.max(0).tolist(),
                                     "max_aspect": float((sizes.max(1) / sizes.min(1)).max()), "count": len(sizes)}
        ours_sizes = np.array([m["cube_half_size"] for m in metas])
        res["our_cube_half_sizes"] = [float(ours_sizes.min()), float(ours_sizes.max())]
    # the same draws in both
    diffs = {o: [] for o in joints}
    for s in range(min(50, n)):
        rep = ours.ask("reset", seed=s)
        draws = our_draws(key, ours, rep["state"], rep["meta"])
        pinned_reset(env, key, {k: v for k, v in draws.items() if k in sampler_names(env)},
                     our_init_quat(key, rep["meta"]))
        for o, r in joints.items():
            a, b = ours.qpos_of(rep["state"], o), rs_qpos(env, r)
            diffs[o].append([float(np.abs(a[:2] - b[:2]).max()), float(b[2] - a[2]),
                             rot_angle_deg(quat_wxyz_to_mat(a[3:]), quat_wxyz_to_mat(b[3:]))])
    res["same_draw"] = {o: {"xy_max": max(d[0] for d in v), "dz": [min(d[1] for d in v), max(d[1] for d in v)],
                            "rot_max_deg": max(d[2] for d in v), "n": len(v)} for o, v in diffs.items()}
    res["sampler_names"] = name_of
    return res


# --------------------------------------------------------------------------- (a') settling drop
def part_settle(key, env, ours, n=20, steps=10):
    """Square's nut starts 4 cm higher in robosuite (section 1): both from the same draws, robots held
    still for `steps` steps; how far the nut moves in the plane and turns while it settles."""
    if key != "square":
        return {"skipped": "only Square starts its object at a different height"}
    hold = np.r_[np.zeros(6), -1.0]
    out = []
    rs_set_mode(env, "delta")
    ours.ask("set_action_mode", mode="delta")
    for s in range(n):
        rep = ours.ask("reset", seed=s)
        q0 = ours.qpos_of(rep["state"], "SquareNut_joint0")
        draws = our_draws(key, ours, rep["state"], rep["meta"])
        pinned_reset(env, key, draws)
        rs_set_robots(env, ours, rep["state"])
        r0 = rs_qpos(env, "SquareNut_joint0")
        for _ in range(steps):
            r = ours.ask("step", action=hold.tolist())
            env.step(hold)
        q1, r1 = ours.qpos_of(r["state"], "SquareNut_joint0"), rs_qpos(env, "SquareNut_joint0")
        out.append({"seed": s, "ours_xy_move": float(np.linalg.norm(q1[:2] - q0[:2])),
                    "rs_xy_move": float(np.linalg.norm(r1[:2] - r0[:2])),
                    "ours_turn_deg": rot_angle_deg(quat_wxyz_to_mat(q0[3:]), quat_wxyz_to_mat(q1[3:])),
                    "rs_turn_deg": rot_angle_deg(quat_wxyz_to_mat(r0[3:]), quat_wxyz_to_mat(r1[3:])),
                    "ours_z": float(q1[2]), "rs_z": float(r1[2]), "start_z": [float(q0[2]), float(r0[2])],
                    "settled_xy_diff": float(np.linalg.norm(r1[:2] - q1[:2])),
                    "settled_rot_diff_deg": rot_angle_deg(quat_wxyz_to_mat(q1[3:]), quat_wxyz_to_mat(r1[3:]))})
    return {"steps": steps, "seeds": out}


# --------------------------------------------------------------------------------- (b) controller
def action_sequence(n_arms):
    """40 delta steps: +x, then -y with -z, then a turn about z and x, then up with the gripper closing."""
    seq = []
    for t in range(40):
        a = np.zeros(7)
        if t < 10:
            a[0] = 0.6
        elif t < 20:
            a[1], a[2] = -0.6, -0.4
        elif t < 30:
            a[5], a[3] = 0.6, 0.3
        else:
            a[2] = 0.5
        a[6] = 1.0 if t >= 30 else -1.0
        seq.append(np.tile(a, n_arms))
    return np.array(seq)


def part_controller(key, env, ours):
    n_arms = len(env.robots)
    rep = ours.ask("reset", seed=0)
    ours.ask("set_action_mode", mode="delta")
    place_like_ours(env, key, ours, rep)
    rs_set_mode(env, "delta")
    obs0 = rep["obs"]
    res = {"steps": [], "grip": {}}
    p_rs, r_rs = rs_eef(env)
    p_o = np.array(obs0["robot0_eef_pos"])
    q_o = obs0["robot0_eef_quat"]
    r_o = Rotation.from_quat(q_o).as_matrix()
    res["step0"] = [float(np.linalg.norm(p_rs - p_o) * 100), rot_angle_deg(r_o, r_rs)]
    seq = action_sequence(n_arms)
    for t, a in enumerate(seq):
        o = ours.ask("step", action=a.tolist())["obs"]
        env.step(a)
        p_rs, r_rs = rs_eef(env)
        p_o = np.array(o["robot0_eef_pos"])
        r_o = Rotation.from_quat(o["robot0_eef_quat"]).as_matrix()
        g_o = o["robot0_gripper_qpos"]
        g_rs = [float(rs_qpos(env, "gripper0_right_finger_joint1")[0]), float(rs_qpos(env, "gripper0_right_finger_joint2")[0])]
        res["steps"].append({"t": t + 1, "pos_cm": float(np.linalg.norm(p_rs - p_o) * 100),
                             "rot_deg": rot_angle_deg(r_o, r_rs), "ours_pos": p_o.tolist(), "rs_pos": p_rs.tolist(),
                             "grip_ours": g_o, "grip_rs": g_rs})
    # gripper: closing from open (after 30 steps of "open"), arm held, steps until the finger
    # opening is within 0.5 mm of where it ends after 40 steps of "close"
    for side in ("ours", "rs"):
        res["grip"][side] = []
    rep = ours.ask("reset", seed=0)
    place_like_ours(env, key, ours, rep)
    hold_open = np.tile(np.r_[np.zeros(6), -1.0], n_arms)
    hold_close = np.tile(np.r_[np.zeros(6), 1.0], n_arms)
    for a in [hold_open] * 30 + [hold_close] * 40:
        o = ours.ask("step", action=a.tolist())["obs"]
        env.step(a)
        g_rs = rs_qpos(env, "gripper0_right_finger_joint1")[0] - rs_qpos(env, "gripper0_right_finger_joint2")[0]
        res["grip"]["ours"].append(o["robot0_gripper_qpos"][0] - o["robot0_gripper_qpos"][1])
        res["grip"]["rs"].append(float(g_rs))
    for side in ("ours", "rs"):
        g = np.array(res["grip"][side])
        closing = g[30:]
        final = closing[-1]
        start = g[29]
        steps = next(i + 1 for i in range(len(closing)) if abs(closing[i] - final) < 0.0005)
        steps90 = next(i + 1 for i in range(len(closing)) if abs(closing[i] - final) <= 0.1 * abs(start - final))
        res[f"close_{side}"] = {"open_gap_mm": float(start * 1000), "closed_gap_mm": float(final * 1000),
                                "steps_to_0.5mm": steps, "steps_to_90pct": steps90}
    return res


# ------------------------------------------------------------------------------------ (c) views
def part_views(key, env, ours, seed=3):
    from PIL import Image, ImageDraw
    rep = ours.ask("reset", seed=seed, render=True)
    place_like_ours(env, key, ours, rep)
    m, d = rs_model(env)
    cams = VIEW_CAMERAS.get(key, ["agentview", "robot0_eye_in_hand"])
    scale = 3 if key != "tool_hang" else 1
    tiles, diffs = [], {}
    for cam in cams:
        ours_img = np.array(rep["obs"][cam + "_image"], dtype=np.uint8)
        h, w = ours_img.shape[:2]
        m.vis.global_.offwidth = max(m.vis.global_.offwidth, w)
        m.vis.global_.offheight = max(m.vis.global_.offheight, h)
        r = mujoco.Renderer(m, h, w)
        r.update_scene(d, camera=cam)
        rs_img = r.render()
        r.close()
        diffs[cam] = float(np.abs(ours_img.astype(int) - rs_img.astype(int)).mean())
        tiles.append((cam, ours_img, rs_img))
    if key == "transport":
        # the hammer lies under the start bin's lid: both lids lifted 1 m out of view, the hammer seen
        # from the start bin's shoulder camera
        cam = "shouldercamera0"
        q = ours.qpos_of(rep["state"], "lid_joint0")
        q[2] += 1.0
        ours.ask("set_qpos", qpos={"lid_joint0": q.tolist()})
        ours_img = np.array(ours.ask("observe", render=True)["obs"][cam + "_image"], dtype=np.uint8)
        rj = TASKS[key][3]["lid_joint0"]
        qr = rs_qpos(env, rj)
        qr[2] += 1.0
        rs_set_joint(env, rj, qr)
        env.sim.forward()
        h, w = ours_img.shape[:2]
        r = mujoco.Renderer(m, h, w)
        r.update_scene(d, camera=cam)
        rs_img = r.render()
        r.close()
        diffs[cam + " (lid lifted)"] = float(np.abs(ours_img.astype(int) - rs_img.astype(int)).mean())
        tiles.append((cam + ", lids lifted (the hammer)", ours_img, rs_img))
    h, w = tiles[0][1].shape[:2]
    H, W = h * scale, w * scale
    canvas = Image.new("RGB", (2 * W + 30, len(tiles) * (H + 18) + 18), (255, 255, 255))
    dr = ImageDraw.Draw(canvas)
    dr.text((10, 2), "ours (MuJoCo 2.2.2)", fill=(0, 0, 0))
    dr.text((W + 20, 2), "robosuite 1.5.1 (MuJoCo 3.3.0)", fill=(0, 0, 0))
    for i, (cam, a, b) in enumerate(tiles):
        y = 18 + i * (H + 18)
        dr.text((10, y), f"{cam}  (seed {seed})", fill=(0, 0, 0))
        canvas.paste(Image.fromarray(a).resize((W, H), Image.NEAREST), (10, y + 14 - 14 + 14))
        canvas.paste(Image.fromarray(b).resize((W, H), Image.NEAREST), (W + 20, y + 14))
    path = os.path.join(OUT, f"{key}_views.png")
    tmp = path + ".tmp.png"
    canvas.save(tmp)
    os.replace(tmp, path)
    return {"png": os.path.relpath(path, ROOT), "cameras": cams, "mean_abs_pixel_diff": diffs, "seed": seed}


# ------------------------------------------------------------------------------------ (f) rules
def part_rules(key, env, ours):
    """Both success checks on the same object poses near the boundary (no physics: poses are set,
    kinematics computed). The gripper stays where the reset put it unless a pose moves it."""
    rng = np.random.default_rng(0)
    rep = ours.ask("reset", seed=0)
    place_like_ours(env, key, ours, rep)
    cases = []
    if key == "lift":
        qj, rj = "cube_joint", "cube_joint0"
        base = ours.qpos_of(rep["state"], qj)
        for dz in np.linspace(0.035, 0.045, 41):  # threshold: table top + 0.04
            q = base.copy()
            q[2] = 0.8 + dz
            cases.append({qj: q})
    elif key == "can":
        qj = "can_joint"
        base = ours.qpos_of(rep["state"], qj)
        for _ in range(300):  # around the bin 2 region's edges x 0.1..0.295, y 0.28..0.525, z 0.8..0.9
            q = base.copy()
            q[0] = rng.choice([0.1, 0.295, 0.2]) + rng.normal(0, 0.004)
            q[1] = rng.choice([0.28, 0.525, 0.4]) + rng.normal(0, 0.004)
            q[2] = rng.choice([0.8, 0.9, 0.86]) + rng.normal(0, 0.004)
            cases.append({qj: q})
    elif key == "square":
        qj = "SquareNut_joint0"
        base = ours.qpos_of(rep["state"], qj)
        for _ in range(300):  # around |dx|, |dy| < 0.03 of the peg (0.23, 0.10), z < 0.87
            q = base.copy()
            q[0] = 0.23 + rng.choice([-0.03, 0.03, 0.0]) + rng.normal(0, 0.003)
            q[1] = 0.10 + rng.choice([-0.03, 0.03, 0.0]) + rng.normal(0, 0.003)
            q[2] = 0.87 + rng.normal(0, 0.004)
            cases.append({qj: q})
    else:
        return {"skipped": "contact-based rule: compared on the replays' final states instead (part replay)"}
    rj = TASKS[key][3][qj]
    agree, n_succ_o, n_succ_r, disagreements = 0, 0, 0, []
    for c in cases:
        q = c[qj]
        e = ours.ask("set_qpos", qpos={qj: q.tolist()})
        so = ours.ask("evaluate")["success"]
        rs_set_joint(env, rj, q)
        env.sim.forward()
        sr = bool(env._check_success())
        agree += so == sr
        n_succ_o += so
        n_succ_r += sr
        if so != sr:
            disagreements.append(q[:3].tolist())
    return {"cases": len(cases), "agree": agree, "success_ours": n_succ_o, "success_rs": n_succ_r,
            "disagreements": disagreements[:10]}


# ----------------------------------------------------------------------------------- (d) replay
def part_replay(key, env, ours, n, dataset, extra=30):
    path = os.path.join(ROOT, dataset)
    if not os.path.exists(path):
        return {"skipped": f"{dataset} missing"}
    res = cache_load("replay", key) or {"demos": []}
    done = {d["demo"] for d in res["demos"]}
    ours.ask("set_action_mode", mode="absolute")
    rs_set_mode(env, "absolute")
    with h5py.File(path, "r") as f:
        names = sorted(f["data"].keys(), key=lambda s: int(s.split("_")[1]))[:n]
        for i, name in enumerate(names):
            if name in done:
                continue
            g = f["data"][name]
            states, acts = g["states"][()], g["actions_abs"][()]
            meta = json.loads(g.attrs["ep_meta"])
            t0 = time.time()
            ours.ask("reset", seed=int(meta.get("seed", 0)))  # an episode, then the demo's exact start
            rep = ours.ask("set_state", state=states[0].tolist())
            # ours: the same actions from the same state (our reference; equals the demo if deterministic)
            succ_o, step_o = False, None
            for t, a in enumerate(acts):
                r = ours.ask("step", action=a.tolist())
                if r["success"]:
                    succ_o, step_o = True, t + 1
                    break
            rep = {"state": states[0].tolist(), "meta": meta}
            place_like_ours(env, key, ours, rep)
            rs_set_mode(env, "absolute")  # robosuite's reset rebuilds the controllers (delta input)
            obj0 = {o: rs_qpos(env, r).tolist() for o, r in TASKS[key][3].items()}
            ours_obj0 = {o: ours.qpos_of(states[0], o).tolist() for o in TASKS[key][3]}
            succ_r, step_r = False, None
            for t, a in enumerate(acts):
                env.step(abs_to_rs(a))
                if env._check_success():
                    succ_r, step_r = True, t + 1
                    break
            # our demos stop at their first successful step: both sims then hold the last action for
            # up to `extra` more steps (success within the demo's length is reported apart)
            succ_o2, succ_r2, hold_o, hold_r = succ_o, succ_r, None, None
            for k in range(0 if succ_o else extra):
                if ours.ask("step", action=acts[-1].tolist())["success"]:
                    succ_o2, hold_o = True, k + 1
                    break
            for k in range(0 if succ_r else extra):
                env.step(abs_to_rs(acts[-1]))
                if env._check_success():
                    succ_r2, hold_r = True, k + 1
                    break
            stage = {}
            if key == "tool_hang":  # which stage robosuite reached, after the held steps
                stage = {"rs_frame_assembled_end": bool(env._check_frame_assembled()),
                         "rs_tool_on_frame_end": bool(env._check_tool_on_frame())}
            elif key == "transport":
                stage = {"rs_payload_in_bin_end": bool(env.transport.payload_in_target_bin),
                         "rs_trash_in_bin_end": bool(env.transport.trash_in_trash_bin)}
            res["demos"].append({**stage, "demo": name, "len": len(acts), "ours": succ_o, "ours_step": step_o, "rs": succ_r,
                                 "rs_step": step_r, "ours_hold": succ_o2, "rs_hold": succ_r2,
                                 "ours_hold_steps": hold_o, "rs_hold_steps": hold_r,
                                 "start_obj_diff": max(float(np.abs(np.array(obj0[o][:3]) - np.array(ours_obj0[o][:3])).max())
                                                       for o in obj0)})
            log(f"replay {key} {name}: here {succ_o} ({step_o}), robosuite {succ_r} ({step_r}), with hold {succ_r2}, "
                f"{len(acts)} steps, {time.time() - t0:.0f} s")
            cache_save("replay", key, res)  # every demo: a run can be stopped at any time
    cache_save("replay", key, res)
    return res


# ------------------------------------------------------------------------------ (d'') self replay
def part_selfreplay(key, ours, dataset, n, extra=60):
    """Ours only: each demo replayed in our own simulator from its first state (reset with its seed,
    then set_state) with its delta `actions` (what the expert sent while collecting) and with its
    `actions_abs` (what the replay part sends robosuite), and with the delta actions after the reset
    alone (no set_state); per mode the largest
    difference from the recorded states, the first step that differs, success at the demo's last
    step, and the steps of holding the last action until success (up to `extra`)."""
    path = os.path.join(ROOT, dataset)
    if not os.path.exists(path):
        return {"skipped": f"{dataset} missing"}
    out = {"demos": []}
    with h5py.File(path, "r") as f:
        names = sorted(f["data"].keys(), key=lambda s: int(s.split("_")[1]))[:n]
        for name in names:
            g = f["data"][name]
            st, meta = g["states"][()], json.loads(g.attrs["ep_meta"])
            row = {"demo": name, "len": int(len(st))}
            for label, mode, akey, set_state in (("delta", "delta", "actions", True),
                                                  ("absolute", "absolute", "actions_abs", True),
                                                  ("delta_reset_only", "delta", "actions", False)):
                acts = g[akey][()]
                ours.ask("set_action_mode", mode=mode)
                r0 = ours.ask("reset", seed=int(meta.get("seed", 0)))
                if set_state:
                    ours.ask("set_state", state=st[0].tolist())
                diff = np.zeros(0)
                if len(acts) > 1:
                    r = ours.ask("step", actions=acts[:-1].tolist(), states=True)
                    diff = np.abs(np.array(r["states"])[:, 1:] - st[1:, 1:]).max(1)
                last = ours.ask("step", action=acts[-1].tolist())
                hold = None
                if not last["success"]:
                    for k in range(extra):
                        if ours.ask("step", action=acts[-1].tolist())["success"]:
                            hold = k + 1
                            break
                row[label] = {"start_diff": float(np.abs(np.array(r0["state"]) - st[0]).max()),
                              "max_state_diff": float(diff.max()) if len(diff) else 0.0,
                              "first_diff_step": int(np.argmax(diff > 0)) + 1 if (diff > 0).any() else None,
                              "first_step_over_1e-6": int(np.argmax(diff > 1e-6)) + 1 if (diff > 1e-6).any() else None,
                              "success_at_end": bool(last["success"]), "hold_steps": hold}
            out["demos"].append(row)
    ours.ask("set_action_mode", mode="delta")
    log(f"selfreplay {key}: " + ", ".join(f"{m} {sum(d[m]['success_at_end'] for d in out['demos'])}/{len(out['demos'])}"
                                          for m in ("delta", "absolute", "delta_reset_only")))
    return out


# ------------------------------------------------------------------------------------ (d') trace
def rs_tool_hang_checks(env):
    """robosuite ToolHang's success sub-checks, each on its own: frame (upright, tip near the base,
    rod between the walls) and tool (no gripper contact, hole touches the hook, near its line, both
    sides, inserted 5 %); robosuite counts the finger collision geoms as gripper contact, ours only
    the pads, so the pads alone are reported too."""
    from robosuite.utils.sim_utils import check_contact
    d = env.sim.data
    site = lambda n: np.array(d.site_xpos[env.obj_site_id[n]])  # noqa: E731
    geom = lambda n: np.array(d.geom_xpos[env.obj_geom_id[n]])  # noqa: E731
    base = geom("stand_base")
    shaft = site("stand_mount_site") - base
    shaft /= np.linalg.norm(shaft)
    f1 = abs(math.acos(max(-1.0, min(1.0, shaft[2])))) < math.pi / 18
    tip = site("frame_tip_site") if "frame_tip_site" in env.obj_site_id else site("frame_mount_site")
    f2 = np.linalg.norm(tip - base) < 0.05
    end = site("frame_mount_site")
    rod = site("frame_intersection_site") - end
    rod /= np.linalg.norm(rod)
    w = [geom(f"stand_wall_{i}") - end for i in range(4)]
    f3 = (np.dot(np.cross(w[0], rod), np.cross(w[2], rod)) < 0) and (np.dot(np.cross(w[1], rod), np.cross(w[3], rod)) < 0)
    grip = env.robots[0].gripper["right"]
    fingers = [g for k in ("left_finger", "right_finger") for g in grip.important_geoms[k]]
    pads = grip.important_geoms["left_fingerpad"] + grip.important_geoms["right_fingerpad"]
    t1 = not check_contact(env.sim, fingers, env.tool.contact_geoms)
    t1_pads = not check_contact(env.sim, pads, env.tool.contact_geoms)
    holes = [f"tool_hole1_hc_{i}" for i in range(env.tool_args["ngeoms"])]
    t2 = check_contact(env.sim, holes, "frame_horizontal_frame")
    hang = site("frame_hang_site")
    hook = site("frame_intersection_site") - hang
    hl = np.linalg.norm(hook)
    hook /= hl
    hv = site("tool_hole1_center") - hang
    along = float(np.dot(hv, hook))
    t3 = np.linalg.norm(hv - along * hook) < env.tool_args["inner_radius_1"] - env.frame_args["frame_thickness"] / 2
    g1 = geom("tool_hole1_hc_0") - hang
    g2 = geom(f"tool_hole1_hc_{env.tool_args['ngeoms'] // 2}") - hang
    t4 = np.dot(np.cross(g1, hook), np.cross(g2, hook)) < 0
    t5 = 0.05 < along / hl < 1.0
    return {"frame": [bool(f1), bool(f2), bool(f3)], "tool": [bool(t1), bool(t2), bool(t3), bool(t4), bool(t5)],
            "tool_pads_only_free": bool(t1_pads), "tip_base_dist": float(np.linalg.norm(tip - base)),
            "hole_line_dist": float(np.linalg.norm(hv - along * hook)), "hole_frac": along / hl}


def tool_hang_geometry(m, d, frame_body, tool_body, grip_site):
    """Kinematic quantities of a ToolHang state in either model: the hook's heading in the plane
    (deg), the tool hole's distance from the hook line (mm) and its fraction along it, the frame
    tip's distance from the stand base (mm), and the frame's and tool's poses in the grip-site frame."""
    site = lambda n: np.array(d.site_xpos[m.site(n).id])  # noqa: E731
    hang = site("frame_hang_site")
    hook = site("frame_intersection_site") - hang
    hl = np.linalg.norm(hook)
    hv = site("tool_hole1_center") - hang
    along = float(np.dot(hv, hook / hl))
    gs = m.site(grip_site).id
    gp, gR = np.array(d.site_xpos[gs]), np.array(d.site_xmat[gs]).reshape(3, 3)
    out = {"hook_heading_deg": math.degrees(math.atan2(hook[1], hook[0])),
           "hole_line_mm": float(np.linalg.norm(hv - along * hook / hl) * 1000), "hole_frac": along / hl,
           "tip_base_mm": float(np.linalg.norm(site("frame_tip_site") - np.array(d.geom_xpos[m.geom("stand_base").id])) * 1000)}
    for k, b in (("frame", frame_body), ("tool", tool_body)):
        bid = m.body(b).id
        out[f"{k}_in_grip"] = (gR.T @ (np.array(d.xpos[bid]) - gp)).tolist() + \
            Rotation.from_matrix(gR.T @ np.array(d.xmat[bid]).reshape(3, 3)).as_rotvec().tolist()
    return out


def frame_geoms(m, body):
    b = m.body(body).id
    return [mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_GEOM, g) for g in range(m.ngeom) if m.geom_bodyid[g] == b]


def rs_pad_geoms(env):
    grip = env.robots[0].gripper["right"]
    return [grip.important_geoms["left_fingerpad"], grip.important_geoms["right_fingerpad"]]


def pad_frame_depth_mm(m, d, pads, frame):
    """Per finger pad (a geom name or a list of them), how deep it sits in the frame: -(smallest contact
    distance) in mm over its contacts with the frame's geoms, None when it touches none; plus whether
    another gripper geom (finger collision shapes) touches the frame."""
    fr = {m.geom(n).id for n in frame}
    out = []
    pad_ids = set()
    for p in pads:
        ids = {m.geom(n).id for n in ([p] if isinstance(p, str) else p)}
        pad_ids |= ids
        depth = None
        for i in range(d.ncon):
            c = d.contact[i]
            if (c.geom1 in ids and c.geom2 in fr) or (c.geom2 in ids and c.geom1 in fr):
                depth = max(depth if depth is not None else -1e9, -float(c.dist) * 1000)
        out.append(depth)
    other = False
    for i in range(d.ncon):
        c = d.contact[i]
        g = c.geom2 if c.geom1 in fr else c.geom1 if c.geom2 in fr else None
        if g is None or g in pad_ids:
            continue
        name = mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_GEOM, g) or ""
        if "gripper" in name or "finger" in name:
            other = True
    return out + [other]


OPTIONS = {"robosuite": (1, 20.0, 1.2, 2e-5), "ours": (0, 1.0, 0.0, 0.0), "elliptic": (1, 1.0, 0.0, 0.0),
           "impratio20": (0, 20.0, 0.0, 0.0), "elliptic_impratio20": (1, 20.0, 0.0, 0.0)}
# (cone 0 pyramidal / 1 elliptic, impratio, air density, air viscosity)


def set_options(m, name):
    m.opt.cone, m.opt.impratio, m.opt.density, m.opt.viscosity = OPTIONS[name]


def rs_apply_variant(env, key, variant, dataset):
    """Trace variants: 'opt' runs robosuite with our solver options (pyramidal cone, impratio 1, no
    air); 'base' changes nothing. Returns what restores the model."""
    m, _ = rs_model(env)
    saved = (int(m.opt.cone), float(m.opt.impratio), float(m.opt.density), float(m.opt.viscosity))
    if variant == "opt":
        set_options(m, "ours")
    elif variant != "base":
        raise SystemExit(f"unknown trace variant {variant}")
    return saved


def rs_restore_variant(env, saved):
    m, _ = rs_model(env)
    m.opt.cone, m.opt.impratio, m.opt.density, m.opt.viscosity = saved


def part_frame_turn(key, env, ours, dataset, demo="demo_0", starts=(400,), steps=150):
    """ToolHang: does the frame, standing released in the stand, keep turning about the shaft? Our
    demo replayed by the harness up to step T; from that state the robot is frozen (arm and fingers
    held at their positions every physics step, so nothing touches the frame) and the physics runs
    on for `steps` control steps (25 substeps each) in MuJoCo 3.3 with our model and with
    robosuite's (objects and joints copied), each under several solver options. The hook's heading
    in the plane is logged; the harness's own continuation of the demo is logged beside it."""
    if key != "tool_hang":
        return {"skipped": "ToolHang only"}
    out = {"demo": demo, "steps": steps, "starts": {}}
    with h5py.File(os.path.join(ROOT, dataset), "r") as f:
        g = f["data"][demo]
        acts, meta, xml = g["actions_abs"][()], json.loads(g.attrs["ep_meta"]), g.attrs["model_file"]
        first_state = g["states"][0].tolist()
    mo = mujoco.MjModel.from_xml_string(xml)

    def heading(m, d):
        h = d.site_xpos[m.site("frame_intersection_site").id] - d.site_xpos[m.site("frame_hang_site").id]
        return math.degrees(math.atan2(h[1], h[0]))

    def robot_dofs(m, prefixes):
        q, v = [], []
        for j in range(m.njnt):
            n = mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_JOINT, j) or ""
            if n.startswith(prefixes):
                q.append(m.jnt_qposadr[j])
                v.append(m.jnt_dofadr[j])
        return q, v

    def frozen(m, d, prefixes, marks):
        iq, iv = robot_dofs(m, prefixes)
        q0, res = d.qpos[iq].copy(), {0: heading(m, d)}
        for k in range(1, steps + 1):
            for _ in range(25):
                mujoco.mj_step(m, d)
                d.qpos[iq], d.qvel[iv] = q0, 0
            if k in marks:
                res[k] = heading(m, d)
        return res

    marks = (5, 10, 25, 50, 100, 150)
    for t0 in starts:
        ours.ask("set_action_mode", mode="absolute")
        ours.ask("reset", seed=int(meta.get("seed", 0)))
        r = ours.ask("step", actions=acts[:t0].tolist(), states=True)
        s = np.array(r["states"][-1])
        entry = {"harness": {}, "ours_model": {}, "rs_model": {}}
        rest = ours.ask("step", actions=acts[t0:t0 + steps].tolist(), states=True)["states"]
        d_ = mujoco.MjData(mo)
        for k in (0,) + marks:
            if k <= len(rest):
                d_.qpos[:] = (s if k == 0 else np.array(rest[k - 1]))[1:1 + mo.nq]
                mujoco.mj_kinematics(mo, d_)
                entry["harness"][k] = heading(mo, d_)
        for opt in OPTIONS:
            m = mujoco.MjModel.from_xml_string(xml)
            set_options(m, opt)
            d = mujoco.MjData(m)
            d.qpos[:], d.qvel[:] = s[1:1 + m.nq], s[1 + m.nq:]
            mujoco.mj_forward(m, d)
            entry["ours_model"][opt] = frozen(m, d, ("robot0_joint", "gripper0_finger"), marks)
            place_like_ours(env, key, ours, {"state": first_state, "meta": meta})
            mr, dr = rs_model(env)
            saved = (int(mr.opt.cone), float(mr.opt.impratio), float(mr.opt.density), float(mr.opt.viscosity))
            set_options(mr, opt)
            for oj, rj in TASKS[key][3].items():
                jo, jr = mo.joint(oj), mr.joint(rj)
                dr.qpos[jr.qposadr[0]: jr.qposadr[0] + 7] = s[1 + jo.qposadr[0]: 1 + jo.qposadr[0] + 7]
                dr.qvel[jr.dofadr[0]: jr.dofadr[0] + 6] = s[1 + mo.nq + jo.dofadr[0]: 1 + mo.nq + jo.dofadr[0] + 6]
            for i in range(7):
                dr.qpos[mr.joint(f"robot0_joint{i + 1}").qposadr[0]] = s[1 + mo.joint(f"robot0_joint{i + 1}").qposadr[0]]
                dr.qvel[mr.joint(f"robot0_joint{i + 1}").dofadr[0]] = 0
            for i in range(2):
                dr.qpos[mr.joint(f"gripper0_right_finger_joint{i + 1}").qposadr[0]] = \
                    s[1 + mo.joint(f"gripper0_finger_joint{i + 1}").qposadr[0]]
            mujoco.mj_forward(mr, dr)
            entry["rs_model"][opt] = frozen(mr, dr, ("robot0_joint", "gripper0_right_finger"), marks)
            mr.opt.cone, mr.opt.impratio, mr.opt.density, mr.opt.viscosity = saved
        out["starts"][str(t0)] = entry
        log(f"frame_turn from step {t0}: harness {entry['harness']}; " +
            "; ".join(f"{w} {o}: {v[max(v)]:.2f}" for w in ("ours_model", "rs_model") for o, v in entry[w].items()))
    return out


def part_trace(key, env, ours, dataset, demos, variants, extra=100):
    """One demo stepped side by side with its absolute actions, every step logged: grip-site position
    and rotation difference, finger opening, object pose differences, and each simulator's stage
    flags (ToolHang: frame assembled, tool on frame; robosuite's sub-checks too); ours is also held
    against the demo's recorded states. After the demo the last action is held up to `extra` steps."""
    res = cache_load("trace", key) or {"runs": {}}
    path = os.path.join(ROOT, dataset)
    with h5py.File(path, "r") as f:
        for name in demos:
            g = f["data"][name]
            states, acts = g["states"][()], g["actions_abs"][()]
            meta = json.loads(g.attrs["ep_meta"])
            for variant in variants:
                run_key = f"{name}:{variant}"
                if run_key in res["runs"]:
                    continue
                t0 = time.time()
                ours.ask("set_action_mode", mode="absolute")
                ours.ask("reset", seed=int(meta.get("seed", 0)))
                ours.ask("set_state", state=states[0].tolist())
                place_like_ours(env, key, ours, {"state": states[0].tolist(), "meta": meta})
                rs_set_mode(env, "absolute")
                saved = rs_apply_variant(env, key, variant, dataset)
                steps = []
                succ_o = succ_r = None
                if key == "tool_hang":  # our model in this process, for our side's kinematic quantities
                    mo = mujoco.MjModel.from_xml_string(g.attrs["model_file"])
                    do = mujoco.MjData(mo)
                n_arms = len(env.robots)
                for t in range(len(acts) + extra):
                    a = acts[min(t, len(acts) - 1)]
                    r = ours.ask("step", action=a.tolist())
                    env.step(abs_to_rs(a))
                    o = r["obs"]
                    e = {"t": t + 1}
                    for k in range(n_arms):
                        p_rs, r_rs = rs_eef(env, k)
                        p_o = np.array(o[f"robot{k}_eef_pos"])
                        r_o = Rotation.from_quat(o[f"robot{k}_eef_quat"]).as_matrix()
                        g_o = o[f"robot{k}_gripper_qpos"]
                        g_r = [rs_qpos(env, f"gripper{k}_right_finger_joint{i}")[0] for i in (1, 2)]
                        e[f"eef{k}_cm"] = float(np.linalg.norm(p_rs - p_o) * 100)
                        e[f"eef{k}_deg"] = rot_angle_deg(r_o, r_rs)
                        e[f"grip{k}_mm"] = [float((g_o[0] - g_o[1]) * 1000), float((g_r[0] - g_r[1]) * 1000)]
                    for oj, rj in TASKS[key][3].items():
                        qo, qr = ours.qpos_of(r["state"], oj), rs_qpos(env, rj)
                        e[oj] = [float(np.linalg.norm(qr[:3] - qo[:3]) * 100),
                                 rot_angle_deg(quat_wxyz_to_mat(qo[3:]), quat_wxyz_to_mat(qr[3:]))]
                    if t + 1 < len(states):
                        e["ours_vs_demo"] = float(np.abs(np.array(r["state"][1:]) - states[t + 1][1:]).max())
                    if key == "tool_hang":
                        e["ours_flags"] = [bool(o["object"][42] > 0.5), bool(o["object"][43] > 0.5)]
                        e["rs_checks"] = rs_tool_hang_checks(env)
                        st = r["state"]
                        do.qpos[:], do.qvel[:] = st[1:1 + mo.nq], st[1 + mo.nq:]
                        mujoco.mj_forward(mo, do)
                        e["ours_geo"] = tool_hang_geometry(mo, do, "frame", "tool", "gripper0_grip_site")
                        # what touches our frame besides the stand (our model's contacts at this state)
                        fb, sb = mo.body("frame").id, mo.body("stand").id
                        touch = set()
                        for i in range(do.ncon):
                            b1 = mo.body_rootid[mo.geom_bodyid[do.contact[i].geom1]]
                            b2 = mo.body_rootid[mo.geom_bodyid[do.contact[i].geom2]]
                            if fb in (b1, b2):
                                other = b2 if b1 == fb else b1
                                if other != sb:
                                    touch.add(mujoco.mj_id2name(mo, mujoco.mjtObj.mjOBJ_BODY, other) or str(other))
                        e["ours_frame_touch"] = sorted(touch)
                        e["pad_frame_mm"] = [pad_frame_depth_mm(mo, do, ["gripper0_finger1_pad_collision",
                                                                          "gripper0_finger2_pad_collision"],
                                                                 frame_geoms(mo, "frame")),
                                             pad_frame_depth_mm(*rs_model(env), rs_pad_geoms(env),
                                                                list(env.frame.contact_geoms))]
                        e["rs_geo"] = tool_hang_geometry(*rs_model(env), "frame_root", "tool_root", "gripper0_right_grip_site")
                    if key == "transport":
                        e["rs_flags"] = [bool(env.transport.payload_in_target_bin), bool(env.transport.trash_in_trash_bin)]
                        e["ours_object"] = [float(x) for x in o["object"]]
                    e["ours_success"], e["rs_success"] = bool(r["success"]), bool(env._check_success())
                    if e["ours_success"] and succ_o is None:
                        succ_o = t + 1
                    if e["rs_success"] and succ_r is None:
                        succ_r = t + 1
                    steps.append(e)
                    if succ_o is not None and succ_r is not None:
                        break
                rs_restore_variant(env, saved)
                res["runs"][run_key] = {"len": len(acts), "ours_success_step": succ_o, "rs_success_step": succ_r,
                                        "steps": steps}
                log(f"trace {key} {run_key}: here success at {succ_o}, robosuite at {succ_r} "
                    f"(demo {len(acts)} steps), {time.time() - t0:.0f} s")
                cache_save("trace", key, res)
    return res


# ------------------------------------------------------------------------------------ (e) policy
def rs_lowdim_obs(env, key):
    """Our low-dim observation keys computed from robosuite's state (our conventions: grip site,
    quaternions xyzw with w >= 0, object pose and its pose in the grip-site frame)."""
    m, d = rs_model(env)
    p, R = rs_eef(env)
    q = Rotation.from_matrix(R).as_quat()
    if q[3] < 0:
        q = -q
    g = [float(rs_qpos(env, "gripper0_right_finger_joint1")[0]), float(rs_qpos(env, "gripper0_right_finger_joint2")[0])]
    b = m.body("SquareNut_main").id
    op, oR = np.array(d.xpos[b]), np.array(d.xmat[b]).reshape(3, 3)
    xq = d.xquat[b]
    oq = np.array([xq[1], xq[2], xq[3], xq[0]])  # as ours: the body quaternion's own sign (not w >= 0)
    rel_p = R.T @ (op - p)
    rq = Rotation.from_matrix(R.T @ oR).as_quat()
    if rq[3] < 0:
        rq = -rq
    obj = np.r_[op, oq, rel_p, rq]
    return {"object": obj.tolist(), "robot0_eef_pos": p.tolist(), "robot0_eef_quat": q.tolist(),
            "robot0_gripper_qpos": g}


def part_policy(key, env, ours, server, episodes, start_seed, here_csv):
    res = cache_load("policy", key) or {"episodes": []}
    done = {e["seed"] for e in res["episodes"]}
    spec = server.spec
    to = int(spec["spec"]["obs_steps"])
    keys = [k["key"] for k in spec["spec"]["obs"]]
    rs_set_mode(env, "absolute")
    here = {}
    if os.path.exists(here_csv):
        with open(here_csv) as f:
            for row in csv.DictReader(f):
                here[int(row["seed"])] = (int(row["success"]), int(row["steps"]))
    for seed in range(start_seed, start_seed + episodes):
        if seed in done:
            continue
        t0 = time.time()
        rep = ours.ask("reset", seed=seed)
        place_like_ours(env, key, ours, rep)
        rs_set_mode(env, "absolute")  # robosuite's reset rebuilds the controllers (delta input)
        hist = [rs_lowdim_obs(env, key)] * to
        succ, steps, req = False, 0, 0
        while steps < 400 and not succ:
            obs = {k: [h[k] for h in hist[-to:]] for k in keys}
            acts = server.request(obs=obs, seed=seed * 1000 + req)["actions"]
            req += 1
            for a in acts:
                env.step(abs_to_rs(np.array(a)))
                steps += 1
                hist.append(rs_lowdim_obs(env, key))
                if env._check_success():
                    succ = True
                    break
                if steps >= 400:
                    break
        res["episodes"].append({"seed": seed, "rs": succ, "rs_steps": steps,
                                "here": here.get(seed, (None, None))[0], "here_steps": here.get(seed, (None, None))[1]})
        log(f"policy {key} seed {seed}: robosuite {succ} ({steps} steps), here {here.get(seed)}, {time.time() - t0:.0f} s")
        cache_save("policy", key, res)
    res["to"] = to
    res["server"] = server.cmd
    return res


# ------------------------------------------------------------------------------------ report
def fmt(v, p=4):
    return f"{v:.{p}f}"


def report(tasks, args):
    rows, md = [], []
    versions = (f"robosuite {robosuite.__version__}, mujoco (python) {mujoco.__version__}, numpy {np.__version__}; "
                "ours: MuJoCo 2.2.2 through `build/harness/harness env`")
    md += ["# Lift, Can, Square, ToolHang, Transport: ours vs robosuite, side by side", "",
           f"Produced by `nice -n 10 .venv-peers/bin/python scripts/peers/robosuite_compare.py` ({versions}). "
           "Every number below is also in `robosuite.csv`. Parts are cached per task under "
           "`data/peers/robosuite_cache/`; a part missing below was not run (see README.md of this folder).", ""]

    def row(section, task, metric, value, target=""):
        rows.append({"section": section, "task": task, "metric": metric, "value": value, "target": target})

    # model facts
    mf = [(k, cache_load("model", k)) for k in tasks]
    mf = [(k, c) for k, c in mf if c and "skipped" not in c]
    if mf:
        md += ["## 0. Model facts (not behaviour): physics options and the Panda's inertials", "",
               "| task | option | ours | robosuite |", "|---|---|---|---|"]
        for k, c in mf:
            for o in ("cone", "impratio", "density", "viscosity", "iterations"):
                if c["opt_ours"][o] != c["opt_rs"][o]:
                    md.append(f"| {k} | {o} | {c['opt_ours'][o]} | {c['opt_rs'][o]} |")
                    row("model", k, f"opt.{o}", f"ours {c['opt_ours'][o]} / robosuite {c['opt_rs'][o]}")
        k, c = mf[0]
        lo, lr = c["links_ours"], c["links_rs"]
        md += ["", "Panda (the same in every task): link masses (kg) and diagonal inertias, ours / robosuite.", "",
               "| body | ours mass | ours inertia | robosuite mass | robosuite inertia |", "|---|---:|---|---:|---|"]
        for i in range(8):
            a, b = lo[f"link{i}"], lr[f"link{i}"]
            md.append(f"| link{i} | {a[0]:.3f} | {a[1]} | {b[0]:.3f} | {b[1]} |")
            row("model", k, f"link{i}.mass", f"ours {a[0]:.4f} / robosuite {b[0]:.4f}")
        md += ["", f"Arm + gripper mass: ours {lo['arm_mass']:.3f} kg, robosuite {lr['arm_mass']:.3f} kg; hand and "
               f"gripper (subtree of robot0_right_hand): ours {lo['hand_subtree_mass']:.3f} kg, robosuite "
               f"{lr['hand_subtree_mass']:.3f} kg. Hand mount on link 7: ours pos {np.round(lo['hand_pos'], 5).tolist()} "
               f"quat {np.round(lo['hand_quat'], 5).tolist()}, robosuite pos {np.round(lr['hand_pos'], 5).tolist()} "
               f"quat {np.round(lr['hand_quat'], 5).tolist()}.", ""]
        row("model", k, "arm_mass", f"ours {lo['arm_mass']:.4f} / robosuite {lr['arm_mass']:.4f}")
    # (a)
    md += ["## 1. Object placement over resets", "",
           "Ours: `reset` with seeds 0..N-1, the objects' free-joint poses. robosuite: N calls of the "
           "environment's placement sampler (`placement_initializer.sample()`, what its reset places). "
           "x, y, z in m (world), yaw in rad mod 2 pi, tilt = angle between the body z axis and world z (deg).", "",
           "| task | object | quantity | ours min .. max | robosuite min .. max |", "|---|---|---|---|---|"]
    same = []
    for key in tasks:
        c = cache_load("placement", key)
        if not c:
            continue
        for o in TASKS[key][3]:
            if o not in c["ours"] or o not in c["rs"]:
                continue
            a, b = c["ours"][o], c["rs"][o]
            for qn in ("x", "y", "z", "yaw", "tilt_deg"):
                md.append(f"| {key} | {o} | {qn} | {fmt(a[qn][0])} .. {fmt(a[qn][1])} | {fmt(b[qn][0])} .. {fmt(b[qn][1])} |")
                row("placement", key, f"{o}.{qn}.ours", f"{a[qn][0]:.5f}..{a[qn][1]:.5f}")
                row("placement", key, f"{o}.{qn}.robosuite", f"{b[qn][0]:.5f}..{b[qn][1]:.5f}")
        for o, s in c["same_draw"].items():
            same.append(f"| {key} | {o} | {s['n']} | {s['xy_max']:.2e} | {s['dz'][0]:+.4f} .. {s['dz'][1]:+.4f} | {s['rot_max_deg']:.3f} |")
            row("placement_same_draw", key, f"{o}.xy_max_m", f"{s['xy_max']:.3e}")
            row("placement_same_draw", key, f"{o}.dz_m", f"{s['dz'][0]:.4f}..{s['dz'][1]:.4f}")
            row("placement_same_draw", key, f"{o}.rot_max_deg", f"{s['rot_max_deg']:.4f}")
        if "rs_cube_half_sizes" in c:
            s = c["rs_cube_half_sizes"]
            md.append("")
            md.append(f"Lift cube half sizes: ours one size for all three axes, {c['our_cube_half_sizes'][0]:.5f} .. "
                      f"{c['our_cube_half_sizes'][1]:.5f}; robosuite ({s['count']} BoxObject draws) each axis on its own, "
                      f"min {np.round(s['min'], 5).tolist()}, max {np.round(s['max'], 5).tolist()}, largest axis ratio {s['max_aspect']:.3f}.")
            md.append("")
            row("placement", "lift", "rs_cube_max_axis_ratio", f"{s['max_aspect']:.4f}")
        n = c["n"]
    if "transport" in tasks:
        md += ["", "Transport: robosuite's sampler draws the lid, payload and trash about the table's centre and its "
               "reset then moves them to their bins (ours draws and discards the same values), so their x rows "
               "above differ by construction; the same-draw table below compares the placed poses (the "
               "hammer's head flip, HammerObject.init_quat, pinned to ours as well). Bin and lid "
               "z differ by the body origin (robosuite's bin origin is its box centre, ours the base plate); "
               "the payload's z row is robosuite's sampler value, before its reset adds the bin's wall "
               "thickness (0.01)."]
    if same:
        md += ["", "The same draws in both (seeds 0..49: our drawn position and angle handed to robosuite's samplers "
               "with their ranges pinned, then robosuite's reset): pose difference robosuite - ours.", "",
               "| task | object | seeds | max abs x/y diff (m) | z diff (m) | max rotation diff (deg) |",
               "|---|---|---:|---:|---:|---:|"] + same + [""]
    c = cache_load("settle", "square")
    if c and "seeds" in c:
        v = c["seeds"]
        f = lambda k: (float(np.median([e[k] for e in v])), float(np.max([e[k] for e in v])))  # noqa: E731
        md += [f"Square's nut starts at z {v[0]['start_z'][0]:.3f} here and {v[0]['start_z'][1]:.3f} in robosuite (same x, y, "
               f"yaw). Both from the same {len(v)} draws, robots held still for {c['steps']} steps (median / max):", "",
               "| | ours | robosuite |", "|---|---:|---:|",
               f"| planar move while settling (mm) | {f('ours_xy_move')[0] * 1000:.3f} / {f('ours_xy_move')[1] * 1000:.3f} | "
               f"{f('rs_xy_move')[0] * 1000:.3f} / {f('rs_xy_move')[1] * 1000:.3f} |",
               f"| turn while settling (deg) | {f('ours_turn_deg')[0]:.3f} / {f('ours_turn_deg')[1]:.3f} | "
               f"{f('rs_turn_deg')[0]:.3f} / {f('rs_turn_deg')[1]:.3f} |",
               f"| settled z (m) | {f('ours_z')[0]:.4f} | {f('rs_z')[0]:.4f} |", "",
               f"Settled pose, robosuite - ours: planar {f('settled_xy_diff')[0] * 1000:.3f} / {f('settled_xy_diff')[1] * 1000:.3f} mm, "
               f"rotation {f('settled_rot_diff_deg')[0]:.3f} / {f('settled_rot_diff_deg')[1]:.3f} deg.", ""]
        for k2 in ("rs_xy_move", "rs_turn_deg", "settled_xy_diff", "settled_rot_diff_deg"):
            row("settle", "square", k2 + ".median_max", f"{f(k2)[0]:.5f}/{f(k2)[1]:.5f}")
    # (b)
    md += ["## 2. Controller: one 40-step delta sequence", "",
           "Both from our reset seed 0 (robosuite's joints set to ours, goals reset to the current pose), "
           "OSC_POSE delta input in the world frame (kp 150, damping ratio 1, output 0.05 m / 0.5 rad). "
           "Steps 1-10 +x 0.6, 11-20 -y 0.6 and -z 0.4, 21-30 turn z 0.6 and x 0.3, 31-40 +z 0.5 with the "
           "gripper closing (open before). Error: |grip site robosuite - ours| (cm) and the angle between "
           "the grip-site rotations (deg).", ""]
    for key in tasks:
        c = cache_load("controller", key)
        if not c:
            continue
        md += [f"**{key}**: at step 0 (kinematics only) {c['step0'][0]:.4f} cm, {c['step0'][1]:.4f} deg.", "",
               "| step | pos error (cm) | rot error (deg) |", "|---:|---:|---:|"]
        for s in c["steps"]:
            if s["t"] in (1, 2, 5, 10, 15, 20, 25, 30, 35, 40):
                md.append(f"| {s['t']} | {s['pos_cm']:.3f} | {s['rot_deg']:.3f} |")
            row("controller", key, f"step{s['t']}.pos_cm", f"{s['pos_cm']:.4f}", "<= 1 cm at 40")
            row("controller", key, f"step{s['t']}.rot_deg", f"{s['rot_deg']:.4f}", "<= 3 deg at 40")
        mx = max(s["pos_cm"] for s in c["steps"])
        mr = max(s["rot_deg"] for s in c["steps"])
        md += ["", f"Max over the 40 steps: {mx:.3f} cm, {mr:.3f} deg.", ""]
        co, cr = c["close_ours"], c["close_rs"]
        md += ["Gripper closing (arm held, 30 steps 'open' then 40 'close'; finger opening = finger1 - finger2 qpos):", "",
               "| | open (mm) | closed (mm) | steps to 90 % | steps to within 0.5 mm |", "|---|---:|---:|---:|---:|",
               f"| ours | {co['open_gap_mm']:.2f} | {co['closed_gap_mm']:.2f} | {co['steps_to_90pct']} | {co['steps_to_0.5mm']} |",
               f"| robosuite | {cr['open_gap_mm']:.2f} | {cr['closed_gap_mm']:.2f} | {cr['steps_to_90pct']} | {cr['steps_to_0.5mm']} |", ""]
        for side, cc in (("ours", co), ("robosuite", cr)):
            for k2, v in cc.items():
                row("gripper", key, f"{side}.{k2}", v)
    # (c)
    md += ["## 3. Camera views at matched poses", "",
           "Our reset (seed 3) and robosuite placed like it (objects, robot joints); each camera rendered "
           "at our observation size (robosuite with `mujoco.Renderer`, OSMesa). Left ours, right robosuite. "
           "Mean abs pixel difference (0..255) is dominated by materials and lighting (our models use our "
           "own materials, no robosuite textures), not by geometry.", "",
           "| task | PNG | camera: mean abs pixel diff |", "|---|---|---|"]
    for key in tasks:
        c = cache_load("views", key)
        if not c:
            continue
        md.append(f"| {key} | [{os.path.basename(c['png'])}]({os.path.basename(c['png'])}) | "
                  + ", ".join(f"{k}: {v:.1f}" for k, v in c["mean_abs_pixel_diff"].items()) + " |")
        for k2, v in c["mean_abs_pixel_diff"].items():
            row("views", key, f"{k2}.mean_abs_pixel_diff", f"{v:.2f}")
    md.append("")
    # (d)
    md += ["## 4. Our PH demonstrations replayed open-loop in robosuite", "",
           "Each demo's first state in both (robosuite: objects as in section 1's same-draw placement, Lift/Can/"
           "Square free joints copied exactly, the robots' joints copied), then its `actions_abs` (position, "
           "rotation-6d -> axis-angle, gripper) as robosuite's absolute OSC_POSE input in the world frame. "
           "Success: at any step (robosuite's `_check_success`, ours `evaluate`); 'here' is the same replay in ours.", "",
           "Our demos end at their first successful step, so both simulators then hold the last action for up "
           "to 30 more steps ('held'); 'steps held' is how many robosuite needed (median / max over the demos "
           "that needed any; recorded from the runs that logged it).", "",
           "| task | demos | success here | success robosuite | ratio | here, held | robosuite, held | ratio held | "
           "steps held (robosuite) | target |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---|---|"]
    for key in tasks:
        c = cache_load("replay", key)
        if not c or not c.get("demos"):
            continue
        ds = c["demos"]
        so, sr = sum(d["ours"] for d in ds), sum(d["rs"] for d in ds)
        ratio = sr / so if so else float("nan")
        sh = sum(d.get("rs_hold", d["rs"]) for d in ds)
        oh = sum(d.get("ours_hold", d["ours"]) for d in ds)
        hs = [d["rs_hold_steps"] for d in ds if d.get("rs_hold_steps")]
        hs_txt = f"{int(np.median(hs))} / {max(hs)} ({len(hs)} demos)" if hs else "-"
        md.append(f"| {key} | {len(ds)} | {so} ({so / len(ds):.0%}) | {sr} ({sr / len(ds):.0%}) | {ratio:.2f} | "
                  f"{oh} ({oh / len(ds):.0%}) | {sh} ({sh / len(ds):.0%}) | {sh / oh if oh else float('nan'):.2f} | "
                  f"{hs_txt} | >= 0.80 |")
        row("replay", key, "success_robosuite_hold30", sh)
        row("replay", key, "success_here_hold30", oh)
        row("replay", key, "demos", len(ds))
        row("replay", key, "success_here", so)
        row("replay", key, "success_robosuite", sr, ">= 0.8 x here")
        if hs:
            row("replay", key, "robosuite_hold_steps_median_max", f"{int(np.median(hs))}/{max(hs)}")
        both = [d for d in ds if d["ours"] and d["rs"]]
        if both:
            row("replay", key, "median_step_diff", float(np.median([d["rs_step"] - d["ours_step"] for d in both])))
    for key, a, b, what in (("tool_hang", "rs_frame_assembled_end", "rs_tool_on_frame_end", "frame assembled, tool on frame"),
                            ("transport", "rs_payload_in_bin_end", "rs_trash_in_bin_end", "payload in target bin, trash in trash bin")):
        c = cache_load("replay", key) if key in tasks else None
        if not c:
            continue
        miss = [d for d in c["demos"] if not d.get("rs_hold", d["rs"]) and a in d]
        if miss:
            na, nb = sum(d[a] for d in miss), sum(d[b] for d in miss)
            md += ["", f"{key}: of the {len(miss)} replays that fail in robosuite even held (among those that logged "
                   f"it), after the held steps robosuite has {what}: {na} / {len(miss)} and {nb} / {len(miss)}."]
            row("replay", key, f"failed_held.{a}", f"{na}/{len(miss)}")
            row("replay", key, f"failed_held.{b}", f"{nb}/{len(miss)}")
    md.append("")
    # (d'') self replay
    sr_rows = [(k, cache_load("selfreplay", k)) for k in tasks]
    sr_rows = [(k, c) for k, c in sr_rows if c and c.get("demos")]
    if sr_rows:
        md += ["### 4a. The same demos replayed in our own simulator (part `selfreplay`)", "",
               "From each demo's first state (reset with its seed, then `set_state`), its delta `actions` (what "
               "the expert sent while collecting) and its `actions_abs` (what section 4 sends robosuite); "
               "'delta_reset_only' replays the delta actions after the reset alone (no `set_state`; before "
               "README gap 13's fix a few demos parted from the recorded states after it). 'exact' "
               "counts demos whose every state equals the recorded one bit for bit; 'max diff' is the largest "
               "absolute difference from the recorded states (any qpos / qvel entry).", "",
               "| task | demos | mode | exact | max diff | first step > 1e-6 (median) | success at the last step | "
               "success after holding | steps held (max) |", "|---|---:|---|---:|---:|---:|---:|---:|---:|"]
        for k, c in sr_rows:
            ds = c["demos"]
            for mode in ("delta", "absolute", "delta_reset_only"):
                if mode not in ds[0]:
                    continue
                v = [d[mode] for d in ds]
                ex = sum(x["first_diff_step"] is None for x in v)
                f6 = [x["first_step_over_1e-6"] for x in v if x["first_step_over_1e-6"]]
                se = sum(x["success_at_end"] for x in v)
                hs = [x["hold_steps"] for x in v if x["hold_steps"]]
                label = mode
                if mode == "delta_reset_only":
                    same = sum(x.get("start_diff", 0) == 0 for x in v)
                    label += f" (reset = recorded start: {same} / {len(v)})"
                md.append(f"| {k} | {len(ds)} | {label} | {ex} | {max(x['max_state_diff'] for x in v):.1e} | "
                          f"{int(np.median(f6)) if f6 else '-'} ({len(f6)} demos) | {se} | {se + len(hs)} | "
                          f"{max(hs) if hs else '-'} |")
                row("selfreplay", k, f"{mode}.exact", f"{ex}/{len(ds)}")
                row("selfreplay", k, f"{mode}.success_at_end", f"{se}/{len(ds)}")
                row("selfreplay", k, f"{mode}.max_state_diff", f"{max(x['max_state_diff'] for x in v):.3e}")
        md.append("")
    # (d') trace
    c = cache_load("trace", "tool_hang") if "tool_hang" in tasks else None
    if c and c.get("runs"):
        md += ["### 4b. ToolHang demos stepped side by side (part `trace`)", "",
               "Both from the demo's first state with its absolute actions, every step logged, then the last action "
               "held up to 100 steps. Hook heading: direction of the frame's hook (hang site -> intersection site) "
               "in the table plane (deg); hole-line: distance of the tool's hole centre from the hook's line (mm; "
               "robosuite's check (3) needs < 5.25 mm); frame / tool: robosuite's `_check_frame_assembled` parts "
               "(upright, tip near base, between walls) and `_check_tool_on_frame` parts (no gripper contact, "
               "hole touches hook, near its line, both sides, inserted 5 %); ours: `object[42]`, `object[43]` "
               "(frame assembled, tool on frame). 'base' is robosuite as it is; 'opt' robosuite with our solver "
               "options (pyramidal cone, impratio 1, no air).", ""]
        order = lambda kv: (int(kv[0].split(":")[0].split("_")[1]), kv[0].split(":")[1] != "base")  # noqa: E731
        for run, rr in sorted(c["runs"].items(), key=order):
            S = rr["steps"]
            first = lambda cond: next((e["t"] for e in S if cond(e)), None)  # noqa: E731
            spans = []  # runs of steps in which something other than the stand touches our frame
            for e in S:
                who = tuple(e.get("ours_frame_touch", ()))
                if who and spans and spans[-1][1] == e["t"] - 1 and spans[-1][2] == who:
                    spans[-1][1] = e["t"]
                elif who:
                    spans.append([e["t"], e["t"], who])
            if any("ours_frame_touch" in e for e in S):
                md += [f"**{run}**: our frame touched by anything but the stand (steps: bodies): " +
                       "; ".join(f"{a}-{b}: {', '.join(w)}" for a, b, w in spans if b - a >= 2) + " (spans of 3+ steps).", ""]
            md += [f"**{run}** ({rr['len']} steps): success here at step {rr['ours_success_step']}, robosuite at "
                   f"{rr['rs_success_step']}; grip site > 1 cm apart first at step "
                   f"{first(lambda e: e['eef0_cm'] > 1)}, frame > 1 cm at {first(lambda e: e['frame_joint0'][0] > 1)}, "
                   f"tool > 1 cm at {first(lambda e: e['tool_joint0'][0] > 1)}; frame assembled first at "
                   f"{first(lambda e: e['ours_flags'][0])} here, {first(lambda e: all(e['rs_checks']['frame']))} in "
                   f"robosuite; our replay vs the recorded states: max "
                   f"{max(e.get('ours_vs_demo', 0) for e in S):.1e}.", "",
                   "| step | hook heading ours / rs (deg) | hole-line ours / rs (mm) | finger opening ours / rs (mm) | "
                   "frame ours / rs | tool ours / rs | frame pos / rot diff (cm, deg) | tool pos diff (cm) |",
                   "|---:|---|---|---|---|---|---|---|"]
            marks = {50, 100, 200, 275, 300, 375, 400, 450, 500, rr["len"], rr["len"] + 4, rr["len"] + 50}
            for e in S:
                if e["t"] in marks:
                    o, q, k = e["ours_geo"], e["rs_geo"], e["rs_checks"]
                    md.append(f"| {e['t']} | {o['hook_heading_deg']:.1f} / {q['hook_heading_deg']:.1f} | "
                              f"{o['hole_line_mm']:.1f} / {q['hole_line_mm']:.1f} | {e['grip0_mm'][0]:.1f} / "
                              f"{e['grip0_mm'][1]:.1f} | {int(e['ours_flags'][0])} / "
                              f"{''.join(str(int(x)) for x in k['frame'])} | {int(e['ours_flags'][1])} / "
                              f"{''.join(str(int(x)) for x in k['tool'])} | {e['frame_joint0'][0]:.2f}, "
                              f"{e['frame_joint0'][1]:.1f} | {e['tool_joint0'][0]:.2f} |")
            md.append("")
            row("trace", "tool_hang", f"{run}.success_step_here", rr["ours_success_step"])
            row("trace", "tool_hang", f"{run}.success_step_robosuite", rr["rs_success_step"])
    c = cache_load("trace", "transport") if "transport" in tasks else None
    if c and c.get("runs"):
        md += ["### 4b'. Transport demos stepped side by side (part `trace`)", "",
               "As 4b, for Transport: both grip sites, the hammer (payload) and the trash, and robosuite's two "
               "success terms (payload in the target bin, trash in the trash bin). Pose differences: position "
               "(cm) and rotation (deg) of robosuite's body against ours (the lid's and bins' z differ by their "
               "body origins, section 1).", "",
               "| demo | steps | success here / robosuite | first step > 2 cm apart: robot0 grip, robot1 grip, payload, "
               "trash | payload diff at the demo's end (cm, deg) | robosuite at the end: payload in bin, trash in bin |",
               "|---|---:|---|---|---|---|"]
        for run, rr in c["runs"].items():
            S = rr["steps"]
            first = lambda cond: next((e["t"] for e in S if cond(e)), "-")  # noqa: E731
            end = S[min(rr["len"], len(S)) - 1]
            last = S[-1]
            md.append(f"| {run} | {rr['len']} | {rr['ours_success_step']} / {rr['rs_success_step']} | "
                      f"{first(lambda e: e['eef0_cm'] > 2)}, {first(lambda e: e['eef1_cm'] > 2)}, "
                      f"{first(lambda e: e['payload_joint0'][0] > 2)}, {first(lambda e: e['trash_joint0'][0] > 2)} | "
                      f"{end['payload_joint0'][0]:.2f}, {end['payload_joint0'][1]:.1f} | "
                      f"{last['rs_flags'][0]}, {last['rs_flags'][1]} (step {last['t']}) |")
        md.append("")
    for key in [k for k in tasks if k in ("lift", "can", "square")]:
        c = cache_load("trace", key)
        if not c or not c.get("runs"):
            continue
        obj = next(iter(TASKS[key][3]))
        md += [f"### 4b''. {key}: demos stepped side by side (part `trace`)", "",
               "| demo | step | grip site diff (cm, deg) | finger opening ours / robosuite (mm) | object diff (cm, deg) |",
               "|---|---:|---|---|---|"]
        for run, rr in c["runs"].items():
            for e in rr["steps"]:
                if e["t"] % 20 == 0 or e["t"] == rr["len"]:
                    md.append(f"| {run} | {e['t']} | {e['eef0_cm']:.2f}, {e['eef0_deg']:.1f} | {e['grip0_mm'][0]:.1f} / "
                              f"{e['grip0_mm'][1]:.1f} | {e[obj][0]:.2f}, {e[obj][1]:.1f} |")
            md.append(f"| {run} | success | here at step {rr['ours_success_step']}, robosuite at {rr['rs_success_step']} "
                      f"(demo {rr['len']} steps, held up to 100 more) | | |")
        md.append("")
    c = cache_load("frame_turn", "tool_hang") if "tool_hang" in tasks else None
    if c and c.get("starts"):
        md += ["### 4c. The released frame turning in the stand (part `frame_turn`)", "",
               f"{c['demo']}'s state after step T from our harness; from there the robot is frozen (arm and "
               "fingers reset to their positions after every physics step; nothing touches the frame) and the "
               "physics runs on in MuJoCo 3.3, in our model and in robosuite's (objects and joints copied), under "
               "each set of solver options. Hook heading (deg) after k control steps; 'harness' is our own "
               "continuation of the demo (robot moving, MuJoCo 2.2.2).", ""]
        for t0, ent in c["starts"].items():
            ks = sorted(int(k) for k in next(iter(ent["ours_model"].values())))
            md += [f"From step {t0}:", "", "| model | options (cone, impratio, air) | " +
                   " | ".join(f"+{k}" for k in ks) + " |", "|---|---|" + "---:|" * len(ks)]
            md.append("| harness (ours, 2.2.2) | ours | " + " | ".join(
                f"{ent['harness'][str(k)]:.2f}" if str(k) in ent["harness"] else "-" for k in ks) + " |")
            for w, label in (("ours_model", "ours"), ("rs_model", "robosuite")):
                for opt, v in ent[w].items():
                    cone, imp, dens, _ = OPTIONS[opt]
                    md.append(f"| {label} | {opt}: {['pyramidal', 'elliptic'][cone]}, {imp:g}, "
                              f"{'air' if dens else 'no air'} | " + " | ".join(f"{v[str(k)]:.2f}" for k in ks) + " |")
                    row("frame_turn", "tool_hang", f"from{t0}.{w}.{opt}.turn_deg_after_{ks[-1]}",
                        f"{v[str(ks[-1])] - v['0']:.3f}")
            md.append("")
    # (e)
    md += ["## 5. Our Square-ph Diffusion Policy inside robosuite", ""]
    c = cache_load("policy", "square")
    if c and c.get("episodes"):
        eps = c["episodes"]
        sr = sum(e["rs"] for e in eps)
        sh = [e["here"] for e in eps if e["here"] is not None]
        md += [f"`runs/gap/square-ph/dp-ddpm` (cpu preset, low-dim, sampler ddim:10) through `harness serve`; "
               f"robosuite reset to our evaluation seeds' start states ({eps[0]['seed']}..{eps[-1]['seed']}), "
               "observations computed from robosuite's state in our conventions, the returned chunk (8 steps) "
               "executed as absolute OSC_POSE input, up to 400 steps, success at any step. 'here' is the same "
               "checkpoint's final evaluation on the same seeds (`eval_final_ddim:10.csv`).", "",
               "| | episodes | success |", "|---|---:|---:|",
               f"| here | {len(sh)} | {sum(sh)} ({sum(sh) / max(1, len(sh)):.2f}) |",
               f"| robosuite | {len(eps)} | {sr} ({sr / len(eps):.2f}) |", ""]
        row("policy", "square", "episodes", len(eps))
        row("policy", "square", "success_robosuite", f"{sr / len(eps):.3f}", "within 0.15 of here")
        row("policy", "square", "success_here", f"{sum(sh) / max(1, len(sh)):.3f}")
    else:
        md += ["Not run (see README.md of this folder).", ""]
    # (f)
    md += ["## 6. Success rules near the boundary", "",
           "Object poses set in both (no physics), then our `evaluate` and robosuite's `_check_success`. Lift: "
           "cube height 3.5..4.5 cm above the table; Can: around the edges of bin 2's region; Square: around "
           "the 3 cm square about the peg and the 5 cm height. The gripper stays at the reset pose (far).", "",
           "| task | poses | agree | success ours | success robosuite |", "|---|---:|---:|---:|---:|"]
    for key in tasks:
        c = cache_load("rules", key)
        if not c or "skipped" in c:
            continue
        md.append(f"| {key} | {c['cases']} | {c['agree']} | {c['success_ours']} | {c['success_rs']} |")
        row("rules", key, "agree", f"{c['agree']}/{c['cases']}", "all")
    md.append("")
    os.makedirs(OUT, exist_ok=True)
    write_atomic(os.path.join(OUT, "robosuite.md"), "\n".join(md) + "\n")
    import io
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["section", "task", "metric", "value", "target"])
    w.writeheader()
    w.writerows(rows)
    write_atomic(os.path.join(OUT, "robosuite.csv"), buf.getvalue())
    log("wrote results/peers/robosuite.md and robosuite.csv")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tasks", default="lift,can,square,tool_hang,transport")
    ap.add_argument("--parts", default="model,placement,settle,controller,views,rules,replay,policy")
    ap.add_argument("--harness", default=os.path.join(ROOT, "build", "harness", "harness"))
    ap.add_argument("--resets", type=int, default=1000)
    ap.add_argument("--replays", type=int, default=100)
    ap.add_argument("--episodes", type=int, default=50)
    ap.add_argument("--ckpt", default=os.path.join(ROOT, "runs", "gap", "square-ph", "dp-ddpm"))
    ap.add_argument("--sampler", default="ddim:10")
    ap.add_argument("--selfreplays", type=int, default=20, help="part selfreplay: demos per task")
    ap.add_argument("--trace-demos", default="demo_0", help="part trace: demos stepped side by side")
    ap.add_argument("--trace-variants", default="base", help="part trace: base, opt (see rs_apply_variant)")
    ap.add_argument("--fresh", action="store_true", help="recompute cached parts")
    ap.add_argument("--report-only", action="store_true")
    ap.add_argument("--dataset", help="our dataset for every task named (default: DATASETS); no report")
    ap.add_argument("--cache", help="cache folder (default data/peers/robosuite_cache); no report")
    ap.add_argument("--summary", action="store_true", help="print the replay counts of the cache and stop")
    args = ap.parse_args()
    global CACHE
    if args.cache:
        CACHE = os.path.join(ROOT, args.cache)
    if args.dataset:
        for k in DATASETS:
            DATASETS[k] = args.dataset
    tasks = [t for t in args.tasks.split(",") if t]
    parts = [p for p in args.parts.split(",") if p]
    if args.summary:
        return replay_summary(tasks)
    if not args.report_only:
        for key in tasks:
            todo = [p for p in parts if (p != "policy" or key == "square")
                    and (args.fresh or p in ("replay", "policy", "trace") or cache_load(p, key) is None)]
            if not todo:
                continue
            env = rs_make(key)
            ours = OurEnv(args.harness, TASKS[key][0])
            for p in todo:
                t0 = time.time()
                log(f"{key}: {p} ...")
                if p == "model":
                    out = part_model(key, env)
                elif p == "settle":
                    out = part_settle(key, env, ours)
                elif p == "placement":
                    out = part_placement(key, env, ours, args.resets)
                elif p == "controller":
                    out = part_controller(key, env, ours)
                elif p == "views":
                    out = part_views(key, env, ours)
                elif p == "rules":
                    out = part_rules(key, env, ours)
                elif p == "selfreplay":
                    out = part_selfreplay(key, ours, DATASETS[key], args.selfreplays)
                elif p == "frame_turn":
                    out = part_frame_turn(key, env, ours, DATASETS[key])
                elif p == "trace":
                    out = part_trace(key, env, ours, DATASETS[key], args.trace_demos.split(","),
                                     args.trace_variants.split(","))
                elif p == "replay":
                    out = part_replay(key, env, ours, args.replays, DATASETS[key])
                elif p == "policy":
                    server = OurServer(args.harness, args.ckpt, args.sampler)
                    out = part_policy(key, env, ours, server, args.episodes, 100000,
                                      os.path.join(args.ckpt, f"eval_final_{args.sampler}.csv"))
                    server.close()
                else:
                    raise SystemExit(f"unknown part {p}")
                cache_save(p, key, out)
                log(f"{key}: {p} done in {time.time() - t0:.0f} s")
            ours.close()
            env.close()
    if args.dataset or args.cache:
        log("side run (--dataset / --cache): no report written; --summary prints the replay counts")
        return replay_summary(tasks)
    report(tasks, args)


def replay_summary(tasks):
    """Replay counts of the cache in use: successes within the demo's length and with the last
    action held, here and in robosuite; ToolHang / Transport: the stage robosuite ended in."""
    for key in tasks:
        c = cache_load("replay", key)
        if not c or "demos" not in c:
            print(f"{key}: no replay cached in {CACHE}")
            continue
        ds = c["demos"]
        n = len(ds)
        cnt = lambda f: sum(1 for d in ds if f(d))  # noqa: E731
        line = (f"{key}: {n} demos; here {cnt(lambda d: d['ours'])} within the length, {cnt(lambda d: d['ours_hold'])} held; "
                f"robosuite {cnt(lambda d: d['rs'])} within, {cnt(lambda d: d['rs_hold'])} held")
        if key == "tool_hang":
            fail = [d for d in ds if not d["rs_hold"]]
            line += (f"; of robosuite's {len(fail)} held failures the frame is assembled at the end in "
                     f"{sum(1 for d in fail if d.get('rs_frame_assembled_end'))} (tool stage failed), "
                     f"not in {sum(1 for d in fail if not d.get('rs_frame_assembled_end'))} (frame stage failed)")
        print(line)
        for d in ds:
            print(f"  {d['demo']}: len {d['len']} here {d['ours']} ({d['ours_step']}) held {d['ours_hold']}; robosuite "
                  f"{d['rs']} ({d['rs_step']}) held {d['rs_hold']} ({d['rs_hold_steps']})"
                  + (f" frame_end {d.get('rs_frame_assembled_end')} tool_end {d.get('rs_tool_on_frame_end')}"
                     if key == "tool_hang" else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
