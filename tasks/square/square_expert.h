// Scripted Square expert (privileged: reads the nut pose). Phases:
//   approach  above the handle at a per-episode height, gripper open, fingers closing across the
//             handle's narrow side (tool x axis along the nut's y axis)
//   descend   to the handle
//   close     gripper closes until the fingers stop
//   lift      straight up until the nut clears the peg tops
//   carry     at a per-episode carry height, moving so the nut's hole centre (its body origin) is
//             above peg1 and turning the wrist about world z so the nut yaw is a multiple of pi/2
//   lower     down over the peg (closed loop on the nut's xy; the commanded height only goes
//             down while the hole is lined up with the peg), until the nut is threaded 8 mm
//             onto the peg
//   open      let go: the nut slides down the peg to the table (the fingers hold the handle
//             ~6 cm from the hole centre, so they are already > 4.24 cm from the nut body)
//   retreat   up and away; if the nut did not end on the peg, start over
// The wrist yaw is planned at each approach: of the two grasp yaws (pi apart) and the three nut
// yaws that leave the handle not pointing away from the robot (+x would put the hand out of
// reach over the peg), the pair with the least wrist rotation that keeps joint 7 in range.
// A botched grasp (OperatorProfile::regrasp), a nut slipping out of the fingers, or a nut stuck on
// the peg top is handled like LiftExpert: let go / back off and try again, with patience-based
// tolerances (an operator accepts more error the longer a phase takes).
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "tasks/common/expert_util.h"
#include "tasks/common/operators.h"

namespace onedp {

class SquareTask;

class SquareExpert : public Expert {
 public:
  SquareExpert(SquareTask* task, const OperatorProfile& op, uint64_t seed);
  std::vector<double> Act() override;
  std::string Phase() const override;

 private:
  using Stage = PickPlaceStage;
  void ChoosePath();
  void ChoosePlacement();
  // World position of the grasp point on the handle.
  Eigen::Vector3d GraspPoint() const;

  SquareTask* task_;
  OperatorBehaviour op_;
  Stage stage_ = Stage::kApproach;
  int stage_steps_ = 0;
  bool botched_ = false;
  double grasp_yaw_ = 0;
  double approach_height_ = 0.08;
  double carry_height_ = 1.0;  // nut z while carrying
  double handle_x_ = 0.062;    // grasp point along the nut's x axis
  double handle_y_ = 0.0;      // and across the handle
  Eigen::Vector2d approach_offset_ = Eigen::Vector2d::Zero();
  Eigen::Vector2d place_offset_ = Eigen::Vector2d::Zero();
  Eigen::Vector3d grasp_rel_ = Eigen::Vector3d::Zero();  // nut origin - eef at the grasp (world)
  double hold_yaw_ = 0;     // eef yaw held while lifting
  double nut_target_yaw_ = M_PI;  // planned final nut yaw (a multiple of pi/2)
  double grasp_dz_ = 0;     // nut z - eef z at the grasp
  double grasp_d0_ = 0.01;  // |grasp point - eef| when the fingers closed
  double lower_dz_ = 0;     // nut z - eef z when lowering starts
  double lower_z_ = 0;      // commanded nut height while lowering
  double last_finger_ = 0;
  double last_nut_z_ = 0;
  int stuck_steps_ = 0;
  int near_steps_ = 0;  // steps of this phase spent near its target (drives patience)
  int retries_ = 0;
};

}  // namespace onedp
