// Lift's perturbations (tasks/perturbation.h): its facts in metres at 20 Hz, and access to the
// cube, moved through its free joint.

#include <string>

#include "tasks/lift/lift.h"

namespace onedp {
namespace {

// The cube starts to slide when the grip site comes within 10 cm (in the table plane) of it; it
// slides 5-10 cm at 0.2 m/s (1 cm per control step, a hand's pace). A reset comes after 15-50
// steps (0.75-2.5 s: Lift's approach; its demonstrations take about 3 s) and draws the position and
// yaw as at reset (the cube keeps its episode's size). A move keeps the cube within 0.25 m of the
// table centre (the table is 0.8 m square); penetration beyond 2 mm is refused.
PerturbationFacts LiftFacts() {
  PerturbationFacts f;
  f.trigger_radius = 0.10;
  f.min_distance = 0.05;
  f.max_distance = 0.10;
  f.speed = 0.2;
  f.reset_min_step = 15;
  f.reset_max_step = 50;
  f.penetration_tol = 0.002;
  return f;
}
constexpr double kBoundsHalf = 0.25;
constexpr double kLifted = 0.01;  // above its resting height: in the gripper

}  // namespace

std::unique_ptr<Perturber> LiftTask::MakePerturber(const std::string& name) {
  PerturbationObject o;
  o.body = cube_body_;
  o.xy = [this] { return Eigen::Vector2d(CubePos().head<2>()); };
  o.gripper_xy = [this] { return Eigen::Vector2d(robot().EefPos().head<2>()); };
  o.place_xy = [this](const Eigen::Vector2d& xy) {
    const double* q = sim_->data()->qpos + sim_->model()->jnt_qposadr[cube_joint_];
    SetFreeJoint(cube_joint_, Eigen::Vector3d(xy.x(), xy.y(), q[2]), Eigen::Quaterniond(q[3], q[4], q[5], q[6]));
  };
  o.place_fresh = [this](Rng* rng) { PlaceCube(rng); };
  o.in_bounds = [](const Eigen::Vector2d& xy) { return xy.cwiseAbs().maxCoeff() <= kBoundsHalf; };
  o.blocked = [this]() -> std::string {
    if (Evaluate().success) return "task solved";
    if (CubePos().z() > kTableTopZ + cube_half_size_ + kLifted) return "cube lifted (grasped)";
    if (FingersTouch(cube_body_)) return "cube in the gripper's fingers";
    return "";
  };
  return std::make_unique<Perturber>(name, LiftFacts(), std::move(o), sim_.get(), spec_.control_hz, seed_);
}

}  // namespace onedp
