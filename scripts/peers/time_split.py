#!/usr/bin/env python3
"""Profiles where each side of speed.py's comparison spends its time (issue 19, item 6).

Theirs: cProfile over N env steps of robosuite 1.5.1 (Lift, NutAssemblySquare, TwoArmTransport;
OSC_POSE; no cameras, and the policy cameras at 84x84), gym-pusht (state, 96x96 image) and over
batch-1 select_action calls of LeRobot's DiffusionPolicy with our cpu preset's U-Net dims. Each
function's own time goes to the bucket of its innermost caller that opens a bucket (mj_step1/2 ->
physics, robot.control -> controller, ...), split by callers as cProfile records them; the bucket's
share run inside C (MuJoCo, numpy, torch, pymunk builtins) is kept apart. Ours: `harness bench sim`
(physics / control / render / other per task, µs per physics substep, ms per frame) and
`harness bench policy`. Every measurement is its own process, pinned and niced as speed.py's
(Runner). Writes results/peers/profile.md and profile.csv.

  .venv-lerobot/bin/python scripts/peers/time_split.py [--steps 300] [--harness /tmp/profile_harness]
"""
import argparse
import csv
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

# This file's name shadows the standard library's profile module, which cProfile imports: import
# cProfile with this folder off the path, then put it back for speed.py.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
import cProfile  # noqa: E402
import pstats  # noqa: E402

sys.path.insert(0, str(HERE))
import speed  # noqa: E402  (env builders, networks, the pinned runner)

ROOT = speed.ROOT
PY_TASKS = ["lift-ph", "square-ph", "transport-ph"]

# Bucket openers, first match wins: (bucket, file pattern, function pattern) on cProfile's keys.
ROBOSUITE_RULES = [
    ("physics (mj_step1/2)", r"^~$", r"\bmj_(step1|step2|step|forward)\b"),
    ("rendering", r"utils/binding_utils\.py$", r"^(render|read_pixels)$"),
    ("controller (OSC, gripper)", r"robosuite/robots/.*\.py$", r"^control$"),
    ("observables", r"environments/base\.py$", r"^(_update_observables|_get_observations)$"),
    ("reward / success", r"robosuite/environments/", r"^(_post_action|reward|_check_success)$"),
    ("step loop, Python", r"environments/base\.py$", r"^step$"),
]
PUSHT_RULES = [
    ("physics (pymunk Space.step)", r"pymunk/space\.py$", r"^step$"),
    ("rendering (pygame + cv2)", r"gym_pusht/envs/pusht\.py$", r"^_render$"),
    ("reward (shapely coverage)", r"gym_pusht/envs/pusht\.py$", r"^_get_coverage$"),
    ("observation / info", r"gym_pusht/envs/pusht\.py$", r"^(get_obs|_get_info)$"),
    ("step loop, PD control (Python)", r"gym_pusht/envs/pusht\.py$", r"^step$"),
    ("gymnasium wrappers", r"gymnasium/", r".*"),
]
# The cpu preset's observations are low-dim: every nn.Module call under select_action is the U-Net's.
POLICY_RULES = [
    ("noise scheduler (diffusers)", r"diffusers/schedulers/", r".*"),
    ("U-Net forward", r"torch/nn/modules/module\.py$", r"^(_call_impl|_wrapped_call_impl)$"),
    ("conditioning", r"diffusion/modeling_diffusion\.py$", r"^_prepare_global_conditioning$"),
    ("select_action / sampler loop", r"policies/", r"^(select_action|predict_action_chunk|generate_actions|conditional_sample)$"),
]
OUTSIDE = "other Python"


def timer():
    return cProfile.Profile(time.process_time_ns, 1e-9)


