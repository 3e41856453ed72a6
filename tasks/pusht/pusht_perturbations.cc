// PushT's perturbations (tasks/perturbation.h): its facts in PushT units at 10 Hz, and access to
// the T block, moved through its slide and hinge joints.

#include <string>

#include "tasks/pusht/pusht.h"

namespace onedp {
namespace {

// The block starts to slide when the pusher's centre comes within 90 units of the T's centre of
// gravity (the T reaches 75 from it, the pusher's radius is 15: about to touch); it slides 60-120
// units (half to one T width) at 150 units/s (15 per control step, a hand's pace on a
// 512-unit table). A reset comes after 20-100 steps (2-10 s: the pushing phase of a 30 s episode).
// A move keeps the centre of gravity 80 units inside the 512 x 512 table (the T inside its walls);
// penetration beyond 1 unit (the contacts' own softness while pushing) is refused.
PerturbationFacts PushTFacts() {
  PerturbationFacts f;
  f.trigger_radius = 90;
  f.min_distance = 60;
  f.max_distance = 120;
  f.speed = 150;
  f.reset_min_step = 20;
  f.reset_max_step = 100;
  f.penetration_tol = 1.0;
  return f;
}
constexpr double kBoundsMargin = 80;

// The T's centre of gravity in its body frame (pymunk's), as LegacyPose uses.
const Eigen::Vector2d kCog(0, 45);

}  // namespace

std::unique_ptr<Perturber> PushTTask::MakePerturber(const std::string& name) {
  PerturbationObject o;
  o.body = mj_name2id(sim_->model(), mjOBJ_BODY, "block");
  const auto cog = [this] {
    const Eigen::Vector3d p = BlockPose();
    return Eigen::Vector2d(p.head<2>() + Eigen::Rotation2Dd(p.z()) * kCog);
  };
  const auto set_block = [this](const Eigen::Vector3d& pose) {
    mjData* d = sim_->data();
    for (int i = 0; i < 3; ++i) {
      d->qpos[layout_.block_qpos + i] = pose[i];
      d->qvel[layout_.block_dof + i] = 0;
    }
  };
  o.xy = cog;
  o.gripper_xy = [this] { return AgentPos(); };
  o.place_xy = [this, cog, set_block](const Eigen::Vector2d& xy) {
    const Eigen::Vector3d p = BlockPose();
    set_block(Eigen::Vector3d(p.x() + xy.x() - cog().x(), p.y() + xy.y() - cog().y(), p.z()));
  };
  o.place_fresh = [set_block](Rng* rng) {  // Reset's draws of the block, in its order
    const int bx = rng->UniformInt(100, 400);
    const int by = rng->UniformInt(100, 400);
    const double angle = rng->Normal() * 2 * M_PI - M_PI;
    set_block(LegacyPose(bx, by, angle));
  };
  o.in_bounds = [](const Eigen::Vector2d& xy) {
    return xy.minCoeff() >= kBoundsMargin && xy.maxCoeff() <= 512 - kBoundsMargin;
  };
  o.blocked = [this] { return Evaluate().success ? std::string("task solved") : std::string(); };
  return std::make_unique<Perturber>(name, PushTFacts(), std::move(o), sim_.get(), spec_.control_hz,
                                     seed_);
}

}  // namespace onedp
