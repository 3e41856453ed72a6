// Scripted Can expert (privileged: reads the can pose). Phases:
//   approach  above the can at a per-attempt height, gripper open, top-down, yaw per attempt
//             (an upright can is symmetric; a can lying on its side is grasped across its axis)
//   descend   hover with the fingertips above the can until lined up along the closing direction,
//             then down to the grasp height (pads just above the can's middle, hand clear of its
//             top); close only when lined up across the closing direction to a few millimetres
//   close     gripper closes until the fingers stop
//   lift      straight up until the can clears the bin walls (per-episode carry height)
//   carry     over to above the target compartment (per-episode drop point and mid-way detour)
//   lower     down until the can is a little above the compartment floor
//   open      gripper opens, arm held still
//   retreat   up and back toward the robot (the episode ends at success)
//   release   (fingers fully open before rising) botched grasp (OperatorProfile::regrasp) or a slipped / missed can: let go, rise,
//             and approach again wherever the can now is.
#pragma once

#include <string>
#include <vector>

#include <Eigen/Core>

#include "tasks/common/expert_util.h"
#include "tasks/common/operators.h"

namespace onedp {

class CanTask;

class CanExpert : public Expert {
 public:
  CanExpert(CanTask* task, const OperatorProfile& op, uint64_t seed);
  std::vector<double> Act() override;
  std::string Phase() const override;

 private:
  using Stage = PickPlaceStage;
  void ChoosePath();   // per episode: carry height, drop point, detour
  void ChooseGrasp();  // per grasp attempt: approach height / offset, grasp yaw and height
  void Go(Stage next);

  CanTask* task_;
  OperatorBehaviour op_;
  Stage stage_ = Stage::kApproach;
  int stage_steps_ = 0;
  bool botched_ = false;
  int attempts_ = 0;
  // per attempt
  double grasp_yaw_ = 0, grasp_dz_ = 0.014, approach_height_ = 0.1;
  Eigen::Vector2d approach_offset_ = Eigen::Vector2d::Zero();
  double grasp_offset_ = 0;  // along the closing direction
  Eigen::Vector3d hold_ = Eigen::Vector3d::Zero();  // where the arm holds still while opening
  double last_finger_ = 0;
  // per episode
  double carry_z_ = 1.0, release_z_ = 0.9, retreat_z_ = 1.0;
  Eigen::Vector2d drop_xy_ = Eigen::Vector2d::Zero();
  Eigen::Vector2d detour_xy_ = Eigen::Vector2d::Zero();
  bool detour_done_ = false;
};

}  // namespace onedp