def bucket_times(prof, rules, plain_s):
    """{bucket: [seconds, seconds in C builtins]} over the profile; each function's own time goes to
    its innermost bucket opener, weighted over its callers by cProfile's per-caller times. The
    profiler's own cost (profiled minus plain CPU time) comes off first, the same per call event
    (each call is one event of the callee and one of its caller)."""
    st = dict(pstats.Stats(prof).stats)  # (file, line, func) -> (cc, nc, tt, ct, {caller: (cc, nc, tt, ct)})
    made = {}
    for k, v in st.items():
        for c, edge in v[4].items():
            made[c] = made.get(c, 0) + edge[1]
    events = {k: v[1] + made.get(k, 0) for k, v in st.items()}
    per_event = max(0.0, sum(v[2] for v in st.values()) - plain_s) / max(1, sum(events.values()))
    for k, (cc, nc, tt, ct, callers) in list(st.items()):
        r = max(0.0, tt - per_event * events[k]) / tt if tt > 0 else 0.0
        st[k] = (cc, nc, tt * r, ct, {c: (e[0], e[1], e[2] * r, e[3]) for c, e in callers.items()})
    compiled = [(b, re.compile(fp), re.compile(fn)) for b, fp, fn in rules]

    def opener(key):
        return next((b for b, fp, fn in compiled if fp.search(key[0]) and fn.search(key[2])), None)

    roots = {k: opener(k) for k in st}
    ctx = {k: ({roots[k]: 1.0} if roots[k] else {}) for k in st}
    for _ in range(60):  # fixed point through cycles (caller distributions propagate downwards)
        for k, (_, _, _, _, callers) in st.items():
            if roots[k]:
                continue
            acc, w = {}, 0.0
            for c, edge in callers.items():
                dist = ctx.get(c) or {OUTSIDE: 1.0}
                for b, f in dist.items():
                    acc[b] = acc.get(b, 0.0) + edge[3] * f
                w += edge[3]
            ctx[k] = {b: v / w for b, v in acc.items()} if w > 0 else {OUTSIDE: 1.0}
    out = {}
    for k, (_, _, tt, _, callers) in st.items():
        builtin = k[0] == "~"
        if roots[k]:
            parts = [(tt, {roots[k]: 1.0})]
        elif callers:
            parts = [(edge[2], ctx.get(c) or {OUTSIDE: 1.0}) for c, edge in callers.items()]
        else:
            parts = [(tt, {OUTSIDE: 1.0})]
        for t, dist in parts:
            for b, f in dist.items():
                slot = out.setdefault(b, [0.0, 0.0])
                slot[0] += t * f
                slot[1] += t * f if builtin else 0.0
    top = sorted(st.items(), key=lambda kv: -kv[1][2])[:6]
    return out, [(pstats.func_std_string(k), v[2]) for k, v in top], per_event


def profile_calls(call, n, rules):
    """n calls unprofiled, then n under cProfile timing process CPU time (the machine may be loaded:
    wall time there is mostly other processes' turns). ms are CPU ms per call."""
    c0, w0 = time.process_time(), time.perf_counter()
    for _ in range(n):
        call()
    plain, wall = time.process_time() - c0, time.perf_counter() - w0
    prof = timer()
    c0 = time.process_time()
    for _ in range(n):
        prof.enable()
        call()
        prof.disable()
    profiled = time.process_time() - c0
    buckets, top, per_event = bucket_times(prof, rules, plain)
    total = sum(v[0] for v in buckets.values())
    return {"plain_ms": 1e3 * plain / n, "plain_wall_ms": 1e3 * wall / n, "profiled_ms": 1e3 * profiled / n,
            "corrected_ms": 1e3 * total / n, "overhead_ns_per_event": 1e9 * per_event,
            "buckets": {b: {"ms": 1e3 * v[0] / n, "c_ms": 1e3 * v[1] / n, "frac": v[0] / total}
                        for b, v in sorted(buckets.items(), key=lambda kv: -kv[1][0])},
            "top": [(f, 1e3 * t / n) for f, t in top]}


