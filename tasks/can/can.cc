#include "tasks/can/can.h"

#include <cmath>

#include "tasks/can/can_expert.h"

namespace onedp {
namespace {

RobomimicTaskConfig CanConfig(const std::string& variant) {
  RobomimicTaskConfig c;
  c.name = "can-" + variant;
  c.env_name = "PickPlaceCan";
  c.display_name = "Can";
  c.variant = variant;
  c.model = "can/can.xml";
  c.object_dim = 14;
  c.max_steps = variant == "mh" ? 500 : 400;
  return c;
}

}  // namespace

TaskInfo CanTask::Info(const std::string& variant) {
  TaskInfo info = RobomimicTaskInfo(CanConfig(variant));
  info.perturbations = {"move", "reset"};  // can_perturbations.cc
  return info;
}

CanTask::CanTask(const std::string& variant) : RobomimicTask(CanConfig(variant)) {
  can_body_ = sim_->Id(mjOBJ_BODY, "can");
  can_joint_ = sim_->Id(mjOBJ_JOINT, "can_joint");
  spec_.info = Info(variant);
}

bool CanTask::InGoalRegion(const Eigen::Vector3d& p) {
  return p.x() > kGoalXMin && p.x() < kGoalXMax && p.y() > kGoalYMin && p.y() < kGoalYMax &&
         p.z() > kGoalZMin && p.z() < kGoalZMax;
}

void CanTask::PlaceObjects(Rng* rng) { initial_pos_ = PlaceCan(rng, &initial_yaw_); }

Eigen::Vector3d CanTask::PlaceCan(Rng* rng, double* yaw_out) {
  const double hx = kPlaceHalfX - kHorizontalRadius;
  const double hy = kPlaceHalfY - kHorizontalRadius;
  const double x = kBin1X + rng->Uniform(-hx, hx);
  const double y = kBin1Y + rng->Uniform(-hy, hy);
  const double yaw = rng->Uniform(0.0, 2.0 * M_PI);
  const Eigen::Vector3d pos(x, y, kBinFloorTopZ - kCanBottom);
  SetFreeJoint(can_joint_, pos, Eigen::Quaterniond(Eigen::AngleAxisd(yaw, Eigen::Vector3d::UnitZ())));
  if (yaw_out != nullptr) *yaw_out = yaw;
  return pos;
}

std::vector<double> CanTask::ObjectObs() const {
  // robosuite's observables: pose, and pose in the end-effector frame
  return BodyPoseObs(can_body_);
}

Outcome CanTask::Evaluate() const {
  Outcome o;
  const Eigen::Vector3d p = CanPos();
  o.success = episode_error().empty() && InGoalRegion(p) && GripperFarFrom(p);
  o.reward = o.success ? 1.0 : 0.0;
  o.score = o.reward;
  return o;
}

nlohmann::json CanTask::EpisodeMeta() const {
  return {{"can_initial_pos", {initial_pos_.x(), initial_pos_.y(), initial_pos_.z()}},
          {"can_initial_yaw", initial_yaw_}};
}

std::unique_ptr<Expert> CanTask::MakeExpert(const OperatorProfile& op, uint64_t seed) {
  return std::make_unique<CanExpert>(this, op, seed);
}

}  // namespace onedp
