// The protocol of the perturbations a task can declare (TaskInfo::perturbations) for dynamic
// evaluations: `move` and `reset`. Each task supplies its facts (PerturbationFacts: radius,
// distances, speed, steps, tolerance, in its own units) and access to its object
// (PerturbationObject); a Perturber runs the protocol for one episode, its parameters drawn from the
// episode seed alone, so every policy meets the same perturbation.
//
//   move   when the gripper (PushT: the pusher) comes within trigger_radius of the object (planar
//          distance), the object slides along a seeded direction (flipped to point away from the
//          gripper) by a seeded distance in [min_distance, max_distance] at `speed`: one
//          increment of speed / control rate after each control step, the object at rest.
//   reset  after a seeded step in [reset_min_step, reset_max_step] the object is put at a fresh
//          placement drawn as at reset (up to placement_tries draws).
// No penetration: objects move kinematically through their joints, and a placement or increment
// that would leave the object deeper than penetration_tol inside another body (table, gripper,
// pegs, walls; or deeper than it already was) is undone: a move stops there, a reset tries the
// next draw. A move also stops where the object would leave the task's bounds. A perturbation
// that cannot apply when it is due (the object is grasped, the task is solved: the task's
// `blocked` reason; a move that cannot make its first increment; a reset with no free placement)
// is recorded as skipped; one that never came due as not triggered.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <Eigen/Core>

#include "sim/rng.h"
#include "sim/sim.h"

namespace onedp {

enum class PerturbationStatus { kNone, kPending, kActive, kApplied, kSkipped };
// "none", "not_triggered" (pending at the end), "applied" (active or done), "skipped".
const char* PerturbationStatusName(PerturbationStatus status);

// What happened to an episode's perturbation (Task::perturbation()).
struct PerturbationRecord {
  std::string name;  // empty: none armed
  PerturbationStatus status = PerturbationStatus::kNone;
  int step = -1;       // env steps taken when it was applied (a move: started) or skipped
  std::string detail;  // why it was skipped or where it stopped; what was moved
};

// A task's facts for its perturbations, in its length units and control steps.
struct PerturbationFacts {
  double trigger_radius = 0;                  // move: gripper-object planar distance that starts it
  double min_distance = 0, max_distance = 0;  // move: slide length, uniform
  double speed = 0;                           // move: units per second
  int reset_min_step = 0, reset_max_step = 0; // reset: after this many steps, uniform (inclusive)
  double penetration_tol = 0;                 // deepest penetration a perturbation may leave
  int placement_tries = 20;                   // reset: fresh placements tried
};

// Access to the task's perturbed object.
struct PerturbationObject {
  int body = -1;  // the object's (top-level) body: penetration is measured on its geoms' contacts
  std::function<Eigen::Vector2d()> xy;          // its planar position
  std::function<Eigen::Vector2d()> gripper_xy;  // the gripper's (pusher's) planar position
  // Puts the object at planar position xy, orientation and height kept, at rest.
  std::function<void(const Eigen::Vector2d&)> place_xy;
  // Puts the object at a placement drawn from `rng` as at reset, at rest.
  std::function<void(Rng*)> place_fresh;
  std::function<bool(const Eigen::Vector2d&)> in_bounds;  // may the object be at xy?
  std::function<std::string()> blocked;  // non-empty: why it cannot be perturbed now
};

// Deepest penetration (>= 0) of `body`'s geoms into any other body among the contacts of `d`.
double BodyPenetration(const mjModel* m, const mjData* d, int body);

class Perturber {
 public:
  // `name` is "move" or "reset" (std::invalid_argument otherwise); the seeded parameters are drawn
  // here from `episode_seed`.
  Perturber(const std::string& name, const PerturbationFacts& facts, PerturbationObject object,
            Sim* sim, double control_hz, uint64_t episode_seed);
  // At the end of each control step; `steps` = steps taken.
  void AfterStep(int steps);
  PerturbationRecord record() const;

  // The seeded parameters (the same for every policy on this episode seed).
  double direction() const { return direction_; }  // radians, before the flip away from the gripper
  double distance() const { return distance_; }
  int reset_step() const { return reset_step_; }

 private:
  void Finish(PerturbationStatus status, const std::string& detail);
  void MoveIncrement();
  // Runs `place`, then keeps it if the object's penetration stays within the rule; otherwise
  // restores the previous state. Returns whether it was kept.
  bool TryPlacement(const std::function<void()>& place);

  PerturbationFacts facts_;
  PerturbationObject object_;
  Sim* sim_;
  double step_length_;
  PerturbationRecord record_;
  double direction_ = 0, distance_ = 0;
  int reset_step_ = 0;
  Rng placement_rng_;
  Eigen::Vector2d start_ = Eigen::Vector2d::Zero(), heading_ = Eigen::Vector2d::Zero();
  double travelled_ = 0;
};

}  // namespace onedp
