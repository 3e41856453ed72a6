// Square's perturbations (tasks/perturbation.h): its facts in metres at 20 Hz, and access to the
// nut, moved through its free joint.

#include <string>

#include "tasks/square/square.h"

namespace onedp {
namespace {

// The nut slides at a hand's pace (RobomimicTask::HandPerturbationFacts), triggered by the grip
// site's distance to its hole centre (the handle is 5.4 cm from it: the gripper is about to reach
// it). A reset comes after 30-100 steps (1.5-5 s: the approach and grasp of a 20 s episode). A move keeps the hole centre within 0.3 m of the table
// centre (the table is 0.8 m square; the nut reaches 0.1 m from its centre); penetration beyond
// 2 mm into the table, the pegs or the gripper is refused.
constexpr double kBoundsHalf = 0.3;
// Resting, the hole centre is kNutHalfThickness above the table; 1 cm more is lifted.
constexpr double kLifted = 0.01;

}  // namespace

std::unique_ptr<Perturber> SquareTask::MakePerturber(const std::string& name) {
  PerturbationObject o = FreeJointObject(nut_body_, nut_joint_);
  o.xy = [this] { return Eigen::Vector2d(NutPos().head<2>()); };
  o.place_fresh = [this](Rng* rng) { PlaceNut(rng); };
  o.in_bounds = [](const Eigen::Vector2d& xy) { return xy.cwiseAbs().maxCoeff() <= kBoundsHalf; };
  o.blocked = [this]() -> std::string {
    if (Evaluate().success || NutOnPeg()) return "task solved";
    if (NutPos().z() > kTableTopZ + kNutHalfThickness + kLifted) return "nut lifted (grasped)";
    if (FingersTouch(nut_body_)) return "nut in the gripper's fingers";
    return "";
  };
  return std::make_unique<Perturber>(name, HandPerturbationFacts(30, 100), std::move(o), sim_.get(), spec_.control_hz,
                                     seed_);
}

}  // namespace onedp
