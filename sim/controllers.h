// Low-level controllers, computed with Eigen on MuJoCo state.
//
// OscPoseController: robosuite's OSC_POSE (see docs/tasks.md, "Controller: OSC_POSE").
//   tau = J^T [L_pos (kp e_p - kd v) ; L_ori (kp e_o - kd w)] + qfrc_bias + N^T M (kn (q0-q) - kdn qd)
//   kp 150, kd = 2 sqrt(kp) * damping_ratio, kn 10, kdn 2 sqrt(10), L_* = (J_* M^-1 J_*^T)^-1
//   (uncoupled), N = I - Jbar J with Jbar = M^-1 J^T L, torques clipped to the actuators' ctrlrange.
//   The goal is set once per control step (SetGoalDelta / SetGoalAbsolute); ComputeTorques runs on
//   every physics substep on fresh kinematics (mj_step1 output or mj_forward).
// GripperIntegrator: robosuite's PandaGripper action integrator (+1 closes, -1 opens, 0.01 per
//   substep, mapped over each finger actuator's ctrlrange).
// PlanarPdController: PushT's pusher law v += (kp (target - p) - kv v) dt.
#pragma once

#include <array>
#include <vector>

#include <Eigen/Core>
#include <Eigen/Geometry>
#include <mujoco/mujoco.h>

namespace onedp {

struct OscConfig {
  double kp = 150.0;
  double damping_ratio = 1.0;
  double nullspace_kp = 10.0;
  std::array<double, 6> output_max = {0.05, 0.05, 0.05, 0.5, 0.5, 0.5};  // |delta| per step
};

class OscPoseController {
 public:
  // `joints`: the arm's hinge joint ids (in chain order); `site`: the end-effector site;
  // `actuators`: one torque motor per arm joint, same order.
  OscPoseController(const mjModel* m, std::vector<int> joints, int site, std::vector<int> actuators,
                    const OscConfig& config = {});

  // Stores the nullspace posture q0 (the reset joint configuration) and sets the goal to the
  // current end-effector pose. Needs kinematics of `d` to be up to date.
  void Reset(const mjData* d);

  // Delta goal from a 6-D action in [-1, 1] (clipped): goal_pos = p + 0.05 a[0:3],
  // goal_R = R(axis-angle 0.5 a[3:6]) * R_ee (world-frame pre-multiplication).
  void SetGoalDelta(const mjData* d, const double* action6);
  // Absolute goal in the world frame.
  void SetGoalAbsolute(const Eigen::Vector3d& pos, const Eigen::Matrix3d& rot);

  // Writes clipped torques to d->ctrl[actuators]. Needs qM, qfrc_bias, site kinematics current.
  void ComputeTorques(mjData* d);

  const Eigen::Vector3d& goal_pos() const { return goal_pos_; }
  const Eigen::Matrix3d& goal_rot() const { return goal_rot_; }
  Eigen::Vector3d EePos(const mjData* d) const;
  Eigen::Matrix3d EeRot(const mjData* d) const;
  const OscConfig& config() const { return config_; }

 private:
  const mjModel* m_;
  std::vector<int> dofs_, qposadr_, actuators_;
  int site_;
  OscConfig config_;
  Eigen::VectorXd q0_;
  Eigen::Vector3d goal_pos_ = Eigen::Vector3d::Zero();
  Eigen::Matrix3d goal_rot_ = Eigen::Matrix3d::Identity();
  // scratch
  std::vector<mjtNum> jacp_, jacr_, fullm_;
};

class GripperIntegrator {
 public:
  // `actuators`: the finger position actuators (finger 1 closes toward its ctrlrange minimum,
  // finger 2 toward its maximum, as the Panda gripper's two mirrored fingers).
  GripperIntegrator(const mjModel* m, std::array<int, 2> actuators, double speed = 0.01);
  void Reset();                        // current = 0 (half open)
  void Substep(mjData* d, double action);  // integrate sign(action) once and write d->ctrl
  double current() const { return current_[1]; }  // -1 open .. +1 closed

 private:
  std::array<int, 2> actuators_;
  std::array<double, 2> bias_{}, weight_{}, current_{};
  double speed_;
};

// Converts between rotation matrices and the 6-D representation used by diffusion_policy's
// absolute actions (pytorch3d convention: the first two ROWS of the matrix).
std::array<double, 6> RotationToSixD(const Eigen::Matrix3d& r);
Eigen::Matrix3d SixDToRotation(const double* six);  // Gram-Schmidt, then b3 = b1 x b2
Eigen::Matrix3d AxisAngleToRotation(const Eigen::Vector3d& axis_angle);
Eigen::Vector3d RotationToAxisAngle(const Eigen::Matrix3d& r);
// robosuite's orientation_error(desired, current): 0.5 * sum_i current_col_i x desired_col_i.
Eigen::Vector3d OrientationError(const Eigen::Matrix3d& desired, const Eigen::Matrix3d& current);

}  // namespace onedp

namespace onedp {

// PushT's pusher law (diffusion_policy pusht_env.py): on every physics substep
//   v += (kp (target - p) + kv (0 - v)) dt,  kp 100, kv 20 (critically damped, 10 rad/s),
// then the kinematic pusher moves by v dt.
class PlanarPdController {
 public:
  explicit PlanarPdController(double kp = 100.0, double kv = 20.0) : kp_(kp), kv_(kv) {}
  // The pusher velocity after one substep of length `dt`.
  Eigen::Vector2d Update(const Eigen::Vector2d& pos, const Eigen::Vector2d& vel,
                         const Eigen::Vector2d& target, double dt) const;
  double kp() const { return kp_; }
  double kv() const { return kv_; }

 private:
  double kp_, kv_;
};

}  // namespace onedp
