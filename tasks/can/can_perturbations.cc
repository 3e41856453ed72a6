// Can's perturbations (tasks/perturbation.h): its facts in metres at 20 Hz, and access to the can,
// moved through its free joint inside the source bin.

#include <cmath>
#include <string>

#include "tasks/can/can.h"

namespace onedp {
namespace {

// The can slides at a hand's pace (RobomimicTask::HandPerturbationFacts). A reset comes after 30-100
// steps (1.5-5 s: the approach and grasp of a 20 s episode). A move keeps the can where Reset may
// place it (the source bin's floor less the can's horizontal radius); the bin's walls are also
// guarded by the penetration rule (2 mm).
constexpr double kLifted = 0.01;  // above its resting height: in the gripper

}  // namespace

std::unique_ptr<Perturber> CanTask::MakePerturber(const std::string& name) {
  PerturbationObject o = FreeJointObject(can_body_, can_joint_);
  o.xy = [this] { return Eigen::Vector2d(CanPos().head<2>()); };
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
  return std::make_unique<Perturber>(name, HandPerturbationFacts(30, 100), std::move(o), sim_.get(), spec_.control_hz, seed_);
}

}  // namespace onedp
