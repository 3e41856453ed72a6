// Transport's perturbation (tasks/perturbation.h): a move of the trash cube, in metres at 20 Hz,
// moved through its free joint.
//
// Only `move` is declared: when robot1's gripper comes within the hand-pace radius of the trash
// cube, the cube slides inside the target bin (its walls stop it: the penetration rule; the
// bounds keep its centre a cube half width inside the walls). A `reset` drawn as at reset would
// put the cube back within 5 mm of the bin centre with a new yaw: hardly a new pose, so it is not
// declared.

#include <stdexcept>
#include <string>

#include "tasks/transport/transport.h"

namespace onedp {
namespace {

constexpr double kLifted = 0.01;  // above its resting height: in a gripper

}  // namespace

std::unique_ptr<Perturber> TransportTask::MakePerturber(const std::string& name) {
  PerturbationObject o = FreeJointObject(trash_body_, trash_joint_);
  o.xy = [this] { return Eigen::Vector2d(TrashPos().head<2>()); };
  o.gripper_xy = [this] { return Eigen::Vector2d(robot(1).EefPos().head<2>()); };  // robot1 handles the trash
  o.place_fresh = [](Rng*) { throw std::logic_error("transport declares no reset"); };
  o.in_bounds = [this](const Eigen::Vector2d& xy) {
    const Eigen::Vector2d bin = TargetBinPos().head<2>();
    return (xy - bin).cwiseAbs().maxCoeff() <= kBinInnerHalf - kTrashHalf;
  };
  o.blocked = [this]() -> std::string {
    if (Evaluate().success) return "task solved";
    const double rest = TargetBinPos().z() + kBinBaseHalfZ + kTrashHalf;
    if (TrashPos().z() > rest + kLifted) return "trash lifted (grasped)";
    if (FingersTouch(trash_body_, 0) || FingersTouch(trash_body_, 1)) return "trash in a gripper's fingers";
    return "";
  };
  return std::make_unique<Perturber>(name, HandPerturbationFacts(0, 0), std::move(o), sim_.get(), spec_.control_hz,
                                     seed_);
}

}  // namespace onedp
