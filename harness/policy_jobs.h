// `harness train`, `harness eval` and `harness bench policy`: the jobs that bind a task's dataset
// and environments to a policy. Torch-free header (the policies library holds the tensors).
//
// A training run directory (default runs/<task>/<policy>/seed<S>):
//   run.json         task, dataset, obs mode, action key, policy, preset, seeds, the resolved
//                    policy and train configs, their hash, versions and git commit
//   checkpoint/      the latest checkpoint (policy + optimiser + history); training resumes here
//   train_log.csv    per epoch: losses, lr, seconds and, every eval_every epochs, the rollout
//                    success / score of the EMA policy (the convergence curve)
//   eval_epoch<E>.csv  per-episode results of those rollouts
#pragma once

#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "policies/policy.h"
#include "tasks/task.h"

namespace onedp {

// Which observations a policy gets: "image" (cameras + proprioception, DP's hybrid image
// policy) or "lowdim" (object state + proprioception; PushT keypoints).
PolicySpec PolicySpecForTask(const TaskSpec& task, const std::string& obs_mode);
// Dataset key of the actions a policy is trained on: robomimic tasks "actions_abs" (DP's abs
// actions), PushT "actions".
std::string ActionKeyForTask(const TaskSpec& task);
// data/<task with '-' as '_'>.hdf5, where `harness collect` examples write.
std::string DefaultDatasetPath(const std::string& task_name);

struct TrainOptions {
  std::string task;
  std::string policy = "dp-ddpm";
  std::string preset = "cpu";
  uint64_t seed = 0;
  std::string dataset;  // default DefaultDatasetPath(task)
  std::string out;      // default runs/<task>/<policy>/seed<seed>
  std::string obs = "image";
  std::string device = "cpu";
  // Overrides of the preset (0 / empty: the preset's value).
  int epochs = 0;
  int batch_size = 0;
  int64_t max_batches_per_epoch = 0;
  int checkpoint_every = 0;
  int eval_every = 0;        // epochs between rollout evaluations; < 0 disables them
  int eval_episodes = 0;
  std::string eval_sampler;  // default: the policy's default sampler
  int workers = 0;           // env threads for evaluation rollouts
};

struct EvalOptions {
  std::string ckpt;  // a run directory or a saved policy directory
  std::string task;  // default: the run's task
  std::string sampler;
  int episodes = 100;
  uint64_t start_seed = 100000;
  int num_envs = 0;
  int workers = 0;
  std::string device = "cpu";
  std::string out;  // per-episode CSV (default <run>/eval_<sampler>.csv)
};

struct BenchPolicyOptions {
  std::string ckpt;
  std::string device = "cpu";
  int repeats = 5;  // timed calls per configuration (after one warm-up call)
  std::vector<std::string> samplers;  // default: the policy's samplers
};

// Each returns 0; throws std::invalid_argument for bad input, std::runtime_error otherwise.
// Progress goes to stderr, the summary to `out`.
int RunTrain(const TrainOptions& options, std::ostream& out);
int RunEval(const EvalOptions& options, std::ostream& out);
int RunBenchPolicy(const BenchPolicyOptions& options, std::ostream& out);

}  // namespace onedp
