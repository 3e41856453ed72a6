#include "tasks/pusht/pusht.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <vector>

#include "tasks/pusht/pusht_expert.h"

namespace onedp {
namespace {

constexpr double kDt = 0.01;
const PlanarPdController kPd(100.0, 20.0);

// The T in block-local coordinates: bar (-60..60, 0..30) + stem (-15..15, 30..120) as one
// 8-vertex outline (the two rectangles share the edge y = 30, |x| <= 15, so their union is this
// simple polygon and its area is the sum of theirs, as shapely's MultiPolygon area).
const std::array<Eigen::Vector2d, 8> kLocalT = {
    Eigen::Vector2d(-60, 0),  Eigen::Vector2d(60, 0),   Eigen::Vector2d(60, 30),
    Eigen::Vector2d(15, 30),  Eigen::Vector2d(15, 120), Eigen::Vector2d(-15, 120),
    Eigen::Vector2d(-15, 30), Eigen::Vector2d(-60, 30)};

// The T as its two rectangles (the bar and the stem; they share the edge y = 30, |x| <= 15 and do
// not overlap), each counter-clockwise in pymunk's frame. gym-pusht's coverage is the area of the
// intersection of the two MultiPolygons of these rectangles, so it is the sum of the four
// rectangle-rectangle intersection areas.
using Quad = std::array<Eigen::Vector2d, 4>;
const std::array<Quad, 2> kLocalParts = {
    Quad{Eigen::Vector2d(-60, 0), Eigen::Vector2d(60, 0), Eigen::Vector2d(60, 30), Eigen::Vector2d(-60, 30)},
    Quad{Eigen::Vector2d(-15, 30), Eigen::Vector2d(15, 30), Eigen::Vector2d(15, 120), Eigen::Vector2d(-15, 120)}};

std::array<Quad, 2> PartsAt(const Eigen::Vector3d& pose) {
  const Eigen::Rotation2Dd r(pose.z());
  const Eigen::Vector2d t(pose.x(), pose.y());
  std::array<Quad, 2> out;
  for (size_t i = 0; i < out.size(); ++i) {
    for (size_t k = 0; k < 4; ++k) out[i][k] = t + r * kLocalParts[i][k];
  }
  return out;
}

double SignedArea(const std::vector<Eigen::Vector2d>& p) {
  double a = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    const auto& u = p[i];
    const auto& v = p[(i + 1) % p.size()];
    a += u.x() * v.y() - v.x() * u.y();
  }
  return 0.5 * a;
}

double Cross(const Eigen::Vector2d& a, const Eigen::Vector2d& b, const Eigen::Vector2d& p) {
  return (b - a).x() * (p - a).y() - (b - a).y() * (p - a).x();
}

// Area of the intersection of two convex quadrilaterals of the same orientation (Sutherland-Hodgman
// clipping: exact up to the rounding of each vertex, unlike an integer-rescaled overlay).
double ConvexIntersectionArea(const Quad& subject, const Quad& clip) {
  std::vector<Eigen::Vector2d> poly(subject.begin(), subject.end()), next;
  const double orient = SignedArea(std::vector<Eigen::Vector2d>(clip.begin(), clip.end())) > 0 ? 1.0 : -1.0;
  for (size_t e = 0; e < 4 && !poly.empty(); ++e) {
    const Eigen::Vector2d& a = clip[e];
    const Eigen::Vector2d& b = clip[(e + 1) % 4];
    next.clear();
    for (size_t i = 0; i < poly.size(); ++i) {
      const Eigen::Vector2d& p = poly[i];
      const Eigen::Vector2d& q = poly[(i + 1) % poly.size()];
      const double dp = orient * Cross(a, b, p), dq = orient * Cross(a, b, q);
      if (dp >= 0) next.push_back(p);
      if ((dp > 0 && dq < 0) || (dp < 0 && dq > 0)) next.push_back(p + (q - p) * (dp / (dp - dq)));
    }
    poly.swap(next);
  }
  return poly.size() < 3 ? 0.0 : std::abs(SignedArea(poly));
}

double WrapTwoPi(double a) {
  a = std::fmod(a, 2 * M_PI);
  return a < 0 ? a + 2 * M_PI : a;
}

}  // namespace

