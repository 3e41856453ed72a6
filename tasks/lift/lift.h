// Lift (robomimic "Lift", robosuite Lift): pick the red cube up off the table.
//
// Model: assets/lift/lift.xml (table 0.8 x 0.8 x 0.05 with its top at z = 0.8; Panda base at
//   (-0.56, 0, 0.912); cameras agentview and robot0_eye_in_hand).
// Reset(seed): arm init_qpos + N(0, 0.02) joint noise (stream 1); cube half-size ~ U[0.020, 0.022]
//   (the model geom, mass and inertia are resized: density 1000), cube x, y ~ U[-0.03, 0.03],
//   z = table top + 0.01 + half-size, yaw ~ U[0, 2 pi) (stream 2).
// Action: 7-D delta (dpos 3, daxis-angle 3, gripper: +1 close / -1 open) or 10-D absolute.
// Observations: robot0_eef_pos (3), robot0_eef_quat (4, xyzw), robot0_gripper_qpos (2),
//   object (10) = [cube_pos 3, cube_quat 4 (xyzw), gripper_to_cube_pos 3 (eef - cube)],
//   agentview_image and robot0_eye_in_hand_image (84 x 84 x 3 uint8).
// Success: cube z > table top + 0.04 (0.84 m). Reward 1 on success, else 0.
// Horizon: 400 (ph), 500 (mh).
// Perturbations: move and reset of the cube (lift_perturbations.cc; a reset keeps its size).
#pragma once

#include <memory>
#include <string>

#include "tasks/common/robomimic_task.h"

namespace onedp {

class LiftTask : public RobomimicTask {
 public:
  static constexpr double kTableTopZ = 0.8;
  static constexpr double kSuccessHeight = 0.04;

  explicit LiftTask(const std::string& variant);
  // The task's facts (TaskInfo) without constructing it.
  static TaskInfo Info(const std::string& variant);

  Outcome Evaluate() const override;
  std::unique_ptr<Expert> MakeExpert(const OperatorProfile& op, uint64_t seed) override;
  nlohmann::json EpisodeMeta() const override;

  Eigen::Vector3d CubePos() const { return BodyPos(cube_body_); }
  const double* CubeQuatWxyz() const { return sim_->data()->xquat + 4 * cube_body_; }
  double cube_half_size() const { return cube_half_size_; }
  // Resizes the cube (geom size, bounding radius, mass and inertia at density 1000).
  void SetCubeHalfSize(double h);

 protected:
  void PlaceObjects(Rng* rng) override;
  std::vector<double> ObjectObs() const override;
  // move / reset of the cube (tasks/lift/lift_perturbations.cc: the facts).
  std::unique_ptr<Perturber> MakePerturber(const std::string& name) override;
  // Draws the cube's position and yaw as Reset does (after its size) and sets them.
  void PlaceCube(Rng* rng);

 private:
  int cube_body_, cube_geom_, cube_joint_;
  double cube_half_size_ = 0.021;
};

}  // namespace onedp
