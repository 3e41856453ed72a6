// The Task interface every benchmark task implements, and the types it exchanges.
//
// A Task owns its simulation (model + data + renderer) and is used by one thread at a time; a
// worker thread makes its own Task. Reset(seed) is the only source of randomness.
//
//   Reset(seed) -> [Observe -> action -> Step]* ; Evaluate() after any step.
//
// Actions: delta mode (robomimic, 7-D per arm: dpos 3, daxis-angle 3, gripper 1 in [-1, 1]) or
// absolute mode (diffusion_policy abs, 10-D per arm: world pos 3, rotation-6d 6, gripper 1).
// A non-finite action is not applied: the episode is marked failed (see episode_error()).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sim/renderer.h"
#include "sim/sim.h"

namespace onedp {

enum class ActionMode { kDelta, kAbsolute };

struct FeatureSpec {
  std::string key;         // robomimic observation key, e.g. "robot0_eef_pos", "agentview_image"
  std::vector<int> shape;  // low-dim: {d}; image: {H, W, 3}
  bool is_image = false;
};

struct TaskSpec {
  std::string name;      // registry name with the dataset variant, e.g. "lift-ph"
  std::string env_name;  // robomimic / robosuite env name, e.g. "Lift"
  std::string variant;   // "ph" or "mh"
  double control_hz = 20;
  int substeps = 25;
  int max_steps = 400;  // rollout horizon (policy evaluation)
  // Horizon of the scripted demonstrations (`harness collect`); 0: max_steps. Transport-MH's
  // operators get robomimic's MH horizon (1100) while policies are evaluated at DP's 700.
  int collect_max_steps = 0;
  int CollectHorizon() const { return collect_max_steps > 0 ? collect_max_steps : max_steps; }
  std::vector<std::string> cameras;
  int image_height = 84, image_width = 84;
  std::vector<FeatureSpec> obs;
  int action_dim = 7;       // delta
  int abs_action_dim = 10;  // absolute
  // Bounds of the delta action space per dimension; empty means [-1, 1] everywhere.
  std::vector<double> action_low, action_high;
};

struct Observation {
  std::map<std::string, std::vector<double>> lowdim;
  std::map<std::string, Image> images;
};

struct Outcome {
  bool success = false;
  double score = 0;   // continuous metric (PushT coverage reward; robomimic: success as 0/1)
  double reward = 0;  // reward of the current state
};

// Wall-clock time a task spent, split by kind (for `harness bench sim`).
struct StepProfile {
  double physics_s = 0;  // mj_step1 + mj_step2
  double control_s = 0;  // controllers (OSC, gripper) and goal setting
  double render_s = 0;   // offscreen rendering + readback
  int64_t steps = 0;     // env steps
  int64_t frames = 0;    // camera images rendered
};

class Expert;
struct OperatorProfile;

class Task {
 public:
  virtual ~Task() = default;

  virtual const TaskSpec& spec() const = 0;
  virtual void Reset(uint64_t seed) = 0;
  virtual void Step(const std::vector<double>& action) = 0;
  // Fills low-dim observations always; images only when `render` (and the task has a renderer).
  virtual void Observe(Observation* obs, bool render = true) = 0;
  virtual Outcome Evaluate() const = 0;
  // An expert bound to this task, acting as `op`; `seed` drives its own randomness.
  virtual std::unique_ptr<Expert> MakeExpert(const OperatorProfile& op, uint64_t seed) = 0;

  virtual void SetActionMode(ActionMode mode) { action_mode_ = mode; }
  ActionMode action_mode() const { return action_mode_; }
  // The absolute-mode action equivalent to the last delta action stepped (the controller goal
  // set by it, as robomimic's abs-action converter records), for datasets' actions_abs.
  virtual std::vector<double> LastAbsAction() const = 0;

  // Per-episode facts for the dataset's ep_meta (e.g. sizes drawn at reset).
  virtual nlohmann::json EpisodeMeta() const { return nlohmann::json::object(); }
  // robosuite-style env_kwargs for the dataset's env_args.
  virtual nlohmann::json EnvKwargs() const = 0;
  // How this task's datasets read: {"env_type": robomimic EnvType (1 robosuite, 2 gym),
  // "actions": ..., "actions_abs": ..., "states": ...} (human-readable layouts).
  virtual nlohmann::json DatasetConventions() const = 0;
  // MJCF text of the model (for the demos' model_file attribute).
  virtual std::string ModelXml() const = 0;

  Sim& sim() { return *sim_; }
  const Sim& sim() const { return *sim_; }
  int steps() const { return steps_; }
  uint64_t seed() const { return seed_; }
  // Empty while the episode is valid; otherwise why it failed (non-finite action, bad physics).
  const std::string& episode_error() const { return episode_error_; }
  // MuJoCo warnings raised during this episode (instability), drained by the caller.
  std::vector<std::string> TakeWarnings();
  // Enables rendering (creates the GL context on the calling thread on first use).
  Renderer& renderer();
  StepProfile& profile() { return profile_; }

 protected:
  void MarkFailed(const std::string& why) {
    if (episode_error_.empty()) episode_error_ = why;
  }
  // Checks the action's size and finiteness; returns false (and marks the episode failed) if
  // it must not be applied.
  bool ValidateAction(const std::vector<double>& action);
  void BeginEpisode(uint64_t seed);

  std::unique_ptr<Sim> sim_;
  std::unique_ptr<Renderer> renderer_;
  ActionMode action_mode_ = ActionMode::kDelta;
  int steps_ = 0;
  uint64_t seed_ = 0;
  std::string episode_error_;
  std::vector<std::string> warnings_;
  StepProfile profile_;
};

}  // namespace onedp
