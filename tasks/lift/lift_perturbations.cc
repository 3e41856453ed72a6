// Lift's perturbations (tasks/perturbation.h): its facts in metres at 20 Hz, and access to the
// cube, moved through its free joint.

#include <string>

#include "tasks/lift/lift.h"

namespace onedp {
namespace {

// The cube slides at a hand's pace (RobomimicTask::HandPerturbationFacts). A reset comes after 15-50
// steps (0.75-2.5 s: Lift's approach; its demonstrations take about 3 s) and draws the position and
// yaw as at reset (the cube keeps its episode's size). A move keeps the cube within 0.25 m of the
// table centre (the table is 0.8 m square); penetration beyond 2 mm is refused.
constexpr double kBoundsHalf = 0.25;
constexpr double kLifted = 0.01;  // above its resting height: in the gripper

}  // namespace

std::unique_ptr<Perturber> LiftTask::MakePerturber(const std::string& name) {
  PerturbationObject o = FreeJointObject(cube_body_, cube_joint_);
  o.xy = [this] { return Eigen::Vector2d(CubePos().head<2>()); };
  o.place_fresh = [this](Rng* rng) { PlaceCube(rng); };
  o.in_bounds = [](const Eigen::Vector2d& xy) { return xy.cwiseAbs().maxCoeff() <= kBoundsHalf; };
  o.blocked = [this]() -> std::string {
    if (Evaluate().success) return "task solved";
    if (CubePos().z() > kTableTopZ + cube_half_size_ + kLifted) return "cube lifted (grasped)";
    if (FingersTouch(cube_body_)) return "cube in the gripper's fingers";
    return "";
  };
  return std::make_unique<Perturber>(name, HandPerturbationFacts(15, 50), std::move(o), sim_.get(), spec_.control_hz, seed_);
}

}  // namespace onedp
