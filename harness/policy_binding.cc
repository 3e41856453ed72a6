// The task-to-policy binding: a task's policy spec and crop, dataset paths and windows, --ckpt paths.

#include "harness/policy_jobs.h"

#include <algorithm>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "harness/run_info.h"
#include "harness/sequence_dataset.h"

namespace onedp {
namespace {

namespace fs = std::filesystem;

// DP paper Table 7 crops: 84 -> 76, 96 -> 84, 240 -> 216.
int CropFor(int image_size) {
  if (image_size == 84) return 76;
  if (image_size == 96) return 84;
  if (image_size == 240) return 216;
  return static_cast<int>(image_size * 0.9);
}

}  // namespace

ResolvedCkpt ResolveCkpt(const std::string& ckpt, const std::string& option) {
  ResolvedCkpt r;
  const fs::path p(ckpt);
  if (fs::exists(p / "policy.json")) {
    r.policy_dir = p;
    if (fs::exists(p.parent_path() / "run.json")) r.run = ReadJson(p.parent_path() / "run.json");
  } else if (fs::exists(p / "checkpoint" / "policy.json")) {
    r.policy_dir = p / "checkpoint";
    if (fs::exists(p / "run.json")) r.run = ReadJson(p / "run.json");
  } else {
    throw std::invalid_argument(option + " " + ckpt +
                                ": neither a run directory (with checkpoint/) nor a saved policy (with policy.json)");
  }
  return r;
}

SequenceDatasetOptions SequenceOptions(const std::string& dataset, const std::string& filter, const TaskInfo& task,
                                       const PolicySpec& spec) {
  SequenceDatasetOptions so;
  so.path = dataset;
  so.filter_key = filter;
  so.action_key = task.action_key;
  so.obs_steps = spec.obs_steps;
  so.horizon = spec.horizon;
  so.action_steps = spec.action_steps;
  so.keys = spec.obs;
  return so;
}

PolicySpec PolicySpecForTask(const TaskSpec& task, const std::string& obs_mode) {
  const auto& modes = task.info.policy_inputs;
  const auto inputs = modes.find(obs_mode);
  if (inputs == modes.end()) {
    std::string valid;
    for (const auto& [mode, keys] : modes) valid += (valid.empty() ? "" : ", ") + mode;
    throw std::invalid_argument("unknown obs mode '" + obs_mode + "'. Valid values: " + valid);
  }
  PolicySpec s;
  for (const PolicyInput& in : inputs->second) {
    const auto f = std::find_if(task.obs.begin(), task.obs.end(), [&](const FeatureSpec& x) { return x.key == in.key; });
    if (f == task.obs.end()) throw std::invalid_argument("task " + task.name + " has no observation '" + in.key + "'");
    s.obs.push_back({f->key, f->is_image, f->shape, in.norm});
  }
  s.crop = CropFor(task.image_height);
  s.action_dim = task.abs_action_dim;
  s.action_norm = task.info.action_norm;
  if (static_cast<int>(s.action_norm.size()) != s.action_dim) {
    throw std::logic_error("task " + task.name + " normalises " + std::to_string(s.action_norm.size()) +
                           " action dimensions of " + std::to_string(s.action_dim));
  }
  return s;
}

std::string DefaultDatasetPath(const std::string& task_name) {
  std::string n = task_name;
  std::replace(n.begin(), n.end(), '-', '_');
  return "data/" + n + ".hdf5";
}

}  // namespace onedp
