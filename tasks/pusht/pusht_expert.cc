#include "tasks/pusht/pusht_expert.h"

#include <algorithm>
#include <cmath>

namespace onedp {
namespace {

// The T's outline edges in block-local coordinates with their outward normals.
struct Edge {
  Eigen::Vector2d a, b, normal;
};
const std::array<Edge, 8>& TEdges() {
  static const std::array<Edge, 8> e = {{
      {{-60, 0}, {60, 0}, {0, -1}},      // bar bottom
      {{60, 0}, {60, 30}, {1, 0}},       // bar right end
      {{60, 30}, {15, 30}, {0, 1}},      // bar top, right of the stem
      {{15, 30}, {15, 120}, {1, 0}},     // stem right
      {{15, 120}, {-15, 120}, {0, 1}},   // stem tip
      {{-15, 120}, {-15, 30}, {-1, 0}},  // stem left
      {{-15, 30}, {-60, 30}, {0, 1}},    // bar top, left of the stem
      {{-60, 30}, {-60, 0}, {-1, 0}},    // bar left end
  }};
  return e;
}

const Eigen::Vector2d kCog(0, 45);
constexpr double kFarthest = 76.6;  // max distance from the centre of gravity to the outline

Eigen::Vector2d ToWorld(const Eigen::Vector3d& pose, const Eigen::Vector2d& local) {
  return Eigen::Vector2d(pose.x(), pose.y()) + Eigen::Rotation2Dd(pose.z()) * local;
}
Eigen::Vector2d ToLocal(const Eigen::Vector3d& pose, const Eigen::Vector2d& world) {
  return Eigen::Rotation2Dd(-pose.z()) * (world - Eigen::Vector2d(pose.x(), pose.y()));
}
Eigen::Vector2d Rotate(const Eigen::Vector2d& v, double a) { return Eigen::Rotation2Dd(a) * v; }

// Signed distance from a block-local point to the T (negative inside); `nearest` gets the
// closest outline point.
double SignedDistanceLocal(const Eigen::Vector2d& p, Eigen::Vector2d* nearest = nullptr) {
  double best = 1e18;
  for (const Edge& e : TEdges()) {
    const Eigen::Vector2d ab = e.b - e.a;
    const double t = std::clamp((p - e.a).dot(ab) / ab.squaredNorm(), 0.0, 1.0);
    const Eigen::Vector2d q = e.a + t * ab;
    const double d = (p - q).norm();
    if (d < best) {
      best = d;
      if (nearest) *nearest = q;
    }
  }
  const bool inside = (std::abs(p.x()) <= 60 && p.y() >= 0 && p.y() <= 30) ||
                      (std::abs(p.x()) <= 15 && p.y() >= 30 && p.y() <= 120);
  return inside ? -best : best;
}

double WrapPi(double a) { return std::remainder(a, 2 * M_PI); }

}  // namespace

PushTExpert::PushTExpert(PushTTask* task, const OperatorProfile& op, uint64_t seed)
    : task_(task), op_(op, seed), layout_(task->layout()) {
  data_.reset(mj_makeData(task_->sim().model()));
  // Operator style: how far ahead of the pusher the hand leads, how shaky it is.
  lead_ = 150.0 * op_.cruise_speed();
  noise_ = 100.0 * op_.profile().noise;
  arc_margin_ = 1000.0 * std::abs(op_.PathOffset());
}

std::string PushTExpert::Phase() const {
  switch (stage_) {
    case Stage::kPlan: return "plan";
    case Stage::kApproach: return "approach";
    case Stage::kPush: return "push";
  }
  return "?";
}

double PushTExpert::PoseCost(const Eigen::Vector3d& block) const {
  // Distance of the centre of gravity plus the angle error weighted by kAngleWeight (units per
  // radian). Turning comes first: any translation left over can be undone without turning by
  // pushing through the centre of gravity (bar bottom, stem tip, stem sides at y = 45), whereas
  // a keypoint-distance cost makes a greedy planner stall a few degrees short.
  static const Eigen::Vector2d goal_cog = ToWorld(PushTTask::GoalPose(), kCog);
  const double da = WrapPi(block.z() - PushTTask::kGoalAngle);
  return (ToWorld(block, kCog) - goal_cog).norm() + kAngleWeight * std::abs(da);
}

double PushTExpert::Rollout(const Eigen::Vector2d& pusher, const Eigen::Vector2d& pusher_vel,
                            const Eigen::Vector3d& block,
                            const std::vector<Eigen::Vector2d>& targets, int* success_step,
                            Eigen::Vector3d* final_block, Eigen::Vector2d* final_pusher) {
  const mjModel* m = task_->sim().model();
  mjData* d = data_.get();
  d->time = 0;
  for (int i = 0; i < m->nv; ++i) d->qvel[i] = d->qacc_warmstart[i] = 0;
  for (int i = 0; i < 2; ++i) {
    d->qpos[layout_.pusher_qpos + i] = pusher[i];
    d->qvel[layout_.pusher_dof + i] = pusher_vel[i];
  }
  for (int i = 0; i < 3; ++i) d->qpos[layout_.block_qpos + i] = block[i];
  ++rollouts_;
  const int substeps = task_->spec().substeps;
  Eigen::Vector3d pose = block;
  double cost = 0;
  bool success = false;
  for (size_t t = 0; t < targets.size() && !success; ++t) {
    for (int s = 0; s < substeps; ++s) PushTTask::Substep(m, d, layout_, targets[t]);
    const double* q = d->qpos + layout_.block_qpos;
    pose = Eigen::Vector3d(q[0], q[1], q[2]);
    const double c = PoseCost(pose);
    if (c < 20 && PushTTask::Coverage(pose) > PushTTask::kSuccessCoverage) {
      if (success_step) *success_step = static_cast<int>(t);
      cost = -1000.0 + t;
      success = true;
    }
  }
  if (!success) cost = PoseCost(pose);
  if (final_block) *final_block = pose;
  if (final_pusher) {
    *final_pusher = Eigen::Vector2d(d->qpos[layout_.pusher_qpos], d->qpos[layout_.pusher_qpos + 1]);
  }
  return cost;
}

bool PushTExpert::SamplePush(const Eigen::Vector3d& block, Push* push) {
  Rng& rng = op_.rng();
  const auto& edges = TEdges();
  double total = 0;
  for (const Edge& e : edges) total += (e.b - e.a).norm();
  double u = rng.Uniform() * total;
  size_t k = 0;
  for (; k + 1 < edges.size(); ++k) {
    const double len = (edges[k].b - edges[k].a).norm();
    if (u < len) break;
    u -= len;
  }
  const Edge& e = edges[k];
  const Eigen::Vector2d contact = e.a + rng.Uniform() * (e.b - e.a);
  push->normal_local = e.normal;
  push->gap = rng.Uniform(6.0, 14.0);
  push->phi = rng.Uniform(-0.6, 0.6);
  push->depth = std::exp(rng.Uniform(std::log(0.5), std::log(90.0)));
  push->contact_local = contact;
  return Realize(block, push);
}

bool PushTExpert::Realize(const Eigen::Vector3d& block, Push* p) const {
  p->start_local = p->contact_local + p->normal_local * (PushTTask::kPusherRadius + p->gap);
  if (SignedDistanceLocal(p->start_local) < PushTTask::kPusherRadius + 2.0) return false;
  const Eigen::Vector2d dir = Rotate(-p->normal_local, p->phi);
  p->end_local = p->start_local + dir * (p->gap + p->depth);
  const Eigen::Vector2d s = ToWorld(block, p->start_local);
  return s.x() > 0 && s.x() < 512 && s.y() > 0 && s.y() < 512;
}

PushTExpert::Push PushTExpert::Perturb(const Push& p, const Eigen::Vector3d& block) {
  Rng& rng = op_.rng();
  for (int tries = 0; tries < 8; ++tries) {
    Push q = p;
    const Eigen::Vector2d tangent(-p.normal_local.y(), p.normal_local.x());
    q.contact_local += tangent * rng.Normal(0.0, 4.0);
    q.phi = std::clamp(p.phi + rng.Normal(0.0, 0.12), -1.0, 1.0);
    q.depth = std::clamp(p.depth * std::exp(rng.Normal(0.0, 0.35)), 0.3, 120.0);
    if (Realize(block, &q)) return q;
  }
  return p;
}

std::vector<Eigen::Vector2d> PushTExpert::PushTargets(const Push& p,
                                                      const Eigen::Vector3d& block) const {
  Eigen::Vector2d end = ToWorld(block, p.end_local);
  end = end.cwiseMax(0.0).cwiseMin(512.0);
  return std::vector<Eigen::Vector2d>(kPushSteps, end);
}

double PushTExpert::ScorePush(Push* push, const Eigen::Vector3d& block,
                              const Eigen::Vector2d& pusher) {
  const Eigen::Vector2d start = ToWorld(block, push->start_local);
  const double travel = (pusher - start).norm();
  push->cost = Rollout(start, Eigen::Vector2d::Zero(), block, PushTargets(*push, block)) +
               kTravelWeight * travel;
  return push->cost;
}

bool PushTExpert::Plan() {
  const Eigen::Vector3d block = task_->BlockPose();
  const Eigen::Vector2d pusher = task_->AgentPos();
  std::vector<Push> pool;
  pool.reserve(kSamples + kElite * kPerturbations);
  for (int i = 0; i < 6 * kSamples && static_cast<int>(pool.size()) < kSamples; ++i) {
    Push p;
    if (!SamplePush(block, &p)) continue;
    ScorePush(&p, block, pusher);
    pool.push_back(p);
  }
  auto by_cost = [](const Push& a, const Push& b) { return a.cost < b.cost; };
  std::sort(pool.begin(), pool.end(), by_cost);
  const int elite = std::min<int>(kElite, static_cast<int>(pool.size()));
  for (int i = 0; i < elite; ++i) {
    for (int j = 0; j < kPerturbations; ++j) {
      Push q = Perturb(pool[i], block);
      ScorePush(&q, block, pusher);
      pool.push_back(q);
    }
  }
  std::sort(pool.begin(), pool.end(), by_cost);
  // Stalled (no single push helps, typically a few units or degrees short with a turn and a
  // shift to make): look two pushes ahead from the best first pushes and take the first push of
  // the best pair.
  if (!pool.empty() && pool.front().cost > PoseCost(block) - kStallMargin) {
    Push best_first = pool.front();
    double best_pair = pool.front().cost;
    const int firsts = std::min<int>(kLookaheadFirst, static_cast<int>(pool.size()));
    for (int i = 0; i < firsts; ++i) {
      Eigen::Vector3d b1;
      Eigen::Vector2d p1;
      const Eigen::Vector2d start = ToWorld(block, pool[i].start_local);
      const double c1 = Rollout(start, Eigen::Vector2d::Zero(), block, PushTargets(pool[i], block),
                                nullptr, &b1, &p1);
      if (c1 < -500) {  // succeeds on its own
        best_first = pool[i];
        break;
      }
      const double travel1 = kTravelWeight * (pusher - start).norm();
      for (int j = 0; j < kLookaheadSecond; ++j) {
        Push q;
        if (!SamplePush(b1, &q)) continue;
        const double c = ScorePush(&q, b1, p1) + travel1;
        if (c < best_pair) {
          best_pair = c;
          best_first = pool[i];
        }
      }
    }
    pool.front() = best_first;
  }
  if (pool.empty()) {
    // no push start inside the world (cannot happen from the reset distribution): wait here
    stage_ = Stage::kPlan;
    return false;
  }
  push_ = pool.front();
  plan_pose_ = block;
  stage_ = Stage::kApproach;
  stage_steps_ = 0;
  BuildApproachPath();
  return true;
}

bool PushTExpert::SegmentClear(const Eigen::Vector3d& block, const Eigen::Vector2d& a,
                               const Eigen::Vector2d& b, double clearance) const {
  const double len = (b - a).norm();
  const int n = std::max(2, static_cast<int>(len / 4.0));
  for (int i = 0; i <= n; ++i) {
    const Eigen::Vector2d p = a + (b - a) * (static_cast<double>(i) / n);
    if (SignedDistanceLocal(ToLocal(block, p)) < clearance) return false;
  }
  return true;
}

void PushTExpert::BuildApproachPath() {
  const Eigen::Vector3d block = task_->BlockPose();
  path_pose_ = block;
  const Eigen::Vector2d p = task_->AgentPos();
  const Eigen::Vector2d s = ToWorld(block, push_.start_local);
  const Eigen::Vector2d n = Rotate(push_.normal_local, block.z());
  const double clearance = PushTTask::kPusherRadius + 4.0;
  path_.assign(1, p);
  path_progress_ = 0;
  if (SegmentClear(block, p, s, clearance)) {
    path_.push_back(s);
    return;
  }
  const Eigen::Vector2d c = ToWorld(block, kCog);
  const double radius = kFarthest + PushTTask::kPusherRadius + 15.0 + arc_margin_;
  Eigen::Vector2d last = p;
  // step back from the block first when touching it
  Eigen::Vector2d nearest;
  const Eigen::Vector2d pl = ToLocal(block, p);
  const double dist = SignedDistanceLocal(pl, &nearest);
  if (dist < clearance + 6.0) {
    Eigen::Vector2d away = pl - nearest;
    away = away.norm() > 1e-6 ? away.normalized() : (pl - kCog).normalized();
    last = ToWorld(block, pl + away * (clearance + 10.0 - dist));
    path_.push_back(last);
  }
  // the exit point: out from the start point along the contact normal to the circle
  Eigen::Vector2d e = s;
  for (int i = 0; i < 60 && (e - c).norm() < radius; ++i) e += n * 5.0;
  const double a0 = std::atan2(last.y() - c.y(), last.x() - c.x());
  const double a1 = std::atan2(e.y() - c.y(), e.x() - c.x());
  double delta = WrapPi(a1 - a0);
  // when both ways round are about as long, the operator picks either
  if (std::abs(delta) > 2.6 && op_.rng().Bernoulli(0.5)) delta -= std::copysign(2 * M_PI, delta);
  const double r0 = std::max(radius, (last - c).norm());
  const int n_arc = std::max(1, static_cast<int>(std::ceil(std::abs(delta) / 0.35)));
  for (int i = 0; i <= n_arc; ++i) {
    const double a = a0 + delta * i / n_arc;
    const double r = r0 + (radius - r0) * i / n_arc;
    path_.push_back(c + r * Eigen::Vector2d(std::cos(a), std::sin(a)));
  }
  path_.push_back(e);
  path_.push_back(s);
}

Eigen::Vector2d PushTExpert::Carrot(const Eigen::Vector2d& p, double lead) {
  // project onto the polyline from the current segment on
  double best = 1e18;
  size_t seg = path_progress_;
  double seg_t = 0;
  for (size_t i = path_progress_; i + 1 < path_.size(); ++i) {
    const Eigen::Vector2d ab = path_[i + 1] - path_[i];
    const double t = ab.squaredNorm() > 1e-12
                         ? std::clamp((p - path_[i]).dot(ab) / ab.squaredNorm(), 0.0, 1.0)
                         : 1.0;
    const double d = (path_[i] + t * ab - p).norm();
    if (d < best - 1e-9) {
      best = d;
      seg = i;
      seg_t = t;
    }
  }
  path_progress_ = seg;
  double remaining = lead;
  Eigen::Vector2d q = path_[seg] + seg_t * (path_[seg + 1] - path_[seg]);
  for (size_t i = seg; i + 1 < path_.size(); ++i) {
    const double left = (path_[i + 1] - q).norm();
    if (left >= remaining) return q + (path_[i + 1] - q).normalized() * remaining;
    remaining -= left;
    q = path_[i + 1];
  }
  return path_.back();
}

void PushTExpert::StartPush() {
  const Eigen::Vector3d block = task_->BlockPose();
  const Eigen::Vector2d pusher = task_->AgentPos();
  const double* v = task_->sim().data()->qvel + layout_.pusher_dof;
  const Eigen::Vector2d vel(v[0], v[1]);
  // this push's hand noise, drawn once and included in the final rollouts
  std::vector<Eigen::Vector2d> noise(kPushSteps);
  for (auto& n : noise) n = 0.5 * noise_ * Eigen::Vector2d(op_.rng().Normal(), op_.rng().Normal());
  // re-plan from the exact state: the chosen push and variants of its depth and angle
  Push best = push_;
  double best_cost = 1e18;
  static const double kDepthScale[] = {1.0, 0.5, 0.7, 0.85, 1.15, 1.3, 1.6};
  static const double kPhi[] = {0.0, -0.08, 0.08};
  for (double phi : kPhi) {
    for (double scale : kDepthScale) {
      Push q = push_;
      q.phi = push_.phi + phi;
      q.depth = push_.depth * scale;
      q.start_local = push_.start_local;
      const Eigen::Vector2d dir = Rotate(-q.normal_local, q.phi);
      q.end_local = q.start_local + dir * (q.gap + q.depth);
      std::vector<Eigen::Vector2d> targets = PushTargets(q, block);
      for (int t = 0; t < kPushSteps; ++t) {
        targets[t] = (targets[t] + noise[t]).cwiseMax(0.0).cwiseMin(512.0);
      }
      const double c = Rollout(pusher, vel, block, targets);
      if (c < best_cost) {
        best_cost = c;
        best = q;
        push_targets_ = targets;
      }
    }
  }
  push_ = best;
  stage_ = Stage::kPush;
  stage_steps_ = 0;
}

std::vector<double> PushTExpert::Act() {
  const Eigen::Vector2d p = task_->AgentPos();
  if (stage_ == Stage::kPlan && !Plan()) return {p.x(), p.y()};
  if (stage_ == Stage::kApproach) {
    const Eigen::Vector3d block = task_->BlockPose();
    const bool moved = (block.head<2>() - path_pose_.head<2>()).norm() > 1.0 ||
                       std::abs(WrapPi(block.z() - path_pose_.z())) > 0.02;
    if (moved) {
      // bumped on the way: the plan was for another pose
      if ((block.head<2>() - plan_pose_.head<2>()).norm() > 8.0 ||
          std::abs(WrapPi(block.z() - plan_pose_.z())) > 0.15) {
        if (!Plan()) return {p.x(), p.y()};
      } else {
        BuildApproachPath();
      }
    }
    const Eigen::Vector2d s = ToWorld(block, push_.start_local);
    if ((p - s).norm() < kArriveTolerance || stage_steps_ > kApproachTimeout) {
      StartPush();
    } else {
      ++stage_steps_;
      const double c = 0.7;
      ou_ = c * ou_ + noise_ * std::sqrt(1 - c * c) *
                          Eigen::Vector2d(op_.rng().Normal(), op_.rng().Normal());
      // near the block the hand slows down: the carrot lead shrinks to the remaining distance
      const double lead = std::min(lead_, std::max(8.0, 0.8 * (p - s).norm()));
      Eigen::Vector2d target = Carrot(p, lead);
      if ((target - s).norm() > 20.0) target += ou_;
      return {std::clamp(target.x(), 0.0, 512.0), std::clamp(target.y(), 0.0, 512.0)};
    }
  }
  // push
  const Eigen::Vector2d target = push_targets_.at(std::min<size_t>(stage_steps_, push_targets_.size() - 1));
  ++stage_steps_;
  if (stage_steps_ >= kPushSteps) stage_ = Stage::kPlan;
  return {std::clamp(target.x(), 0.0, 512.0), std::clamp(target.y(), 0.0, 512.0)};
}

}  // namespace onedp
