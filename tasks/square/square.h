// Square (robomimic "Square", robosuite NutAssemblySquare): pick the square nut up by its handle
// and put it over the square peg.
//
// Model: assets/square/square.xml (table 0.8 x 0.8 x 0.05 with its top at z = 0.82; Panda base at
//   (-0.56, 0, 0.912); fixed pegs peg1 (square box, half 0.016 x 0.016 x 0.1) at (0.23, 0.10, 0.85)
//   and peg2 (round cylinder r 0.02, half-height 0.1) at (0.23, -0.10, 0.85); the free SquareNut
//   (five boxes, density 100, hole centre = body origin, handle along +x at 0.054); cameras
//   agentview and robot0_eye_in_hand).
// Reset(seed): arm init_qpos + N(0, 0.02) joint noise (stream 1); nut x ~ U[-0.115, -0.11],
//   y ~ U[0.11, 0.225] (relative to the table-top centre), yaw ~ U[0, 2 pi), body z = table top +
//   0.02 (z offset) + 0.01 (half thickness) = 0.85, i.e. it drops 2 cm onto the table (stream 2).
//   Only one object is sampled, so there is no collision rejection (robosuite also samples and then
//   removes a round nut; we do not, which only changes RNG consumption).
// Action: 7-D delta (dpos 3, daxis-angle 3, gripper: +1 close / -1 open) or 10-D absolute.
// Observations: robot0_eef_pos (3), robot0_eef_quat (4, xyzw), robot0_gripper_qpos (2),
//   object (14) = [nut_pos 3 (world), nut_quat 4 (world, xyzw, MuJoCo's sign),
//                  nut_to_eef_pos 3, nut_to_eef_quat 4 (xyzw, w >= 0)]
//   where the last 7 are the nut pose expressed in the grip-site frame (robosuite's
//   "SquareNut_to_robot0_eef_pos/quat": R_eef^T (p_nut - p_eef), q_eef^-1 * q_nut);
//   agentview_image and robot0_eye_in_hand_image (84 x 84 x 3 uint8).
// Success: |nut_x - 0.23| < 0.03, |nut_y - 0.10| < 0.03, nut_z < 0.87 and the gripper is released
//   (1 - tanh(10 |grip_site - nut|) < 0.6, i.e. > ~4.24 cm away). Reward 1 on success, else 0.
// Horizon: 400 (ph), 500 (mh).
// Perturbations: move and reset of the nut (square_perturbations.cc).
#pragma once

#include <memory>
#include <string>

#include "tasks/common/robomimic_task.h"

namespace onedp {

class SquareTask : public RobomimicTask {
 public:
  static constexpr double kTableTopZ = 0.82;
  static constexpr double kPegX = 0.23, kPegY = 0.10;   // peg1 (square)
  static constexpr double kPeg2X = 0.23, kPeg2Y = -0.10;  // peg2 (round)
  static constexpr double kPegTopZ = 0.95;
  static constexpr double kSuccessXY = 0.03;
  static constexpr double kSuccessZ = kTableTopZ + 0.05;  // 0.87
  static constexpr double kNutHalfThickness = 0.01;
  static constexpr double kHandleX = 0.054;  // handle box centre along the nut's x axis

  explicit SquareTask(const std::string& variant);
  // The task's facts (TaskInfo) without constructing it.
  static TaskInfo Info(const std::string& variant);

  Outcome Evaluate() const override;
  std::unique_ptr<Expert> MakeExpert(const OperatorProfile& op, uint64_t seed) override;
  nlohmann::json EpisodeMeta() const override;

  Eigen::Vector3d NutPos() const { return BodyPos(nut_body_); }
  const double* NutQuatWxyz() const { return sim_->data()->xquat + 4 * nut_body_; }
  Eigen::Matrix3d NutRot() const { return BodyRot(nut_body_); }
  int nut_joint() const { return nut_joint_; }
  // The nut-placement predicate of Evaluate() without the gripper test.
  bool NutOnPeg() const;

 protected:
  void PlaceObjects(Rng* rng) override;
  std::vector<double> ObjectObs() const override;
  // move / reset of the nut (tasks/square/square_perturbations.cc: the facts).
  std::unique_ptr<Perturber> MakePerturber(const std::string& name) override;

 private:
  // Draws the nut's placement as Reset does and sets it; returns x, y, yaw.
  Eigen::Vector3d PlaceNut(Rng* rng);

 private:
  int nut_body_, nut_joint_;
  double init_yaw_ = 0;
  Eigen::Vector2d init_xy_ = Eigen::Vector2d::Zero();
};

}  // namespace onedp
