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
#include "tasks/perturbation.h"

namespace onedp {

enum class ActionMode { kDelta, kAbsolute };

struct FeatureSpec {
  std::string key;         // robomimic observation key, e.g. "robot0_eef_pos", "agentview_image"
  std::vector<int> shape;  // low-dim: {d}; image: {H, W, 3}
  bool is_image = false;
};

// What the benchmark reports for a task (the tables' metric, mean over test episodes).
enum class TaskMetric {
  kSuccessRate,  // Outcome::success
  kScore,        // the episode's maximum Outcome::score (PushT's max coverage reward)
};
// Short name of a metric: "success rate", "score" (plot axes).
const char* MetricName(TaskMetric metric);

// One observation a policy takes, with its normalisation: "limits" (to [-1, 1] over the dataset's
// range) or "identity" (as is: quaternions, images).
struct PolicyInput {
  std::string key;
  std::string norm = "limits";
};

// How a viewer draws the task (lengths in the model's units).
struct TaskView {
  std::string camera;  // the camera a viewer starts with; empty: the free camera
  // Starting pose of the free camera (degrees, model units); free_distance <= 0: MuJoCo's default
  // for the model.
  double free_azimuth = 0, free_elevation = 0, free_distance = 0;
  double free_lookat[3] = {0, 0, 0};
  // Absolute actions are (x, y) points of a plane (drawn at z = action_plane_z) rather than
  // end-effector poses whose first three values are a world position.
  bool planar_actions = false;
  double action_plane_z = 0;
  // Predicted action positions: spheres of this radius joined by capsules of this width.
  double marker_radius = 0.008, marker_width = 0.0025;
};

// The facts the harness needs about a task, known without constructing it (no model is loaded):
// the registry entry holds them (TaskEntry::info) and a constructed task's spec() carries the
// same value (TaskSpec::info), both from the task's own Info().
struct TaskInfo {
  std::string display_name;  // tables and titles, e.g. "PushT", "Square-ph", "ToolHang-ph"
  TaskMetric metric = TaskMetric::kSuccessRate;
  std::string metric_label = "success rate";  // e.g. "score (max coverage reward)"
  std::string score_label = "score";          // what Outcome::score is, e.g. "score (coverage)"
  std::string action_key = "actions_abs";     // the dataset actions policies train on
  // Per observation mode ("image", "lowdim"): the policy's inputs, in the policy's order.
  std::map<std::string, std::vector<PolicyInput>> policy_inputs;
  // Per absolute-action dimension: "limits" or "identity" (the policy's action normalisation).
  std::vector<std::string> action_norm;
  // The perturbations the task declares (tasks/perturbation.h: "move", "reset"), for
  // Task::SetPerturbation.
  std::vector<std::string> perturbations;
  // The sub-goals on the way to success that the task reports (snake_case names, at most 32, in
  // the order a demonstration reaches them, e.g. Transport's "lid_off"): a rollout records which
  // ones an episode reached, so a task that no policy solves still says how far each one gets.
  // Empty: the task reports none. Outcome::milestones has bit i set while sub-goal i holds.
  std::vector<std::string> milestones;
  TaskView view;
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
  TaskInfo info;  // the registry entry's (TaskEntry::info)
};

struct Observation {
  std::map<std::string, std::vector<double>> lowdim;
  std::map<std::string, Image> images;
};

struct Outcome {
  bool success = false;
  double score = 0;   // continuous metric (PushT coverage reward; robomimic: success as 0/1)
  double reward = 0;  // reward of the current state
  uint32_t milestones = 0;  // bit i: TaskInfo::milestones[i] holds in the current state
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
  // The action that keeps the robot at its current command, for steps without a policy action
  // (latency-aware evaluation holds while a chunk is computed). Absolute mode: LastAbsAction()
  // (the last goal; after Reset the reset pose). Delta mode: tasks whose two action forms are the
  // same (action_dim == abs_action_dim) also LastAbsAction(); others must override it (zero motion,
  // gripper command unchanged) or it throws std::logic_error.
  virtual std::vector<double> HoldAction() const;

  // Arms perturbation `name` (one of TaskInfo::perturbations) for the episode just reset: its
  // parameters are drawn from the episode seed and it acts at the end of the following Step()s.
  // Empty: none. Throws std::invalid_argument listing the task's perturbations otherwise.
  void SetPerturbation(const std::string& name);
  // What this episode's perturbation did so far (status kNone when none is armed).
  PerturbationRecord perturbation() const;
  // The armed perturbation (nullptr when none), for tests of its seeded parameters.
  const Perturber* perturber() const { return perturber_.get(); }

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
  // Starts an episode (also disarms the perturbation).
  void BeginEpisode(uint64_t seed);
  // The task's Perturber for `name`, one of its TaskInfo::perturbations (tasks that declare none
  // need not override it).
  virtual std::unique_ptr<Perturber> MakePerturber(const std::string& name);
  // Tasks call this at the end of Step(): the armed perturbation's turn.
  void AdvancePerturbation();

  std::unique_ptr<Sim> sim_;
  std::unique_ptr<Renderer> renderer_;
  ActionMode action_mode_ = ActionMode::kDelta;
  int steps_ = 0;
  uint64_t seed_ = 0;
  std::string episode_error_;
  std::vector<std::string> warnings_;
  StepProfile profile_;
  std::unique_ptr<Perturber> perturber_;
};

}  // namespace onedp