def render_probe(env, camera):
    """CPU ms per 84x84 frame of robosuite's offscreen renderer as configured, then with the visual
    options our renderer turns off, one after the other."""
    import mujoco
    ctx = env.sim._render_context_offscreen
    m = env.sim.model._model
    flags = mujoco.mjtRndFlag

    def per_frame():
        for _ in range(3):  # llvmpipe compiles its shaders on first use
            env.sim.render(84, 84, camera_name=camera)
        c0 = time.process_time()
        for _ in range(20):
            env.sim.render(84, 84, camera_name=camera)
        return 1e3 * (time.process_time() - c0) / 20

    out = {"config": f"offscreen {ctx.con.offWidth}x{ctx.con.offHeight}, offsamples {m.vis.quality.offsamples}, "
                     f"shadowsize {m.vis.quality.shadowsize}, {m.nlight} lights "
                     f"({int(sum(m.light_castshadow))} casting shadows)"}
    out["as configured"] = per_frame()
    for f in (flags.mjRND_SHADOW, flags.mjRND_REFLECTION):
        ctx.scn.flags[f] = 0
    out["no shadows, reflections"] = per_frame()
    for f in (flags.mjRND_SKYBOX, flags.mjRND_HAZE):
        ctx.scn.flags[f] = 0
    out["+ no skybox, haze"] = per_frame()
    m.vis.quality.offsamples = 0
    ctx.update_offscreen_size(84, 84)  # a new context: no multisampling, a frame-sized buffer
    out["+ no multisampling, 84x84 buffer"] = per_frame()
    return out


def check_frame(env, task):
    """The first policy camera's frame is a lit scene (the broken context reads back near-black)."""
    img = env.sim.render(84, 84, camera_name=speed.ROBOSUITE[task][2][0])
    if img.mean() < 40:
        raise RuntimeError(f"robosuite rendered a near-black frame (mean {img.mean():.1f}): GL context lost")


def gl_renderer():
    try:
        from OpenGL import GL
        return GL.glGetString(GL.GL_RENDERER).decode()
    except Exception as e:  # no current context in this thread: say so rather than guess
        return f"? ({type(e).__name__})"


