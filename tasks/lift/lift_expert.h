// Scripted Lift expert (privileged: reads the cube pose). Phases:
//   approach  above the cube at a per-episode height, gripper open, yaw aligned with a cube face
//   descend   to the grasp height
//   close     gripper closes until the fingers stop
//   lift      up to a per-episode height
// A botched grasp (per OperatorProfile::regrasp) lifts a little, opens, rises and re-approaches.
#pragma once

#include <string>
#include <vector>

#include "tasks/common/operators.h"

namespace onedp {

class LiftTask;

class LiftExpert : public Expert {
 public:
  LiftExpert(LiftTask* task, const OperatorProfile& op, uint64_t seed);
  std::vector<double> Act() override;
  std::string Phase() const override;

 private:
  enum class Stage { kApproach, kDescend, kClose, kLift, kRelease };
  void ChoosePath();

  LiftTask* task_;
  OperatorBehaviour op_;
  Stage stage_ = Stage::kApproach;
  int stage_steps_ = 0;
  bool botched_ = false;
  double grasp_yaw_ = 0;
  double approach_height_ = 0.08, lift_height_ = 0.12;
  Eigen::Vector2d approach_offset_ = Eigen::Vector2d::Zero();
  Eigen::Vector2d grasp_offset_ = Eigen::Vector2d::Zero();
  double last_finger_ = 0;
};

}  // namespace onedp
