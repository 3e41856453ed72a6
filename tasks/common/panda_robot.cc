#include "tasks/common/panda_robot.h"

#include <cmath>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace onedp {
namespace {

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read '" + path + "'");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void ReplaceAll(std::string* s, const std::string& from, const std::string& to) {
  for (size_t pos = s->find(from); pos != std::string::npos; pos = s->find(from, pos + to.size())) {
    s->replace(pos, from.size(), to);
  }
}

}  // namespace

std::vector<VirtualFile> RenamedPandaFiles(int index) {
  if (index < 1) throw std::invalid_argument("RenamedPandaFiles: index must be >= 1 (arm 0 is the file itself)");
  const std::string n = std::to_string(index);
  std::vector<VirtualFile> out;
  for (const char* part : {"panda_body", "panda_actuators"}) {
    std::string text = ReadText(AssetPath(std::string("panda/") + part + ".xml"));
    ReplaceAll(&text, "robot0_", "robot" + n + "_");
    ReplaceAll(&text, "gripper0_", "gripper" + n + "_");
    out.push_back({std::string(part) + "_robot" + n + ".xml", std::move(text)});
  }
  return out;
}

const std::array<double, 7> PandaRobot::kInitQpos = {
    0.0, M_PI / 16.0, 0.0, -M_PI / 2.0 - M_PI / 3.0, 0.0, M_PI - 0.2, M_PI / 4.0};

PandaRobot::PandaRobot(Sim* sim, const std::string& robot_prefix, const std::string& gripper_prefix)
    : sim_(sim), prefix_(robot_prefix) {
  for (int i = 1; i <= kArmDof; ++i) {
    joints_.push_back(sim->Id(mjOBJ_JOINT, robot_prefix + "joint" + std::to_string(i)));
    arm_actuators_.push_back(sim->Id(mjOBJ_ACTUATOR, robot_prefix + "torq_j" + std::to_string(i)));
  }
  for (int i = 0; i < 2; ++i) {
    const std::string n = std::to_string(i + 1);
    finger_joints_[i] = sim->Id(mjOBJ_JOINT, gripper_prefix + "finger_joint" + n);
    finger_actuators_[i] = sim->Id(mjOBJ_ACTUATOR, gripper_prefix + "finger_j" + n);
    pad_geoms_[i] = sim->Id(mjOBJ_GEOM, gripper_prefix + "finger" + n + "_pad_collision");
  }
  grip_site_ = sim->Id(mjOBJ_SITE, gripper_prefix + "grip_site");
  osc_ = std::make_unique<OscPoseController>(sim->model(), joints_, grip_site_, arm_actuators_);
  gripper_ = std::make_unique<GripperIntegrator>(sim->model(), finger_actuators_);
}

void PandaRobot::Reset(Rng* rng) {
  const mjModel* m = sim_->model();
  mjData* d = sim_->data();
  for (int i = 0; i < kArmDof; ++i) {
    d->qpos[m->jnt_qposadr[joints_[i]]] = kInitQpos[i] + rng->Normal(0.0, kJointNoise);
    d->qvel[m->jnt_dofadr[joints_[i]]] = 0.0;
  }
  for (int i = 0; i < 2; ++i) {
    d->qpos[m->jnt_qposadr[finger_joints_[i]]] = i == 0 ? kInitFinger : -kInitFinger;
    d->qvel[m->jnt_dofadr[finger_joints_[i]]] = 0.0;
  }
  mj_forward(m, d);
  osc_->Reset(d);
  gripper_->Reset();
  gripper_action_ = 0;
  for (int a : arm_actuators_) d->ctrl[a] = 0;
  gripper_->Substep(d, 0.0);  // write the half-open finger targets without integrating
}

void PandaRobot::SetAction(const double* a, ActionMode mode) {
  const mjData* d = sim_->data();
  if (mode == ActionMode::kDelta) {
    osc_->SetGoalDelta(d, a);
    gripper_action_ = a[6];
  } else {
    osc_->SetGoalAbsolute(Eigen::Vector3d(a[0], a[1], a[2]), SixDToRotation(a + 3));
    gripper_action_ = a[9];
  }
}

void PandaRobot::Substep() {
  mjData* d = sim_->data();
  osc_->ComputeTorques(d);
  gripper_->Substep(d, gripper_action_);
}

Eigen::Vector3d PandaRobot::EefPos() const { return osc_->EePos(sim_->data()); }
Eigen::Matrix3d PandaRobot::EefRot() const { return osc_->EeRot(sim_->data()); }

Eigen::Vector4d PandaRobot::EefQuatXyzw() const {
  Eigen::Quaterniond q(EefRot());
  if (q.w() < 0) q.coeffs() *= -1.0;  // canonical hemisphere
  return Eigen::Vector4d(q.x(), q.y(), q.z(), q.w());
}

std::array<double, 2> PandaRobot::GripperQpos() const {
  const mjModel* m = sim_->model();
  const mjData* d = sim_->data();
  return {d->qpos[m->jnt_qposadr[finger_joints_[0]]], d->qpos[m->jnt_qposadr[finger_joints_[1]]]};
}

std::vector<double> PandaRobot::AbsAction() const {
  std::vector<double> a(10);
  const Eigen::Vector3d& p = osc_->goal_pos();
  const auto six = RotationToSixD(osc_->goal_rot());
  for (int i = 0; i < 3; ++i) a[i] = p[i];
  for (int i = 0; i < 6; ++i) a[3 + i] = six[i];
  a[9] = gripper_action_;
  return a;
}

void PandaRobot::ObserveProprio(Observation* obs) const {
  const Eigen::Vector3d p = EefPos();
  const Eigen::Vector4d q = EefQuatXyzw();
  const auto g = GripperQpos();
  obs->lowdim[prefix_ + "eef_pos"] = {p[0], p[1], p[2]};
  obs->lowdim[prefix_ + "eef_quat"] = {q[0], q[1], q[2], q[3]};
  obs->lowdim[prefix_ + "gripper_qpos"] = {g[0], g[1]};
}

}  // namespace onedp
