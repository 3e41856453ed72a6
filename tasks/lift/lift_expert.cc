#include "tasks/lift/lift_expert.h"

#include <cmath>

#include "tasks/common/expert_util.h"
#include "tasks/lift/lift.h"

namespace onedp {

LiftExpert::LiftExpert(LiftTask* task, const OperatorProfile& op, uint64_t seed)
    : task_(task), op_(op, seed) {
  ChoosePath();
}

void LiftExpert::ChoosePath() {
  Rng& rng = op_.rng();
  approach_height_ = 0.06 + 0.05 * rng.Uniform() + op_.PathOffset();
  lift_height_ = LiftTask::kSuccessHeight + 0.05 + 0.06 * rng.Uniform();
  approach_offset_ = Eigen::Vector2d(op_.PathOffset(), op_.PathOffset());
  const double p = op_.profile().precision;
  grasp_offset_ = Eigen::Vector2d(rng.Uniform(-p, p), rng.Uniform(-p, p));
  const double eef_yaw = YawOf(task_->robot().EefRot());
  const double cube_yaw = YawFromQuat(task_->CubeQuatWxyz());
  grasp_yaw_ = NearestSymmetricYaw(eef_yaw, cube_yaw, M_PI / 2);
}

std::string LiftExpert::Phase() const {
  switch (stage_) {
    case Stage::kApproach: return "approach";
    case Stage::kDescend: return "descend";
    case Stage::kClose: return "close";
    case Stage::kLift: return "lift";
    case Stage::kRelease: return "release";
  }
  return "?";
}

std::vector<double> LiftExpert::Act() {
  const PandaRobot& robot = task_->robot();
  const Eigen::Vector3d cube = task_->CubePos();
  const Eigen::Vector3d eef = robot.EefPos();
  const double speed = op_.cruise_speed();
  const double precision = op_.profile().precision;
  const Eigen::Matrix3d grasp_rot = TopDownRotation(grasp_yaw_);
  const double rot_err = RotationToAxisAngle(grasp_rot * robot.EefRot().transpose()).norm();

  Eigen::Vector3d target = eef;
  double gripper = -1.0;
  double move_speed = speed;
  ++stage_steps_;
  auto go = [&](Stage next) {
    stage_ = next;
    stage_steps_ = 0;
  };
  // A shaky operator cannot hold still within its tolerance: it accepts more as time goes on.
  const double patience = 1.0 + stage_steps_ / 15.0;
  auto arrived = [&](const Eigen::Vector3d& target, double pos_tol, double rot_tol) {
    return (target - eef).norm() < pos_tol * patience && rot_err < rot_tol * patience;
  };

  switch (stage_) {
    case Stage::kApproach: {
      target << cube.x() + approach_offset_.x(), cube.y() + approach_offset_.y(),
          cube.z() + approach_height_;
      if (arrived(target, 2.0 * precision + 0.01, 0.1)) go(Stage::kDescend);
      break;
    }
    case Stage::kDescend: {
      target << cube.x() + grasp_offset_.x(), cube.y() + grasp_offset_.y(), cube.z();
      move_speed = 0.7 * speed;  // slow down near the object
      if (arrived(target, precision, 0.08)) go(Stage::kClose);
      break;
    }
    case Stage::kClose: {
      gripper = 1.0;
      if (FingersSettled(robot, stage_steps_, &last_finger_)) {
        botched_ = op_.BotchGrasp();
        go(botched_ ? Stage::kRelease : Stage::kLift);
      }
      break;
    }
    case Stage::kLift: {
      gripper = 1.0;
      target << eef.x(), eef.y(), LiftTask::kTableTopZ + task_->cube_half_size() + lift_height_;
      // the cube slipped out (a poor grasp): let go and try again
      if ((eef - cube).norm() > 0.04) go(Stage::kRelease);
      break;
    }
    case Stage::kRelease: {
      // lift a little with the botched grasp, let go, rise, and try again
      gripper = stage_steps_ <= 4 ? 1.0 : -1.0;
      target << eef.x(), eef.y(), cube.z() + (stage_steps_ <= 4 ? 0.03 : approach_height_);
      if (stage_steps_ > 12) {
        ChoosePath();
        go(Stage::kApproach);
      }
      break;
    }
  }

  std::array<double, 6> arm = ServoToward(robot, target, grasp_rot, move_speed, 0.6);
  op_.Shape(arm.data());
  return {arm[0], arm[1], arm[2], arm[3], arm[4], arm[5], gripper};
}

}  // namespace onedp
