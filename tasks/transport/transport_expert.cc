#include "tasks/transport/transport_expert.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "sim/controllers.h"
#include "tasks/common/expert_util.h"
#include "tasks/transport/transport.h"

namespace onedp {
namespace {

// Hand height while carrying things over the bin walls (grip site, world z).
constexpr double kCarryZ = 1.07;
// Where robot0 sets the lid down: its centre on table0's free half.
constexpr double kLidDropX = -0.16;
// The hammer's origin goes 1 cm toward +y of the target bin's centre: its head end (-y) reaches
// 0.1 + 1.8 cm from the origin, its butt end 0.1.
const Eigen::Vector2d kPlaceShift(0.0, 0.01);
// Transport's operators move at this multiple of their cruise speed (capped at the controller's
// limit): the task is two Lift-sized tasks in sequence plus a hand-over, within diffusion_policy's
// 700-step horizon for both PH and MH.
constexpr double kSpeedScale = 1.8;
// Second operator stream: robot1's behaviour is seeded from the episode seed mixed with this.
constexpr uint64_t kArm1Seed = 0x9e3779b97f4a7c15ull;

// Yaw of a rotation's z axis (the hammer handle, toward the head) in the world xy plane.
double AxisZYaw(const Eigen::Matrix3d& r) { return std::atan2(r(1, 2), r(0, 2)); }

double BinRimZ(const Eigen::Vector3d& bin_base) { return bin_base.z() + TransportTask::kBinRim; }

// One arm's arrival tests for one step of its stage machine, toward the step's commanded position
// and yaw (read when a test runs, so a stage may set them first). A shaky operator accepts more
// error the longer it has been close to a target (see SquareExpert): `patience` grows with the
// steps counted near one in this stage.
class ArmTests {
 public:
  ArmTests(const PandaRobot& robot, const Eigen::Vector3d& target, const double& target_yaw, double precision,
           const int* stage_steps, int* near_steps, double* last_finger)
      : robot_(robot),
        eef_(robot.EefPos()),
        target_(target),
        target_yaw_(target_yaw),
        precision_(precision),
        stage_steps_(stage_steps),
        near_steps_(near_steps),
        last_finger_(last_finger),
        patience_(1.0 + *near_steps / 15.0) {}

  double patience() const { return patience_; }
  // Counts this step as near a target when `err` (m) is under 2 cm.
  void Near(double err) {
    if (err < 0.02) ++*near_steps_;
  }
  // The hand's rotation error (rad) from top-down at `yaw`.
  double RotErr(double yaw) const {
    return RotationToAxisAngle(TopDownRotation(yaw) * robot_.EefRot().transpose()).norm();
  }
  bool Arrived(double tol, double rot_tol) const {
    return (target_ - eef_).norm() < tol * patience_ && RotErr(target_yaw_) < rot_tol * patience_;
  }
  // Lined up on a grasp point: height matters most.
  bool AtGrasp() {
    const double xy = (target_ - eef_).head<2>().norm();
    const double z = std::abs(target_.z() - eef_.z());
    Near(std::max(xy, z));
    return xy < std::min((precision_ + 0.002) * patience_, 0.008) && z < 0.004 * std::min(patience_, 1.5) &&
           RotErr(target_yaw_) < std::min(0.12 * patience_, 0.3);
  }
  bool Settled() { return FingersSettled(robot_, *stage_steps_, last_finger_); }

