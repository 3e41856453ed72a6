#include "tasks/tool_hang/tool_hang.h"

#include <cmath>

#include "tasks/common/mj_pose.h"
#include "tasks/tool_hang/tool_hang_expert.h"

namespace onedp {
namespace {

RobomimicTaskConfig ToolHangConfig(const std::string& variant) {
  RobomimicTaskConfig c;
  c.name = "tool-hang-" + variant;
  c.env_name = "ToolHang";
  c.display_name = "ToolHang";
  c.variant = variant;
  c.model = "tool_hang/tool_hang.xml";
  c.cameras = {"sideview", "robot0_eye_in_hand"};
  c.image_size = 240;
  c.object_dim = 44;
  c.max_steps = 700;
  return c;
}

// robosuite's frame-lying orientation for the sampled angle a (see the header): Rz(-(a + pi/2)) * R0.
Eigen::Quaterniond FrameLyingQuat(double a) {
  Eigen::Matrix3d r0;
  r0.col(0) = Eigen::Vector3d(-1, 0, 0);
  r0.col(1) = Eigen::Vector3d(0, 0, -1);
  r0.col(2) = Eigen::Vector3d(0, -1, 0);
  const Eigen::Matrix3d r = Eigen::AngleAxisd(-(a + M_PI / 2), Eigen::Vector3d::UnitZ()).toRotationMatrix() * r0;
  return Eigen::Quaterniond(r).normalized();
}

}  // namespace

TaskInfo ToolHangTask::Info(const std::string& variant) {
  TaskInfo info = RobomimicTaskInfo(ToolHangConfig(variant));
  info.perturbations = {"reset"};  // tool_hang_perturbations.cc
  // A demonstration lifts the frame, inserts it into the stand, lifts the tool and hangs it on the
  // frame's hook (ToolHangChecks::Milestones sets the bits in this order).
  info.milestones = {"frame_lifted", "frame_assembled", "tool_lifted", "tool_on_frame"};
  return info;
}

ToolHangTask::ToolHangTask(const std::string& variant) : RobomimicTask(ToolHangConfig(variant)) {
  if (variant != "ph") {
    throw std::invalid_argument("tool-hang has only the 'ph' variant (robomimic has no ToolHang MH), got '" +
                                variant + "'");
  }
  frame_body_ = sim_->Id(mjOBJ_BODY, "frame");
  tool_body_ = sim_->Id(mjOBJ_BODY, "tool");
  spec_.info = Info(variant);  // with its perturbations
  frame_joint_ = sim_->Id(mjOBJ_JOINT, "frame_joint0");
  tool_joint_ = sim_->Id(mjOBJ_JOINT, "tool_joint0");
  stand_base_geom_ = sim_->Id(mjOBJ_GEOM, "stand_base");
  frame_bar_geom_ = sim_->Id(mjOBJ_GEOM, "frame_horizontal_frame");
  stand_mount_site_ = sim_->Id(mjOBJ_SITE, "stand_mount_site");
  frame_hang_site_ = sim_->Id(mjOBJ_SITE, "frame_hang_site");
  frame_mount_site_ = sim_->Id(mjOBJ_SITE, "frame_mount_site");
  frame_intersection_site_ = sim_->Id(mjOBJ_SITE, "frame_intersection_site");
  frame_tip_site_ = sim_->Id(mjOBJ_SITE, "frame_tip_site");
  tool_hole1_site_ = sim_->Id(mjOBJ_SITE, "tool_hole1_center");
  for (int i = 0; i < 4; ++i) walls_[i] = sim_->Id(mjOBJ_GEOM, "stand_wall" + std::to_string(i));
  for (int i = 0; i < 8; ++i) hole1_geoms_[i] = sim_->Id(mjOBJ_GEOM, "tool_hole1_hc_" + std::to_string(i));
}

Eigen::Vector3d ToolHangTask::SitePos(int site) const { return Vec3At(sim_->data()->site_xpos + 3 * site); }

void ToolHangTask::PlaceObjects(Rng* rng) {
  // robosuite's sequential sampler order: stand (fixed here, nothing drawn), frame, tool; per object
  // x, y, then the angle.
  const double fx = rng->Uniform(-0.04 - 0.02, -0.04 + 0.02);
  const double fy = rng->Uniform(-0.24 - 0.02, -0.24 + 0.02);
  const double fa = rng->Uniform(-M_PI / 2 + M_PI / 6 - M_PI / 18, -M_PI / 2 + M_PI / 6 + M_PI / 18);
  frame_init_ = Eigen::Vector3d(fx, fy, fa);
  tool_init_ = DrawTool(rng);
  SetFreeJoint(frame_joint_, Eigen::Vector3d(fx, fy, kFrameRestZ), FrameLyingQuat(fa));
  PlaceToolAt(tool_init_);
}

Eigen::Vector3d ToolHangTask::DrawTool(Rng* rng) {
  const double tx = rng->Uniform(0.04 - 0.02, 0.04 + 0.02);
  const double ty = rng->Uniform(-0.20 - 0.02, -0.20 + 0.02);
  const double ta = rng->Uniform(-M_PI / 2 - M_PI / 9 - M_PI / 18, -M_PI / 2 - M_PI / 9 + M_PI / 18);
  return Eigen::Vector3d(tx, ty, ta);
}

void ToolHangTask::PlaceToolAt(const Eigen::Vector3d& xy_yaw) {
  SetFreeJoint(tool_joint_, Eigen::Vector3d(xy_yaw.x(), xy_yaw.y(), kToolRestZ),
               Eigen::Quaterniond(Eigen::AngleAxisd(xy_yaw.z(), Eigen::Vector3d::UnitZ())));
}

void ToolHangTask::PlaceFrame(const Eigen::Vector3d& pos, const Eigen::Quaterniond& q) {
  SetFreeJoint(frame_joint_, pos, q.normalized());
  sim_->Forward();
}

void ToolHangTask::PlaceTool(const Eigen::Vector3d& pos, const Eigen::Quaterniond& q) {
  SetFreeJoint(tool_joint_, pos, q.normalized());
  sim_->Forward();
}

std::vector<double> ToolHangTask::ArrayPoseObs(const mjtNum* pos, const mjtNum* mat) const {
  const Eigen::Matrix3d r = Mat3At(mat);
  return PoseObs(Vec3At(pos), CanonicalQuat(r).coeffs(), r);
}

std::vector<double> ToolHangTask::ObjectObs() const {
  const mjData* d = sim_->data();
  std::vector<double> out;
  out.reserve(44);
  for (const auto& part : {ArrayPoseObs(d->geom_xpos + 3 * stand_base_geom_, d->geom_xmat + 9 * stand_base_geom_),
                           ArrayPoseObs(d->site_xpos + 3 * frame_intersection_site_,
                                   d->site_xmat + 9 * frame_intersection_site_),
                           ArrayPoseObs(d->xpos + 3 * tool_body_, d->xmat + 9 * tool_body_)}) {
    out.insert(out.end(), part.begin(), part.end());
  }
  const ToolHangChecks c = Checks();
  out.push_back(c.FrameAssembled() ? 1.0 : 0.0);
  out.push_back(c.ToolOnFrame() ? 1.0 : 0.0);
  return out;
}

ToolHangChecks ToolHangTask::Checks() const {
  const mjModel* m = sim_->model();
  const mjData* d = sim_->data();
  ToolHangChecks c;
  auto cross_sign_differs = [](const Eigen::Vector3d& a, const Eigen::Vector3d& b, const Eigen::Vector3d& v) {
    return a.cross(v).dot(b.cross(v)) < 0.0;
  };

  // frame assembled
  const Eigen::Vector3d base = Vec3At(d->geom_xpos + 3 * stand_base_geom_);
  const Eigen::Vector3d shaft = (SitePos(stand_mount_site_) - base).normalized();
  c.frame[0] = std::abs(std::acos(std::max(-1.0, std::min(1.0, shaft.z())))) < M_PI / 18.0;
  c.frame[1] = (SitePos(frame_tip_site_) - base).norm() < 0.05;
  const Eigen::Vector3d mount_end = SitePos(frame_mount_site_);
  const Eigen::Vector3d rod = (SitePos(frame_intersection_site_) - mount_end).normalized();
  Eigen::Vector3d w[4];
  for (int i = 0; i < 4; ++i) w[i] = Vec3At(d->geom_xpos + 3 * walls_[i]) - mount_end;
  c.frame[2] = cross_sign_differs(w[0], w[2], rod) && cross_sign_differs(w[1], w[3], rod);

  // tool on frame: contacts
  const std::array<int, 2>& pads = robots_.front()->pad_geoms();
  bool pad_touch = false, hole_hook = false;
  for (int i = 0; i < d->ncon; ++i) {
    const int g1 = d->contact[i].geom1, g2 = d->contact[i].geom2;
    const bool t1 = m->body_rootid[m->geom_bodyid[g1]] == tool_body_;
    const bool t2 = m->body_rootid[m->geom_bodyid[g2]] == tool_body_;
    const bool p1 = g1 == pads[0] || g1 == pads[1];
    const bool p2 = g2 == pads[0] || g2 == pads[1];
    if ((p1 && t2) || (p2 && t1)) pad_touch = true;
    for (int h : hole1_geoms_) {
      if ((g1 == h && g2 == frame_bar_geom_) || (g2 == h && g1 == frame_bar_geom_)) hole_hook = true;
    }
  }
  c.tool[0] = !pad_touch;
  c.tool[1] = hole_hook;
  // geometry relative to the hook line
  const Eigen::Vector3d hang = SitePos(frame_hang_site_);
  const Eigen::Vector3d hook = SitePos(frame_intersection_site_) - hang;
  const double hook_len = hook.norm();
  const Eigen::Vector3d hook_dir = hook / hook_len;
  const Eigen::Vector3d hole = SitePos(tool_hole1_site_) - hang;
  const double along = hole.dot(hook_dir);
  const double dist = (hole - along * hook_dir).norm();
  c.tool[2] = dist < kHole1Inner - kFrameThickness / 2.0;
  const Eigen::Vector3d g0 = Vec3At(d->geom_xpos + 3 * hole1_geoms_[0]) - hang;
  const Eigen::Vector3d g4 = Vec3At(d->geom_xpos + 3 * hole1_geoms_[4]) - hang;
  c.tool[3] = cross_sign_differs(g0, g4, hook_dir);
  const double frac = along / hook_len;
  c.tool[4] = frac > 0.05 && frac < 1.0;
  c.frame_lifted = FramePos().z() > kFrameRestZ + kLiftedHeight;
  c.tool_lifted = ToolPos().z() > kToolRestZ + kLiftedHeight;
  return c;
}

uint32_t ToolHangChecks::Milestones() const {
  return (frame_lifted ? 1u : 0u) | (FrameAssembled() ? 2u : 0u) | (tool_lifted ? 4u : 0u) |
         (ToolOnFrame() ? 8u : 0u);
}

Outcome ToolHangTask::Evaluate() const {
  Outcome o;
  const ToolHangChecks c = Checks();
  o.success = episode_error().empty() && c.Success();
  o.reward = o.success ? 1.0 : 0.0;
  o.score = o.reward;
  o.milestones = c.Milestones();
  return o;
}

nlohmann::json ToolHangTask::EpisodeMeta() const {
  return {{"frame_init_xy_angle", {frame_init_.x(), frame_init_.y(), frame_init_.z()}},
          {"tool_init_xy_yaw", {tool_init_.x(), tool_init_.y(), tool_init_.z()}}};
}

std::unique_ptr<Expert> ToolHangTask::MakeExpert(const OperatorProfile& op, uint64_t seed) {
  return std::make_unique<ToolHangExpert>(this, op, seed);
}

}  // namespace onedp