PushTLayout PushTLayout::Of(const mjModel* m) {
  auto joint = [&](const char* name) {
    const int id = mj_name2id(m, mjOBJ_JOINT, name);
    if (id < 0) throw std::runtime_error(std::string("pusht model: no joint ") + name);
    return id;
  };
  PushTLayout l;
  l.pusher_qpos = m->jnt_qposadr[joint("pusher_x")];
  l.pusher_dof = m->jnt_dofadr[joint("pusher_x")];
  l.block_qpos = m->jnt_qposadr[joint("block_x")];
  l.block_dof = m->jnt_dofadr[joint("block_x")];
  if (m->jnt_qposadr[joint("pusher_y")] != l.pusher_qpos + 1 ||
      m->jnt_qposadr[joint("block_y")] != l.block_qpos + 1 ||
      m->jnt_qposadr[joint("block_angle")] != l.block_qpos + 2) {
    throw std::runtime_error("pusht model: unexpected joint order");
  }
  return l;
}

TaskInfo PushTTask::Info() {
  TaskInfo info;
  info.display_name = "PushT";
  info.metric = TaskMetric::kScore;
  info.metric_label = "score (max coverage reward)";
  info.score_label = "score (coverage)";
  info.action_key = "actions";  // the pusher targets; delta and absolute actions are the same
  // DP's PushT: image + agent_pos, or the 20-D keypoints (9 block points + agent), all positions
  // normalised by their limits.
  info.policy_inputs["image"] = {{"image", "identity"}, {"agent_pos", "limits"}};
  info.policy_inputs["lowdim"] = {{"keypoints", "limits"}};
  info.action_norm = {"limits", "limits"};
  // The camera "image" sees the whole world; actions are points of the z = 0 plane, drawn in front
  // of the pusher (the camera is at z < 0) with markers sized for the 512-unit world.
  info.view.camera = "image";
  info.view.planar_actions = true;
  info.view.action_plane_z = -30;
  info.view.marker_radius = 5.0;
  info.view.marker_width = 2.0;
  info.perturbations = {"move", "reset"};  // pusht_perturbations.cc
  return info;
}

PushTTask::PushTTask() {
  sim_ = std::make_unique<Sim>(LoadModel(AssetPath("pusht/pusht.xml"), &model_xml_));
  layout_ = PushTLayout::Of(sim_->model());
  camera_id_ = sim_->Id(mjOBJ_CAMERA, "image");
  spec_.name = "pusht";
  spec_.env_name = "PushT";
  spec_.variant = "ph";
  spec_.info = Info();
  spec_.control_hz = 10.0;
  spec_.substeps = static_cast<int>(std::lround(1.0 / (spec_.control_hz * sim_->model()->opt.timestep)));
  spec_.max_steps = 300;
  spec_.cameras = {"image"};
  spec_.image_height = spec_.image_width = kImageSize;
  spec_.obs = {{"agent_pos", {2}, false},
               {"keypoints", {2 * kNumKeypoints + 2}, false},
               {"state", {5}, false},
               {"image", {kImageSize, kImageSize, 3}, true}};
  spec_.action_dim = 2;
  spec_.abs_action_dim = 2;
  spec_.action_low = {0.0, 0.0};
  spec_.action_high = {512.0, 512.0};
}

Eigen::Vector2d PushTTask::AgentPos() const {
  const double* q = sim_->data()->qpos + layout_.pusher_qpos;
  return {q[0], q[1]};
}

Eigen::Vector3d PushTTask::BlockPose() const {
  const double* q = sim_->data()->qpos + layout_.block_qpos;
  return {q[0], q[1], q[2]};
}

void PushTTask::SetPoses(const Eigen::Vector2d& agent, const Eigen::Vector3d& block) {
  mjData* d = sim_->data();
  for (int i = 0; i < 2; ++i) {
    d->qpos[layout_.pusher_qpos + i] = agent[i];
    d->qvel[layout_.pusher_dof + i] = 0;
  }
  for (int i = 0; i < 3; ++i) {
    d->qpos[layout_.block_qpos + i] = block[i];
    d->qvel[layout_.block_dof + i] = 0;
  }
  sim_->Forward();
}

Eigen::Vector3d PushTTask::LegacyPose(double x, double y, double angle) {
  const Eigen::Vector2d cog(0, 45);
  const Eigen::Rotation2Dd r(angle);
  const Eigen::Vector2d origin = Eigen::Vector2d(x, y) + cog - r * cog;
  return {origin.x(), origin.y(), angle};
}

