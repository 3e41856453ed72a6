// ToolHang's perturbation (tasks/perturbation.h): a reset of the wrench, in metres at 20 Hz,
// moved through its free joint.
//
// Only `reset` is declared. The robot first inserts the hook frame and only then fetches the wrench;
// re-placing the wrench (drawn as at reset) while the frame is handled is ToolHang's pose reset. A
// `move` triggered by the gripper's approach would fire on the wrong object: the wrench lies 8-9 cm
// from the frame's grip, inside the hand-pace trigger radius of 10 cm, so it would slide while the
// gripper reaches for the frame, not for the wrench.

#include <string>

#include "tasks/tool_hang/tool_hang.h"

namespace onedp {
namespace {

// A reset comes after 60-200 steps (3-10 s: the frame's grasp and insertion in a 35 s episode).
// The wrench rests on the table; 1 cm above its resting height it is lifted (grasped).
constexpr double kRestZ = ToolHangTask::kTableTopZ + 0.04;
constexpr double kLifted = 0.01;
constexpr double kBoundsHalf = 0.3;

}  // namespace

std::unique_ptr<Perturber> ToolHangTask::MakePerturber(const std::string& name) {
  PerturbationObject o = FreeJointObject(tool_body_, tool_joint_);
  o.xy = [this] { return Eigen::Vector2d(ToolPos().head<2>()); };
  o.place_fresh = [this](Rng* rng) { PlaceToolAt(DrawTool(rng)); };
  o.in_bounds = [](const Eigen::Vector2d& xy) { return xy.cwiseAbs().maxCoeff() <= kBoundsHalf; };
  o.blocked = [this]() -> std::string {
    if (Evaluate().success) return "task solved";
    if (ToolPos().z() > kRestZ + kLifted) return "wrench lifted (grasped or hung)";
    if (FingersTouch(tool_body_)) return "wrench in the gripper's fingers";
    return "";
  };
  return std::make_unique<Perturber>(name, HandPerturbationFacts(60, 200), std::move(o), sim_.get(),
                                     spec_.control_hz, seed_);
}

}  // namespace onedp
