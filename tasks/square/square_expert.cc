#include "tasks/square/square_expert.h"

#include <algorithm>
#include <cmath>

#include "sim/controllers.h"
#include "tasks/square/square.h"

namespace onedp {
namespace {

// Let go once the nut's bottom is this far down the peg (threaded: it cannot land on the peg top
// any more, and the hand's wobble cannot wedge it further down).
constexpr double kDropDepth = 0.008;
// ... and only with the hole centre this close to the peg axis (the clearance is 6.75 mm; further
// off, the nut is tilted on the peg's edge rather than threaded).
constexpr double kDropLineUp = 0.006;

}  // namespace

SquareExpert::SquareExpert(SquareTask* task, const OperatorProfile& op, uint64_t seed)
    : task_(task), op_(op, seed) {
  ChoosePath();
}

Eigen::Vector3d SquareExpert::GraspPoint() const {
  return task_->NutPos() + task_->NutRot() * Eigen::Vector3d(handle_x_, handle_y_, 0.0);
}

void SquareExpert::ChoosePath() {
  Rng& rng = op_.rng();
  const double p = op_.profile().precision;
  approach_height_ = std::max(0.035, 0.05 + 0.05 * rng.Uniform() + op_.PathOffset());
  carry_height_ = std::max(SquareTask::kPegTopZ + 0.03,
                           SquareTask::kPegTopZ + 0.04 + 0.03 * rng.Uniform() + 0.5 * op_.PathOffset());
  approach_offset_ = Eigen::Vector2d(op_.PathOffset(), op_.PathOffset());
  handle_x_ = 0.062 + rng.Uniform(-p, p);
  handle_y_ = 0.5 * rng.Uniform(-p, p);
  ChoosePlacement();

  // Plan the wrist: the grasp yaw (tool x along the nut's y axis, two choices pi apart) and the
  // nut's final yaw (a multiple of pi/2 with the handle not pointing away from the robot, +x,
  // which would put the hand out of reach over the peg), keeping joint 7 inside its range.
  const PandaRobot& robot = task_->robot();
  const double eef_yaw = YawOf(robot.EefRot());
  const double nut_yaw = YawFromQuat(task_->NutQuatWxyz());
  const double q7 = task_->sim().data()->qpos[task_->sim().model()->jnt_qposadr[
      task_->sim().Id(mjOBJ_JOINT, robot.prefix() + "joint7")]];
  double best = 1e9;
  for (double gsign : {1.0, -1.0}) {
    const double g = WrapAngle(nut_yaw + gsign * M_PI / 2 - eef_yaw);
    for (double target : {M_PI / 2, M_PI, -M_PI / 2}) {
      const double d = WrapAngle(target - nut_yaw);
      const double q_grasp = q7 + kWristSign * g;
      const double q_end = q_grasp + kWristSign * d;
      double cost = std::abs(g) + std::abs(d);
      if (std::abs(q_grasp) > kWristLimit || std::abs(q_end) > kWristLimit) cost += 100.0;
      if (cost < best) {
        best = cost;
        grasp_yaw_ = eef_yaw + g;
        nut_target_yaw_ = nut_yaw + d;
      }
    }
  }
}

void SquareExpert::ChoosePlacement() {
  const double p = op_.profile().precision;
  Rng& rng = op_.rng();
  place_offset_ = Eigen::Vector2d(0.5 * rng.Uniform(-p, p), 0.5 * rng.Uniform(-p, p));
}

std::string SquareExpert::Phase() const { return PickPlacePhase(stage_); }

std::vector<double> SquareExpert::Act() {
  const PandaRobot& robot = task_->robot();
  const Eigen::Vector3d nut = task_->NutPos();
  const double nut_yaw = YawFromQuat(task_->NutQuatWxyz());
  const Eigen::Vector3d eef = robot.EefPos();
  const double eef_yaw = YawOf(robot.EefRot());
  const double speed = op_.cruise_speed();
  const double precision = op_.profile().precision;
  const Eigen::Vector2d peg(SquareTask::kPegX, SquareTask::kPegY);

  Eigen::Vector3d target = eef;
  double target_yaw = grasp_yaw_;
  double gripper = -1.0;
  double move_speed = speed;
  ++stage_steps_;
  auto go = [&](Stage next) {
    stage_ = next;
    stage_steps_ = 0;
    stuck_steps_ = 0;
    near_steps_ = 0;
  };
  auto near = [&](double err) {
    if (err < 0.02) ++near_steps_;
  };
  // A shaky operator cannot hold still within its tolerance: it accepts more as time goes on,
  // counting the time spent close to the phase's target (long moves do not make it sloppy).
  const double patience = 1.0 + near_steps_ / 15.0;
  auto rot_err_to = [&](double yaw) {
    return RotationToAxisAngle(TopDownRotation(yaw) * robot.EefRot().transpose()).norm();
  };
  auto arrived = [&](const Eigen::Vector3d& t, double pos_tol, double rot_tol) {
    return (t - eef).norm() < pos_tol * patience && rot_err_to(target_yaw) < rot_tol * patience;
  };
  // The nut left the fingers (a poor grasp): let go and try again. Measured against where the
  // handle sat in the fingers when they closed; fingers that closed on nothing count too.
  const bool slipped = (GraspPoint() - eef).norm() > grasp_d0_ + 0.02 || robot.GripperQpos()[0] < 0.003;
  // The eef target that moves the held nut's origin to `nut_goal`, and the wrist yaw that turns
  // the nut to its planned yaw.
  auto nut_servo = [&](const Eigen::Vector3d& nut_goal) {
    target = eef + (nut_goal - nut);
    target_yaw = eef_yaw + WrapAngle(nut_target_yaw_ - nut_yaw);
  };

  switch (stage_) {
    case Stage::kApproach: {
      const Eigen::Vector3d g = GraspPoint();
      target << g.x() + approach_offset_.x(), g.y() + approach_offset_.y(), nut.z() + approach_height_;
      near((target - eef).norm());
      if (arrived(target, 2.0 * precision + 0.01, 0.2)) go(Stage::kDescend);
      break;
    }
    case Stage::kDescend: {
      const Eigen::Vector3d g = GraspPoint();
      target << g.x(), g.y(), nut.z() + 0.001;
      move_speed = 0.85 * speed;  // slow down near the object
      // The height matters most (the pads must straddle the 2 cm thick handle without touching
      // the table); along the handle the pads have ~9 mm to spare either way before they reach
      // its end or the nut's side wall.
      const double xy_err = (target - eef).head<2>().norm();
      const double z_err = std::abs(target.z() - eef.z());
      near(std::max(xy_err, z_err));
      if (xy_err < std::min((precision + 0.002) * patience, 0.008) &&
          z_err < 0.004 * std::min(patience, 1.5) &&
          rot_err_to(target_yaw) < std::min(0.12 * patience, 0.3)) {
        go(Stage::kClose);
      }
      break;
    }
    case Stage::kClose: {
      gripper = 1.0;
      if (FingersSettled(robot, stage_steps_, &last_finger_)) {
        botched_ = op_.BotchGrasp();
        hold_yaw_ = eef_yaw;
        grasp_dz_ = nut.z() - eef.z();
        grasp_d0_ = (GraspPoint() - eef).norm();
        go(botched_ ? Stage::kRelease : Stage::kLift);
      }
      break;
    }
    case Stage::kLift: {
      gripper = 1.0;
      target_yaw = hold_yaw_;
      target << eef.x(), eef.y(), eef.z() + (carry_height_ - nut.z());
      if (slipped) {
        go(Stage::kRelease);
      } else if (nut.z() > SquareTask::kPegTopZ + 0.02) {
        go(Stage::kCarry);
      }
      break;
    }
    case Stage::kCarry: {
      gripper = 1.0;
      move_speed = std::min(1.0, 1.3 * speed);  // free-space transfer: faster
      const Eigen::Vector3d goal(peg.x() + place_offset_.x(), peg.y() + place_offset_.y(), carry_height_);
      nut_servo(goal);
      const double xy_err = (goal.head<2>() - nut.head<2>()).norm();
      const double yaw_err = std::abs(WrapAngle(nut_target_yaw_ - nut_yaw));
      near(xy_err);
      const double tol = std::min((0.5 * precision + 0.002) * patience, 0.005);
      if (slipped) {
        go(Stage::kRelease);
      } else if (xy_err < tol && yaw_err < 0.1 && nut.z() > SquareTask::kPegTopZ + 0.015) {
        lower_dz_ = nut.z() - eef.z();
        lower_z_ = nut.z();
        last_nut_z_ = nut.z();
        go(Stage::kLower);
      }
      break;
    }
    case Stage::kLower: {
      gripper = 1.0;
      const Eigen::Vector2d goal(peg.x() + place_offset_.x(), peg.y() + place_offset_.y());
      const double xy_err = (goal - nut.head<2>()).norm();
      near(xy_err);
      // Above the peg top, descend only while lined up (hold height and correct xy otherwise);
      // the xy correction is not scaled down by the descent.
      const bool above_peg = nut.z() > SquareTask::kPegTopZ + SquareTask::kNutHalfThickness + 0.004;
      const double line_up = std::min(std::max(0.003, 0.5 * precision) * std::min(patience, 2.0), 0.006);
      const double drop_z = SquareTask::kPegTopZ + SquareTask::kNutHalfThickness - kDropDepth;
      const double floor_z = drop_z - 0.01;
      // The commanded nut height only goes down while lined up (and never below floor_z).
      const bool descending = !(above_peg && xy_err > line_up) && lower_z_ > floor_z;
      if (descending) lower_z_ = std::max(floor_z, lower_z_ - 0.6 * speed * kMetresPerUnitAction);
      nut_servo(Eigen::Vector3d(goal.x(), goal.y(), lower_z_));
      // The nut stops going down (it sits on the peg top or jams) or the fingers slide down it.
      const bool pushed_up = (nut.z() - eef.z()) - lower_dz_ > 0.006;
      const bool stalled = nut.z() - lower_z_ > 0.012;
      stuck_steps_ = (pushed_up || stalled) ? stuck_steps_ + 1 : 0;
      last_nut_z_ = nut.z();
      // Threaded (its bottom kDropDepth below the peg top) and lined up: let go, the nut slides
      // down the peg on its own.
      if (slipped) {
        go(Stage::kRelease);
      } else if (nut.z() < SquareTask::kSuccessZ - 0.008 ||
                 (nut.z() < drop_z && xy_err < kDropLineUp)) {
        go(Stage::kOpen);
      } else if (stuck_steps_ > 4 && nut.z() < SquareTask::kPegTopZ - 0.015) {
        // threaded on the peg but wedged by the grasp: let go, it slides down on its own
        go(Stage::kOpen);
      } else if (stuck_steps_ > 4 || stage_steps_ > 80) {
        // back off, line up again
        ChoosePlacement();
        ++retries_;
        go(Stage::kCarry);
      }
      break;
    }
    case Stage::kOpen: {
      gripper = -1.0;
      target_yaw = eef_yaw;
      if (stage_steps_ > 6) go(Stage::kRetreat);
      break;
    }
    case Stage::kRetreat: {
      gripper = -1.0;
      target_yaw = eef_yaw;
      target << eef.x(), eef.y(), nut.z() + 0.15;
      if (stage_steps_ > 25 && !task_->NutOnPeg()) {
        // the nut did not stay on the peg: start over
        ChoosePath();
        go(Stage::kApproach);
      }
      break;
    }
    case Stage::kRelease: {
      // lift a little with the botched grasp, let go, rise, and try again
      target_yaw = eef_yaw;
      gripper = stage_steps_ <= 4 ? 1.0 : -1.0;
      target << eef.x(), eef.y(), std::max(eef.z(), nut.z()) + (stage_steps_ <= 4 ? 0.03 : 0.0);
      if (stage_steps_ > 4) target.z() = std::max(eef.z(), nut.z() + approach_height_);
      if (stage_steps_ > 12) {
        ChoosePath();
        go(Stage::kApproach);
      }
      break;
    }
  }

  std::array<double, 6> arm =
      ServoToward(robot, target, TopDownRotation(target_yaw), move_speed, 0.6);
  op_.Shape(arm.data());
  return {arm[0], arm[1], arm[2], arm[3], arm[4], arm[5], gripper};
}

}  // namespace onedp
