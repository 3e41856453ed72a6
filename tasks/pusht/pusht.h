// PushT (diffusion_policy pusht_env.py, pymunk 6.2.1), natively in MuJoCo. Facts:
// docs/tasks.md, PushT. Model: assets/pusht/pusht.xml.
//
// Units and frame: the MuJoCo model uses PushT's own 512 x 512 units (1 length unit = 1 PushT
//   pixel) and pymunk's axes (x right, y down on screen); angles in radians, counter-clockwise
//   from +x toward +y as pymunk's. qpos = [pusher_x, pusher_y, block_x, block_y, block_angle]
//   (block_x/y = the body origin of the T's local coordinates, as pymunk's body.position).
// Pusher: a sphere of radius 15 (its z = 0 section is the r 15 circle) on two slide joints. It is
//   kinematic as in pymunk: on every 100 Hz substep the task applies the PD law (PlanarPdController,
//   kp 100, kv 20) to its velocity, steps, and then overwrites its position with p + v dt and its
//   velocity with v, discarding any contact reaction. Its mass (1000 x the block's) only keeps the
//   contact solve from sharing the push with it. It does not collide with the walls (pymunk's
//   kinematic bodies never collide with static ones).
// Block: the T (bar 120 x 30 + stem 30 x 90), mass 1, centre of gravity (0, 45), moment 3000
//   about it, on slide x, slide y, hinge z; frictionless contacts (condim 1), no ground, no
//   gravity. Quasi-static as pymunk's space.damping = 0: the block's velocity is zeroed before
//   every substep, so it moves only by the velocity the contact solve gives it within that
//   substep (contacts use timeconst 2 dt, so that velocity matches the pusher's normal speed).
// Reset(seed): Rng(seed, stream 1) draws, in DP's order, pusher x, y integer in [50, 449], block
//   x, y integer in [100, 399], block angle = N(0,1) 2 pi - pi. The state is set in DP's legacy
//   order (origin at (x, y) with angle 0, then rotated about the centre of gravity), then one
//   substep runs with the pusher at rest.
// Action: the pusher's target point in [0, 512]^2 (not clipped, as DP). Delta and absolute mode
//   are the same (2-D); LastAbsAction() is the last action.
// Control: 10 Hz, 10 substeps of 0.01 s.
// Observations: "image" 96 x 96 x 3 (camera "image": near-orthographic view of the whole 512 x 512
//   world, pixel = PushT coordinate * 96 / 512, DP's colours), "agent_pos" (2), "keypoints" (20:
//   the 9 block keypoints x, y then agent x, y, as DP's PushTKeypointsEnv without its visibility
//   mask) and "state" (5: agent x, y, block x, y, block angle mod 2 pi, as DP's PushTEnv).
// Success: coverage = area(goal T n block T) / area(goal T) > 0.95 (the sum of the four bar / stem
//   rectangle intersections, clipped exactly as gym-pusht's shapely MultiPolygons give it);
//   reward = clip(coverage / 0.95, 0, 1) = Outcome::score; horizon 300 steps.
// Dataset states: Sim::FlatState() = [time, qpos (5, above), qvel (5)], i.e. the PushT state per
//   step (block angle unwrapped).
// Perturbations: move and reset of the block (pusht_perturbations.cc).
#pragma once

#include <array>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "sim/controllers.h"
#include "tasks/task.h"

namespace onedp {

// qpos/qvel addresses of the PushT model's joints.
struct PushTLayout {
  int pusher_qpos = 0, pusher_dof = 0, block_qpos = 2, block_dof = 2;
  static PushTLayout Of(const mjModel* m);
};

class PushTTask : public Task {
 public:
  static constexpr double kGoalX = 256, kGoalY = 256, kGoalAngle = M_PI / 4;
  static constexpr double kSuccessCoverage = 0.95;
  static constexpr double kPusherRadius = 15;
  static constexpr double kTArea = 120 * 30 + 30 * 90;  // 6300
  static constexpr int kImageSize = 96;
  static constexpr int kNumKeypoints = 9;

  PushTTask();
  // The task's facts (TaskInfo) without constructing it.
  static TaskInfo Info();

  const TaskSpec& spec() const override { return spec_; }
  void Reset(uint64_t seed) override;
  void Step(const std::vector<double>& action) override;
  void Observe(Observation* obs, bool render = true) override;
  Outcome Evaluate() const override;
  std::unique_ptr<Expert> MakeExpert(const OperatorProfile& op, uint64_t seed) override;
  std::vector<double> LastAbsAction() const override { return last_action_; }
  nlohmann::json EpisodeMeta() const override;
  nlohmann::json EnvKwargs() const override;
  nlohmann::json DatasetConventions() const override;
  std::string ModelXml() const override { return model_xml_; }

  Eigen::Vector2d AgentPos() const;
  Eigen::Vector3d BlockPose() const;  // x, y (body origin), angle (unwrapped)
  // Sets the pusher (at rest) and block pose (at rest) directly, then mj_forward. For tests.
  void SetPoses(const Eigen::Vector2d& agent, const Eigen::Vector3d& block);
  const PushTLayout& layout() const { return layout_; }

  // One 100 Hz substep of PushT physics on any data of this model (the expert's rollouts use
  // their own mjData): PD velocity update of the kinematic pusher toward `target`, block velocity
  // zeroed (quasi-static), mj_step, pusher position/velocity restored to their kinematic values.
  // Leaves derived quantities (xpos, ...) one substep stale; call mj_forward to refresh them.
  static void Substep(const mjModel* m, mjData* d, const PushTLayout& layout,
                      const Eigen::Vector2d& target);

  // Geometry (all in PushT units).
  // The T outline (8 vertices, counter-clockwise in pymunk's frame) at `pose`.
  static std::array<Eigen::Vector2d, 8> TOutline(const Eigen::Vector3d& pose);
  static double Coverage(const Eigen::Vector3d& block_pose);  // against the goal pose
  static double RewardFromCoverage(double coverage);
  // The 9 keypoints in block-local coordinates, and transformed by `pose`.
  static const std::array<Eigen::Vector2d, kNumKeypoints>& LocalKeypoints();
  static std::array<Eigen::Vector2d, kNumKeypoints> Keypoints(const Eigen::Vector3d& pose);
  static Eigen::Vector3d GoalPose() { return {kGoalX, kGoalY, kGoalAngle}; }
  // Body origin after DP's legacy _set_state: origin (x, y) at angle 0, then rotated by `angle`
  // about the centre of gravity (0, 45).
  static Eigen::Vector3d LegacyPose(double x, double y, double angle);

 protected:
  // move / reset of the T block (tasks/pusht/pusht_perturbations.cc: the facts).
  std::unique_ptr<Perturber> MakePerturber(const std::string& name) override;

 private:
  TaskSpec spec_;
  std::string model_xml_;
  PushTLayout layout_;
  int camera_id_ = -1;
  std::vector<double> last_action_{256, 256};
  Eigen::Vector2d reset_agent_ = Eigen::Vector2d::Zero();
  Eigen::Vector3d reset_block_ = Eigen::Vector3d::Zero();  // as drawn: x, y, angle
};

}  // namespace onedp
