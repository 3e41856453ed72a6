// Helpers that scripted arm experts share: steering the end effector toward a pose through the
// OSC_POSE delta action space, top-down grasp orientations, and the pick-and-place stages.
#pragma once

#include <array>
#include <string>

#include <Eigen/Core>

#include "tasks/common/panda_robot.h"

namespace onedp {

// Per control step an OSC_POSE delta action `a` moves the end effector about
// kMetresPerUnitAction * a metres once moving: the goal is re-anchored at the current pose every
// step, so the arm settles at a speed where kp * 0.05 a balances damping (kp/kd * 0.05 a = 0.31 a
// m/s, i.e. 0.0153 a per 0.05 s step in theory; 0.0132 a measured on the Panda, controller_test).
constexpr double kMetresPerUnitAction = 0.0132;

// A 6-D delta action that moves `robot`'s end effector toward (pos, rot): translation capped at
// `speed` (fraction of the per-step limit, direction kept), rotation capped at `rot_speed`.
std::array<double, 6> ServoToward(const PandaRobot& robot, const Eigen::Vector3d& pos,
                                  const Eigen::Matrix3d& rot, double speed, double rot_speed);

// End-effector orientation pointing straight down (tool z = -world z) with the tool x axis at
// `yaw` in the world xy plane.
Eigen::Matrix3d TopDownRotation(double yaw);
// Yaw of a rotation's x axis projected on the world xy plane.
double YawOf(const Eigen::Matrix3d& rot);
// Of the angles object_yaw + k * symmetry, the one closest to current_yaw (wrapped to it).
double NearestSymmetricYaw(double current_yaw, double object_yaw, double symmetry);
// Yaw (rotation about world z) of a quaternion given as wxyz.
double YawFromQuat(const double* wxyz);
// An angle wrapped to (-pi, pi].
double WrapAngle(double a);

// Joint-7 travel kept in reserve at the end of planned wrist turns (limit +-2.8973).
constexpr double kWristLimit = 2.6;
// With the tool pointing down, turning the end effector by +yaw about world z turns joint 7 by
// -yaw (its axis points down).
constexpr double kWristSign = -1.0;

// Whether a closing (or opening) gripper has stopped: at least 6 steps into the stage and the finger
// moved less than 0.2 mm since the previous call, whose reading `last_finger` keeps.
bool FingersSettled(const PandaRobot& robot, int stage_steps, double* last_finger);

// The stages of a one-arm pick-and-place expert (Can, Square): grasp, carry, place, and release to
// try again.
enum class PickPlaceStage { kApproach, kDescend, kClose, kLift, kCarry, kLower, kOpen, kRetreat, kRelease };
// A stage's name as the expert's Phase() reports it ("approach", ..., "release").
std::string PickPlacePhase(PickPlaceStage stage);

}  // namespace onedp
