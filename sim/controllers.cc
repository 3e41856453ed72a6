#include "sim/controllers.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <Eigen/Dense>

namespace onedp {
namespace {

using RowMat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

double Clip(double x, double lo, double hi) { return std::min(hi, std::max(lo, x)); }

}  // namespace

OscPoseController::OscPoseController(const mjModel* m, std::vector<int> joints, int site,
                                     std::vector<int> actuators, const OscConfig& config)
    : m_(m), actuators_(std::move(actuators)), site_(site), config_(config) {
  if (joints.size() != actuators_.size() || joints.empty()) {
    throw std::invalid_argument("OscPoseController: need one actuator per joint");
  }
  for (int j : joints) {
    if (m->jnt_type[j] != mjJNT_HINGE && m->jnt_type[j] != mjJNT_SLIDE) {
      throw std::invalid_argument("OscPoseController: joints must be 1-dof");
    }
    dofs_.push_back(m->jnt_dofadr[j]);
    qposadr_.push_back(m->jnt_qposadr[j]);
  }
  q0_ = Eigen::VectorXd::Zero(dofs_.size());
  jacp_.resize(3 * m->nv);
  jacr_.resize(3 * m->nv);
  fullm_.resize(m->nv * m->nv);
}

Eigen::Vector3d OscPoseController::EePos(const mjData* d) const {
  return Eigen::Map<const Eigen::Vector3d>(d->site_xpos + 3 * site_);
}

Eigen::Matrix3d OscPoseController::EeRot(const mjData* d) const {
  return Eigen::Map<const Eigen::Matrix<double, 3, 3, Eigen::RowMajor>>(d->site_xmat + 9 * site_);
}

void OscPoseController::Reset(const mjData* d) {
  for (size_t i = 0; i < qposadr_.size(); ++i) q0_[i] = d->qpos[qposadr_[i]];
  goal_pos_ = EePos(d);
  goal_rot_ = EeRot(d);
}

void OscPoseController::SetGoalDelta(const mjData* d, const double* a) {
  Eigen::Vector3d dp, dr;
  for (int i = 0; i < 3; ++i) {
    dp[i] = Clip(a[i], -1.0, 1.0) * config_.output_max[i];
    dr[i] = Clip(a[3 + i], -1.0, 1.0) * config_.output_max[3 + i];
  }
  goal_pos_ = EePos(d) + dp;
  goal_rot_ = AxisAngleToRotation(dr) * EeRot(d);
}

void OscPoseController::SetGoalAbsolute(const Eigen::Vector3d& pos, const Eigen::Matrix3d& rot) {
  goal_pos_ = pos;
  goal_rot_ = rot;
}

void OscPoseController::ComputeTorques(mjData* d) {
  const int nv = m_->nv;
  const int n = static_cast<int>(dofs_.size());
  mj_jacSite(m_, d, jacp_.data(), jacr_.data(), site_);
  mj_fullM(m_, fullm_.data(), d->qM);
  Eigen::Map<const RowMat> jp_full(jacp_.data(), 3, nv), jr_full(jacr_.data(), 3, nv);
  Eigen::Map<const RowMat> m_full(fullm_.data(), nv, nv);

  Eigen::Matrix<double, 6, Eigen::Dynamic> jac(6, n);
  Eigen::MatrixXd mass(n, n);
  Eigen::VectorXd q(n), qd(n), bias(n);
  for (int c = 0; c < n; ++c) {
    jac.block<3, 1>(0, c) = jp_full.col(dofs_[c]);
    jac.block<3, 1>(3, c) = jr_full.col(dofs_[c]);
    for (int r = 0; r < n; ++r) mass(r, c) = m_full(dofs_[r], dofs_[c]);
    q[c] = d->qpos[qposadr_[c]];
    qd[c] = d->qvel[dofs_[c]];
    bias[c] = d->qfrc_bias[dofs_[c]];
  }

  Eigen::MatrixXd mass_inv = mass.llt().solve(Eigen::MatrixXd::Identity(n, n));
  Eigen::Matrix<double, 6, 1> ee_vel = jac * qd;

  // Errors (robosuite: e = goal - current, orientation_error(goal, current)).
  Eigen::Vector3d pos_err = goal_pos_ - EePos(d);
  Eigen::Vector3d ori_err = OrientationError(goal_rot_, EeRot(d));
  const double kp = config_.kp;
  const double kd = 2.0 * std::sqrt(kp) * config_.damping_ratio;
  Eigen::Vector3d force = kp * pos_err - kd * ee_vel.head<3>();
  Eigen::Vector3d torque = kp * ori_err - kd * ee_vel.tail<3>();

  // Operational-space inertia, uncoupled position / orientation (pseudo-inverses as robosuite).
  Eigen::Matrix<double, 6, 6> lambda_inv = jac * mass_inv * jac.transpose();
  auto pinv3 = [](const Eigen::Matrix3d& a) {
    return a.completeOrthogonalDecomposition().pseudoInverse();
  };
  Eigen::Matrix3d lambda_pos = pinv3(lambda_inv.block<3, 3>(0, 0));
  Eigen::Matrix3d lambda_ori = pinv3(lambda_inv.block<3, 3>(3, 3));
  Eigen::Matrix<double, 6, 6> lambda_full =
      lambda_inv.completeOrthogonalDecomposition().pseudoInverse();

  Eigen::Matrix<double, 6, 1> wrench;
  wrench << lambda_pos * force, lambda_ori * torque;
  Eigen::VectorXd tau = jac.transpose() * wrench + bias;

  // Nullspace posture pull toward q0.
  const double kn = config_.nullspace_kp;
  const double kdn = 2.0 * std::sqrt(kn);
  Eigen::MatrixXd jbar = mass_inv * jac.transpose() * lambda_full;  // n x 6
  // robosuite: N = I - Jbar J, tau_null = N^T tau_posture = (I - J^T Jbar^T) tau_posture, the
  // dynamically consistent projector (it cannot accelerate the end effector).
  Eigen::MatrixXd projector = Eigen::MatrixXd::Identity(n, n) - jac.transpose() * jbar.transpose();
  Eigen::VectorXd posture = mass * (kn * (q0_ - q) - kdn * qd);
  tau += projector * posture;

  for (int i = 0; i < n; ++i) {
    const int a = actuators_[i];
    double v = tau[i];
    if (m_->actuator_ctrllimited[a]) {
      v = Clip(v, m_->actuator_ctrlrange[2 * a], m_->actuator_ctrlrange[2 * a + 1]);
    }
    d->ctrl[a] = v;
  }
}

GripperIntegrator::GripperIntegrator(const mjModel* m, std::array<int, 2> actuators, double speed)
    : actuators_(actuators), speed_(speed) {
  for (int i = 0; i < 2; ++i) {
    const double lo = m->actuator_ctrlrange[2 * actuators_[i]];
    const double hi = m->actuator_ctrlrange[2 * actuators_[i] + 1];
    bias_[i] = 0.5 * (hi + lo);
    weight_[i] = 0.5 * (hi - lo);
  }
  Reset();
}

void GripperIntegrator::Reset() { current_ = {0.0, 0.0}; }

void GripperIntegrator::Substep(mjData* d, double action) {
  const double s = (action > 0) - (action < 0);
  // finger 1 closes toward its minimum (-1), finger 2 toward its maximum (+1)
  current_[0] = Clip(current_[0] - speed_ * s, -1.0, 1.0);
  current_[1] = Clip(current_[1] + speed_ * s, -1.0, 1.0);
  for (int i = 0; i < 2; ++i) d->ctrl[actuators_[i]] = bias_[i] + weight_[i] * current_[i];
}

std::array<double, 6> RotationToSixD(const Eigen::Matrix3d& r) {
  return {r(0, 0), r(0, 1), r(0, 2), r(1, 0), r(1, 1), r(1, 2)};
}

Eigen::Matrix3d SixDToRotation(const double* six) {
  Eigen::Vector3d a1(six[0], six[1], six[2]), a2(six[3], six[4], six[5]);
  Eigen::Vector3d b1 = a1.normalized();
  Eigen::Vector3d b2 = (a2 - b1.dot(a2) * b1).normalized();
  Eigen::Vector3d b3 = b1.cross(b2);
  Eigen::Matrix3d r;
  r.row(0) = b1;
  r.row(1) = b2;
  r.row(2) = b3;
  return r;
}

Eigen::Matrix3d AxisAngleToRotation(const Eigen::Vector3d& aa) {
  const double angle = aa.norm();
  if (angle < 1e-12) return Eigen::Matrix3d::Identity();
  return Eigen::AngleAxisd(angle, aa / angle).toRotationMatrix();
}

Eigen::Vector3d RotationToAxisAngle(const Eigen::Matrix3d& r) {
  Eigen::AngleAxisd aa(r);
  return aa.angle() * aa.axis();
}

Eigen::Vector3d OrientationError(const Eigen::Matrix3d& desired, const Eigen::Matrix3d& current) {
  return 0.5 * (current.col(0).cross(desired.col(0)) + current.col(1).cross(desired.col(1)) +
                current.col(2).cross(desired.col(2)));
}

}  // namespace onedp

namespace onedp {

Eigen::Vector2d PlanarPdController::Update(const Eigen::Vector2d& pos, const Eigen::Vector2d& vel,
                                           const Eigen::Vector2d& target, double dt) const {
  return vel + (kp_ * (target - pos) - kv_ * vel) * dt;
}

}  // namespace onedp
