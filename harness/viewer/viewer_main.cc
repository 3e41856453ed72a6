// viewer: watch a live policy, replay a recorded rollout or a dataset demonstration.
//
//   viewer --task square-ph --ckpt runs/square-ph/dp-ddpm-cpu/seed0 --sampler ddim:10 --seed 100003
//   viewer --ckpt runs/pusht/dp-ddpm-cpu/seed0 --sampler ddim:10 --sampler2 ddim:1   (side by side)
//   viewer --rollout rec/episode_100003.hdf5 [--rollout other/episode_100003.hdf5]
//   viewer --dataset data/square_ph.hdf5 --demo 12
// Non-interactive (tests, docs): --frames N --screenshot shot.png [--record shot.mp4].
//
// Exit codes: 0 ok, 1 a failure while running, 2 bad input, 3 no display.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "harness/viewer/tracks.h"
#include "harness/viewer/viewer_app.h"
#ifdef BENCH_WITH_POLICIES
#include "policies/registry.h"
#endif

namespace {

namespace fs = std::filesystem;
using onedp::Track;

struct Args {
  std::string task, ckpt, ckpt2, sampler, sampler2, device = "cpu";
  uint64_t seed = 100000;
  std::vector<std::string> rollouts;
  std::string dataset;
  std::vector<int> demos;
};

#ifdef BENCH_WITH_POLICIES
// The saved policy behind --ckpt (a run directory or a policy directory) and its run's task.
std::string PolicyDir(const std::string& ckpt, std::string* run_task) {
  const fs::path p(ckpt);
  fs::path dir, run;
  if (fs::exists(p / "policy.json")) {
    dir = p;
    run = p.parent_path() / "run.json";
  } else if (fs::exists(p / "checkpoint" / "policy.json")) {
    dir = p / "checkpoint";
    run = p / "run.json";
  } else {
    throw std::invalid_argument(
        "--ckpt " + ckpt +
        (fs::exists(p)
             ? ": neither a run directory (with checkpoint/) nor a saved policy (with policy.json)"
             : ": no such directory"));
  }
  if (fs::exists(run)) {
    std::ifstream f(run);
    const nlohmann::json j = nlohmann::json::parse(f, nullptr, false);
    if (j.is_object() && j.contains("task")) *run_task = j["task"].get<std::string>();
  }
  return dir.string();
}

std::shared_ptr<onedp::Policy> Load(const std::string& ckpt, const std::string& device,
                                    std::string* task) {
  std::string run_task;
  const std::string dir = PolicyDir(ckpt, &run_task);
  if (task->empty()) {
    if (run_task.empty())
      throw std::invalid_argument("--ckpt " + ckpt +
                                  " has no run.json naming its task: pass --task");
    *task = run_task;
  } else if (!run_task.empty() && run_task != *task) {
    throw std::invalid_argument("--ckpt " + ckpt + " was trained on task " + run_task + ", not " +
                                *task + " (omit --task to use the run's)");
  }
  return std::shared_ptr<onedp::Policy>(onedp::LoadPolicy(dir, device));
}
#endif

std::string Base(const std::string& path) { return fs::path(path).filename().string(); }

std::vector<std::unique_ptr<Track>> MakeTracks(Args& a, onedp::ViewerOptions* o) {
  const int modes = (!a.ckpt.empty()) + (!a.rollouts.empty()) + (!a.dataset.empty());
  if (modes != 1) {
    throw std::invalid_argument(
        "choose one mode: --ckpt DIR (live policy), --rollout FILE (recorded by `harness eval "
        "--record DIR`) or --dataset FILE --demo I");
  }
  std::vector<std::unique_ptr<Track>> tracks;
  if (!a.ckpt.empty()) {
#ifdef BENCH_WITH_POLICIES
    o->mode = "live";
    std::string task = a.task;
    auto policy = Load(a.ckpt, a.device, &task);
    const std::string sampler = a.sampler.empty() ? policy->Samplers().front() : a.sampler;
    tracks.push_back(std::make_unique<onedp::LiveTrack>(
        policy->Name() + " " + sampler + " (" + a.ckpt + ")", policy, task, sampler, a.seed));
    if (!a.ckpt2.empty() || !a.sampler2.empty()) {
      std::shared_ptr<onedp::Policy> p2 = policy;
      std::string task2 = task;
      if (!a.ckpt2.empty()) p2 = Load(a.ckpt2, a.device, &task2);
      const std::string s2 =
          a.sampler2.empty() ? (a.ckpt2.empty() ? sampler : p2->Samplers().front()) : a.sampler2;
      const std::string where = a.ckpt2.empty() ? a.ckpt : a.ckpt2;
      tracks.push_back(std::make_unique<onedp::LiveTrack>(
          p2->Name() + " " + s2 + " (" + where + ")", p2, task, s2, a.seed));
    }
#else
    throw std::invalid_argument(
        "--ckpt needs the policies library (built with BENCH_WITH_TORCH=OFF)");
#endif
  } else if (!a.rollouts.empty()) {
    o->mode = "rollout";
    if (a.rollouts.size() > 2)
      throw std::invalid_argument("--rollout: at most two files (side by side)");
    for (const std::string& f : a.rollouts) {
      onedp::ReplayData d = onedp::LoadRecordedRollout(f);
      if (!a.task.empty() && a.task != d.task) {
        throw std::invalid_argument("--rollout " + f + " was recorded on task " + d.task +
                                    ", not " + a.task);
      }
      tracks.push_back(std::make_unique<onedp::ReplayTrack>("rollout " + Base(f), std::move(d)));
    }
  } else {
    o->mode = "dataset";
    if (a.demos.empty()) a.demos = {0};
    if (a.demos.size() > 2) throw std::invalid_argument("--demo: at most two demos (side by side)");
    for (int demo : a.demos) {
      onedp::ReplayData d = onedp::LoadDatasetDemo(a.dataset, demo, a.task);
      tracks.push_back(
          std::make_unique<onedp::ReplayTrack>(Base(a.dataset) + " demo_" + std::to_string(demo) +
                                                   (d.has_seed ? "" : " (no seed in ep_meta)"),
                                               std::move(d)));
    }
  }
  if (tracks.size() == 2 && tracks[0]->spec().name != tracks[1]->spec().name) {
    throw std::invalid_argument("side by side needs the same task (got " + tracks[0]->spec().name +
                                " and " + tracks[1]->spec().name + ")");
  }
  return tracks;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "OneDP viewer: live policies, recorded rollouts and dataset demos (GLFW + Dear ImGui + "
      "MuJoCo)"};
  Args a;
  onedp::ViewerOptions o;
  app.add_option("--task", a.task, "Task (default: the checkpoint's run / the file's)");
  app.add_option("--ckpt", a.ckpt,
                 "Live mode: a training run directory or a saved policy directory");
  app.add_option("--sampler", a.sampler,
                 "Live mode: sampler, e.g. ddpm:100, ddim:10, ddim:1, edm:10, onestep");
  app.add_option("--seed", a.seed, "Live mode: episode seed")->capture_default_str();
  app.add_option("--ckpt2", a.ckpt2,
                 "Live mode: a second checkpoint, side by side from the same seed");
  app.add_option("--sampler2", a.sampler2,
                 "Live mode: a second sampler, side by side from the same seed");
  app.add_option("--device", a.device, "Live mode: cpu|cuda[:i]")->capture_default_str();
  app.add_option("--rollout", a.rollouts,
                 "Replay a recorded rollout (harness eval --record DIR); twice: side by side");
  app.add_option("--dataset", a.dataset,
                 "Replay a demonstration of a robomimic-schema HDF5 dataset");
  app.add_option("--demo", a.demos, "Dataset demo index (demo_<i>); twice: side by side");
  app.add_option("--width", o.width, "Window width")
      ->capture_default_str()
      ->check(CLI::Range(320, 7680));
  app.add_option("--height", o.height, "Window height")
      ->capture_default_str()
      ->check(CLI::Range(240, 4320));
  app.add_option("--camera", o.camera,
                 "3D view camera: free or a camera of the task (default free, or the task's own default camera)");
  app.add_option("--speed", o.speed, "Env steps per second while playing")
      ->capture_default_str()
      ->check(CLI::Range(0.1, 1000.0));
  app.add_option("--seek", o.seek, "Replay: first frame shown")->check(CLI::NonNegativeNumber);
  app.add_flag("--paused", o.paused, "Start paused");
  app.add_flag(
      "--no-chunk", [&](int64_t) { o.show_chunk = false; }, "Do not draw the predicted chunk");
  app.add_option("--frames", o.frames,
                 "Non-interactive: render N frames (one env step each unless --paused), then exit")
      ->check(CLI::PositiveNumber);
  app.add_option("--screenshot", o.screenshot,
                 "PNG written after the last frame (--frames) or by the P key");
  app.add_option("--record", o.record, "MP4 of every rendered frame");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  // The task threads render their cameras through EGL; OSMesa cannot share a process with the
  // window's GLX context (see sim/gl_context.cc).
  setenv("ONEDP_GL", "egl", /*overwrite=*/0);
  try {
    const char* display = std::getenv("DISPLAY");
    const char* wayland = std::getenv("WAYLAND_DISPLAY");
    if ((display == nullptr || *display == '\0') && (wayland == nullptr || *wayland == '\0')) {
      throw onedp::DisplayError(
          "no display (DISPLAY is not set). Run the viewer on a desktop, or headless under "
          "`xvfb-run -a viewer ...`; `harness eval --video DIR` writes MP4s without any display");
    }
    std::vector<std::unique_ptr<Track>> tracks = MakeTracks(a, &o);
    onedp::RunViewer(tracks, o);
  } catch (const onedp::DisplayError& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 3;
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