def worker(a):
    import numpy as np
    rng = np.random.default_rng(a.seed)
    if a.worker == "robosuite":
        env = speed.robosuite_env(a.task, a.render, 100000)
        low, high = env.action_spec
        env.reset()
        gl = ""
        if a.render:
            # reset rebuilt the render context (see speed.restore_render_context); check the frames.
            speed.restore_render_context(env)
            gl = gl_renderer()
            check_frame(env, a.task)
        for _ in range(5):
            env.step(rng.uniform(low, high))
        out = profile_calls(lambda: env.step(rng.uniform(low, high)), a.steps, ROBOSUITE_RULES)
        out["substeps"] = int(round(env.control_timestep / env.model_timestep))
        out["cameras"] = len(speed.ROBOSUITE[a.task][2]) if a.render else 0
        out["gl"] = gl
        if a.render:
            check_frame(env, a.task)
            out["render_probe"] = render_probe(env, speed.ROBOSUITE[a.task][2][0])
    elif a.worker == "pusht":
        env = speed.pusht_env(a.render, 100000)
        env.reset(seed=a.seed)
        for _ in range(5):
            env.step(rng.uniform(0.0, 512.0, size=2))
        out = profile_calls(lambda: env.step(rng.uniform(0.0, 512.0, size=2)), a.steps, PUSHT_RULES)
        out["substeps"] = int(round(1 / (env.unwrapped.dt * env.unwrapped.control_hz)))
        out["cameras"] = 1 if a.render else 0
    else:  # policy: a full sampler call each time (the action queue emptied first)
        import torch
        sampler, k = a.sampler.split(":")
        policy, cfg, inputs = speed.lerobot_policy(json.loads(a.net), sampler.upper(), int(k))
        policy.eval()
        batch = speed.lerobot_batch(cfg, inputs, 1, False)
        batch = {key: v[:, -1] for key, v in batch.items()}  # select_action takes one frame per key

        def call():
            policy.reset()
            with torch.no_grad():
                policy.select_action(batch)
        call()
        out = profile_calls(call, a.steps, POLICY_RULES)
    print(json.dumps(out))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=300, help="their env steps per configuration (plain, then profiled)")
    ap.add_argument("--render-steps", type=int, default=60, help="the same for robosuite with cameras")
    ap.add_argument("--ours-steps", type=int, default=500, help="bench sim's env steps per configuration")
    ap.add_argument("--calls", type=int, default=5, help="select_action calls for DDPM-100 (x20 for DDIM-1)")
    ap.add_argument("--harness", default=str(ROOT / "build/harness/harness"))
    ap.add_argument("--core", type=int, default=1)
    ap.add_argument("--nice", type=int, default=10)
    ap.add_argument("--load", default="", help="what else ran on the machine (written into the report)")
    ap.add_argument("--out", default=str(ROOT / "results/peers/profile"), help="writes OUT.md and OUT.csv")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--task", default="")
    ap.add_argument("--render", type=int, default=0)
    ap.add_argument("--sampler", default="ddpm:100")
    ap.add_argument("--net", default="")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    if a.worker:
        return worker(a)
    r = speed.Runner(a)

    def theirs(args):
        out, _ = r.run([sys.executable, str(Path(__file__).resolve()), "--worker"] + args)
        return json.loads(out.strip().splitlines()[-1])

    def ours(args):
        # harness times in wall clock; its CPU share over the process (CPU / wall) turns those into
        # CPU estimates comparable to the Python side's CPU times on a loaded core.
        path = r.tmp / "ours.json"
        if path.exists():
            path.unlink()
        c0 = sum(os.times()[2:4])
        _, wall = r.run([a.harness] + args + ["--json", str(path)])
        j = json.loads(path.read_text())
        j["cpu_share"] = (sum(os.times()[2:4]) - c0) / wall
        return j

    started = time.perf_counter()
    theirs_rows, ours_rows = [], []  # (item, config, result), (task, bench sim json)
    for task in PY_TASKS + ["pusht"]:
        ours_rows.append((task, ours(["bench", "sim", "--task", task, "--steps", str(a.ours_steps), "--actions", "random"])))
        for render in (0, 1):
            if task == "pusht":
                res = theirs(["pusht", "--render", str(render), "--steps", str(a.steps)])
                item, cfg = "gym-pusht", "96x96 image" if render else "state"
            else:
                steps = a.render_steps if render else a.steps
                res = theirs(["robosuite", "--task", task, "--render", str(render), "--steps", str(steps)])
                item = f"robosuite {speed.ROBOSUITE[task][0]}"
                cfg = f"{res['cameras']} cameras 84x84" if render else "no cameras"
            res["task"] = task
            theirs_rows.append((item, cfg, res))
            print(f"[{time.perf_counter() - started:5.0f} s] {item} {cfg}: {res['plain_ms']:.3g} CPU ms/step", flush=True)
    # Which GL our renderer got: harness prints it on stderr with ONEDP_GL_VERBOSE.
    p = subprocess.run(["taskset", "-c", str(a.core), a.harness, "bench", "sim", "--task", "lift-ph", "--steps", "1",
                        "--actions", "random"], env={**r.env, "ONEDP_GL_VERBOSE": "1"}, capture_output=True, text=True)
    ours_gl = next((l.split("headless GL:", 1)[1].strip() for l in p.stderr.splitlines() if "headless GL:" in l), "?")

    n = speed.NETS["cpu"]
    spec = r.ours_json(["bench", "train"] + speed.net_args(n) + ["--steps", "1", "--warmup", "1", "--batch", "2"])
    net = json.dumps({"spec": spec["spec"], "down_dims": n["down_dims"], "step_embed_dim": n["step_embed_dim"]})
    pol_ours = ours(["bench", "policy"] + speed.net_args(n) + ["--repeats", "10", "--sampler", "ddpm:100",
                                                               "--sampler", "ddim:1"])
    for sampler, calls in (("ddpm:100", a.calls), ("ddim:1", 20 * a.calls)):
        res = theirs(["policy", "--sampler", sampler, "--net", net, "--steps", str(calls)])
        theirs_rows.append(("LeRobot DiffusionPolicy select_action", f"batch 1, {sampler}", res))
        print(f"[{time.perf_counter() - started:5.0f} s] policy {sampler}: {res['plain_ms']:.3g} CPU ms/call", flush=True)
    write(a, theirs_rows, ours_rows, pol_ours, n, ours_gl, time.perf_counter() - started)


def bucket(res, prefix):
    return next((x for b, x in res["buckets"].items() if b.startswith(prefix)), {"ms": 0.0, "c_ms": 0.0, "frac": 0.0})


