#include "tasks/lift/lift.h"

#include <cmath>

#include "tasks/lift/lift_expert.h"

namespace onedp {
namespace {

RobomimicTaskConfig LiftConfig(const std::string& variant) {
  RobomimicTaskConfig c;
  c.name = "lift-" + variant;
  c.env_name = "Lift";
  c.display_name = "Lift";
  c.variant = variant;
  c.model = "lift/lift.xml";
  c.object_dim = 10;
  c.max_steps = variant == "mh" ? 500 : 400;
  return c;
}

}  // namespace

TaskInfo LiftTask::Info(const std::string& variant) {
  TaskInfo info = RobomimicTaskInfo(LiftConfig(variant));
  info.perturbations = {"move", "reset"};  // lift_perturbations.cc
  return info;
}

LiftTask::LiftTask(const std::string& variant) : RobomimicTask(LiftConfig(variant)) {
  cube_body_ = sim_->Id(mjOBJ_BODY, "cube");
  cube_geom_ = sim_->Id(mjOBJ_GEOM, "cube_g0");
  cube_joint_ = sim_->Id(mjOBJ_JOINT, "cube_joint");
  spec_.info = Info(variant);
}

void LiftTask::SetCubeHalfSize(double h) {
  mjModel* m = sim_->model();
  cube_half_size_ = h;
  for (int i = 0; i < 3; ++i) m->geom_size[3 * cube_geom_ + i] = h;
  m->geom_rbound[cube_geom_] = std::sqrt(3.0) * h;
  const double mass = 1000.0 * std::pow(2.0 * h, 3);
  m->body_mass[cube_body_] = mass;
  for (int i = 0; i < 3; ++i) m->body_inertia[3 * cube_body_ + i] = mass * 4.0 * h * h / 6.0;
  // mj_setConst recomputes subtree masses, dof_M0 etc. for the new inertia; it evaluates the
  // model at qpos0 in the data it is given, so keep the current state around it.
  const SimState state = sim_->GetState();
  mj_setConst(m, sim_->data());
  sim_->SetState(state);
}

void LiftTask::PlaceObjects(Rng* rng) {
  SetCubeHalfSize(rng->Uniform(0.020, 0.022));
  PlaceCube(rng);
}

void LiftTask::PlaceCube(Rng* rng) {
  const double x = rng->Uniform(-0.03, 0.03);
  const double y = rng->Uniform(-0.03, 0.03);
  const double yaw = rng->Uniform(0.0, 2.0 * M_PI);
  SetFreeJoint(cube_joint_, Eigen::Vector3d(x, y, kTableTopZ + 0.01 + cube_half_size_),
               Eigen::Quaterniond(Eigen::AngleAxisd(yaw, Eigen::Vector3d::UnitZ())));
}

std::vector<double> LiftTask::ObjectObs() const {
  const Eigen::Vector3d p = CubePos();
  const Eigen::Vector4d q = BodyQuatXyzw(cube_body_);
  const Eigen::Vector3d g = robot().EefPos() - p;
  return {p[0], p[1], p[2], q[0], q[1], q[2], q[3], g[0], g[1], g[2]};
}

Outcome LiftTask::Evaluate() const {
  Outcome o;
  o.success = episode_error().empty() && CubePos().z() > kTableTopZ + kSuccessHeight;
  o.reward = o.success ? 1.0 : 0.0;
  o.score = o.reward;
  return o;
}

nlohmann::json LiftTask::EpisodeMeta() const { return {{"cube_half_size", cube_half_size_}}; }

std::unique_ptr<Expert> LiftTask::MakeExpert(const OperatorProfile& op, uint64_t seed) {
  return std::make_unique<LiftExpert>(this, op, seed);
}

}  // namespace onedp
