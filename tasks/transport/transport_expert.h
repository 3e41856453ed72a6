// Scripted two-arm Transport expert (privileged: reads the lid, hammer, trash and bin poses). Both
// hands stay top-down (fingers closing along the tool x axis at a planned yaw); the arms work in
// parallel and meet once, for the hand-over.
//
// robot0 (table0: the start bin with the lid and the hammer):
//   lid_approach / lid_descend / lid_close   grasp the lid handle, fingers across it
//   lid_lift / lid_move / lid_lower / lid_release
//                                            lift the lid off, set it down on table0 at x -0.2 (the
//                                            free half of the table), let go, rise
//   hammer_approach / hammer_descend / hammer_close
//                                            grasp the handle 4.5 cm from its centre toward the head
  //                                            (at its centre of mass: it stays level)
//                                            (the grasp yaw of the two, pi apart, that leaves joint 7
//                                            room for the turn that follows)
//   hammer_lift                              straight up until the hammer clears the rim
//   present                                  turn the hammer head toward robot0 (-y) and bring the
//                                            grasp to the hand-over point above the gap (x 0, y -0.03)
//   hold                                     hold still until robot1 has closed on the handle
//   give / retreat / done                    open, then back off toward table0
// robot1 (table1: the target bin with the trash, the trash bin):
//   trash_approach / trash_descend / trash_close / trash_lift / trash_move / trash_lower /
//   trash_release                            move the trash cube from the target bin into the trash
//                                            bin (dropped from ~5 cm above its base)
//   wait                                     above the hand-over point, until robot0 presents
//   take_descend / take_close / take_wait    grasp the handle 5.5 cm from its centre on the head side
//                                            (the hammer's centre of mass: it hangs level), wait for
//                                            robot0 to let go
//   carry / lower / release / done           hammer centre over the target bin, lower it to ~1.5 cm
//                                            above the base, open, rise
// Operators: each arm is driven through its own OperatorBehaviour (noise, pauses, speed), seeded
// from the episode seed; both move at 1.8x the profile's cruise speed (capped at the controller's
// limit: the task has to fit diffusion_policy's 700 steps for MH too); hand noise is left out from
// the presentation to the drop (every operator is careful with the hammer; pauses still happen);
// botched grasps (OperatorProfile::regrasp) of the lid, hammer and trash are released and retried,
// as are descents that never line up (120 steps) and a hammer dropped back on table0; approach points
// vary by the operator's path spread. Deterministic given (seed, operator).
#pragma once

#include <string>
#include <vector>

#include <Eigen/Core>

#include "tasks/common/operators.h"

namespace onedp {

class TransportTask;

class TransportExpert : public Expert {
 public:
  // Hand-over geometry: robot0 holds the handle at body z kGrip0 (next to the hammer's centre of
  // mass, ~+0.05; the head is at +0.1) and presents it with the head toward itself (-y), its grasp
  // at (0, kHandoverY0, kHandoverZ); robot1 takes the butt end at body z kGrip1, 0.1 further along
  // +y. Both grasps are then ~0.76 m from their arm's base (the top-down reach ends at ~0.84; at
  // 0.78 an arm is too straight to carry anything away).
  static constexpr double kGrip0 = 0.045;
  static constexpr double kGrip1 = -0.055;
  static constexpr double kHandoverY0 = -0.05;
  static constexpr double kHandoverZ = 1.05;

  TransportExpert(TransportTask* task, const OperatorProfile& op, uint64_t seed);
  std::vector<double> Act() override;
  std::string Phase() const override;

  // Stage indices (tests and stage statistics); see the enums below.
  int stage0() const { return static_cast<int>(s0_); }
  int stage1() const { return static_cast<int>(s1_); }
  std::string Phase0() const;
  std::string Phase1() const;
  int lid_retries() const { return lid_retries_; }
  int hammer_retries() const { return hammer_retries_; }
  int trash_retries() const { return trash_retries_; }

  enum class Stage0 {
    kLidApproach, kLidDescend, kLidClose, kLidLift, kLidMove, kLidLower, kLidRelease,
    kHammerApproach, kHammerDescend, kHammerClose, kHammerLift, kPresent, kHold, kGive, kRetreat, kDone,
  };
  enum class Stage1 {
    kTrashApproach, kTrashDescend, kTrashClose, kTrashLift, kTrashMove, kTrashLower, kTrashRelease,
    kWait, kTakeDescend, kTakeClose, kTakeWait, kCarry, kLower, kRelease, kDone,
  };

 private:
  // One arm's command for this step: top-down at `yaw`, gripper (+1 close), speed (fraction).
  struct Command {
    Eigen::Vector3d pos;
    double yaw = 0;
    double gripper = -1;
    double speed = 0.5;
  };
  Command Act0();
  Command Act1();
  void Go0(Stage0 s);
  void Go1(Stage1 s);
  Eigen::Vector3d HammerPoint(double body_z) const;  // a point on the handle axis (world)
  void PlanHammerGrasp();

  TransportTask* task_;
  OperatorBehaviour op0_, op1_;
  Stage0 s0_ = Stage0::kLidApproach;
  Stage1 s1_ = Stage1::kTrashApproach;
  int steps0_ = 0, steps1_ = 0, near0_ = 0, near1_ = 0;
  double finger0_ = 0, finger1_ = 0;  // last finger position (settle test)
  double yaw0_ = 0, yaw1_ = 0;        // planned grasp yaw of each hand
  double turn0_ = 0;                  // hand yaw while presenting (hammer head toward -y)
  double turn_way0_ = 1;              // which way round robot0 turns the hammer to present it (+1 / -1)
  bool botched0_ = false, botched1_ = false;
  bool via0_ = false;  // robot0 passed the waypoint on its way to the hammer
  bool presented_ = false, taken_ = false, released_ = false;
  int lid_retries_ = 0, hammer_retries_ = 0, trash_retries_ = 0;
  Eigen::Vector3d hold0_ = Eigen::Vector3d::Zero(), hold1_ = Eigen::Vector3d::Zero();
  Eigen::Vector3d last_eef0_ = Eigen::Vector3d::Zero();
  int stall0_ = 0;  // steps robot0's hand has (almost) not moved
  Eigen::Vector2d lid_drop_ = Eigen::Vector2d::Zero();
  Eigen::Vector2d offset0_ = Eigen::Vector2d::Zero(), offset1_ = Eigen::Vector2d::Zero();
  Eigen::Vector2d place_offset_ = Eigen::Vector2d::Zero();
  double approach_h0_ = 0.07, approach_h1_ = 0.07;
};

}  // namespace onedp
