// Can (robomimic "PickPlaceCan", robosuite PickPlace with single_object_mode 2, object "can"):
// pick the can out of the source bin and put it in the target bin's can compartment.
//
// Model: assets/can/can.xml. Bins arena: bin1 (source) at (0.1, -0.25, 0.8), bin2 (target) at
//   (0.1, 0.28, 0.8), floors 0.4 x 0.5 with their tops at z 0.82, 10 cm walls (z 0.8 ... 0.9), bin2
//   split into 4 compartments by dividers on its centre lines. Panda base at (-0.5, -0.1, 0.912):
//   robosuite's bins offset (-0.5, -0.1, 0) in x / y at the same mount height as Lift. The can is a
//   cylinder of radius 0.025 spanning z -0.0403 ... +0.0397 in its body frame, density 100.
// Reset(seed): arm init_qpos + N(0, 0.02) joint noise (stream 1); can upright at bin1 centre +
//   (x, y), x ~ U[-0.145 + r, 0.145 - r], y ~ U[-0.195 + r, 0.195 - r] with the horizontal radius
//   r = 0.0354 (ensure_object_boundary_in_range), yaw ~ U[0, 2 pi), resting on the bin floor
//   (z = 0.82 + 0.0403) (stream 2). robosuite also samples the three unused objects (milk, bread,
//   cereal) and then removes them; we draw only the can.
// Action: 7-D delta (dpos 3, daxis-angle 3, gripper: +1 close / -1 open) or 10-D absolute.
// Observations: robot0_eef_pos (3), robot0_eef_quat (4, xyzw), robot0_gripper_qpos (2),
//   object (14) = [can_pos 3 (world), can_quat 4 (xyzw, world),
//                  can_to_eef_pos 3, can_to_eef_quat 4 (xyzw)]
//   where the last 7 are robosuite's "Can_to_robot0_eef_pos/quat": the can's pose expressed in the
//   end-effector (grip-site) frame, p = R_eef^T (p_can - p_eef), q = q_eef^-1 * q_can (sign chosen
//   with w >= 0); agentview_image and robot0_eye_in_hand_image (84 x 84 x 3 uint8).
// Success: can centre inside bin2's can compartment, 0.1 < x < 0.295, 0.28 < y < 0.525,
//   0.8 < z < 0.9, and the gripper has let go (RobomimicTask::GripperFarFrom(can)). Reward 1 on
//   success, else 0.
// Horizon: 400 (ph), 500 (mh).
// Perturbations: move and reset of the can inside the source bin (can_perturbations.cc).
#pragma once

#include <memory>
#include <string>

#include "tasks/common/robomimic_task.h"

namespace onedp {

class CanTask : public RobomimicTask {
 public:
  // Arena (world frame).
  static constexpr double kBinFloorTopZ = 0.82;
  static constexpr double kBinWallTopZ = 0.90;
  static constexpr double kBin1X = 0.1, kBin1Y = -0.25;
  static constexpr double kBin2X = 0.1, kBin2Y = 0.28;
  // Can geometry (body frame) and placement.
  static constexpr double kCanRadius = 0.025;
  static constexpr double kCanBottom = -0.0403, kCanTop = 0.0397;
  // robosuite's MujocoXMLObject.horizontal_radius: the x coordinate of the object's
  // horizontal_radius_site, (0.025, 0.025) for the can, so 0.025 (not the site's norm); the placement
  // sampler keeps the can this far inside bin1's sampling box (0.145 x 0.195 half sizes).
  static constexpr double kHorizontalRadius = 0.025;
  static constexpr double kPlaceHalfX = 0.145, kPlaceHalfY = 0.195;
  // Success region (the can's compartment of bin2).
  static constexpr double kGoalXMin = 0.1, kGoalXMax = 0.1 + 0.195;
  static constexpr double kGoalYMin = 0.28, kGoalYMax = 0.28 + 0.245;
  static constexpr double kGoalZMin = 0.8, kGoalZMax = 0.9;

  explicit CanTask(const std::string& variant);
  // The task's facts (TaskInfo) without constructing it.
  static TaskInfo Info(const std::string& variant);

  Outcome Evaluate() const override;
  std::unique_ptr<Expert> MakeExpert(const OperatorProfile& op, uint64_t seed) override;
  nlohmann::json EpisodeMeta() const override;

  Eigen::Vector3d CanPos() const { return BodyPos(can_body_); }
  const double* CanQuatWxyz() const { return sim_->data()->xquat + 4 * can_body_; }
  Eigen::Matrix3d CanRot() const { return BodyRot(can_body_); }
  // The success region test on a can position (without the gripper test).
  static bool InGoalRegion(const Eigen::Vector3d& p);
  // Centre of the can's compartment in the world xy plane.
  static Eigen::Vector2d GoalCentre() {
    return {0.5 * (kGoalXMin + kGoalXMax), 0.5 * (kGoalYMin + kGoalYMax)};
  }

  int can_joint() const { return can_joint_; }
  int can_body() const { return can_body_; }

 protected:
  void PlaceObjects(Rng* rng) override;
  std::vector<double> ObjectObs() const override;
  // move / reset of the can (tasks/can/can_perturbations.cc: the facts).
  std::unique_ptr<Perturber> MakePerturber(const std::string& name) override;
  // Draws the can's placement as Reset does and sets it; returns its position (and the yaw).
  Eigen::Vector3d PlaceCan(Rng* rng, double* yaw = nullptr);

 private:
  int can_body_, can_joint_;
  Eigen::Vector3d initial_pos_ = Eigen::Vector3d::Zero();
  double initial_yaw_ = 0;
};

}  // namespace onedp
