// The move / reset perturbation protocol (tasks/perturbation.h): seeded parameters, triggers,
// kinematic increments and placements under the no-penetration rule, and the episode's record.

#include "tasks/perturbation.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <utility>

namespace onedp {
namespace {

// Streams of the episode seed for the perturbation's draws (the task's reset uses 1 and 2).
constexpr uint64_t kParameterStream = 0x50455254;  // "PERT"
constexpr uint64_t kPlacementStream = 0x504c4143;  // "PLAC"

std::string Fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.4g", v);
  return buf;
}

}  // namespace

const char* PerturbationStatusName(PerturbationStatus status) {
  switch (status) {
    case PerturbationStatus::kNone: return "none";
    case PerturbationStatus::kPending: return "not_triggered";
    case PerturbationStatus::kActive:
    case PerturbationStatus::kApplied: return "applied";
    case PerturbationStatus::kSkipped: return "skipped";
  }
  return "?";
}

double BodyPenetration(const mjModel* m, const mjData* d, int body) {
  double deepest = 0;
  for (int i = 0; i < d->ncon; ++i) {
    const mjContact& c = d->contact[i];
    const bool a = m->body_rootid[m->geom_bodyid[c.geom1]] == body;
    const bool b = m->body_rootid[m->geom_bodyid[c.geom2]] == body;
    if (a != b && c.dist < 0) deepest = std::max(deepest, -c.dist);
  }
  return deepest;
}

Perturber::Perturber(const std::string& name, const PerturbationFacts& facts,
                     PerturbationObject object, Sim* sim, double control_hz, uint64_t episode_seed)
    : facts_(facts),
      object_(std::move(object)),
      sim_(sim),
      step_length_(facts.speed / control_hz),
      placement_rng_(episode_seed, kPlacementStream) {
  if (name != "move" && name != "reset") {
    throw std::invalid_argument("perturbation '" + name + "': the protocol knows move and reset");
  }
  record_.name = name;
  record_.status = PerturbationStatus::kPending;
  // Every parameter is drawn, whichever perturbation runs, so each has the same value for a seed.
  Rng rng(episode_seed, kParameterStream);
  direction_ = rng.Uniform(0.0, 2.0 * M_PI);
  distance_ = rng.Uniform(facts.min_distance, facts.max_distance);
  reset_step_ = rng.UniformInt(facts.reset_min_step, facts.reset_max_step + 1);
}

PerturbationRecord Perturber::record() const { return record_; }

void Perturber::Finish(PerturbationStatus status, const std::string& detail) {
  record_.status = status;
  if (!detail.empty()) record_.detail = record_.detail.empty() ? detail : record_.detail + "; " + detail;
}

bool Perturber::TryPlacement(const std::function<void()>& place) {
  mjModel* m = sim_->model();
  mjData* d = sim_->data();
  sim_->Forward();
  const double before = BodyPenetration(m, d, object_.body);
  const std::vector<double> qpos(d->qpos, d->qpos + m->nq), qvel(d->qvel, d->qvel + m->nv);
  place();
  sim_->Forward();
  if (BodyPenetration(m, d, object_.body) <= std::max(before, facts_.penetration_tol)) return true;
  std::copy(qpos.begin(), qpos.end(), d->qpos);
  std::copy(qvel.begin(), qvel.end(), d->qvel);
  sim_->Forward();
  return false;
}

void Perturber::MoveIncrement() {
  // A move stopped before its first increment did not apply: skipped.
  const PerturbationStatus stopped = travelled_ > 0 ? PerturbationStatus::kApplied : PerturbationStatus::kSkipped;
  const std::string why = object_.blocked();
  if (!why.empty()) {
    Finish(stopped, "stopped after " + Fmt(travelled_) + ": " + why);
    return;
  }
  const double next = std::min(distance_, travelled_ + step_length_);
  const Eigen::Vector2d target = start_ + next * heading_;
  if (!object_.in_bounds(target)) {
    Finish(stopped, "stopped at the bounds after " + Fmt(travelled_));
    return;
  }
  if (!TryPlacement([&] { object_.place_xy(target); })) {
    Finish(stopped, "blocked by contact after " + Fmt(travelled_));
    return;
  }
  travelled_ = next;
  if (travelled_ >= distance_) Finish(PerturbationStatus::kApplied, "moved " + Fmt(distance_));
}

void Perturber::AfterStep(int steps) {
  if (record_.status == PerturbationStatus::kActive) {
    MoveIncrement();
    return;
  }
  if (record_.status != PerturbationStatus::kPending) return;
  if (record_.name == "move") {
    const Eigen::Vector2d gap = object_.xy() - object_.gripper_xy();
    if (gap.norm() >= facts_.trigger_radius) return;
    record_.step = steps;
    const std::string why = object_.blocked();
    if (!why.empty()) return Finish(PerturbationStatus::kSkipped, why);
    start_ = object_.xy();
    heading_ = Eigen::Vector2d(std::cos(direction_), std::sin(direction_));
    if (heading_.dot(gap) < 0) heading_ = -heading_;  // away from the gripper
    record_.status = PerturbationStatus::kActive;
    MoveIncrement();
    return;
  }
  if (steps < reset_step_) return;
  record_.step = steps;
  const std::string why = object_.blocked();
  if (!why.empty()) return Finish(PerturbationStatus::kSkipped, why);
  for (int i = 0; i < facts_.placement_tries; ++i) {
    if (TryPlacement([&] { object_.place_fresh(&placement_rng_); })) {
      const Eigen::Vector2d xy = object_.xy();
      return Finish(PerturbationStatus::kApplied,
                    "placed at (" + Fmt(xy.x()) + ", " + Fmt(xy.y()) + ") on draw " + std::to_string(i + 1));
    }
  }
  Finish(PerturbationStatus::kSkipped, "no placement free of contact in " +
                                           std::to_string(facts_.placement_tries) + " draws");
}

}  // namespace onedp