void PushTTask::Reset(uint64_t seed) {
  BeginEpisode(seed);
  sim_->ResetData();
  Rng rng(seed, /*stream=*/1);
  // DP's order: agent x, y; block x, y; angle (np.random.RandomState(seed) there).
  const int ax = rng.UniformInt(50, 450);
  const int ay = rng.UniformInt(50, 450);
  const int bx = rng.UniformInt(100, 400);
  const int by = rng.UniformInt(100, 400);
  const double angle = rng.Normal() * 2 * M_PI - M_PI;
  reset_agent_ = Eigen::Vector2d(ax, ay);
  reset_block_ = Eigen::Vector3d(bx, by, angle);
  // The original runs one space.step after setting the state, with the pusher at rest. That step
  // moves nothing: Chipmunk integrates positions before it detects contacts, so even a block drawn
  // overlapping the pusher stays where it was set (the overlap is resolved during the first control
  // step). MuJoCo would push such a block out within the step, so ours sets the poses without one
  // and every start state equals the original's.
  SetPoses(reset_agent_, LegacyPose(bx, by, angle));
  sim_->Forward();
  last_action_ = {reset_agent_.x(), reset_agent_.y()};
  sim_->TakeWarnings();
}

void PushTTask::Substep(const mjModel* m, mjData* d, const PushTLayout& l,
                        const Eigen::Vector2d& target) {
  double* pq = d->qpos + l.pusher_qpos;
  double* pv = d->qvel + l.pusher_dof;
  const Eigen::Vector2d p(pq[0], pq[1]);
  const Eigen::Vector2d v = kPd.Update(p, Eigen::Vector2d(pv[0], pv[1]), target, m->opt.timestep);
  pv[0] = v.x();
  pv[1] = v.y();
  double* bv = d->qvel + l.block_dof;
  bv[0] = bv[1] = bv[2] = 0;  // space.damping = 0: no velocity carried between substeps
  mj_step(m, d);
  // kinematic pusher: contact reactions do not move it
  pq[0] = p.x() + v.x() * m->opt.timestep;
  pq[1] = p.y() + v.y() * m->opt.timestep;
  pv[0] = v.x();
  pv[1] = v.y();
}

void PushTTask::Step(const std::vector<double>& action) {
  if (!ValidateAction(action)) return;
  const auto t0 = std::chrono::steady_clock::now();
  const Eigen::Vector2d target(action[0], action[1]);
  for (int s = 0; s < spec_.substeps; ++s) Substep(sim_->model(), sim_->data(), layout_, target);
  sim_->Forward();
  profile_.physics_s +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ++profile_.steps;
  ++steps_;
  last_action_ = action;
  std::vector<std::string> w = sim_->TakeWarnings();
  if (!w.empty()) {
    MarkFailed("physics warning at step " + std::to_string(steps_) + ": " + w.front());
    for (auto& x : w) warnings_.push_back(std::move(x));
  }
  AdvancePerturbation();
}

void PushTTask::Observe(Observation* obs, bool render) {
  obs->lowdim.clear();
  const Eigen::Vector2d agent = AgentPos();
  const Eigen::Vector3d block = BlockPose();
  obs->lowdim["agent_pos"] = {agent.x(), agent.y()};
  std::vector<double> kp;
  kp.reserve(2 * kNumKeypoints + 2);
  for (const auto& k : Keypoints(block)) {
    kp.push_back(k.x());
    kp.push_back(k.y());
  }
  kp.push_back(agent.x());
  kp.push_back(agent.y());
  obs->lowdim["keypoints"] = std::move(kp);
  obs->lowdim["state"] = {agent.x(), agent.y(), block.x(), block.y(), WrapTwoPi(block.z())};
  if (!render) {
    obs->images.clear();
    return;
  }
  Renderer& ren = renderer();
  const auto t0 = std::chrono::steady_clock::now();
  ren.Render(sim_->data(), camera_id_, kImageSize, kImageSize, &obs->images["image"]);
  profile_.render_s +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ++profile_.frames;
}

std::array<Eigen::Vector2d, 8> PushTTask::TOutline(const Eigen::Vector3d& pose) {
  const Eigen::Rotation2Dd r(pose.z());
  const Eigen::Vector2d t(pose.x(), pose.y());
  std::array<Eigen::Vector2d, 8> out;
  for (size_t i = 0; i < kLocalT.size(); ++i) out[i] = t + r * kLocalT[i];
  return out;
}