 private:
  const PandaRobot& robot_;
  const Eigen::Vector3d eef_;
  const Eigen::Vector3d& target_;
  const double& target_yaw_;
  const double precision_;
  const int* stage_steps_;
  int* near_steps_;
  double* last_finger_;
  const double patience_;
};

}  // namespace

TransportExpert::TransportExpert(TransportTask* task, const OperatorProfile& op, uint64_t seed)
    : task_(task), op0_(op, seed), op1_(op, seed ^ kArm1Seed) {
  Rng& r0 = op0_.rng();
  Rng& r1 = op1_.rng();
  approach_h0_ = std::max(0.04, 0.05 + 0.03 * r0.Uniform() + op0_.PathOffset());
  approach_h1_ = std::max(0.04, 0.05 + 0.03 * r1.Uniform() + op1_.PathOffset());
  offset0_ = 0.5 * Eigen::Vector2d(op0_.PathOffset(), op0_.PathOffset());
  offset1_ = 0.5 * Eigen::Vector2d(op1_.PathOffset(), op1_.PathOffset());
  lid_drop_ = Eigen::Vector2d(kLidDropX + 0.5 * op0_.PathOffset(), task_->StartBinPos().y() + 0.5 * op0_.PathOffset());
  const double p = op1_.profile().precision;
  place_offset_ = Eigen::Vector2d(r1.Uniform(-p, p), r1.Uniform(-p, p));
  // lid: fingers across the handle (which is long along the lid's y axis)
  yaw0_ = NearestSymmetricYaw(YawOf(task_->robot(0).EefRot()), YawOf(task_->LidRot()), M_PI);
  // trash: fingers along a cube face
  yaw1_ = NearestSymmetricYaw(YawOf(task_->robot(1).EefRot()), YawOf(task_->TrashRot()), M_PI / 2);
}

void TransportExpert::Go0(Stage0 s) {
  if (s == Stage0::kHammerApproach) via0_ = false;
  s0_ = s;
  steps0_ = 0;
  near0_ = 0;
}

void TransportExpert::Go1(Stage1 s) {
  s1_ = s;
  steps1_ = 0;
  near1_ = 0;
}

Eigen::Vector3d TransportExpert::HammerPoint(double body_z) const {
  return task_->PayloadPos() + task_->PayloadRot().col(2) * body_z;
}

void TransportExpert::PlanHammerGrasp() {
  // Fingers across the handle: two yaws pi apart. After the grasp the hand turns by `turn` so the
  // head points -y; keep joint 7 inside its range at the grasp and after the turn. The hammer starts
  // with its head toward +y half the time; a turn of nearly pi has no room from some grasps, and
  // then the turn may go the long way round (more than pi) where that leaves room.
  const PandaRobot& robot = task_->robot(0);
  const double eef_yaw = YawOf(robot.EefRot());
  const double hy = AxisZYaw(task_->PayloadRot());
  const double turn = WrapAngle(-M_PI / 2 - hy);
  const mjModel* m = task_->sim().model();
  const double q7 = task_->sim().data()->qpos[m->jnt_qposadr[task_->sim().Id(mjOBJ_JOINT, "robot0_joint7")]];
  double best = 1e9;
  for (double sign : {1.0, -1.0}) {
    const double g = WrapAngle(hy + sign * M_PI / 2 - eef_yaw);
    const double q_grasp = q7 + kWristSign * g;
    for (double way : {turn, turn - std::copysign(2.0 * M_PI, turn)}) {  // the short way first
      const double q_end = q_grasp + kWristSign * way;
      double cost = std::abs(g) + 0.5 * std::abs(way - turn);
      if (std::abs(q_grasp) > kWristLimit || std::abs(q_end) > kWristLimit) cost += 100.0;
      if (cost < best) {
        best = cost;
        yaw0_ = eef_yaw + g;
        turn_way0_ = way >= 0 ? 1.0 : -1.0;
      }
    }
  }
}

std::string TransportExpert::Phase0() const {
  static const char* const kNames[] = {"lid_approach", "lid_descend", "lid_close", "lid_lift", "lid_move",
                                       "lid_lower", "lid_release", "hammer_approach", "hammer_descend",
                                       "hammer_close", "hammer_lift", "present", "hold", "give", "retreat", "done"};
  return kNames[static_cast<int>(s0_)];
}

std::string TransportExpert::Phase1() const {
  static const char* const kNames[] = {"trash_approach", "trash_descend", "trash_close", "trash_lift",
                                       "trash_move", "trash_lower", "trash_release", "wait", "take_descend",
                                       "take_close", "take_wait", "carry", "lower", "release", "done"};
  return kNames[static_cast<int>(s1_)];
}

std::string TransportExpert::Phase() const { return "r0:" + Phase0() + " r1:" + Phase1(); }

TransportExpert::Command TransportExpert::Act0() {
  const PandaRobot& robot = task_->robot(0);
  const Eigen::Vector3d eef = robot.EefPos();
  const double eef_yaw = YawOf(robot.EefRot());
  const double speed = std::min(1.0, kSpeedScale * op0_.cruise_speed());
  const double precision = op0_.profile().precision;
  const Eigen::Vector3d start_bin = task_->StartBinPos();
  const double rim = BinRimZ(start_bin);
  ++steps0_;
  stall0_ = (eef - last_eef0_).norm() < 0.0015 ? stall0_ + 1 : 0;
  Command c;
  c.pos = eef;
  c.yaw = yaw0_;
  c.speed = speed;
  ArmTests arm(robot, c.pos, c.yaw, precision, &steps0_, &near0_, &finger0_);
  const double patience = arm.patience();

  switch (s0_) {
    case Stage0::kLidApproach: {
      const Eigen::Vector3d h = task_->LidHandlePos();
      c.pos << h.x() + offset0_.x(), h.y() + offset0_.y(), h.z() + approach_h0_;
      arm.Near((c.pos - eef).norm());
      if (arm.Arrived(2.0 * precision + 0.01, 0.2)) Go0(Stage0::kLidDescend);
      break;
    }
    case Stage0::kLidDescend: {
      c.pos = task_->LidHandlePos();
      c.speed = eef.z() - c.pos.z() > 0.04 ? speed : 0.7 * speed;
      if (arm.AtGrasp()) {
        Go0(Stage0::kLidClose);
      } else if (steps0_ > 120) {
        Go0(Stage0::kLidApproach);  // line up again from above
      }
      break;
    }
    case Stage0::kLidClose: {
      c.gripper = 1;
      c.pos = task_->LidHandlePos();
      if (arm.Settled()) {
        botched0_ = op0_.BotchGrasp() || robot.GripperQpos()[0] < 0.003;
        Go0(botched0_ ? Stage0::kLidRelease : Stage0::kLidLift);
        hold0_ = eef;
      }
      break;
    }
    case Stage0::kLidLift: {
      c.gripper = 1;
      c.pos << hold0_.x(), hold0_.y(), rim + 0.07;
      if ((task_->LidHandlePos() - eef).norm() > 0.03) {
        botched0_ = true;  // it slipped out: let go and start over
        Go0(Stage0::kLidRelease);
      } else if (task_->LidPos().z() > rim + 0.025) {
        Go0(Stage0::kLidMove);
      }
      break;
    }
    case Stage0::kLidMove: {
      c.gripper = 1;
      c.speed = std::min(1.0, 1.3 * speed);
      const Eigen::Vector3d lid = task_->LidPos();
      c.pos << eef.x() + lid_drop_.x() - lid.x(), eef.y() + lid_drop_.y() - lid.y(), rim + 0.07;
      const double err = (lid_drop_ - lid.head<2>()).norm();
      arm.Near(err);
      if (err < 0.02 * patience) Go0(Stage0::kLidLower);
      break;
    }
    case Stage0::kLidLower: {
      c.gripper = 1;
      const Eigen::Vector3d lid = task_->LidPos();
      // plate bottom 3 cm above the table, then let it drop
      c.pos << eef.x() + lid_drop_.x() - lid.x(), eef.y() + lid_drop_.y() - lid.y(),
          eef.z() + (TransportTask::kTableTopZ + 0.03 + 0.005 - lid.z());
      if (lid.z() < TransportTask::kTableTopZ + 0.005 + 0.04 || steps0_ > 80) {
        botched0_ = false;
        Go0(Stage0::kLidRelease);
      }
      break;
    }
    case Stage0::kLidRelease: {
      c.gripper = steps0_ <= 2 && botched0_ ? 1 : -1;
      c.yaw = eef_yaw;
      c.pos = eef;
      if (steps0_ > 6) c.pos.z() = std::max(eef.z(), rim + 0.08);
      if (steps0_ > 14) {
        const Eigen::Vector3d lid = task_->LidPos();
        const bool lid_on_bin = (lid.head<2>() - start_bin.head<2>()).norm() < 0.2 && lid.z() > rim - 0.02;
        if (botched0_ || lid_on_bin) {
          ++lid_retries_;
          yaw0_ = NearestSymmetricYaw(eef_yaw, YawOf(task_->LidRot()), M_PI);
          Go0(Stage0::kLidApproach);
        } else {
          PlanHammerGrasp();
          Go0(Stage0::kHammerApproach);
        }
        botched0_ = false;
      }
      break;
    }
    case Stage0::kHammerApproach: {
      const Eigen::Vector3d g = HammerPoint(kGrip0);
      c.pos << g.x() + 0.5 * offset0_.x(), g.y() + 0.5 * offset0_.y(), std::max(g.z() + approach_h0_, rim + 0.07);
      // From afar (the lid's drop point), come in high and from the far side of the bin: a straight
      // path passes close over robot0's base, where the arm folds its elbow onto the joint-4 limit
      // and stalls.
      if (!via0_) {
        c.pos << 0.5 * g.x(), g.y() + 0.15, rim + 0.14;
        if ((c.pos - eef).norm() < 0.05 || stall0_ > 15) via0_ = true;
        break;
      }
      if ((c.pos - eef).head<2>().norm() > 0.03) c.pos.z() = std::max(c.pos.z(), rim + 0.1);
      arm.Near((c.pos - eef).norm());
      if (arm.Arrived(precision + 0.006, 0.15)) Go0(Stage0::kHammerDescend);
      break;
    }
    case Stage0::kHammerDescend: {
      const Eigen::Vector3d g = HammerPoint(kGrip0);
      c.pos = g;
      c.speed = eef.z() - c.pos.z() > 0.04 ? speed : 0.7 * speed;
      // stay above the rim until lined up (the hand goes in between the walls)
      if ((g - eef).head<2>().norm() > 0.015 && eef.z() > rim) c.pos.z() = eef.z();
      if (arm.AtGrasp()) {
        Go0(Stage0::kHammerClose);
      } else if (steps0_ > 120) {
        Go0(Stage0::kHammerApproach);
      }
      break;
    }
    case Stage0::kHammerClose: {
      c.gripper = 1;
      c.pos = HammerPoint(kGrip0);
      if (arm.Settled()) {
        botched0_ = op0_.BotchGrasp() || robot.GripperQpos()[0] < 0.003;
        hold0_ = eef;
        if (botched0_) {
          Go0(Stage0::kRetreat);  // reused as "let go and retry" while botched0_
        } else {
          Go0(Stage0::kHammerLift);
        }
      }
      break;
    }
    case Stage0::kHammerLift: {
      c.gripper = 1;
      // straight up with the hammer kept in the middle of the bin: the arm drifts while rising, and a
      // handle end dragged along a wall catches and tips the hammer in the fingers
      const Eigen::Vector3d mid = HammerPoint(0.5 * task_->head_half_size());
      c.pos << eef.x() + start_bin.x() - mid.x(), eef.y() + start_bin.y() - mid.y(), kCarryZ;
      const double low = std::min(HammerPoint(-TransportTask::kHandleHalfLength).z(),
                                  HammerPoint(TransportTask::kHandleHalfLength).z()) - 0.02;
      if ((HammerPoint(kGrip0) - eef).norm() > 0.03) {
        botched0_ = true;
        Go0(Stage0::kRetreat);
      } else if (low > rim + 0.02) {
        Go0(Stage0::kPresent);
      }
      break;
    }
    case Stage0::kPresent: {
      c.gripper = 1;
      double turn = WrapAngle(-M_PI / 2 - AxisZYaw(task_->PayloadRot()));
      // the planned way round (PlanHammerGrasp); at most a quarter turn per command so that the
      // controller turns that way
      if (turn * turn_way0_ < 0 && std::abs(turn) > 0.5) turn += turn_way0_ * 2.0 * M_PI;
      c.yaw = eef_yaw + std::clamp(turn, -M_PI / 2, M_PI / 2);
      const Eigen::Vector3d goal(0.0, kHandoverY0, kHandoverZ);
      const Eigen::Vector3d g = HammerPoint(kGrip0);
      c.pos = goal + (eef - g);
      const double err = (goal - g).norm();
      const double moved = (eef - last_eef0_).norm();
      arm.Near(err);
      if ((g - eef).norm() > 0.04) {
        // dropped it on the way: start over if it fell back on table0 (else it is out of reach)
        const Eigen::Vector3d p = task_->PayloadPos();
        if (std::abs(p.y() + TransportTask::kTableY) < 0.16 && p.z() > TransportTask::kTableTopZ) {
          botched0_ = true;
          Go0(Stage0::kRetreat);
        } else {
          Go0(Stage0::kDone);
        }
      } else if ((err < 0.01 * std::min(patience, 2.0) && std::abs(turn) < 0.08 && moved < 0.002) ||
                 (stall0_ > 10 && err < 0.05 && std::abs(turn) < 0.12)) {
        // lined up, or as far as this arm gets (near the end of its reach): robot1 takes it there
        hold0_ = c.pos;
        turn0_ = c.yaw;
        presented_ = true;
        Go0(Stage0::kHold);
      }
      break;
    }
    case Stage0::kHold: {
      c.gripper = 1;
      c.pos = hold0_;
      c.yaw = turn0_;
      if (taken_) Go0(Stage0::kGive);
      break;
    }
    case Stage0::kGive: {
      c.gripper = -1;
      c.pos = hold0_;
      c.yaw = turn0_;
      if (steps0_ > 6 && robot.GripperQpos()[0] > 0.03) {
        // Open. At reset the handle lies roughly along y, the direction in which this hand drifts
        // most while its fingers close, so the grasp can end up a few cm nearer the head than
        // planned and the open fingers against the head (rising, they would lift it and tip the
        // hammer out of robot1's fingers): slide back along the handle to the planned grasp point
        // first.
        const Eigen::Vector3d axis = task_->PayloadRot().col(2);
        const double excess = (eef - task_->PayloadPos()).dot(axis) - kGrip0;
        if (excess > 0.006 && steps0_ < 40) {
          c.pos = eef - axis * excess;
        } else {
          released_ = true;
          Go0(Stage0::kRetreat);
        }
      }
      break;
    }
    case Stage0::kRetreat: {
      c.gripper = -1;
      c.yaw = eef_yaw;
      if (botched0_) {
        // a botched hammer grasp: open, rise above the rim, try again
        c.pos = eef;
        if (steps0_ > 6) c.pos.z() = std::max(eef.z(), rim + 0.07);
        if (steps0_ > 16) {
          botched0_ = false;
          ++hammer_retries_;
          PlanHammerGrasp();
          Go0(Stage0::kHammerApproach);
        }
      } else {
        // straight up first: the open fingers straddle the handle next to the head, which is wider
        // than they open
        c.pos = hold0_ + Eigen::Vector3d(0.0, 0.0, 0.08);
        if (eef.z() > hold0_.z() + 0.06 || steps0_ > 25) c.pos.y() -= 0.2;
        if (steps0_ > 50) Go0(Stage0::kDone);
      }
      break;
    }
    case Stage0::kDone: {
      c.gripper = -1;
      c.yaw = eef_yaw;
      c.pos = eef;
      break;
    }
  }
  last_eef0_ = eef;
  return c;
}

TransportExpert::Command TransportExpert::Act1() {
  const PandaRobot& robot = task_->robot(1);
  const Eigen::Vector3d eef = robot.EefPos();
  const double eef_yaw = YawOf(robot.EefRot());
  const double speed = std::min(1.0, kSpeedScale * op1_.cruise_speed());
  const double precision = op1_.profile().precision;
  const Eigen::Vector3d target_bin = task_->TargetBinPos();
  const Eigen::Vector3d trash_bin = task_->TrashBinPos();
  ++steps1_;
  Command c;
  c.pos = eef;
  c.yaw = yaw1_;
  c.speed = speed;
  ArmTests arm(robot, c.pos, c.yaw, precision, &steps1_, &near1_, &finger1_);
  const double patience = arm.patience();
  const Eigen::Vector3d trash = task_->TrashPos();

  switch (s1_) {
    case Stage1::kTrashApproach: {
      c.pos << trash.x() + offset1_.x(), trash.y() + offset1_.y(),
          std::max(trash.z() + approach_h1_, BinRimZ(target_bin) + 0.06);
      arm.Near((c.pos - eef).norm());
      if (arm.Arrived(precision + 0.008, 0.15)) Go1(Stage1::kTrashDescend);
      break;
    }
    case Stage1::kTrashDescend: {
      c.pos = trash;
      c.speed = eef.z() - c.pos.z() > 0.04 ? speed : 0.7 * speed;
      if ((trash - eef).head<2>().norm() > 0.015 && eef.z() > BinRimZ(target_bin)) c.pos.z() = eef.z();
      if (arm.AtGrasp()) {
        Go1(Stage1::kTrashClose);
      } else if (steps1_ > 120) {
        Go1(Stage1::kTrashApproach);
      }
      break;
    }
    case Stage1::kTrashClose: {
      c.gripper = 1;
      c.pos = trash;
      if (arm.Settled()) {
        botched1_ = op1_.BotchGrasp() || robot.GripperQpos()[0] < 0.01;
        hold1_ = eef;
        Go1(botched1_ ? Stage1::kTrashRelease : Stage1::kTrashLift);
      }
      break;
    }
    case Stage1::kTrashLift: {
      c.gripper = 1;
      c.pos << hold1_.x(), hold1_.y(), BinRimZ(target_bin) + 0.09;
      if ((trash - eef).norm() > 0.03) {
        botched1_ = true;
        Go1(Stage1::kTrashRelease);
      } else if (trash.z() > BinRimZ(target_bin) + 0.05) {
        Go1(Stage1::kTrashMove);
      }
      break;
    }
    case Stage1::kTrashMove: {
      c.gripper = 1;
      c.speed = std::min(1.0, 1.3 * speed);
      const Eigen::Vector2d goal = trash_bin.head<2>() + place_offset_;
      c.pos << eef.x() + goal.x() - trash.x(), eef.y() + goal.y() - trash.y(), BinRimZ(trash_bin) + 0.09;
      const double err = (goal - trash.head<2>()).norm();
      arm.Near(err);
      if ((trash - eef).norm() > 0.04) {
        botched1_ = true;  // dropped: look for it again
        Go1(Stage1::kTrashRelease);
      } else if (err < 0.015 * patience) {
        Go1(Stage1::kTrashLower);
      }
      break;
    }
    case Stage1::kTrashLower: {
      c.gripper = 1;
      const Eigen::Vector2d goal = trash_bin.head<2>() + place_offset_;
      // cube bottom 3 cm above the base plate
      const double goal_z = trash_bin.z() + TransportTask::kBinBaseHalfZ + 0.03 + TransportTask::kTrashHalf;
      c.pos << eef.x() + goal.x() - trash.x(), eef.y() + goal.y() - trash.y(), eef.z() + goal_z - trash.z();
      if (trash.z() < goal_z + 0.01 || steps1_ > 60) {
        botched1_ = false;
        Go1(Stage1::kTrashRelease);
      }
      break;
    }
    case Stage1::kTrashRelease: {
      c.gripper = steps1_ <= 2 && botched1_ ? 1 : -1;
      c.yaw = eef_yaw;
      c.pos = eef;
      if (steps1_ > 6) c.pos.z() = std::max(eef.z(), BinRimZ(trash_bin) + 0.08);
      if (steps1_ > 14) {
        const bool in_trash_bin = task_->Checks().trash_in_trash_bin;
        const bool reachable = (trash.head<2>() - target_bin.head<2>()).norm() < 0.14 ||
                               (trash.head<2>() - trash_bin.head<2>()).norm() < 0.14;
        if (!in_trash_bin && reachable && trash_retries_ < 4) {
          ++trash_retries_;
          yaw1_ = NearestSymmetricYaw(eef_yaw, YawOf(task_->TrashRot()), M_PI / 2);
          Go1(Stage1::kTrashApproach);
        } else {
          yaw1_ = NearestSymmetricYaw(eef_yaw, 0.0, M_PI);  // fingers along x, across the handle
          Go1(Stage1::kWait);
        }
        botched1_ = false;
      }
      break;
    }
    case Stage1::kWait: {
      c.pos << 0.0, kHandoverY0 + (kGrip0 - kGrip1), kHandoverZ + 0.08;
      if (presented_) {
        c.pos = HammerPoint(kGrip1) + Eigen::Vector3d(0, 0, 0.07);
        yaw1_ = NearestSymmetricYaw(eef_yaw, AxisZYaw(task_->PayloadRot()) + M_PI / 2, M_PI);
        c.yaw = yaw1_;
        arm.Near((c.pos - eef).norm());
        if (arm.Arrived(precision + 0.008, 0.15)) Go1(Stage1::kTakeDescend);
      }
      break;
    }
    case Stage1::kTakeDescend: {
      const Eigen::Vector3d g = HammerPoint(kGrip1);
      c.pos = g;
      c.speed = 0.7 * speed;
      if ((g - eef).head<2>().norm() > 0.01) c.pos.z() = std::max(eef.z(), g.z() + 0.03);
      if (arm.AtGrasp()) Go1(Stage1::kTakeClose);
      break;
    }
    case Stage1::kTakeClose: {
      c.gripper = 1;
      c.pos = HammerPoint(kGrip1);
      if (arm.Settled()) {
        hold1_ = eef;
        taken_ = true;
        Go1(Stage1::kTakeWait);
      }
      break;
    }
    case Stage1::kTakeWait: {
      c.gripper = 1;
      c.pos = hold1_;
      if (released_) Go1(Stage1::kCarry);
      break;
    }
    case Stage1::kCarry: {
      c.gripper = 1;
      c.speed = std::min(1.0, 1.2 * speed);
      const Eigen::Vector3d payload = task_->PayloadPos();
      const Eigen::Vector2d goal = target_bin.head<2>() + kPlaceShift + place_offset_;
      c.pos << eef.x() + goal.x() - payload.x(), eef.y() + goal.y() - payload.y(), kCarryZ;
      const double err = (goal - payload.head<2>()).norm();
      arm.Near(err);
      // once over the bin's middle, start down while lining up (the walls are 3 cm from the ends)
      if (err < 0.025) c.pos.z() = eef.z() + (target_bin.z() + TransportTask::kBinBaseHalfZ + 0.05 - payload.z());
      if ((HammerPoint(kGrip1) - eef).norm() > 0.04) {
        Go1(Stage1::kDone);  // dropped
      } else if (err < std::min(0.012 * patience, 0.02)) {
        Go1(Stage1::kLower);
      }
      break;
    }
    case Stage1::kLower: {
      c.gripper = 1;
      const Eigen::Vector3d payload = task_->PayloadPos();
      const Eigen::Vector2d goal = target_bin.head<2>() + kPlaceShift + place_offset_;
      // the handle axis 5 cm above the base plate (the head reaches 1.8 cm below it), then let go
      const double goal_z = target_bin.z() + TransportTask::kBinBaseHalfZ + 0.05;
      c.pos << eef.x() + goal.x() - payload.x(), eef.y() + goal.y() - payload.y(), eef.z() + goal_z - payload.z();
      if (payload.z() < goal_z + 0.008 || steps1_ > 80) Go1(Stage1::kRelease);
      break;
    }
    case Stage1::kRelease: {
      c.gripper = -1;
      c.yaw = eef_yaw;
      c.pos = eef;
      if (steps1_ > 8) c.pos.z() = std::max(eef.z(), BinRimZ(target_bin) + 0.08);
      if (steps1_ > 20) Go1(Stage1::kDone);
      break;
    }
    case Stage1::kDone: {
      c.gripper = -1;
      c.yaw = eef_yaw;
      c.pos = eef;
      break;
    }
  }
  return c;
}

std::vector<double> TransportExpert::Act() {
  const Command c0 = Act0();
  const Command c1 = Act1();
  // Every operator is careful with the hammer once it is out of the bin: no hand noise from the
  // presentation to the drop (pauses still happen; the noise stream advances all the same).
  const bool careful0 = s0_ >= Stage0::kPresent && s0_ <= Stage0::kGive;
  const bool careful1 = (s1_ == Stage1::kWait && presented_) ||
                        (s1_ >= Stage1::kTakeDescend && s1_ <= Stage1::kLower);
  std::vector<double> a(14);
  auto fill = [](const PandaRobot& robot, const Command& c, OperatorBehaviour* op, bool careful, double* out) {
    std::array<double, 6> arm = ServoToward(robot, c.pos, TopDownRotation(c.yaw), c.speed, 0.6);
    std::array<double, 6> shaped = arm;
    const bool paused = op->Shape(shaped.data());
    if (!careful || paused) arm = shaped;
    for (int i = 0; i < 6; ++i) out[i] = arm[i];
    out[6] = c.gripper;
  };
  fill(task_->robot(0), c0, &op0_, careful0, a.data());
  fill(task_->robot(1), c1, &op1_, careful1, a.data() + 7);
  return a;
}

}  // namespace onedp
