// Can's perturbations (tasks/perturbation.h): its facts in metres at 20 Hz, and access to the can,
// moved through its free joint inside the source bin.

#include <cmath>
#include <string>

#include "tasks/can/can.h"

namespace onedp {
namespace {

// The can starts to slide when the grip site comes within 10 cm (in the table plane) of it; it
// slides 5-10 cm at 0.2 m/s (1 cm per control step, a hand's pace). A reset comes after 30-100
// steps (1.5-5 s: the approach and grasp of a 20 s episode). A move keeps the can where Reset may
// place it (the source bin's floor less the can's horizontal radius); the bin's walls are also
// guarded by the penetration rule (2 mm).
PerturbationFacts CanFacts() {
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
constexpr double kLifted = 0.01;  // above its resting height: in the gripper

}  // namespace

std::unique_ptr<Perturber> CanTask::MakePerturber(const std::string& name) {
  PerturbationObject o;
  o.body = can_body_;
  o.xy = [this] { return Eigen::Vector2d(CanPos().head<2>()); };
  o.gripper_xy = [this] { return Eigen::Vector2d(robot().EefPos().head<2>()); };
  o.place_xy = [this](const Eigen::Vector2d& xy) {
    const double* q = sim_->data()->qpos + sim_->model()->jnt_qposadr[can_joint_];
    SetFreeJoint(can_joint_, Eigen::Vector3d(xy.x(), xy.y(), q[2]), Eigen::Quaterniond(q[3], q[4], q[5], q[6]));
  };
  o.place_fresh = [this](Rng* rng) { PlaceCan(rng); };
  o.in_bounds = [](const Eigen::Vector2d& xy) {
    return std::abs(xy.x() - kBin1X) <= kPlaceHalfX - kHorizontalRadius &&
           std::abs(xy.y() - kBin1Y) <= kPlaceHalfY - kHorizontalRadius;
  };
  o.blocked = [this]() -> std::string {
    if (Evaluate().success) return "task solved";
    if (CanPos().z() > kBinFloorTopZ - kCanBottom + kLifted) return "can lifted (grasped)";
    if (FingersTouch(can_body_)) return "can in the gripper's fingers";
    return "";
  };
  return std::make_unique<Perturber>(name, CanFacts(), std::move(o), sim_.get(), spec_.control_hz, seed_);
}

}  // namespace onedp
