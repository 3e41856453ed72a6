// One Franka Panda + gripper in a task model: reset posture, OSC_POSE + gripper control,
// proprioceptive observations. Names follow assets/panda (prefix "robot0_" / "gripper0_").
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include <Eigen/Core>
#include <Eigen/Geometry>

#include "sim/controllers.h"
#include "sim/rng.h"
#include "sim/sim.h"
#include "tasks/task.h"

namespace onedp {

// The Panda include files of arm `index` (>= 1) as in-memory MJCF for LoadModel: assets/panda/
// panda_body.xml and panda_actuators.xml with every "robot0_" / "gripper0_" renamed to
// "robot<index>_" / "gripper<index>_", named "panda_body_robot<index>.xml" and
// "panda_actuators_robot<index>.xml". A two-arm task model includes them like the real files
// (<include file="../panda/panda_body_robot1.xml"/>); they never exist on disk.
std::vector<VirtualFile> RenamedPandaFiles(int index);

class PandaRobot {
 public:
  static constexpr int kArmDof = 7;
  // robosuite Panda.init_qpos and PandaGripper.init_qpos.
  static const std::array<double, 7> kInitQpos;
  static constexpr double kInitFinger = 0.020833;
  static constexpr double kJointNoise = 0.02;  // rad, Gaussian, added at every reset

  PandaRobot(Sim* sim, const std::string& robot_prefix = "robot0_",
             const std::string& gripper_prefix = "gripper0_");

  // Sets the arm to init_qpos + N(0, 0.02^2) per joint (drawn from `rng`), the fingers to their
  // init, zero velocities; then resets controller and gripper integrator (kinematics updated).
  void Reset(Rng* rng);
  // Sets the goal from one arm's action slice (7-D delta or 10-D absolute); call once per control
  // step, on the first substep, with kinematics current.
  void SetAction(const double* action, ActionMode mode);
  // Per physics substep: OSC torques and gripper integration into d->ctrl.
  void Substep();

  Eigen::Vector3d EefPos() const;
  Eigen::Matrix3d EefRot() const;
  Eigen::Vector4d EefQuatXyzw() const;
  std::array<double, 2> GripperQpos() const;
  // The absolute action equivalent of the current goal: [pos 3, rot6d 6, gripper 1].
  std::vector<double> AbsAction() const;
  // robot0_eef_pos, robot0_eef_quat, robot0_gripper_qpos into obs (keys use the robot prefix).
  void ObserveProprio(Observation* obs) const;

  int grip_site() const { return grip_site_; }
  const std::array<int, 2>& pad_geoms() const { return pad_geoms_; }
  const std::string& prefix() const { return prefix_; }
  const OscPoseController& osc() const { return *osc_; }
  double gripper_action() const { return gripper_action_; }

 private:
  Sim* sim_;
  std::string prefix_;
  std::vector<int> joints_, arm_actuators_;
  std::array<int, 2> finger_joints_{}, finger_actuators_{}, pad_geoms_{};
  int grip_site_ = -1;
  std::unique_ptr<OscPoseController> osc_;
  std::unique_ptr<GripperIntegrator> gripper_;
  double gripper_action_ = 0;
};

}  // namespace onedp
