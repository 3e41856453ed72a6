#include "tasks/common/expert_util.h"

#include <algorithm>
#include <cmath>

#include "sim/controllers.h"

namespace onedp {

std::array<double, 6> ServoToward(const PandaRobot& robot, const Eigen::Vector3d& pos,
                                  const Eigen::Matrix3d& rot, double speed, double rot_speed) {
  std::array<double, 6> a{};
  Eigen::Vector3d dp = (pos - robot.EefPos()) / kMetresPerUnitAction;
  const double n = dp.norm();
  if (n > speed) dp *= speed / n;
  // Rotation error in the world frame (the delta rotation is pre-multiplied), ~3 steps to close.
  Eigen::Vector3d dr = RotationToAxisAngle(rot * robot.EefRot().transpose()) / (0.5 * 3.0);
  const double r = dr.norm();
  if (r > rot_speed) dr *= rot_speed / r;
  for (int i = 0; i < 3; ++i) {
    a[i] = dp[i];
    a[3 + i] = dr[i];
  }
  return a;
}

Eigen::Matrix3d TopDownRotation(double yaw) {
  Eigen::Matrix3d r;
  const Eigen::Vector3d x(std::cos(yaw), std::sin(yaw), 0.0);
  const Eigen::Vector3d z(0.0, 0.0, -1.0);
  r.col(0) = x;
  r.col(1) = z.cross(x);
  r.col(2) = z;
  return r;
}

double YawOf(const Eigen::Matrix3d& rot) { return std::atan2(rot(1, 0), rot(0, 0)); }

double NearestSymmetricYaw(double current_yaw, double object_yaw, double symmetry) {
  const double k = std::round((current_yaw - object_yaw) / symmetry);
  return object_yaw + k * symmetry;
}

double YawFromQuat(const double* q) {
  const double w = q[0], x = q[1], y = q[2], z = q[3];
  return std::atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z));
}

double WrapAngle(double a) {
  a = std::fmod(a + M_PI, 2.0 * M_PI);
  if (a < 0) a += 2.0 * M_PI;
  return a - M_PI;
}

bool FingersSettled(const PandaRobot& robot, int stage_steps, double* last_finger) {
  const double finger = robot.GripperQpos()[0];
  const bool settled = stage_steps >= 6 && std::abs(finger - *last_finger) < 2e-4;
  *last_finger = finger;
  return settled;
}

std::string PickPlacePhase(PickPlaceStage stage) {
  switch (stage) {
    case PickPlaceStage::kApproach: return "approach";
    case PickPlaceStage::kDescend: return "descend";
    case PickPlaceStage::kClose: return "close";
    case PickPlaceStage::kLift: return "lift";
    case PickPlaceStage::kCarry: return "carry";
    case PickPlaceStage::kLower: return "lower";
    case PickPlaceStage::kOpen: return "open";
    case PickPlaceStage::kRetreat: return "retreat";
    case PickPlaceStage::kRelease: return "release";
  }
  return "?";
}

}  // namespace onedp
