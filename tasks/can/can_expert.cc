#include "tasks/can/can_expert.h"

#include <algorithm>
#include <cmath>

#include "tasks/can/can.h"

namespace onedp {
namespace {

// Hand-geometry numbers (assets/panda/panda_body.xml): the pads span 0.006 below to 0.010 above
// the grip site, the hand capsule starts 0.031 above it.
constexpr double kUprightGraspDz = 0.014;  // grip site above an upright can's centre
constexpr double kCanBelowEef = kUprightGraspDz - CanTask::kCanBottom;  // eef -> can bottom, 0.054
// Inside the can compartment (dividers / walls 0.01 thick) with the can's radius and a margin.
constexpr double kDropXMin = CanTask::kGoalXMin + 0.01 + CanTask::kCanRadius + 0.012;
constexpr double kDropXMax = CanTask::kGoalXMin + 0.2 - 0.01 - CanTask::kCanRadius - 0.012;
constexpr double kDropYMin = CanTask::kGoalYMin + 0.01 + CanTask::kCanRadius + 0.012;
constexpr double kDropYMax = CanTask::kGoalYMin + 0.25 - 0.01 - CanTask::kCanRadius - 0.012;

}  // namespace

CanExpert::CanExpert(CanTask* task, const OperatorProfile& op, uint64_t seed)
    : task_(task), op_(op, seed) {
  ChoosePath();
  ChooseGrasp();
}

void CanExpert::ChoosePath() {
  Rng& rng = op_.rng();
  // the can's bottom clears the walls (z 0.9) by 2.5 ... 6.5 cm while carried
  carry_z_ = CanTask::kBinWallTopZ + kCanBelowEef + 0.025 + 0.04 * rng.Uniform();
  // release with the can's bottom 1 ... 3 cm above the compartment floor
  release_z_ = CanTask::kBinFloorTopZ + kCanBelowEef + 0.01 + 0.02 * rng.Uniform();
  retreat_z_ = carry_z_ + 0.02 * rng.Uniform();
  // The compartment centre (0.1975, 0.4025) is at the edge of the arm's reach from the bins base
  // (the top-down wrist cannot keep its orientation there at release height), so operators aim at
  // the part of the compartment nearer the robot, each with its own spread.
  drop_xy_ = Eigen::Vector2d(std::clamp(0.17 + 1.5 * op_.PathOffset(), kDropXMin, std::min(0.2, kDropXMax)),
                             std::clamp(0.36 + 1.5 * op_.PathOffset(), kDropYMin, std::min(0.39, kDropYMax)));
  // a mid-way detour: some operators swing out or cut in on the way over
  const Eigen::Vector2d start = task_->CanPos().head<2>();
  detour_xy_ = 0.5 * (start + drop_xy_) + Eigen::Vector2d(2.0 * op_.PathOffset(), op_.PathOffset());
  detour_done_ = std::abs(op_.profile().path_spread) < 1e-9;
}

void CanExpert::ChooseGrasp() {
  Rng& rng = op_.rng();
  approach_height_ = 0.08 + 0.04 * rng.Uniform() + 0.5 * op_.PathOffset();
  approach_offset_ = Eigen::Vector2d(op_.PathOffset(), op_.PathOffset());
  const double p = op_.profile().precision;
  grasp_offset_ = rng.Uniform(-p, p);
  const double eef_yaw = YawOf(task_->robot().EefRot());
  const Eigen::Vector3d axis = task_->CanRot().col(2);
  if (std::abs(axis.z()) > 0.7) {
    // upright: any yaw works; keep about the current one
    grasp_yaw_ = eef_yaw + 0.3 * (2.0 * rng.Uniform() - 1.0);
    grasp_dz_ = kUprightGraspDz + rng.Uniform(-0.003, 0.003);
  } else {
    // lying on its side: fingers close across the can's axis, grip at its centre line
    const double across = std::atan2(axis.y(), axis.x()) + M_PI / 2;
    grasp_yaw_ = NearestSymmetricYaw(eef_yaw, across, M_PI);
    grasp_dz_ = -0.002;  // pad centres (0.002 above the grip site) on the can's axis
  }
  ++attempts_;
}

void CanExpert::Go(Stage next) {
  stage_ = next;
  stage_steps_ = 0;
}

std::string CanExpert::Phase() const { return PickPlacePhase(stage_); }

std::vector<double> CanExpert::Act() {
  const PandaRobot& robot = task_->robot();
  const Eigen::Vector3d can = task_->CanPos();
  const Eigen::Vector3d eef = robot.EefPos();
  const double speed = op_.cruise_speed();
  const double precision = op_.profile().precision;
  const Eigen::Matrix3d grasp_rot = TopDownRotation(grasp_yaw_);
  const double rot_err = RotationToAxisAngle(grasp_rot * robot.EefRot().transpose()).norm();
  const double finger = robot.GripperQpos()[0];
  // the fingers close along the grip frame's x axis (horizontal when top-down)
  Eigen::Vector2d close_axis = robot.EefRot().col(0).head<2>();
  close_axis = close_axis.norm() > 1e-6 ? close_axis.normalized() : Eigen::Vector2d(1, 0);
  const Eigen::Vector2d can_rel = (can - eef).head<2>();
  const double across_err = can_rel.x() * close_axis.y() - can_rel.y() * close_axis.x();

  Eigen::Vector3d target = eef;
  double gripper = -1.0;
  double move_speed = speed;
  ++stage_steps_;
  // A shaky operator cannot hold still within its tolerance: it accepts more as time goes on.
  // Capped: a long slow carry must not make "far" count as "there".
  const double patience = std::min(1.0 + stage_steps_ / 15.0, 3.0);
  auto arrived = [&](const Eigen::Vector3d& t, double pos_tol, double rot_tol) {
    return (t - eef).norm() < pos_tol * patience && rot_err < rot_tol * patience;
  };
  auto arrived_xy = [&](const Eigen::Vector3d& t, double pos_tol) {
    return (t - eef).head<2>().norm() < pos_tol * patience;
  };
  // held: the can hangs between the pads (the pads span ~1.6 cm; allow for the grasp offsets)
  const bool held = (can - eef).norm() < 0.045 && finger > 0.012;

  switch (stage_) {
    case Stage::kApproach: {
      target << can.x() + approach_offset_.x(), can.y() + approach_offset_.y(),
          std::max(can.z() + approach_height_, CanTask::kBinWallTopZ + 0.04);
      // rise before moving sideways when low (e.g. after a retry next to a wall)
      if (eef.z() < target.z() - 0.03 && (target - eef).head<2>().norm() > 0.03) {
        target.head<2>() = eef.head<2>();
      }
      if (arrived(target, 2.0 * precision + 0.01, 0.1) && finger > 0.035) Go(Stage::kDescend);
      break;
    }
    case Stage::kDescend: {
      // Off-centre along the closing direction is harmless (the fingers centre the can), but
      // across it the pads (1.6 cm wide) would hold the can near their edge and squeeze it out:
      // line up across to a few millimetres before closing.
      target << can.x() + grasp_offset_ * close_axis.x(), can.y() + grasp_offset_ * close_axis.y(),
          can.z() + grasp_dz_;
      // slow down near the object, but correct small errors briskly
      move_speed = (target - eef).norm() > 0.03 ? 0.7 * speed : std::max(0.7 * speed, 0.5);
      // Hover with the fingertips above the can until lined up, then go down (an open finger
      // landing on an upright can's rim tips it over).
      // (an open finger, 1.5 cm clear of the can along the closing direction, must not land on
      // its rim: only the along error matters for that)
      const Eigen::Vector3d grasp = target;
      const double along_err = (grasp - eef).head<2>().dot(close_axis);
      if (std::abs(along_err) > 0.008 + 0.25 * precision) {
        target.z() = std::max(grasp.z(), can.z() + 0.065);
      }
      if (arrived(grasp, precision, 0.08) && std::abs(grasp.z() - eef.z()) < 0.007 &&
          std::abs(across_err) < std::min(0.002 * patience, 0.0035)) {
        Go(Stage::kClose);
      }
      break;
    }
    case Stage::kClose: {
      gripper = 1.0;
      move_speed = std::max(speed, 0.5);
      // hold still along the closing direction and height, keep lined up across it
      target << can.x() + grasp_offset_ * close_axis.x(), can.y() + grasp_offset_ * close_axis.y(),
          can.z() + grasp_dz_;
      target.head<2>() += (eef - target).head<2>().dot(close_axis) * close_axis;
      if (FingersSettled(robot, stage_steps_, &last_finger_)) {
        if (finger < 0.012) {  // closed on nothing: missed the can
          Go(Stage::kRelease);
        } else {
          botched_ = op_.BotchGrasp();
          Go(botched_ ? Stage::kRelease : Stage::kLift);
        }
      }
      break;
    }
    case Stage::kLift: {
      gripper = 1.0;
      target << eef.x(), eef.y(), carry_z_;
      if (!held) {
        Go(Stage::kRelease);  // slipped out: let go and try again
      } else if (eef.z() > carry_z_ - 0.015 * patience) {
        Go(Stage::kCarry);
      }
      break;
    }
    case Stage::kCarry: {
      gripper = 1.0;
      if (!detour_done_) {
        target << detour_xy_.x(), detour_xy_.y(), carry_z_;
        if (arrived_xy(target, 0.04)) detour_done_ = true;
      } else {
        target << drop_xy_.x(), drop_xy_.y(), carry_z_;
        if (arrived_xy(target, (precision + 0.006) * std::min(patience, 2.0) / patience)) Go(Stage::kLower);
      }
      if (!held) Go(Stage::kRelease);
      break;
    }
    case Stage::kLower: {
      gripper = 1.0;
      target << drop_xy_.x(), drop_xy_.y(), release_z_;
      move_speed = (target - eef).norm() > 0.04 ? speed : 0.7 * speed;  // slow down near the end
      if (!held) {
        Go(Stage::kRelease);
      } else if (arrived(target, precision + 0.004, 0.1)) {
        hold_ = target;
        Go(Stage::kOpen);
      }
      break;
    }
    case Stage::kOpen: {
      gripper = -1.0;
      target = hold_;
      if (stage_steps_ >= 4 && finger > 0.03) Go(Stage::kRetreat);
      break;
    }
    case Stage::kRetreat: {
      gripper = -1.0;
      target << eef.x() - 0.03, eef.y() - 0.02, retreat_z_;
      if (eef.z() < CanTask::kBinWallTopZ) target.head<2>() = eef.head<2>();  // straight up first
      if (stage_steps_ > 25) {
        // still no success: the can is not in its compartment; pick it up again wherever it is
        ChooseGrasp();
        detour_done_ = true;
        Go(Stage::kApproach);
      }
      break;
    }
    case Stage::kRelease: {
      // lift a little with a botched grasp, let go, rise once the fingers are open (rising with
      // half-open fingers drags the can over), and try again
      const bool lift_first = botched_ && stage_steps_ <= 3;
      gripper = lift_first ? 1.0 : -1.0;
      if (lift_first) {
        target << eef.x(), eef.y(), std::max(eef.z(), can.z() + 0.01);
      } else if (finger > 0.034 || stage_steps_ > 20) {
        // (capped: a can stuck between the fingers must not carry the arm up for ever)
        target << eef.x(), eef.y(),
            std::min(std::max(eef.z(), can.z() + approach_height_), carry_z_ + 0.05);
      } else {
        target = eef;
      }
      if (stage_steps_ > 12 && (finger > 0.034 || stage_steps_ > 20) &&
          (eef.z() > can.z() + 0.5 * approach_height_ || stage_steps_ > 40)) {
        botched_ = false;
        ChooseGrasp();
        Go(Stage::kApproach);
      }
      break;
    }
  }

  std::array<double, 6> arm = ServoToward(robot, target, grasp_rot, move_speed, 0.6);
  op_.Shape(arm.data());
  if (stage_ == Stage::kClose || stage_ == Stage::kOpen) {
    for (double& a : arm) a *= 0.3;  // the operator holds the arm still while working the gripper
  }
  return {arm[0], arm[1], arm[2], arm[3], arm[4], arm[5], gripper};
}

}  // namespace onedp
