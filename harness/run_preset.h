// The harness's view of a preset (policies/preset.h): what `harness run` and the in-training
// rollouts of `harness train` / `harness distill` read from it, resolved once. Torch-free header.
//
// The harness owns two sections of a preset file and checks their fields here:
//   eval  episodes (test episodes per method x sampler, seeds 100000 ..; also the in-training
//         rollouts' count), episode_block (episodes per eval item), max_steps (episode cap, 0:
//         the task's horizon), every_by_task ({"<task>": {"train": E, "distill": E}}: the
//         in-training evaluation cadence in epochs for the named tasks, in place of train.eval_every
//         / distill.eval_every; for tasks whose episodes cost many times PushT's)
//   run   train_seeds, collect_episodes (demonstrations when the dataset is missing, 0: the task
//         variant's size), bench_repeats (latency: timed calls per sampler)
//   dynamic  (optional; absent: `harness run` has no dynamic stage) the latency-aware evaluation of
//         every run x sampler of the grid (harness/latency.h): episodes, episode_block, latency
//         (each method's own, e.g. "v100-paper"; deterministic models only), exec (modes, each with
//         no perturbation and with each perturbation the task declares), delay_sweep (fixed delays
//         as multiples of the policy's chunk length Ta, d = round(x Ta)), sweep_exec, sweep_episodes
// The rest comes from the policies' sections (train, distill, obs).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace onedp {

// The dynamic stage's settings (the preset's `dynamic` section).
struct DynamicPreset {
  bool enabled = false;  // the section is present
  int episodes = 0, episode_block = 0;  // per run x sampler x condition, seeds 100000 ..
  std::string latency = "v100-paper";   // a deterministic --latency value
  std::vector<std::string> exec = {"sync", "async"};
  std::vector<double> delay_sweep;      // multiples of the chunk length; empty: no sweep
  std::string sweep_exec = "sync";
  int sweep_episodes = 0;               // per sweep point (0: episodes)
};

struct RunPreset {
  std::string name;  // the preset's name (its file's stem): results/<task>/<name>, runs/<task>/<name>
  std::vector<uint64_t> train_seeds;
  int episodes = 0;          // test episodes per (run, sampler), seeds 100000 ..
  int episode_block = 0;     // episodes per eval item
  int collect_episodes = 0;  // demonstrations when the dataset is missing (0: the variant's size)
  std::string obs;           // lowdim | image
  int dp_eval_every = 0;     // in-training evaluation cadence of the teachers, epochs (0: none)
  int distill_eval_every = 0;
  int distill_epochs = 0;    // OneDP-S/-D and CP's short schedule
  int long_epochs = 0;       // the long-schedule distillations (CP's long schedule)
  int bench_repeats = 0;     // latency: timed calls per sampler
  int max_steps = 0;         // eval items: episode length cap (0: the task's horizon)
  DynamicPreset dynamic;
};

// The preset `name_or_path` resolved (LoadPreset, then its eval and run sections) for `task` (its
// eval.every_by_task entry; empty: none); throws std::invalid_argument for an unknown preset (listing
// the valid ones), an unknown field or an unknown task.
RunPreset RunPresetFor(const std::string& name_or_path, const std::string& task = "");

}  // namespace onedp