def write(a, theirs_rows, ours_rows, pol_ours, net, ours_gl, wall):
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = [["side", "item", "config", "bucket", "fraction", "cpu_ms_per_step", "cpu_ms_in_c", "cpu_ms_per_step_plain",
             "wall_ms_per_step"]]
    v = speed.versions()
    cmd = " ".join(["OMP_NUM_THREADS=1 nice -n 10 taskset -c 1", ".venv-lerobot/bin/python", "scripts/peers/time_split.py"]
                   + sys.argv[1:])
    L = [
        "# Where the time goes: our bench sim split and a profile of the Python side (issue 19, item 6)",
        "",
        f"Command: `{cmd}`; every measurement a fresh process, `taskset -c {a.core}`, nice {a.nice}, one "
        f"thread; wall {wall / 60:.1f} min.",
        f"Machine: {a.load or 'load not stated'}. Fractions hold under load; absolute ms are indicative only: "
        "theirs are CPU ms (process CPU time, llvmpipe's threads included); ours are bench sim's wall ms "
        "times the process's CPU share (CPU / wall), an estimate of the same.",
        "Theirs: " + ", ".join(f"{k} {val}" for k, val in v.items()) + f"; ours: `{a.harness}` (MuJoCo 2.2.2).",
        f"Random actions within the bounds; theirs {a.steps} env steps per configuration ({a.render_steps} for robosuite "
        f"with cameras) after 5 warm-up steps, no reset; ours {a.ours_steps} (bench sim --actions random).",
        "",
        "## Floors: physics per substep and render per frame",
        "",
        "Floor = physics (µs per substep x substeps per control step) + render (ms per frame x frames per "
        "step): the C work neither side can avoid at the same scene and image settings. Theirs from the "
        "profile's C time in MuJoCo 3.3.0 (mj_step1 + mj_step2) and in the render calls; ours from bench sim "
        f"(physics timed without rendering between steps). Our renderer: {ours_gl}.",
        "",
        "| task | side | physics µs / substep | substeps | physics ms / step | render ms / frame | frames | "
        "render ms / step | step ms (CPU) | step / floor |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    ours_by = dict(ours_rows)
    for item, cfg, res in theirs_rows:
        task = res.get("task")
        if task is None:
            continue
        j = ours_by[task]
        render = res["cameras"] > 0
        phys = bucket(res, "physics")["c_ms"]
        rend = bucket(res, "rendering")["c_ms"]
        frames = res["cameras"]
        floor = phys + rend
        L.append(f"| {task}, {cfg} | theirs | {1e3 * phys / res['substeps']:.1f} | {res['substeps']} | {phys:.3g} | "
                 + (f"{rend / frames:.3g}" if frames else "-") + f" | {frames} | {rend:.3g} | {res['plain_ms']:.3g} | "
                 f"{res['plain_ms'] / floor:.2f}x |")
        m = j["render" if render else "no_render"]
        share = j["cpu_share"]
        us = j["no_render"]["us_per_substep"] * share
        ofr = len(j["cameras"]) if render else 0
        oph = us * j["substeps"] / 1e3
        ore = m["ms_per_frame"] * share * ofr
        ostep = 1e3 * (m["seconds"] - m["actions_s"]) / j["steps"] * share
        L.append(f"| | ours | {us:.1f} | {j['substeps']} | {oph:.3g} | "
                 + (f"{m['ms_per_frame'] * share:.3g}" if ofr else "-") + f" | {ofr} | {ore:.3g} | {ostep:.3g} | "
                 f"{ostep / (oph + ore):.2f}x |")
    L += ["", "## Theirs: cProfile buckets", "",
          "A function's own time goes to the bucket of its innermost caller that opens one (robosuite: "
          "mj_step1/mj_step2; MjSim.render + read_pixels; robot.control; _update_observables / _get_observations; "
          "_post_action / reward / _check_success; env.step itself. gym-pusht: Space.step; _render; _get_coverage; "
          "get_obs / _get_info; env.step; gymnasium's wrappers. LeRobot: every nn.Module call (the low-dim cpu "
          "preset has no image encoder: all of them are the U-Net); diffusers' scheduler; "
          "_prepare_global_conditioning; select_action and the sampler loop), split over callers as cProfile "
          "records them. The profiler times CPU (process_time_ns); its own cost (profiled minus plain CPU) comes "
          "off each function's own time, the same per call event. *in C*: the part inside builtins (MuJoCo, "
          "numpy, torch, pymunk/cffi, shapely, cv2, pygame). LeRobot's normalisation runs in its processor "
          "pipeline, outside select_action, and is not timed here.", ""]
    for item, cfg, res in theirs_rows:
        L += [f"**{item}, {cfg}**: {res['plain_ms']:.3g} CPU ms per call plain ({res['plain_wall_ms']:.3g} wall), "
              f"{res['profiled_ms']:.3g} profiled, {res['corrected_ms']:.3g} after the overhead came off"
              + (f"; {res['substeps']} physics substeps per step" if res.get("substeps") else "")
              + (f"; GL: {res['gl']}" if res.get("gl") else ""), "",
              "| bucket | fraction | CPU ms | of which in C |", "|---|---:|---:|---:|"]
        for b, x in res["buckets"].items():
            L.append(f"| {b} | {100 * x['frac']:.1f}% | {x['ms']:.3g} | {x['c_ms']:.3g} |")
            rows.append(["theirs", item, cfg, b, f"{x['frac']:.4f}", f"{x['ms']:.4g}", f"{x['c_ms']:.4g}",
                         f"{res['plain_ms']:.4g}", f"{res['plain_wall_ms']:.4g}"])
        L += ["", "Top own time (CPU ms per call, overhead off): "
              + "; ".join(f"`{f.split('site-packages/')[-1]}` {t:.3g}" for f, t in res["top"][:4]), ""]
        if "render_probe" in res:
            pr = res["render_probe"]
            L += [f"Their render, CPU ms per 84x84 frame ({pr['config']}): "
                  + "; ".join(f"{k} {val:.3g}" for k, val in pr.items() if k != "config"), ""]
    L += ["## Ours: bench sim split (random actions)", "",
          "| task | configuration | wall ms / step | CPU share | est. CPU ms / step | physics | control | render | other |",
          "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for task, j in ours_rows:
        for c in ("no_render", "render"):
            m = j[c]
            frames = len(j["cameras"]) if c == "render" else 0
            cfg = f"{frames} cameras {j['image_width']}x{j['image_height']}" if frames else "no rendering"
            ms = 1e3 * m["seconds"] / j["steps"]
            f = {k: m[f"{k}_s"] / m["seconds"] for k in ("physics", "control", "render")}
            f["other"] = (m["other_s"] + m["actions_s"]) / m["seconds"]
            L.append(f"| {task} | {cfg} | {ms:.3g} | {j['cpu_share']:.2f} | {ms * j['cpu_share']:.3g} | "
                     + " | ".join(f"{100 * x:.1f}%" for x in f.values()) + " |")
            for k, x in f.items():
                rows.append(["ours", task, cfg, k, f"{x:.4f}", f"{ms * j['cpu_share'] * x:.4g}", "", "", f"{ms:.4g}"])
    share = pol_ours["cpu_share"]
    L += ["", f"Ours, policy ({net['label']}; `bench policy`, libtorch, batch 1; est. CPU ms = wall x {share:.2f}): "
          + "; ".join(f"{x['sampler']} {x['total_ms'] * share:.3g} ms (encoder {x['encode_ms'] * share:.3g}, "
                      f"sampling {x['sample_ms'] * share:.3g})" for x in pol_ours["rows"]), ""]
    for x in pol_ours["rows"]:
        rows.append(["ours", "bench policy", x["sampler"], "total", "1", f"{x['total_ms'] * share:.4g}", "", "",
                     f"{x['total_ms']:.4g}"])
    L += ["## Analysis", "", "(to be written from the numbers above)", ""]
    tmp = out.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    os.replace(tmp, out.with_suffix(".csv"))
    md = out.with_suffix(".md")
    if md.exists() and "## Analysis" in md.read_text():  # keep the analysis written for an earlier run
        L = L[:-4] + ["## Analysis"] + md.read_text().split("## Analysis", 1)[1].splitlines()
    tmp = out.with_suffix(".md.tmp")
    tmp.write_text("\n".join(L) + "\n")
    os.replace(tmp, md)
    print(f"wrote {md} and {out.with_suffix('.csv')}")


if __name__ == "__main__":
    main()