double PushTTask::Coverage(const Eigen::Vector3d& block_pose) {
  static const std::array<Quad, 2> goal = PartsAt(GoalPose());
  static const double goal_area = [] {
    double a = 0;
    for (const Quad& q : goal) a += std::abs(SignedArea(std::vector<Eigen::Vector2d>(q.begin(), q.end())));
    return a;
  }();
  const std::array<Quad, 2> block = PartsAt(block_pose);
  double inter = 0;
  for (const Quad& g : goal) {
    for (const Quad& b : block) inter += ConvexIntersectionArea(b, g);
  }
  return inter / goal_area;
}

double PushTTask::RewardFromCoverage(double coverage) {
  return std::clamp(coverage / kSuccessCoverage, 0.0, 1.0);
}

const std::array<Eigen::Vector2d, PushTTask::kNumKeypoints>& PushTTask::LocalKeypoints() {
  // Fixed points spread over the T (DP samples 9 by farthest-point sampling over the block mask;
  // these play the same role): the bar's four ends, its centre, the stem's root, middle and the
  // two corners of its tip, each inset 5 units from the outline.
  static const std::array<Eigen::Vector2d, kNumKeypoints> k = {
      Eigen::Vector2d(-55, 5),  Eigen::Vector2d(55, 5),  Eigen::Vector2d(-55, 25),
      Eigen::Vector2d(55, 25),  Eigen::Vector2d(0, 15),  Eigen::Vector2d(0, 45),
      Eigen::Vector2d(0, 80),   Eigen::Vector2d(-10, 115), Eigen::Vector2d(10, 115)};
  return k;
}

std::array<Eigen::Vector2d, PushTTask::kNumKeypoints> PushTTask::Keypoints(
    const Eigen::Vector3d& pose) {
  const Eigen::Rotation2Dd r(pose.z());
  const Eigen::Vector2d t(pose.x(), pose.y());
  std::array<Eigen::Vector2d, kNumKeypoints> out;
  for (int i = 0; i < kNumKeypoints; ++i) out[i] = t + r * LocalKeypoints()[i];
  return out;
}

Outcome PushTTask::Evaluate() const {
  Outcome o;
  const double coverage = Coverage(BlockPose());
  o.reward = episode_error().empty() ? RewardFromCoverage(coverage) : 0.0;
  o.score = o.reward;
  o.success = episode_error().empty() && coverage > kSuccessCoverage;
  return o;
}

nlohmann::json PushTTask::EpisodeMeta() const {
  const Eigen::Vector3d b = BlockPose();
  return {{"reset_agent_pos", {reset_agent_.x(), reset_agent_.y()}},
          {"reset_block", {reset_block_.x(), reset_block_.y(), reset_block_.z()}},
          {"goal_pose", {kGoalX, kGoalY, kGoalAngle}},
          {"final_block_pose", {b.x(), b.y(), b.z()}},
          {"final_coverage", Coverage(b)}};
}

nlohmann::json PushTTask::DatasetConventions() const {
  return {{"env_type", 2},  // robomimic EnvType.GYM_TYPE: not a robosuite env
          {"actions", "2-D pusher target in PushT's 512 x 512 coordinates"},
          {"actions_abs", "same as actions"},
          {"states", "[time, agent_x, agent_y, block_x, block_y, block_angle (unwrapped), qvel (5)]"}};
}

nlohmann::json PushTTask::EnvKwargs() const {
  return {{"legacy", true},
          {"block_cog", nullptr},
          {"damping", nullptr},
          {"render_action", false},
          {"render_size", kImageSize},
          {"sim_hz", 100},
          {"control_hz", spec_.control_hz},
          {"k_p", kPd.kp()},
          {"k_v", kPd.kv()},
          {"goal_pose", {kGoalX, kGoalY, kGoalAngle}},
          {"success_threshold", kSuccessCoverage},
          {"max_steps", spec_.max_steps},
          {"camera_names", spec_.cameras},
          {"units", "PushT pixels (512 x 512 world), 1 MuJoCo length unit each"}};
}

std::unique_ptr<Expert> PushTTask::MakeExpert(const OperatorProfile& op, uint64_t seed) {
  return std::make_unique<PushTExpert>(this, op, seed);
}

}  // namespace onedp

