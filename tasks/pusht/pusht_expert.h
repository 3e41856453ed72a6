// PushT expert: a privileged sampling-based planner over pushes, in the spirit of MuJoCo MPC's
// predictive sampling, rolling out the task's own MuJoCo model in a private mjData.
//
// The operator repeats  plan -> approach -> push:
//   plan      samples candidate pushes: a contact point on the T's outline (edge chosen by length,
//             position uniform), a start point beyond it along the outward normal, a direction
//             (inward normal +- a random angle) and a depth (log-uniform 0.5..90 units). Each
//             candidate is rolled out in MuJoCo (pusher placed at rest at the start point, target
//             held at the push's end point for kPushSteps control steps), scored by the distance
//             of the centre of gravity to the goal's plus 100 units per radian of angle error (or
//             a bonus when coverage > 0.95 is reached) plus 0.03 per unit of approach distance;
//             the best few are refined by local perturbation (a cross-entropy-like second round).
//             When no push improves the cost by kStallMargin, it looks two pushes ahead (the
//             best first pushes, each followed by sampled second pushes) and takes the first
//             push of the best pair. The chosen push is stored in the block's local frame.
//   approach  moves the target along a path to the push's start point: straight if it clears the
//             T, else out around the block on a circle about its centre of gravity and in along
//             the contact normal; a carrot ahead of the pusher at the operator's cruise lead.
//   push      on arrival the push is re-planned from the exact current state (depth and angle
//             variants of the chosen push, with this push's operator noise already drawn), then
//             its targets are sent for kPushSteps steps.
// Variation: every random choice (candidates, arc direction, carrot lead, noise) comes from the
// OperatorBehaviour's rng, so each seed gives a different, human-looking sequence of pushes.
// Cost: ~100 candidate rollouts of 6 steps (60 substeps) per push, i.e. ~10 ms of planning per
// control step on average on one core.
// Operator units: OperatorProfile's noise is scaled by 100 (PushT units of target noise per unit
// of the [-1, 1] arm-action noise), path_spread by 1000 (metres -> PushT units).
#pragma once

#include <string>
#include <vector>

#include <Eigen/Core>

#include "sim/mj_ptr.h"
#include "tasks/common/operators.h"
#include "tasks/pusht/pusht.h"

namespace onedp {

class PushTExpert : public Expert {
 public:
  static constexpr int kPushSteps = 6;        // control steps per push
  static constexpr int kSamples = 96;         // random candidate pushes per plan
  static constexpr int kElite = 6;            // best candidates refined ...
  static constexpr int kPerturbations = 8;    // ... by this many perturbations each
  static constexpr double kTravelWeight = 0.03;  // cost per unit of approach distance
  static constexpr double kArriveTolerance = 4.0;
  static constexpr double kStallMargin = 0.3;  // a plan improving less than this is a stall ...
  static constexpr int kLookaheadFirst = 8;    // ... then the best first pushes are each ...
  static constexpr int kLookaheadSecond = 48;  // ... followed by this many sampled second pushes
  static constexpr double kAngleWeight = 100.0;  // pose cost units per radian of angle error
  static constexpr int kApproachTimeout = 40;

  PushTExpert(PushTTask* task, const OperatorProfile& op, uint64_t seed);
  std::vector<double> Act() override;
  std::string Phase() const override;

  // Planning statistics (for tuning and reports).
  int64_t rollouts() const { return rollouts_; }

 private:
  struct Push {
    Eigen::Vector2d contact_local = Eigen::Vector2d::Zero();  // point on the outline
    Eigen::Vector2d normal_local = Eigen::Vector2d(0, -1);    // outward normal there
    double gap = 8;    // start point's clearance from the contact (beyond the pusher radius)
    double phi = 0;    // push direction = inward normal rotated by phi
    double depth = 0;  // how far the target goes past first contact
    // derived (Realize): pusher start and target end, block-local frame
    Eigen::Vector2d start_local = Eigen::Vector2d::Zero(), end_local = Eigen::Vector2d::Zero();
    double cost = 1e18;
  };
  enum class Stage { kPlan, kApproach, kPush };

  // Rolls out a push from the given pusher state and block pose; returns its cost (lower is
  // better; success gives a large negative cost).
  double Rollout(const Eigen::Vector2d& pusher, const Eigen::Vector2d& pusher_vel,
                 const Eigen::Vector3d& block, const std::vector<Eigen::Vector2d>& targets,
                 int* success_step = nullptr, Eigen::Vector3d* final_block = nullptr,
                 Eigen::Vector2d* final_pusher = nullptr);
  double PoseCost(const Eigen::Vector3d& block) const;
  bool SamplePush(const Eigen::Vector3d& block, Push* push);
  // Fills start/end from the push parameters; false if the start point is not clear of the T or
  // outside the world.
  bool Realize(const Eigen::Vector3d& block, Push* push) const;
  Push Perturb(const Push& p, const Eigen::Vector3d& block);
  double ScorePush(Push* push, const Eigen::Vector3d& block, const Eigen::Vector2d& pusher);
  bool Plan();  // false if no candidate push was found
  bool SegmentClear(const Eigen::Vector3d& block, const Eigen::Vector2d& a,
                    const Eigen::Vector2d& b, double clearance) const;
  void BuildApproachPath();
  Eigen::Vector2d Carrot(const Eigen::Vector2d& p, double lead);
  void StartPush();
  std::vector<Eigen::Vector2d> PushTargets(const Push& p, const Eigen::Vector3d& block) const;

  PushTTask* task_;
  OperatorBehaviour op_;
  MjDataPtr data_;  // private rollout data
  PushTLayout layout_;
  Stage stage_ = Stage::kPlan;
  Push push_;
  std::vector<Eigen::Vector2d> path_;  // approach polyline (world)
  size_t path_progress_ = 0;           // current segment of path_
  Eigen::Vector3d plan_pose_ = Eigen::Vector3d::Zero(), path_pose_ = Eigen::Vector3d::Zero();
  double arc_margin_ = 0;              // per-episode detour offset (path_spread)
  std::vector<Eigen::Vector2d> push_targets_;
  int stage_steps_ = 0;
  double lead_ = 60;       // carrot lead (units)
  double noise_ = 3;       // target noise std (units)
  Eigen::Vector2d ou_ = Eigen::Vector2d::Zero();
  int64_t rollouts_ = 0;
};

}  // namespace onedp
