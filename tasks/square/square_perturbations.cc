// Square's perturbations (tasks/perturbation.h): its facts in metres at 20 Hz, and access to the
// nut, moved through its free joint.

#include <string>

#include "tasks/square/square.h"

namespace onedp {
namespace {

// The nut starts to slide when the grip site comes within 10 cm (in the table plane) of its hole
// centre (the handle is 5.4 cm from it: the gripper is about to reach it); it slides 5-10 cm at
// 0.2 m/s (1 cm per control step, a hand's pace). A reset comes after 30-100 steps (1.5-5 s: the
// approach and grasp of a 20 s episode). A move keeps the hole centre within 0.3 m of the table
// centre (the table is 0.8 m square; the nut reaches 0.1 m from its centre); penetration beyond
// 2 mm into the table, the pegs or the gripper is refused.
PerturbationFacts SquareFacts() {
  PerturbationFacts f;
  f.trigger_radius = 0.10;
  f.min_distance = 0.05;
  f.max_distance = 0.10;
  f.speed = 0.2;
  f.reset_min_step = 30;
  f.reset_max_step = 100;
  f.penetration_tol = 0.002;
  return f;
}
constexpr double kBoundsHalf = 0.3;
// Resting, the hole centre is kNutHalfThickness above the table; 1 cm more is lifted.
constexpr double kLifted = 0.01;

}  // namespace

std::unique_ptr<Perturber> SquareTask::MakePerturber(const std::string& name) {
  PerturbationObject o;
  o.body = nut_body_;
  o.xy = [this] { return Eigen::Vector2d(NutPos().head<2>()); };
  o.gripper_xy = [this] { return Eigen::Vector2d(robot().EefPos().head<2>()); };
  o.place_xy = [this](const Eigen::Vector2d& xy) {
    const double* q = sim_->data()->qpos + sim_->model()->jnt_qposadr[nut_joint_];
    SetFreeJoint(nut_joint_, Eigen::Vector3d(xy.x(), xy.y(), q[2]),
                 Eigen::Quaterniond(q[3], q[4], q[5], q[6]));
  };
  o.place_fresh = [this](Rng* rng) { PlaceNut(rng); };
  o.in_bounds = [](const Eigen::Vector2d& xy) { return xy.cwiseAbs().maxCoeff() <= kBoundsHalf; };
  o.blocked = [this]() -> std::string {
    if (Evaluate().success || NutOnPeg()) return "task solved";
    if (NutPos().z() > kTableTopZ + kNutHalfThickness + kLifted) return "nut lifted (grasped)";
    if (FingersTouch(nut_body_)) return "nut in the gripper's fingers";
    return "";
  };
  return std::make_unique<Perturber>(name, SquareFacts(), std::move(o), sim_.get(), spec_.control_hz,
                                     seed_);
}

}  // namespace onedp
