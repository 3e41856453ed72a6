#include "tasks/square/square.h"

#include <cmath>

#include "tasks/square/square_expert.h"

namespace onedp {
namespace {

RobomimicTaskConfig SquareConfig(const std::string& variant) {
  RobomimicTaskConfig c;
  c.name = "square-" + variant;
  c.env_name = "NutAssemblySquare";
  c.display_name = "Square";
  c.variant = variant;
  c.model = "square/square.xml";
  c.object_dim = 14;
  c.max_steps = variant == "mh" ? 500 : 400;
  return c;
}

}  // namespace

TaskInfo SquareTask::Info(const std::string& variant) {
  TaskInfo info = RobomimicTaskInfo(SquareConfig(variant));
  info.perturbations = {"move", "reset"};  // square_perturbations.cc
  return info;
}

SquareTask::SquareTask(const std::string& variant) : RobomimicTask(SquareConfig(variant)) {
  nut_body_ = sim_->Id(mjOBJ_BODY, "SquareNut_main");
  nut_joint_ = sim_->Id(mjOBJ_JOINT, "SquareNut_joint0");
  spec_.info = Info(variant);
}

void SquareTask::PlaceObjects(Rng* rng) {
  const Eigen::Vector3d p = PlaceNut(rng);
  init_xy_ = p.head<2>();
  init_yaw_ = p.z();
}

Eigen::Vector3d SquareTask::PlaceNut(Rng* rng) {
  const double x = rng->Uniform(-0.115, -0.11);
  const double y = rng->Uniform(0.11, 0.225);
  const double yaw = rng->Uniform(0.0, 2.0 * M_PI);
  SetFreeJoint(nut_joint_, Eigen::Vector3d(x, y, kTableTopZ + 0.02 + kNutHalfThickness),
               Eigen::Quaterniond(Eigen::AngleAxisd(yaw, Eigen::Vector3d::UnitZ())));
  return {x, y, yaw};
}

std::vector<double> SquareTask::ObjectObs() const {
  // robosuite's observables: pose, and pose in the end-effector frame
  return BodyPoseObs(nut_body_);
}

bool SquareTask::NutOnPeg() const {
  const Eigen::Vector3d p = NutPos();
  return std::abs(p.x() - kPegX) < kSuccessXY && std::abs(p.y() - kPegY) < kSuccessXY &&
         p.z() < kSuccessZ;
}

Outcome SquareTask::Evaluate() const {
  Outcome o;
  o.success = episode_error().empty() && NutOnPeg() && GripperFarFrom(NutPos());
  o.reward = o.success ? 1.0 : 0.0;
  o.score = o.reward;
  return o;
}

nlohmann::json SquareTask::EpisodeMeta() const {
  return {{"nut_init_xy", {init_xy_.x(), init_xy_.y()}}, {"nut_init_yaw", init_yaw_}};
}

std::unique_ptr<Expert> SquareTask::MakeExpert(const OperatorProfile& op, uint64_t seed) {
  return std::make_unique<SquareExpert>(this, op, seed);
}

}  // namespace onedp
